package rt

import (
	"fmt"
	"strings"
)

// Summary returns a human-readable listing of c, one line per input, op
// and output, with shapes, ranges, encodings and lookup details, e.g.
//
//	op 1 tlu "act1": v2 <- v1  shape [1 4] range [0,7] (3 bits)  1 table of 21, drop 2 approximate
func (c *Circuit) Summary() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "circuit %q: %d values, %d ops, msg %d bits", c.Name, len(c.Values), len(c.Ops), c.MsgBits)
	if c.Params != "" {
		fmt.Fprintf(&sb, ", params %s/%s, p_error %.3g", c.Scheme, c.Params, c.PError)
	}
	sb.WriteByte('\n')
	val := func(id ValueID) string {
		v := &c.Values[id]
		enc := "clear"
		if v.Encrypted {
			enc = "encrypted"
		}
		return fmt.Sprintf("shape %v range [%d,%d] (%d bits, %s)", v.Shape, v.Min, v.Max, v.Bits(), enc)
	}
	for i, in := range c.Inputs {
		fmt.Fprintf(&sb, "input %d %q: v%d  %s\n", i, in.Name, in.Value, val(in.Value))
	}
	for k := range c.Ops {
		op := &c.Ops[k]
		args := make([]string, len(op.In))
		for i, id := range op.In {
			args[i] = fmt.Sprintf("v%d", id)
		}
		fmt.Fprintf(&sb, "op %d %s %q: v%d <- %s  %s", k, op.Kind, op.Name, op.Out, strings.Join(args, " "), val(op.Out))
		switch op.Kind {
		case OpLinear:
			fmt.Fprintf(&sb, "  %d weights", len(op.W))
		case OpTLU:
			fmt.Fprintf(&sb, "  %d table(s) of %d from %d", len(op.Tables), len(op.Tables[0]), op.Lo)
			if op.DropBits > 0 {
				fmt.Fprintf(&sb, ", drop %d %s", op.DropBits, op.Rounding)
			}
		}
		sb.WriteByte('\n')
	}
	for i, o := range c.Outputs {
		fmt.Fprintf(&sb, "output %d %q: v%d\n", i, o.Name, o.Value)
	}
	return sb.String()
}

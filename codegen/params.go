package codegen

import (
	"fmt"

	"github.com/fheir/fheir/ir"
	"github.com/fheir/fheir/rt"
)

// SelectParams chooses the cheapest crypto parameters that run c within the
// failure probability of opts (rt.Circuit.SelectParams) and records them
// in c. The runtime's NoCryptoParameters and AccumulatorTooWide come back
// as *ir.Error naming the layer (the lookup that needs the width or the
// noise) and the knob to turn.
func SelectParams(c *rt.Circuit, opts rt.SelectOptions) (rt.ParamsInfo, error) {
	info, err := c.SelectParams(opts)
	if err == nil {
		return info, nil
	}
	req := c.Requirements()
	switch rt.CodeOf(err) {
	case rt.AccumulatorTooWide:
		hint := "set --rounding-threshold-bits (e.g. 6:approximate) or lower --n-bits"
		for k := range c.Ops {
			if op := &c.Ops[k]; op.Name == req.WidestOp && op.Kind == rt.OpTLU && op.DropBits > 0 && op.Rounding == rt.RoundExact {
				hint = "exact rounding reads the whole accumulator: use --rounding-threshold-bits N:approximate, or lower --n-bits"
			}
		}
		return info, &ir.Error{Loc: req.WidestOp, Code: AccumulatorTooWide, Msg: fmt.Sprintf(
			"no parameter set holds this circuit: its widest table lookup reads %d bits and its values are %d bits wide: %s (%v)",
			req.PBSBits, req.MsgBits, hint, err)}
	case rt.NoCryptoParameters:
		return info, &ir.Error{Loc: req.WidestOp, Code: NoCryptoParameters, Msg: fmt.Sprintf(
			"no parameter set runs a %d-bit table lookup with weight 2-norm %.4g (at %q) at the requested failure probability: "+
				"raise --p-error or --global-p-error, lower --n-bits or set --rounding-threshold-bits (%v)",
			req.PBSBits, req.MaxNorm2, req.NoisiestOp, err)}
	}
	return info, err
}

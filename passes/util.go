package passes

import (
	"fmt"

	"github.com/fheir/fheir/ir"
)

// evalOp runs the single op v on the given operand tensors with ir's
// interpreter. When wide is set, integer operands and the result are typed
// i64, so that intermediate values outside v's declared type do not fail
// (range analysis and table building evaluate ops on bounds, not on values
// a real input produces).
func evalOp(v *ir.Value, args []*ir.Tensor, wide bool) (*ir.Tensor, error) {
	g := ir.NewFunc("eval")
	params := make([]*ir.Value, len(args))
	for i, a := range v.Args {
		t := a.Type
		if wide && !t.Elem.Float {
			t.Elem = ir.Int(64)
		}
		t.Shape = args[i].Shape
		params[i] = g.AddParam("", t)
	}
	w := *v
	w.Args = params
	if wide && !w.Type.Elem.Float {
		w.Type.Elem = ir.Int(64)
	}
	w.Range = nil
	g.Body = []*ir.Value{&w}
	g.Results = []*ir.Value{&w}
	out, err := ir.Run(g, args)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// topoSort reorders f.Body so that every operand comes before its users,
// keeping the current order where it already does. Passes append new values
// at the end and call topoSort once.
func topoSort(f *ir.Func) {
	state := make(map[*ir.Value]int8) // 0 new, 1 visiting, 2 placed
	for _, p := range f.Params {
		state[p] = 2
	}
	body := make([]*ir.Value, 0, len(f.Body))
	var visit func(v *ir.Value)
	visit = func(v *ir.Value) {
		switch state[v] {
		case 2:
			return
		case 1:
			panic(fmt.Sprintf("BUG: cycle through %s", v))
		}
		state[v] = 1
		for _, a := range v.Args {
			visit(a)
		}
		state[v] = 2
		body = append(body, v)
	}
	for _, v := range f.Body {
		visit(v)
	}
	f.Body = body
}

// numUses counts operand uses and result uses of every value.
func numUses(f *ir.Func) map[*ir.Value]int {
	n := make(map[*ir.Value]int)
	for _, v := range f.Body {
		for _, a := range v.Args {
			n[a]++
		}
	}
	for _, r := range f.Results {
		n[r]++
	}
	return n
}

// newConst returns an unattached constant value.
func newConst(e ir.Elem, t *ir.Tensor) *ir.Value {
	return &ir.Value{ID: -1, Op: ir.OpConst, Type: ir.TensorOf(e, t.Shape...),
		Attrs: ir.Attrs{ir.TensorAttrOf("value", e, t)}}
}

// intConst returns an integer constant typed with the minimal width of its
// contents.
func intConst(t *ir.Tensor) *ir.Value {
	r := ir.Range{Lo: 0, Hi: 0}
	for i, x := range t.I {
		if i == 0 {
			r = ir.Range{Lo: x, Hi: x}
		}
		r = r.Union(ir.Range{Lo: x, Hi: x})
	}
	return newConst(r.Elem(), t)
}

// newValue returns an unattached value.
func newValue(op ir.Op, t ir.Type, args []*ir.Value, attrs ir.Attrs, loc string) *ir.Value {
	return &ir.Value{ID: -1, Op: op, Type: t, Args: args, Attrs: attrs, Loc: loc}
}

// isConst reports whether v is a constant.
func isConst(v *ir.Value) bool { return v.Op == ir.OpConst && v.ConstValue() != nil }

// rangeOf returns v's range fact, or its type's range.
func rangeOf(v *ir.Value) ir.Range {
	if v.Range != nil {
		return *v.Range
	}
	return v.Type.Elem.Range()
}

// bitsOf returns the width an integer value needs: its range's when known,
// its type's otherwise.
func bitsOf(v *ir.Value) int {
	if v.Range != nil {
		return v.Range.Bits()
	}
	return int(v.Type.Elem.Bits)
}

// errAt builds a positioned error about value v.
func errAt(v *ir.Value, code ir.Code, format string, a ...any) *ir.Error {
	return &ir.Error{Pos: v.Pos, Loc: v.Loc, Code: code, Msg: fmt.Sprintf(format, a...)}
}

// broadcastIndex maps every flat index of shape out to the flat index of
// shape in (which broadcasts to out).
func broadcastIndex(in, out []int) []int {
	return ir.ShapeMap(&ir.Value{Op: ir.OpBroadcast}, in, out)
}

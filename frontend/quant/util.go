package quant

import (
	"math"

	"github.com/fheir/fheir/ir"
)

// qinfo describes a float value that is dequantize(q; scale, zp, axis).
type qinfo struct {
	q     *ir.Value
	scale []float64
	zp    []int64
	axis  int // -1: per tensor
}

// dequantOf returns the quantization of v when v is a dequantize.
func dequantOf(v *ir.Value) (qinfo, bool) {
	if v.Op != ir.OpDequantize {
		return qinfo{}, false
	}
	qi := qinfo{q: v.Args[0], scale: v.Floats("scale"), zp: v.Ints("zero_point", nil), axis: int(v.Int("axis", -1))}
	if qi.uniform() {
		qi.scale, qi.zp, qi.axis = qi.scale[:1], qi.zp[:1], -1
	}
	return qi, true
}

// uniform reports whether every channel has the same scale and zero point.
func (qi qinfo) uniform() bool {
	for i := range qi.scale {
		if qi.scale[i] != qi.scale[0] || qi.zp[i] != qi.zp[0] {
			return false
		}
	}
	return true
}

// channelScale and channelZP return the scale and zero point of channel c.
func (qi qinfo) channelScale(c int) float64 {
	if qi.axis < 0 {
		return qi.scale[0]
	}
	return qi.scale[c]
}

func (qi qinfo) channelZP(c int) int64 {
	if qi.axis < 0 {
		return qi.zp[0]
	}
	return qi.zp[c]
}

// channelOf returns, for each flat index of shape, its index along axis
// (all zeros when axis < 0).
func channelOf(shape []int, axis int) []int {
	ch := make([]int, ir.ShapeSize(shape))
	if axis < 0 {
		return ch
	}
	st := ir.Strides(shape)
	for k := range ch {
		ch[k] = (k / st[axis]) % shape[axis]
	}
	return ch
}

// channelShape returns a shape of the given rank with n at axis and 1
// elsewhere: the shape of a per-channel constant that broadcasts along axis.
func channelShape(rank, axis, n int) []int {
	s := make([]int, rank)
	for i := range s {
		s[i] = 1
	}
	s[axis] = n
	return s
}

// elemFor returns the narrowest integer element type holding r.
func elemFor(r ir.Range) ir.Elem {
	if r.Lo < 0 {
		return ir.Int(r.Bits())
	}
	return ir.Uint(r.Bits())
}

// tensorRange returns the range of an integer tensor's elements.
func tensorRange(t *ir.Tensor) ir.Range {
	if t.Len() == 0 {
		return ir.Range{}
	}
	r := ir.Range{Lo: math.MaxInt64, Hi: math.MinInt64}
	for _, x := range t.I {
		r.Lo, r.Hi = min(r.Lo, x), max(r.Hi, x)
	}
	return r
}

// full returns an integer tensor of the given shape filled with x.
func full(shape []int, x int64) *ir.Tensor {
	t := ir.NewInts(shape, nil)
	for i := range t.I {
		t.I[i] = x
	}
	return t
}

// clear returns t as the type of a clear value.
func clearType(t ir.Type) ir.Type { t.Secret = false; return t }

// evalOp runs one op on constant operands with ir's interpreter. elems
// gives each operand's element type; the result has type t (made clear).
func evalOp(op ir.Op, attrs ir.Attrs, t ir.Type, args []*ir.Tensor, elems []ir.Elem) (*ir.Tensor, error) {
	g := ir.NewFunc("eval")
	vs := make([]*ir.Value, len(args))
	for i, a := range args {
		vs[i] = g.Const(elems[i], a)
	}
	r := g.Add(op, clearType(t), vs, attrs)
	g.Results = []*ir.Value{r}
	out, err := ir.Run(g, nil)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// evalWide runs an integer op on integer operands with 64-bit types, for
// range computations.
func evalWide(op ir.Op, attrs ir.Attrs, shape []int, args ...*ir.Tensor) *ir.Tensor {
	elems := make([]ir.Elem, len(args))
	for i := range elems {
		elems[i] = ir.Int(64)
	}
	out, err := evalOp(op, attrs, ir.TensorOf(ir.Int(64), shape...), args, elems)
	if err != nil {
		panic("BUG: range evaluation of " + op.String() + ": " + err.Error())
	}
	return out
}

// roundHalfEven rounds as ir's quantize does.
func roundHalfEven(x float64) float64 { return math.RoundToEven(x) }

// quantAttrs builds the attributes of a quantize (qmin/qmax given) or a
// dequantize (withBounds false), in op-table order.
func quantAttrs(scale []float64, zp []int64, axis int, withBounds bool, qmin, qmax int64) ir.Attrs {
	a := ir.Attrs{ir.FloatsAttr("scale", scale), ir.IntsAttr("zero_point", zp)}
	if axis >= 0 {
		a = append(a, ir.IntAttr("axis", int64(axis)))
	}
	if withBounds {
		a = append(a, ir.IntAttr("qmin", qmin), ir.IntAttr("qmax", qmax))
	}
	return a
}

// isUnivariateOp reports whether op is an element-wise op that fuse-tlu may
// absorb into a table (quantize and dequantize excluded).
func isUnivariateOp(op ir.Op) bool {
	info := op.Info()
	return info.Univariate && info.Class != ir.ClassQuant
}

// isElementwise reports whether op computes each result element from the
// same-index elements of its operands (casts, roundings and lookups
// included).
func isElementwise(op ir.Op) bool {
	switch op.Info().Class {
	case ir.ClassUnary, ir.ClassBinary, ir.ClassCompare, ir.ClassTernary, ir.ClassQuant:
		return true
	}
	return false
}

// transparentOps commute with a per-tensor affine map of their input:
// they only move, repeat or select elements (maxpool and reduce_max select
// a maximum, which an increasing map preserves).
func isTransparent(op ir.Op) bool {
	switch op {
	case ir.OpReshape, ir.OpTranspose, ir.OpSlice, ir.OpGather, ir.OpBroadcast, ir.OpPad, ir.OpMaxPool, ir.OpReduceMax:
		return true
	}
	return false
}

// isMixing reports whether op combines several encrypted elements into one
// and therefore needs integer operands.
func isMixing(op ir.Op) bool {
	switch op {
	case ir.OpGemm, ir.OpMatMul, ir.OpConv, ir.OpSumPool, ir.OpReduceSum, ir.OpReduceMean, ir.OpConcat:
		return true
	}
	return false
}

package onnx

import (
	"math"
	"strings"

	"github.com/fheir/fheir/ir"
)

// quantParams reads a constant scale and zero point for an input of shape
// xs: per tensor (axis -1) when both have one element, else per channel
// along the one axis where they have more than one.
func (b *importer) quantParams(n *Node, xs []int, scaleIn, zpIn int, axisAttr int64, blocked bool) (scale []float64, zp []int64, axis int, err error) {
	sv, _, err := b.input(n, scaleIn)
	if err != nil {
		return nil, nil, 0, err
	}
	sc := constOf(sv)
	if sc == nil {
		return nil, nil, 0, errorf(NonConstantInput, "scale %q must be a constant", n.Input(scaleIn))
	}
	scale = sc.Floats()
	zp = make([]int64, len(scale))
	if zv, ok, err := b.input(n, zpIn); err != nil {
		return nil, nil, 0, err
	} else if ok {
		zc := constOf(zv)
		if zc == nil {
			return nil, nil, 0, errorf(NonConstantInput, "zero point %q must be a constant", n.Input(zpIn))
		}
		switch {
		case zc.Len() == len(scale):
		case zc.Len() == 1:
		default:
			return nil, nil, 0, errorf(BadNode, "zero point has %d elements, scale %d", zc.Len(), len(scale))
		}
		for i := range zp {
			z := zc.At(i % zc.Len())
			if z != math.Trunc(z) {
				return nil, nil, 0, errorf(UnsupportedOp, "unsupported op: non-integer zero point %v", z)
			}
			zp[i] = int64(z)
		}
	}
	for _, s := range scale {
		if !(s > 0) || math.IsInf(s, 0) {
			return nil, nil, 0, errorf(BadNode, "scale %v: want positive finite scales", s)
		}
	}
	axis = -1
	if len(scale) == 1 {
		return scale[:1], zp[:1], -1, nil
	}
	if blocked {
		// ONNX Q/DQ: a 1-D scale applies along attribute axis.
		a, err := normAxis(axisAttr, len(xs))
		if err != nil {
			return nil, nil, 0, err
		}
		if len(sc.Shape) != 1 || xs[a] != len(scale) {
			return nil, nil, 0, errorf(UnsupportedOp, "unsupported op: scale of shape %v for input %v (blocked quantization)", sc.Shape, xs)
		}
		return scale, zp, a, nil
	}
	// QONNX: the scale broadcasts against x; find its one non-1 axis.
	off := len(xs) - len(sc.Shape)
	for i, d := range sc.Shape {
		if d == 1 {
			continue
		}
		if axis >= 0 || off < 0 || xs[i+off] != d {
			return nil, nil, 0, errorf(UnsupportedOp, "unsupported op: scale of shape %v for input %v", sc.Shape, xs)
		}
		axis = i + off
	}
	return scale, zp, axis, nil
}

// quantDequant emits quantize to e (range [lo, hi]) then dequantize back to
// float fe.
func (b *importer) quantize(x *ir.Value, e ir.Elem, scale []float64, zp []int64, axis int, lo, hi int64) (*ir.Value, error) {
	return b.emit(ir.OpQuantize, e, nil, []*ir.Value{x}, ir.FloatsAttr("scale", scale), ir.IntsAttr("zero_point", zp),
		ir.IntAttr("axis", int64(axis)), ir.IntAttr("qmin", lo), ir.IntAttr("qmax", hi))
}

// dequantize emits a dequantize. It is not folded when q is constant: the
// integer weights and their scale stay visible to quantization.
func (b *importer) dequantize(q *ir.Value, fe ir.Elem, scale []float64, zp []int64, axis int) (*ir.Value, error) {
	return b.emitFold(false, ir.OpDequantize, fe, nil, []*ir.Value{q}, ir.FloatsAttr("scale", scale), ir.IntsAttr("zero_point", zp),
		ir.IntAttr("axis", int64(axis)))
}

func lowerQuantizeLinear(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 2); err != nil {
		return nil, err
	}
	if n.Int("block_size", 0) != 0 {
		return nil, errorf(UnsupportedOp, "unsupported op: blocked QuantizeLinear")
	}
	x := in[0].v
	if !x.Type.Elem.Float {
		return nil, errorf(BadNode, "input is %v, want float", in[0].dt)
	}
	out := Uint8
	if len(in) > 2 && in[2].v != nil {
		out = in[2].dt
	} else if o := n.Int("output_dtype", 0); o != 0 {
		out = DType(o)
	}
	e, err := elemOf(out)
	if err != nil || !exactCastTarget(out) || out == Bool {
		return nil, errorf(UnsupportedOp, "unsupported op: QuantizeLinear to %v", out)
	}
	scale, zp, axis, err := b.quantParams(n, x.Type.Shape, 1, 2, n.Int("axis", 1), true)
	if err != nil {
		return nil, err
	}
	lo, hi, _ := out.Range()
	v, err := b.quantize(x, e, scale, zp, axis, lo, hi)
	return one(v, out), err
}

func lowerDequantizeLinear(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 2); err != nil {
		return nil, err
	}
	if n.Int("block_size", 0) != 0 {
		return nil, errorf(UnsupportedOp, "unsupported op: blocked DequantizeLinear")
	}
	x := in[0].v
	if x.Type.Elem.Float {
		return nil, errorf(UnsupportedOp, "unsupported op: DequantizeLinear of %v", in[0].dt)
	}
	scale, zp, axis, err := b.quantParams(n, x.Type.Shape, 1, 2, n.Int("axis", 1), true)
	if err != nil {
		return nil, err
	}
	fe, err := elemOf(in[1].dt)
	if err != nil {
		return nil, err
	}
	v, err := b.dequantize(x, fe, scale, zp, axis)
	return one(v, in[1].dt), err
}

// QuantRange returns the integer range of a QONNX/Brevitas Quant node with
// the given bit width, signedness and narrow flag.
func QuantRange(bits int, signed, narrow bool) (lo, hi int64) {
	if signed {
		lo, hi = -(int64(1) << (bits - 1)), int64(1)<<(bits-1)-1
		if narrow {
			lo++
		}
		return lo, hi
	}
	hi = int64(1)<<bits - 1
	if narrow {
		hi--
	}
	return 0, hi
}

// lowerQuant lowers QONNX Quant (domains qonnx.custom_op.general and
// onnx.brevitas): y = (clip(round(x/s + zp), lo, hi) - zp) * s.
func lowerQuant(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 4); err != nil {
		return nil, err
	}
	x := in[0].v
	if !x.Type.Elem.Float {
		return nil, errorf(BadNode, "input is %v, want float", in[0].dt)
	}
	mode := strings.ToUpper(n.Str("rounding_mode", "ROUND"))
	if _, ok := roundingModes[mode]; !ok {
		return nil, errorf(UnsupportedOp, "unsupported op: rounding_mode %q", n.Str("rounding_mode", ""))
	}
	bw, _, err := b.constScalar(n, 3)
	if err != nil {
		return nil, err
	}
	if bw != math.Trunc(bw) || bw < 1 || bw > 32 {
		return nil, errorf(BadNode, "bit width %v: want an integer in 1..32", bw)
	}
	bits := int(bw)
	signed, narrow := n.Int("signed", 1) != 0, n.Int("narrow", 0) != 0
	lo, hi := QuantRange(bits, signed, narrow)
	if lo > hi {
		return nil, errorf(BadNode, "bit width %d with narrow range holds no value", bits)
	}
	if mode != "ROUND" && mode != "HALF_EVEN" {
		// Other rounding modes stay float ops (fake quantization).
		v, err := b.fakeQuant(x, in[1].v, in[2].v, lo, hi, mode)
		return one(v, in[0].dt), err
	}
	scale, zp, axis, err := b.quantParams(n, x.Type.Shape, 1, 2, 0, false)
	if err != nil {
		return nil, err
	}
	e := ir.Uint(bits)
	if signed {
		e = ir.Int(bits)
	}
	q, err := b.quantize(x, e, scale, zp, axis, lo, hi)
	if err != nil {
		return nil, err
	}
	v, err := b.dequantize(q, x.Type.Elem, scale, zp, axis)
	return one(v, in[0].dt), err
}

// roundingModes are the QONNX rounding modes (see rounding below).
var roundingModes = map[string]bool{"ROUND": true, "HALF_EVEN": true, "CEIL": true, "FLOOR": true,
	"UP": true, "DOWN": true, "HALF_UP": true, "HALF_DOWN": true}

// rounding rounds float v to an integer value by a QONNX rounding mode:
// ROUND/HALF_EVEN ties to even, CEIL, FLOOR, UP (away from zero), DOWN
// (toward zero), HALF_UP (ties away from zero), HALF_DOWN (ties toward zero).
func (b *importer) rounding(v *ir.Value, mode string) (*ir.Value, error) {
	e := v.Type.Elem
	un := func(op ir.Op, x *ir.Value) (*ir.Value, error) { return b.emit(op, e, nil, []*ir.Value{x}) }
	switch mode {
	case "ROUND", "HALF_EVEN":
		return un(ir.OpFRound, v)
	case "CEIL":
		return un(ir.OpCeil, v)
	case "FLOOR":
		return un(ir.OpFloor, v)
	}
	// The rest are symmetric around zero: sign(v) * r(|v|).
	a, err := un(ir.OpAbs, v)
	if err != nil {
		return nil, err
	}
	var r *ir.Value
	switch mode {
	case "UP":
		r, err = un(ir.OpCeil, a)
	case "DOWN":
		r, err = un(ir.OpFloor, a)
	case "HALF_UP", "HALF_DOWN":
		op, c := ir.OpFloor, 0.5
		if mode == "HALF_DOWN" {
			op, c = ir.OpCeil, -0.5
		}
		if r, err = b.emit(ir.OpAdd, e, nil, []*ir.Value{a, b.constF(e, []int{}, c)}); err == nil {
			r, err = un(op, r)
		}
	default:
		panic("BUG: rounding mode " + mode)
	}
	if err != nil {
		return nil, err
	}
	sg, err := un(ir.OpSign, v)
	if err != nil {
		return nil, err
	}
	return b.emit(ir.OpMul, e, nil, []*ir.Value{sg, r})
}

// fakeQuant computes (round(clip(x/s + zp, lo, hi)) - zp) * s with float
// ops, for rounding modes the IR's quantize does not have.
func (b *importer) fakeQuant(x, s, zp *ir.Value, lo, hi int64, mode string) (*ir.Value, error) {
	e := x.Type.Elem
	y, err := b.emit(ir.OpDiv, e, nil, []*ir.Value{x, s})
	if err == nil {
		y, err = b.emit(ir.OpAdd, e, nil, []*ir.Value{y, zp})
	}
	if err == nil {
		y, err = b.emit(ir.OpClip, e, nil, []*ir.Value{y}, ir.FloatAttr("min", float64(lo)), ir.FloatAttr("max", float64(hi)))
	}
	if err == nil {
		y, err = b.rounding(y, mode)
	}
	if err == nil {
		y, err = b.emit(ir.OpSub, e, nil, []*ir.Value{y, zp})
	}
	if err == nil {
		y, err = b.emit(ir.OpMul, e, nil, []*ir.Value{y, s})
	}
	return y, err
}

// lowerTrunc lowers QONNX Trunc (version 2, six inputs), Brevitas'
// truncation of accumulators (TruncAvgPool2d):
// t = 2^round(log2(out_scale/scale)),
// y = (r(clip(round(x/scale + zp)/t, lo, hi)) - zp/t) * out_scale
// with r the rounding mode (FLOOR by default) and [lo, hi] the range of
// out_bitwidth, signed, narrow.
func lowerTrunc(b *importer, n *Node, in []val) ([]val, error) {
	if len(n.Inputs) == 5 {
		return nil, errorf(UnsupportedOp, "unsupported op: Trunc version 1 (five inputs); export with qonnx.custom_op.general opset 2")
	}
	if err := need(n, in, 6); err != nil {
		return nil, err
	}
	x := in[0].v
	e := x.Type.Elem
	if !e.Float {
		return nil, errorf(BadNode, "input is %v, want float", in[0].dt)
	}
	mode := strings.ToUpper(n.Str("rounding_mode", "FLOOR"))
	if !roundingModes[mode] {
		return nil, errorf(UnsupportedOp, "unsupported op: rounding_mode %q", n.Str("rounding_mode", ""))
	}
	var p [4]float64 // scale, zeropt, out_scale, out_bitwidth
	for i, k := range []int{1, 2, 4, 5} {
		v, _, err := b.constScalar(n, k)
		if err != nil {
			return nil, err
		}
		p[i] = v
	}
	scale, zp, outScale, outBits := p[0], p[1], p[2], p[3]
	if !(scale > 0) || !(outScale > 0) || outBits != math.Trunc(outBits) || outBits < 1 || outBits > 32 {
		return nil, errorf(BadNode, "scale %v, output scale %v, output bit width %v", scale, outScale, outBits)
	}
	lo, hi := QuantRange(int(outBits), n.Int("signed", 1) != 0, n.Int("narrow", 0) != 0)
	t := math.Exp2(math.RoundToEven(math.Log2(outScale / scale)))
	c := func(v float64) *ir.Value { return b.constF(e, []int{}, v) }
	y, err := b.emit(ir.OpDiv, e, nil, []*ir.Value{x, c(scale)})
	if err == nil {
		y, err = b.emit(ir.OpAdd, e, nil, []*ir.Value{y, c(zp)})
	}
	if err == nil {
		y, err = b.emit(ir.OpFRound, e, nil, []*ir.Value{y})
	}
	if err == nil {
		y, err = b.emit(ir.OpDiv, e, nil, []*ir.Value{y, c(t)})
	}
	if err == nil {
		y, err = b.emit(ir.OpClip, e, nil, []*ir.Value{y}, ir.FloatAttr("min", float64(lo)), ir.FloatAttr("max", float64(hi)))
	}
	if err == nil {
		y, err = b.rounding(y, mode)
	}
	if err == nil {
		y, err = b.emit(ir.OpSub, e, nil, []*ir.Value{y, c(zp / t)})
	}
	if err == nil {
		y, err = b.emit(ir.OpMul, e, nil, []*ir.Value{y, c(outScale)})
	}
	return one(y, in[0].dt), err
}

// lowerBipolarQuant lowers QONNX BipolarQuant: y = (x >= 0 ? 1 : -1) * s.
func lowerBipolarQuant(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 2); err != nil {
		return nil, err
	}
	x, s := in[0].v, in[1].v
	e := x.Type.Elem
	if !e.Float {
		return nil, errorf(BadNode, "input is %v, want float", in[0].dt)
	}
	ge, err := b.emit(ir.OpGreaterEq, ir.Uint(1), nil, []*ir.Value{x, b.constF(e, []int{}, 0)})
	if err != nil {
		return nil, err
	}
	ns, err := b.emit(ir.OpNeg, e, nil, []*ir.Value{s})
	if err != nil {
		return nil, err
	}
	v, err := b.emit(ir.OpWhere, e, nil, []*ir.Value{ge, s, ns})
	return one(v, in[0].dt), err
}

package onnx

import (
	"math"

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
	if rm := n.Str("rounding_mode", "ROUND"); rm != "ROUND" && rm != "ROUND_TO_EVEN" {
		return nil, errorf(UnsupportedOp, "unsupported op: rounding_mode %q (only ROUND)", rm)
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

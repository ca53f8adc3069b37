package quant

import (
	"math"

	"github.com/fheir/fheir/ir"
)

// This file moves data-movement ops (and maxpool, reduce_max) to the
// integer side of quantizers, and folds positive scalings into
// dequantize scales.

// axisForward maps a channel axis of op v's input to its output, or
// reports that per-channel parameters do not survive v.
func axisForward(v *ir.Value, axis int) (int, bool) {
	in, out := v.Args[0].Type.Shape, v.Type.Shape
	switch v.Op {
	case ir.OpReshape:
		return axis, samePrefix(in, out, axis)
	case ir.OpTranspose:
		for i, p := range v.Ints("perm", nil) {
			if int(p) == axis {
				return i, true
			}
		}
	case ir.OpMaxPool:
		return axis, axis <= 1
	case ir.OpBroadcast:
		a := axis + len(out) - len(in)
		return a, out[a] == in[axis]
	case ir.OpSlice:
		for _, a := range v.Ints("axes", nil) {
			if int(a) == axis || int(a)+len(in) == axis {
				return 0, false
			}
		}
		return axis, true
	}
	return 0, false
}

// axisBackward maps a channel axis of op v's output to its input.
func axisBackward(v *ir.Value, axis int) (int, bool) {
	in, out := v.Args[0].Type.Shape, v.Type.Shape
	switch v.Op {
	case ir.OpReshape:
		return axis, samePrefix(in, out, axis)
	case ir.OpTranspose:
		perm := v.Ints("perm", nil)
		if axis < len(perm) {
			return int(perm[axis]), true
		}
	case ir.OpMaxPool:
		return axis, axis <= 1
	}
	return 0, false
}

// samePrefix reports whether two shapes agree on dimensions 0..axis, so
// that a row-major reshape keeps every element's index along axis.
func samePrefix(a, b []int, axis int) bool {
	if axis >= len(a) || axis >= len(b) {
		return false
	}
	for i := 0; i <= axis; i++ {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// sink rewrites op(dequantize(q)) → dequantize(op(q)) for a transparent op.
func (l *lowering) sink(v *ir.Value) *ir.Value {
	qi, ok := dequantOf(v.Args[0])
	if !ok {
		return v
	}
	axis := -1
	if qi.axis >= 0 {
		if axis, ok = axisForward(v, qi.axis); !ok {
			return v
		}
	}
	attrs := append(ir.Attrs(nil), v.Attrs...)
	r := l.rangeOf(qi.q)
	if v.Op == ir.OpPad && v.Str("mode", "constant") == "constant" {
		if qi.axis >= 0 {
			return v
		}
		// The padding value must be a representable quantized value.
		x := v.Float("value", 0)/qi.scale[0] + float64(qi.zp[0])
		if x != math.Trunc(x) || math.Abs(x) > 1<<52 {
			return v
		}
		attrs = setAttr(attrs, ir.FloatAttr("value", x))
		r = r.Union(ir.Range{Lo: int64(x), Hi: int64(x)})
	}
	w := l.emitInt(v.Op, v.Type.Shape, []*ir.Value{qi.q}, attrs, v.Loc, r)
	return l.emitDequant(w, qi.scale, qi.zp, axis, v.Type.Elem, v.Loc)
}

// setAttr returns attrs with a replaced (or added last).
func setAttr(attrs ir.Attrs, a ir.Attr) ir.Attrs {
	for i := range attrs {
		if attrs[i].Name == a.Name {
			attrs[i] = a
			return attrs
		}
	}
	return append(attrs, a)
}

// hoistQuantize rewrites quantize(op(x)) → op(quantize(x)) for transparent
// ops on encrypted floats, repeatedly, so that data movement runs on
// integers.
func (l *lowering) hoistQuantize(v *ir.Value) *ir.Value {
	y := v.Args[0]
	if !y.Type.Secret || !isTransparent(y.Op) || !y.Type.Elem.Float {
		return v
	}
	if w := l.quantizeBelow(y, v); w != nil {
		return w
	}
	return v
}

// quantizeBelow returns op(quantize(x)) for y = op(x) and the quantizer q
// (whose attributes describe y's quantization), or nil when op does not
// commute with q.
func (l *lowering) quantizeBelow(y, q *ir.Value) *ir.Value {
	scale, zp := q.Floats("scale"), q.Ints("zero_point", nil)
	axis := int(q.Int("axis", -1))
	lo, hi := q.Int("qmin", 0), q.Int("qmax", 0)
	inAxis := -1
	if axis >= 0 {
		a, ok := axisBackward(y, axis)
		if !ok {
			return nil
		}
		inAxis = a
	}
	attrs := append(ir.Attrs(nil), y.Attrs...)
	if y.Op == ir.OpPad && y.Str("mode", "constant") == "constant" {
		if axis >= 0 {
			return nil
		}
		x := roundHalfEven(y.Float("value", 0)/scale[0]) + float64(zp[0])
		x = math.Min(math.Max(x, float64(lo)), float64(hi))
		attrs = setAttr(attrs, ir.FloatAttr("value", x))
	}
	x := y.Args[0]
	qattrs := quantAttrs(scale, zp, inAxis, true, lo, hi)
	inner := &ir.Value{ID: -1, Op: ir.OpQuantize, Type: ir.Type{Shape: x.Type.Shape, Secret: x.Type.Secret}, Args: []*ir.Value{x}, Attrs: qattrs, Loc: q.Loc}
	var qx *ir.Value
	if x.Type.Secret && isTransparent(x.Op) && x.Type.Elem.Float {
		qx = l.quantizeBelow(x, inner)
	}
	if qx == nil {
		qx = l.emitQuant(x, scale, zp, inAxis, lo, hi, q.Loc)
	}
	return l.emitInt(y.Op, y.Type.Shape, []*ir.Value{qx}, attrs, y.Loc, l.rangeOf(qx))
}

// foldScale rewrites mul(dequantize(q; s), c) and div(dequantize(q; s), c)
// for a positive clear constant c (a scalar, or one value per channel) into
// dequantize(q; s·c) or dequantize(q; s/c). It returns nil when the rule
// does not apply.
func (l *lowering) foldScale(v *ir.Value) *ir.Value {
	d, c := v.Args[0], v.Args[1]
	if v.Op == ir.OpMul && c.Type.Secret {
		d, c = c, d
	}
	qi, ok := dequantOf(d)
	ct := c.ConstValue()
	if !ok || ct == nil || c.Type.Secret || !ir.SameShape(d.Type.Shape, v.Type.Shape) {
		return nil
	}
	for _, x := range ct.Floats() {
		if !(x > 0) || math.IsInf(x, 0) {
			return nil
		}
	}
	apply := func(s, k float64) float64 {
		if v.Op == ir.OpDiv {
			return s / k
		}
		return s * k
	}
	cf := ct.Floats()
	if allEqual(cf) {
		cf = cf[:1] // e.g. average pooling's window sizes, all equal
	}
	if len(cf) == 1 {
		scale := make([]float64, len(qi.scale))
		for i, s := range qi.scale {
			scale[i] = apply(s, cf[0])
		}
		return l.emitDequant(qi.q, scale, qi.zp, qi.axis, v.Type.Elem, v.Loc)
	}
	// One non-unit dimension, aligned with the output's axis a.
	rank := len(v.Type.Shape)
	a := -1
	for i, n := range ct.Shape {
		if n != 1 {
			if a >= 0 {
				return nil
			}
			a = i + rank - len(ct.Shape)
		}
	}
	if a < 0 || v.Type.Shape[a] != len(cf) || qi.axis >= 0 && qi.axis != a {
		return nil
	}
	scale := make([]float64, len(cf))
	zp := make([]int64, len(cf))
	for ch := range cf {
		scale[ch] = apply(qi.channelScale(ch), cf[ch])
		zp[ch] = qi.channelZP(ch)
	}
	return l.emitDequant(qi.q, scale, zp, a, v.Type.Elem, v.Loc)
}

func allEqual(x []float64) bool {
	for _, v := range x {
		if v != x[0] {
			return false
		}
	}
	return true
}

// isPermutation reports whether op only moves, repeats or selects elements
// without comparing them (so that it commutes with any element-wise op).
func isPermutation(op ir.Op) bool {
	switch op {
	case ir.OpReshape, ir.OpTranspose, ir.OpSlice, ir.OpGather, ir.OpBroadcast:
		return true
	}
	return false
}

// feedsQuantizersOnly reports whether every use of v (in the body before
// forward) is a quantizer, possibly after more permutations: hoisting those
// quantizers over v keeps per-channel tables, which pushThrough would
// spread per element.
func (l *lowering) feedsQuantizersOnly(v *ir.Value) bool {
	us := l.users[v]
	for _, r := range l.f.Results {
		if r == v {
			return false
		}
	}
	for _, u := range us {
		if u.Op != ir.OpQuantize && !(isPermutation(u.Op) && l.feedsQuantizersOnly(u)) {
			return false
		}
	}
	return len(us) > 0
}

// pushThrough moves a permutation t up through the element-wise ops that
// compute its operand, T(g(x, c)) → g(T(x), T(c)) with constants
// broadcast then permuted, until it reaches a dequantize, where it moves to
// the integers: the float region between a dequantize and a quantizer then
// holds only element-wise ops. A per-channel dequantize whose axis T does
// not keep is split into a unit dequantize and per-channel sub and mul.
// It returns nil (having possibly emitted dead values) when some operand
// is neither.
func (l *lowering) pushThrough(t *ir.Value, depth int) *ir.Value {
	g := t.Args[0]
	if depth > 64 {
		return nil
	}
	if g.Op == ir.OpDequantize {
		if w := l.sink(t); w != t {
			return w
		}
		qi, _ := dequantOf(g)
		if qi.axis < 0 {
			return nil
		}
		unit := l.emitDequant(qi.q, []float64{1}, []int64{0}, -1, g.Type.Elem, g.Loc)
		cs := channelShape(len(g.Type.Shape), qi.axis, len(qi.scale))
		zf := make([]float64, len(qi.zp))
		for i, z := range qi.zp {
			zf[i] = float64(z)
		}
		cz := &ir.Value{ID: -1, Op: ir.OpConst, Type: ir.TensorOf(g.Type.Elem, cs...), Attrs: ir.Attrs{ir.TensorAttrOf("value", g.Type.Elem, ir.NewFloats(cs, zf))}}
		cm := &ir.Value{ID: -1, Op: ir.OpConst, Type: ir.TensorOf(g.Type.Elem, cs...), Attrs: ir.Attrs{ir.TensorAttrOf("value", g.Type.Elem, ir.NewFloats(cs, append([]float64(nil), qi.scale...)))}}
		sub := &ir.Value{ID: -1, Op: ir.OpSub, Type: g.Type, Args: []*ir.Value{unit, cz}, Loc: g.Loc}
		mul := &ir.Value{ID: -1, Op: ir.OpMul, Type: g.Type, Args: []*ir.Value{sub, cm}, Loc: g.Loc}
		return l.pushThrough(&ir.Value{ID: -1, Op: t.Op, Type: t.Type, Args: []*ir.Value{mul}, Attrs: t.Attrs, Loc: t.Loc}, depth+1)
	}
	if !isElementwise(g.Op) || g.Op == ir.OpQuantize || g.Op.Info().Class == ir.ClassQuant && g.Op != ir.OpCast {
		return nil
	}
	args := make([]*ir.Value, len(g.Args))
	for i, a := range g.Args {
		if a.Type.Secret {
			if !ir.SameShape(a.Type.Shape, g.Type.Shape) {
				return nil
			}
			inner := &ir.Value{ID: -1, Op: t.Op, Type: ir.Type{Elem: a.Type.Elem, Shape: t.Type.Shape, Secret: true}, Args: []*ir.Value{a}, Attrs: t.Attrs, Loc: t.Loc}
			if args[i] = l.pushThrough(inner, depth+1); args[i] == nil {
				return nil
			}
			continue
		}
		c := a.ConstValue()
		if c == nil {
			return nil
		}
		if c.Len() == 1 {
			args[i] = a
			continue
		}
		b, err := evalOp(ir.OpBroadcast, nil, ir.TensorOf(a.Type.Elem, g.Type.Shape...), []*ir.Tensor{c}, []ir.Elem{a.Type.Elem})
		if err != nil {
			return nil
		}
		ct, err := evalOp(t.Op, t.Attrs, ir.TensorOf(a.Type.Elem, t.Type.Shape...), []*ir.Tensor{b}, []ir.Elem{a.Type.Elem})
		if err != nil {
			return nil
		}
		args[i] = l.emit(ir.OpConst, ir.TensorOf(a.Type.Elem, t.Type.Shape...), nil, ir.Attrs{ir.TensorAttrOf("value", a.Type.Elem, ct)}, a.Loc)
	}
	return l.emit(g.Op, ir.Type{Elem: g.Type.Elem, Shape: t.Type.Shape, Secret: true}, args, g.Attrs, g.Loc)
}

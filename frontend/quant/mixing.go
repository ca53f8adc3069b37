package quant

import (
	"math"
	"slices"

	"github.com/fheir/fheir/ir"
)

// lowerMixing rewrites a mixing op on dequantized operands into the
// integer op followed by a dequantize.
func (l *lowering) lowerMixing(v *ir.Value) *ir.Value {
	switch v.Op {
	case ir.OpGemm, ir.OpMatMul, ir.OpConv:
		return l.lowerContraction(v)
	case ir.OpSumPool:
		return l.lowerSumPool(v)
	case ir.OpReduceSum, ir.OpReduceMean:
		return l.lowerReduce(v)
	case ir.OpConcat:
		return l.lowerConcat(v)
	}
	panic("BUG: lowerMixing on " + v.Op.String())
}

// operand returns the quantization of operand i of v, or records why it
// has none.
func (l *lowering) operand(v *ir.Value, i int) (qinfo, bool) {
	a := v.Args[i]
	if qi, ok := dequantOf(a); ok {
		return qi, true
	}
	if a.Type.Secret {
		l.errs = append(l.errs, errAt(v, MissingQuantizer,
			"input %d is the output of %s, which is not quantized: insert a QuantIdentity (or use a quantized activation such as QuantReLU) between it and this node",
			i, describe(a)))
	} else {
		l.errs = append(l.errs, errAt(v, UnquantizedWeight,
			"input %d is a clear float tensor without a quantizer: use a quantized layer (QuantLinear, QuantConv2d) or post-training quantization", i))
	}
	return qinfo{}, false
}

// weightAxis returns, for the clear operand w of a contraction, the axis
// of w that indexes output channels and the matching output axis (-1 when
// per-channel weights are impossible).
func weightAxis(v *ir.Value, w int) (wAxis, outAxis int) {
	rw, ro := len(v.Args[w].Type.Shape), len(v.Type.Shape)
	switch v.Op {
	case ir.OpGemm:
		if w == 1 {
			if v.Int("trans_b", 0) != 0 {
				return 0, 1
			}
			return 1, 1
		}
		if v.Int("trans_a", 0) != 0 {
			return 1, 0
		}
		return 0, 0
	case ir.OpConv:
		if w == 1 {
			return 0, 1
		}
	case ir.OpMatMul:
		if w == 1 && rw >= 2 {
			return rw - 1, ro - 1
		}
		if w == 0 && rw >= 2 && ro >= 2 {
			return rw - 2, ro - 2
		}
	}
	return -1, -1
}

// contractionSize returns the number of products summed into each output
// of a contraction (for the range of an encrypted × encrypted product).
func contractionSize(v *ir.Value) int {
	a, b := v.Args[0].Type.Shape, v.Args[1].Type.Shape
	switch v.Op {
	case ir.OpGemm:
		if v.Int("trans_a", 0) != 0 {
			return a[0]
		}
		return a[1]
	case ir.OpConv:
		return ir.ShapeSize(b[1:])
	}
	return a[len(a)-1]
}

// lowerContraction lowers gemm, matmul and conv.
func (l *lowering) lowerContraction(v *ir.Value) *ir.Value {
	qa, okA := l.operand(v, 0)
	qb, okB := l.operand(v, 1)
	if !okA || !okB {
		return nil
	}
	secA, secB := v.Args[0].Type.Secret, v.Args[1].Type.Secret
	attrs := append(ir.Attrs(nil), v.Attrs...)
	args := make([]*ir.Value, 2)
	var scale []float64
	outAxis := -1
	var r ir.Range
	// Two variable operands (both encrypted, or one a clear model input):
	// per-tensor scales, interval bounds.
	variable := secA && secB || !secA && qa.q.ConstValue() == nil || !secB && qb.q.ConstValue() == nil
	if variable {
		if qa.axis >= 0 || qb.axis >= 0 {
			l.errs = append(l.errs, errAt(v, UnsupportedQuantization, "a product of two variable tensors needs per-tensor quantization of both"))
			return nil
		}
		args[0], args[1] = l.subZP(qa, v.Loc), l.subZP(qb, v.Loc)
		p := l.rangeOf(args[0]).Mul(l.rangeOf(args[1])).Union(ir.Range{})
		r = p.Scale(int64(contractionSize(v)))
		scale = []float64{qa.scale[0] * qb.scale[0]}
	} else {
		e, w := 0, 1
		if !secA {
			e, w = 1, 0
		}
		qe, qw := qa, qb
		if e == 1 {
			qe, qw = qb, qa
		}
		if qe.axis >= 0 {
			l.errs = append(l.errs, errAt(v, UnsupportedQuantization, "input %d has per-channel quantization (axis %d); a contraction needs per-tensor activations", e, qe.axis))
			return nil
		}
		if v.Op == ir.OpConv && e == 1 {
			l.errs = append(l.errs, errAt(v, UnsupportedQuantization, "convolution of a clear input with encrypted weights"))
			return nil
		}
		wc := qw.q.ConstValue()
		if wc.Float {
			panic("BUG: dequantize of a float constant")
		}
		wAxis, oAxis := weightAxis(v, w)
		if qw.axis >= 0 && qw.axis != wAxis {
			l.errs = append(l.errs, errAt(v, UnsupportedQuantization, "weight scales are per channel along axis %d; only the output-channel axis (%d) keeps integer arithmetic exact", qw.axis, wAxis))
			return nil
		}
		wt := ir.NewInts(wc.Shape, nil)
		ch := channelOf(wc.Shape, qw.axis)
		for k, x := range wc.I {
			wt.I[k] = x - qw.channelZP(ch[k])
		}
		args[e], args[w] = l.subZP(qe, v.Loc), l.constInt(wt)
		r = contractionRange(v, attrs, e, l.rangeOf(args[e]), args[e].Type.Shape, wt)
		if qw.axis < 0 {
			scale = []float64{qe.scale[0] * qw.scale[0]}
		} else {
			scale = make([]float64, len(qw.scale))
			for c, s := range qw.scale {
				scale[c] = qe.scale[0] * s
			}
			outAxis = oAxis
		}
	}
	acc := l.emitInt(v.Op, v.Type.Shape, args, attrs, v.Loc, r)
	out := l.emitDequant(acc, scale, make([]int64, len(scale)), outAxis, v.Type.Elem, v.Loc)
	if len(v.Args) < 3 {
		return out
	}
	bias := v.Args[2]
	if v.Op == ir.OpConv {
		bias = l.channelBias(bias, len(v.Type.Shape))
	}
	sum := l.emit(ir.OpAdd, v.Type, []*ir.Value{out, bias}, nil, v.Loc)
	return l.visit(sum)
}

// channelBias reshapes a conv bias [M] to [1, M, 1, ...] of the given rank.
func (l *lowering) channelBias(b *ir.Value, rank int) *ir.Value {
	shape := channelShape(rank, 1, b.Type.Size())
	if c := b.ConstValue(); c != nil {
		t := c.Clone()
		t.Shape = shape
		return l.emit(ir.OpConst, ir.Type{Elem: b.Type.Elem, Shape: shape}, nil, ir.Attrs{ir.TensorAttrOf("value", b.Type.Elem, t)}, b.Loc)
	}
	return l.emit(ir.OpReshape, ir.Type{Elem: b.Type.Elem, Shape: shape, Secret: b.Type.Secret}, []*ir.Value{b}, nil, b.Loc)
}

// contractionRange returns the exact range of a contraction whose operand
// e is encrypted with values in re and whose other operand is the constant
// w: each output's maximum takes the high input where the weight is
// positive and the low one where it is negative, which running the op on
// the positive and negative parts of w computes position by position
// (including convolution padding).
func contractionRange(v *ir.Value, attrs ir.Attrs, e int, re ir.Range, eShape []int, w *ir.Tensor) ir.Range {
	wp, wn := ir.NewInts(w.Shape, nil), ir.NewInts(w.Shape, nil)
	for i, x := range w.I {
		if x > 0 {
			wp.I[i] = x
		} else {
			wn.I[i] = x
		}
	}
	lo, hi := full(eShape, re.Lo), full(eShape, re.Hi)
	run := func(x, w *ir.Tensor) *ir.Tensor {
		args := make([]*ir.Tensor, 2)
		args[e], args[1-e] = x, w
		return evalWide(v.Op, attrs, v.Type.Shape, args...)
	}
	h1, h2 := run(hi, wp), run(lo, wn)
	l1, l2 := run(lo, wp), run(hi, wn)
	r := ir.Range{Lo: math.MaxInt64, Hi: math.MinInt64}
	for i := range h1.I {
		r.Hi = max(r.Hi, h1.I[i]+h2.I[i])
		r.Lo = min(r.Lo, l1.I[i]+l2.I[i])
	}
	return r
}

// monotoneRange returns the range of a non-decreasing op (sum pooling, sums)
// whose input lies in in: its extremes are reached on constant inputs.
func monotoneRange(op ir.Op, attrs ir.Attrs, shape, inShape []int, in ir.Range) ir.Range {
	lo := evalWide(op, attrs, shape, full(inShape, in.Lo))
	hi := evalWide(op, attrs, shape, full(inShape, in.Hi))
	return ir.Range{Lo: tensorRange(lo).Lo, Hi: tensorRange(hi).Hi}
}

// lowerSumPool lowers sumpool (average pooling before its 1/k scaling).
func (l *lowering) lowerSumPool(v *ir.Value) *ir.Value {
	qi, ok := l.operand(v, 0)
	if !ok {
		return nil
	}
	if qi.axis > 1 {
		l.errs = append(l.errs, errAt(v, UnsupportedQuantization, "pooling over per-channel scales along spatial axis %d", qi.axis))
		return nil
	}
	x := l.subZP(qi, v.Loc)
	r := monotoneRange(v.Op, v.Attrs, v.Type.Shape, x.Type.Shape, l.rangeOf(x))
	acc := l.emitInt(v.Op, v.Type.Shape, []*ir.Value{x}, v.Attrs, v.Loc, r)
	return l.emitDequant(acc, qi.scale, make([]int64, len(qi.scale)), qi.axis, v.Type.Elem, v.Loc)
}

// lowerReduce lowers reduce_sum and reduce_mean (as an integer sum with the
// mean's 1/n in the dequantize scale).
func (l *lowering) lowerReduce(v *ir.Value) *ir.Value {
	qi, ok := l.operand(v, 0)
	if !ok {
		return nil
	}
	if qi.axis >= 0 {
		l.errs = append(l.errs, errAt(v, UnsupportedQuantization, "%s of a per-channel quantized tensor", v.Op))
		return nil
	}
	x := l.subZP(qi, v.Loc)
	attrs := append(ir.Attrs(nil), v.Attrs...)
	r := monotoneRange(ir.OpReduceSum, attrs, v.Type.Shape, x.Type.Shape, l.rangeOf(x))
	acc := l.emitInt(ir.OpReduceSum, v.Type.Shape, []*ir.Value{x}, attrs, v.Loc, r)
	s := qi.scale[0]
	if v.Op == ir.OpReduceMean {
		s /= float64(x.Type.Size() / max(1, v.Type.Size()))
	}
	return l.emitDequant(acc, []float64{s}, []int64{0}, -1, v.Type.Elem, v.Loc)
}

// lowerAddSub lowers add and sub of two encrypted tensors: exactly when
// both have the same scales (dequantize(qa ± qb; s, za ± zb)), otherwise by
// requantizing both to the finer scale.
func (l *lowering) lowerAddSub(v *ir.Value) *ir.Value {
	qa, okA := l.operand(v, 0)
	qb, okB := l.operand(v, 1)
	if !okA || !okB {
		return nil
	}
	ra, rb := l.rangeOf(qa.q), l.rangeOf(qb.q)
	if v.Op == ir.OpSub {
		rb = rb.Neg()
	}
	sameShape := ir.SameShape(qa.q.Type.Shape, qb.q.Type.Shape)
	if qa.axis == qb.axis && (qa.axis < 0 || sameShape) && slices.Equal(qa.scale, qb.scale) {
		zp := make([]int64, len(qa.zp))
		for i := range zp {
			if v.Op == ir.OpAdd {
				zp[i] = qa.zp[i] + qb.zp[i]
			} else {
				zp[i] = qa.zp[i] - qb.zp[i]
			}
		}
		sum := l.emitInt(v.Op, v.Type.Shape, []*ir.Value{qa.q, qb.q}, nil, v.Loc, ra.Add(rb))
		return l.emitDequant(sum, qa.scale, zp, qa.axis, v.Type.Elem, v.Loc)
	}
	s := min(minFloat(qa.scale), minFloat(qb.scale))
	a, b := l.rescale(v.Args[0], qa, s, v.Loc), l.rescale(v.Args[1], qb, s, v.Loc)
	ra, rb = l.rangeOf(a), l.rangeOf(b)
	if v.Op == ir.OpSub {
		rb = rb.Neg()
	}
	sum := l.emitInt(v.Op, v.Type.Shape, []*ir.Value{a, b}, nil, v.Loc, ra.Add(rb))
	return l.emitDequant(sum, []float64{s}, []int64{0}, -1, v.Type.Elem, v.Loc)
}

// lowerMul lowers the element-wise product of two encrypted tensors:
// dequantize((qa − za)·(qb − zb); sa·sb).
func (l *lowering) lowerMul(v *ir.Value) *ir.Value {
	qa, okA := l.operand(v, 0)
	qb, okB := l.operand(v, 1)
	if !okA || !okB {
		return nil
	}
	axis := max(qa.axis, qb.axis)
	if axis >= 0 && (qa.axis >= 0 && qb.axis >= 0 && qa.axis != qb.axis ||
		!ir.SameShape(qa.q.Type.Shape, v.Type.Shape) || !ir.SameShape(qb.q.Type.Shape, v.Type.Shape)) {
		l.errs = append(l.errs, errAt(v, UnsupportedQuantization, "product of tensors with per-channel quantization along different axes or of different shapes"))
		return nil
	}
	n := max(len(qa.scale), len(qb.scale))
	scale := make([]float64, n)
	for c := range scale {
		scale[c] = qa.channelScale(c) * qb.channelScale(c)
	}
	a, b := l.subZP(qa, v.Loc), l.subZP(qb, v.Loc)
	p := l.emitInt(ir.OpMul, v.Type.Shape, []*ir.Value{a, b}, nil, v.Loc, l.rangeOf(a).Mul(l.rangeOf(b)))
	return l.emitDequant(p, scale, make([]int64, n), axis, v.Type.Elem, v.Loc)
}

// lowerConcat lowers concat: exactly when all encrypted inputs share one
// per-tensor quantization, otherwise by requantizing them (and quantizing
// clear float inputs) to the finest scale.
func (l *lowering) lowerConcat(v *ir.Value) *ir.Value {
	qs := make([]qinfo, len(v.Args))
	same := true
	var first *qinfo
	for i, a := range v.Args {
		if !a.Type.Secret && a.ConstValue() != nil {
			same = false
			continue
		}
		qi, ok := l.operand(v, i)
		if !ok {
			return nil
		}
		qs[i] = qi
		if first == nil {
			first = &qs[i]
		} else if qi.axis >= 0 || first.axis >= 0 || qi.scale[0] != first.scale[0] || qi.zp[0] != first.zp[0] {
			same = false
		}
	}
	args := make([]*ir.Value, len(v.Args))
	r := ir.Range{Lo: math.MaxInt64, Hi: math.MinInt64}
	if same && first.axis < 0 {
		for i := range args {
			args[i] = qs[i].q
			r = r.Union(l.rangeOf(args[i]))
		}
		c := l.emitInt(v.Op, v.Type.Shape, args, v.Attrs, v.Loc, r)
		return l.emitDequant(c, first.scale, first.zp, -1, v.Type.Elem, v.Loc)
	}
	s := math.Inf(1)
	for i, a := range v.Args {
		if a.Type.Secret {
			s = min(s, minFloat(qs[i].scale))
		}
	}
	for i, a := range v.Args {
		if a.Type.Secret {
			args[i] = l.rescale(a, qs[i], s, v.Loc)
		} else {
			ct := a.ConstValue().Floats()
			t := ir.NewInts(a.Type.Shape, nil)
			for k, x := range ct {
				t.I[k] = int64(roundHalfEven(x / s))
			}
			args[i] = l.constInt(t)
		}
		r = r.Union(l.rangeOf(args[i]))
	}
	c := l.emitInt(v.Op, v.Type.Shape, args, v.Attrs, v.Loc, r)
	return l.emitDequant(c, []float64{s}, []int64{0}, -1, v.Type.Elem, v.Loc)
}

func minFloat(a []float64) float64 {
	m := math.Inf(1)
	for _, x := range a {
		m = min(m, x)
	}
	return m
}

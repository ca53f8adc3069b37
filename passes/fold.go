package passes

import (
	"math"

	"github.com/fheir/fheir/ir"
)

// maxFoldCheck bounds the exhaustive exactness check of fold-batchnorm
// (input values times channels).
const maxFoldCheck = 1 << 22

// foldBatchnorm folds a per-channel affine op (a batchnorm in inference
// form) that follows a linear op with clear weights, when the result is
// exactly the same:
//
//   - integer: mul/add/sub/neg by a constant per output channel right after
//     an integer gemm or conv folds into its weights and bias (integer
//     arithmetic is exact);
//   - float, the frontend's form: dequantize(acc) · g + h with g > 0 per
//     channel becomes dequantize(acc) with scale s·g and zero point
//     z − round(h/(s·g)), i.e. the scale joins the layer's output scale (the
//     weights' quantization scale) and the shift its zero point. It folds
//     only if, for every value the accumulator can take (its range) and
//     every channel, the new dequantize gives bit-for-bit the float the old
//     chain gave; otherwise the chain is left to fuse-tlu, which absorbs it
//     into the following table.
func foldBatchnorm(s *state) error {
	f := s.f
	var env map[*ir.Value]*interval
	for {
		changed := false
		uses := numUses(f)
		for _, v := range f.Body {
			var m *ir.Value
			switch {
			case !v.Type.Secret || len(v.Args) == 0 || uses[v.Args[0]] != 1:
				continue
			case !v.Type.Elem.Float && clearWeights(v.Args[0]):
				switch v.Op {
				case ir.OpAdd, ir.OpSub:
					m = mergeBias(v.Args[0], v)
				case ir.OpMul:
					m = mergeScale(v.Args[0], v, v.Args[1].ConstValue())
				case ir.OpNeg:
					m = mergeScale(v.Args[0], v, ir.NewInts(nil, []int64{-1}))
				}
			case v.Type.Elem.Float && v.Args[0].Op == ir.OpDequantize:
				if env == nil {
					env = analyzeRanges(f)
				}
				m = foldIntoDequantize(v, env)
			}
			if m != nil {
				m.Range = v.Range // the same values
				f.Body = append(f.Body, m)
				f.ReplaceAll(v, m)
				changed = true
				env = nil
				break
			}
		}
		if !changed {
			break
		}
		topoSort(f)
		removeDead(f)
	}
	return nil
}

// foldIntoDequantize tries to replace v = dequantize(a)·g (or +h, -h) by a
// single dequantize of a.
func foldIntoDequantize(v *ir.Value, env map[*ir.Value]*interval) *ir.Value {
	if v.Op != ir.OpMul && v.Op != ir.OpAdd && v.Op != ir.OpSub {
		return nil
	}
	d := v.Args[0]
	a := d.Args[0]
	c := v.Args[1].ConstValue()
	if c == nil || !c.Float || !ir.SameShape(v.Type.Shape, d.Type.Shape) || env[a] == nil {
		return nil
	}
	rank := len(d.Type.Shape)
	axis := int(d.Int("axis", -1))
	off := rank - len(c.Shape)
	for k := range c.Shape {
		if c.Shape[k] > 1 && variesAlong(c, k) {
			if axis >= 0 && axis != k+off {
				return nil
			}
			axis = k + off
		}
	}
	C := 1
	if axis >= 0 {
		C = d.Type.Shape[axis]
	}
	// Per-channel constant, scales and zero points.
	cv := make([]float64, C)
	idx := broadcastIndex(c.Shape, d.Type.Shape)
	st := ir.Strides(d.Type.Shape)
	for ch := range cv {
		k := 0
		if axis >= 0 {
			k = ch * st[axis]
		}
		cv[ch] = c.F[idx[k]]
	}
	s0, z0 := d.Floats("scale"), d.Ints("zero_point", nil)
	scale, zp := make([]float64, C), make([]int64, C)
	for ch := range scale {
		j := 0
		if len(s0) > 1 {
			j = ch
		}
		scale[ch], zp[ch] = s0[j], z0[j]
		switch v.Op {
		case ir.OpMul:
			if !(cv[ch] > 0) || math.IsInf(cv[ch], 0) {
				return nil
			}
			scale[ch] *= cv[ch]
		case ir.OpAdd, ir.OpSub:
			h := cv[ch]
			if v.Op == ir.OpSub {
				h = -h
			}
			t := math.Round(h / scale[ch])
			if math.IsNaN(t) || math.Abs(t) > 1<<40 {
				return nil
			}
			zp[ch] -= int64(t)
		}
	}
	attrs := ir.Attrs{ir.FloatsAttr("scale", scale), ir.IntsAttr("zero_point", zp)}
	if axis >= 0 {
		attrs = append(attrs, ir.IntAttr("axis", int64(axis)))
	}
	m := newValue(ir.OpDequantize, v.Type, []*ir.Value{a}, attrs, v.Loc)
	// Exhaustive check over the accumulator's range.
	dom := env[a].union()
	if a.Range != nil {
		dom = *a.Range
	}
	if (dom.Hi-dom.Lo+1)*int64(C) > maxFoldCheck {
		return nil
	}
	before := &fusion{x: a, region: []*ir.Value{d, v}, roots: []*ir.Value{v}, axis: axis, dom: dom}
	after := &fusion{x: a, region: []*ir.Value{m}, roots: []*ir.Value{m}, axis: axis, dom: dom}
	want, err1 := before.run()
	got, err2 := after.run()
	if err1 != nil || err2 != nil || !want[0].Equal(got[0]) {
		return nil
	}
	return m
}

package passes

import (
	"github.com/fheir/fheir/ir"
)

// mergeLinear merges consecutive linear ops with clear integer weights when
// nothing non-linear sits between them, until nothing changes:
//
//   - gemm/conv followed by add or sub of a constant: the constant joins the
//     bias (it must not vary along a conv's spatial axes);
//   - gemm/conv followed by mul by a constant per output channel (or a
//     scalar), or by neg: the weights and bias are scaled;
//   - gemm(gemm(x, W1, b1), W2, b2): one gemm with W1·W2 and b1·W2 + b2, when
//     the merged accumulator is no wider than the wider of the two.
//
// The first op must have no other use. Integer arithmetic is exact, so the
// merged op computes the same integers.
func mergeLinear(s *state) error {
	f := s.f
	for {
		changed := false
		uses := numUses(f)
		for _, v := range f.Body {
			if !v.Type.Secret || v.Type.Elem.Float || len(v.Args) == 0 {
				continue
			}
			l := v.Args[0]
			if v.Op == ir.OpGemm && uses[l] == 1 && (l.Op == ir.OpAdd || l.Op == ir.OpSub) && clearWeights(v) {
				if m := mergeInputShift(l, v); m != nil {
					m.Range = v.Range // the same values
					f.Body = append(f.Body, m)
					f.ReplaceAll(v, m)
					changed = true
					break
				}
			}
			if uses[l] != 1 || !clearWeights(l) {
				continue
			}
			var m *ir.Value
			switch v.Op {
			case ir.OpAdd, ir.OpSub:
				m = mergeBias(l, v)
			case ir.OpMul:
				m = mergeScale(l, v, v.Args[1].ConstValue())
			case ir.OpNeg:
				m = mergeScale(l, v, ir.NewInts(nil, []int64{-1}))
			case ir.OpGemm:
				if v.Args[0] == l && l.Op == ir.OpGemm && clearWeights(v) {
					m = mergeGemms(f, l, v)
				}
			}
			if m != nil {
				m.Range = v.Range // the same values
				f.Body = append(f.Body, m)
				f.ReplaceAll(v, m)
				changed = true
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

// clearWeights reports whether l is an integer gemm or conv of encrypted
// data by constant weights (and constant bias).
func clearWeights(l *ir.Value) bool {
	if (l.Op != ir.OpGemm && l.Op != ir.OpConv) || l.Type.Elem.Float || !l.Type.Secret {
		return false
	}
	if l.Op == ir.OpGemm && l.Int("trans_a", 0) != 0 {
		return false
	}
	if !l.Args[0].Type.Secret || !isConst(l.Args[1]) {
		return false
	}
	return len(l.Args) < 3 || isConst(l.Args[2])
}

// outAxis is the output-channel axis of a linear op's result: 1 for both
// gemm ([m, n]) and conv ([N, M, ...]).
func outAxis(l *ir.Value) int { return 1 }

// perChannel reduces constant c (broadcast against l's result shape) to one
// value per output channel, or nil when c varies along another axis or
// would change the result shape.
func perChannel(l *ir.Value, v *ir.Value, c *ir.Tensor) []int64 {
	if c == nil || c.Float || !ir.SameShape(v.Type.Shape, l.Type.Shape) {
		return nil
	}
	shape := l.Type.Shape
	ax := outAxis(l)
	off := len(shape) - len(c.Shape)
	for d := range c.Shape {
		if c.Shape[d] > 1 && d+off != ax && variesAlong(c, d) {
			return nil
		}
	}
	out := make([]int64, shape[ax])
	idx := broadcastIndex(c.Shape, shape)
	st := ir.Strides(shape)
	for ch := range out {
		out[ch] = c.I[idx[ch*st[ax]]]
	}
	return out
}

// bias returns l's bias per output channel (zeros when absent).
func biasOf(l *ir.Value) []int64 {
	n := l.Type.Shape[outAxis(l)]
	if len(l.Args) < 3 {
		return make([]int64, n)
	}
	c := l.Args[2].ConstValue()
	if l.Op == ir.OpConv {
		return append([]int64(nil), c.I...)
	}
	return perChannel(l, l, c)
}

// withBias returns a copy of l computing v's type with a new weight and
// per-channel bias.
func withBias(l, v *ir.Value, w *ir.Tensor, b []int64) *ir.Value {
	n := ir.NewInts([]int{len(b)}, b)
	args := []*ir.Value{l.Args[0], l.Args[1]}
	if w != nil {
		args[1] = intConst(w)
	}
	nonzero := len(l.Args) == 3
	for _, x := range b {
		nonzero = nonzero || x != 0
	}
	if nonzero {
		args = append(args, intConst(n))
	}
	return newValue(l.Op, v.Type, args, append(ir.Attrs(nil), l.Attrs...), l.Loc)
}

func mergeBias(l, v *ir.Value) *ir.Value {
	if v.Args[0] != l {
		return nil
	}
	c := perChannel(l, v, v.Args[1].ConstValue())
	b := biasOf(l)
	if c == nil || b == nil {
		return nil
	}
	for i := range b {
		if v.Op == ir.OpSub {
			b[i] -= c[i]
		} else {
			b[i] += c[i]
		}
	}
	return withBias(l, v, nil, b)
}

func mergeScale(l, v *ir.Value, ct *ir.Tensor) *ir.Value {
	if v.Args[0] != l {
		return nil
	}
	var c []int64
	if ct != nil && ct.Len() == 1 && !ct.Float {
		c = make([]int64, l.Type.Shape[outAxis(l)])
		for i := range c {
			c[i] = ct.I[0]
		}
	} else {
		c = perChannel(l, v, ct)
	}
	b := biasOf(l)
	if c == nil || b == nil {
		return nil
	}
	w := l.Args[1].ConstValue().Clone()
	// Output channel j of the weights: gemm B[:, j] (B[j, :] with
	// trans_b), conv W[j, ...].
	switch {
	case l.Op == ir.OpConv:
		per := w.Len() / w.Shape[0]
		for i := range w.I {
			w.I[i] *= c[i/per]
		}
	case l.Int("trans_b", 0) != 0:
		for i := range w.I {
			w.I[i] *= c[i/w.Shape[1]]
		}
	default:
		for i := range w.I {
			w.I[i] *= c[i%w.Shape[1]]
		}
	}
	for i := range b {
		b[i] *= c[i]
	}
	return withBias(l, v, w, b)
}

// mergeInputShift rewrites gemm(x ± c, W, b), with c a constant per input
// feature (a zero point), as gemm(x, W, b ± c·W). The results are the same
// integers and, range analysis being exact per output, so is the
// accumulator range.
func mergeInputShift(s, v *ir.Value) *ir.Value {
	x, ct := s.Args[0], s.Args[1].ConstValue()
	if !x.Type.Secret || x.Type.Elem.Float || ct == nil || ct.Float || !ir.SameShape(x.Type.Shape, s.Type.Shape) {
		return nil
	}
	// c must not vary along the rows of the [m, k] input.
	off := 2 - len(ct.Shape)
	for d := range ct.Shape {
		if d+off == 0 && ct.Shape[d] > 1 && variesAlong(ct, d) {
			return nil
		}
	}
	k, n, w := gemmMatrix(v)
	idx := broadcastIndex(ct.Shape, s.Type.Shape)
	b := biasOf(v)
	if b == nil {
		return nil
	}
	for j := 0; j < k; j++ {
		c := ct.I[idx[j]]
		if s.Op == ir.OpSub {
			c = -c
		}
		for o := 0; o < n; o++ {
			b[o] += c * w[j*n+o]
		}
	}
	m := withBias(v, v, nil, b)
	m.Args[0] = x
	return m
}

// gemmMatrix returns gemm l's weights as a row-major [k][n] matrix.
func gemmMatrix(l *ir.Value) (k, n int, b []int64) {
	w := l.Args[1].ConstValue()
	r, c := w.Shape[0], w.Shape[1]
	if l.Int("trans_b", 0) == 0 {
		return r, c, w.I
	}
	b = make([]int64, r*c) // B[j][i] = W[i][j]
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			b[j*r+i] = w.I[i*c+j]
		}
	}
	return c, r, b
}

func mergeGemms(f *ir.Func, l, v *ir.Value) *ir.Value {
	k1, n1, w1 := gemmMatrix(l)
	k2, n2, w2 := gemmMatrix(v)
	if n1 != k2 {
		return nil
	}
	b1, b2 := biasOf(l), biasOf(v)
	if b1 == nil || b2 == nil {
		return nil
	}
	w := ir.NewInts([]int{k1, n2}, nil)
	for i := 0; i < k1; i++ {
		for j := 0; j < n1; j++ {
			a := w1[i*n1+j]
			if a == 0 {
				continue
			}
			for c := 0; c < n2; c++ {
				w.I[i*n2+c] += a * w2[j*n2+c]
			}
		}
	}
	b := append([]int64(nil), b2...)
	for j := 0; j < n1; j++ {
		for c := 0; c < n2; c++ {
			b[c] += b1[j] * w2[j*n2+c]
		}
	}
	m := newValue(ir.OpGemm, v.Type, []*ir.Value{l.Args[0], intConst(w), intConst(ir.NewInts([]int{n2}, b))}, nil, joinLoc(l.Loc, v.Loc))
	// The merged accumulator must be no wider than the wider of the two.
	g := &ir.Func{Name: f.Name, Params: f.Params, Body: append(append([]*ir.Value(nil), f.Body...), m.Args[1], m.Args[2], m), Results: []*ir.Value{m}}
	env := analyzeRanges(g)
	if env[m].union().Bits() > max(env[l].union().Bits(), env[v].union().Bits()) {
		return nil
	}
	return m
}

// joinLoc names a merged op after both sources.
func joinLoc(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "+" + b
}

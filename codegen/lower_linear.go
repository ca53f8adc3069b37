package codegen

import (
	"github.com/fheir/fheir/ir"
	"github.com/fheir/fheir/rt"
)

// products lists the terms of a contraction: output element o is
// Σ_l A[ai[o·K+l]]·B[bi[o·K+l]] for l < K.
type products struct {
	out, k int
	ai, bi []int32
}

// broadcastIdx maps every flat index of out to the flat index of in (numpy
// broadcasting, trailing alignment).
func broadcastIdx(in, out []int) []int {
	n := ir.ShapeSize(out)
	idx := make([]int, n)
	st := ir.Strides(in)
	off := len(out) - len(in)
	ost := ir.Strides(out)
	for o := range idx {
		j := 0
		for d := range in {
			if in[d] != 1 {
				j += (o / ost[d+off] % out[d+off]) * st[d]
			}
		}
		idx[o] = j
	}
	return idx
}

// matmulProducts returns the terms of numpy matmul of shapes as and bs.
func matmulProducts(as, bs []int) products {
	if len(as) == 1 {
		as = []int{1, as[0]}
	}
	if len(bs) == 1 {
		bs = []int{bs[0], 1}
	}
	m, k, n := as[len(as)-2], as[len(as)-1], bs[len(bs)-1]
	batch, err := ir.BroadcastShapes(as[:len(as)-2], bs[:len(bs)-2])
	if err != nil {
		panic("BUG: verified matmul does not broadcast: " + err.Error())
	}
	nb := ir.ShapeSize(batch)
	ia, ib := broadcastIdx(as[:len(as)-2], batch), broadcastIdx(bs[:len(bs)-2], batch)
	p := products{out: nb * m * n, k: k}
	p.ai, p.bi = make([]int32, 0, p.out*k), make([]int32, 0, p.out*k)
	for q := 0; q < nb; q++ {
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				for t := 0; t < k; t++ {
					p.ai = append(p.ai, int32(ia[q]*m*k+i*k+t))
					p.bi = append(p.bi, int32(ib[q]*k*n+t*n+j))
				}
			}
		}
	}
	return p
}

// gemmProducts returns the terms of op(A)·op(B) for a gemm value.
func gemmProducts(v *ir.Value) products {
	m, n := v.Type.Shape[0], v.Type.Shape[1]
	ta, tb := v.Int("trans_a", 0) != 0, v.Int("trans_b", 0) != 0
	k := v.Args[0].Type.Shape[1]
	if ta {
		k = v.Args[0].Type.Shape[0]
	}
	p := products{out: m * n, k: k}
	p.ai, p.bi = make([]int32, 0, p.out*k), make([]int32, 0, p.out*k)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			for t := 0; t < k; t++ {
				if ta {
					p.ai = append(p.ai, int32(t*m+i))
				} else {
					p.ai = append(p.ai, int32(i*k+t))
				}
				if tb {
					p.bi = append(p.bi, int32(j*k+t))
				} else {
					p.bi = append(p.bi, int32(t*n+j))
				}
			}
		}
	}
	return p
}

// contraction lowers gemm and matmul: a Linear op when one factor is a
// constant, lookup-based products when both are encrypted.
func (l *lowerer) contraction(v *ir.Value) (rt.ValueID, bool) {
	b, nm := l.b, name(v)
	var p products
	if v.Op == ir.OpGemm {
		p = gemmProducts(v)
	} else {
		p = matmulProducts(v.Args[0].Type.Shape, v.Args[1].Type.Shape)
	}
	shape := v.Type.Shape
	A, B := v.Args[0], v.Args[1]
	ca, cb := l.constOf(A), l.constOf(B)
	var bias []int64
	var dynBias *ir.Value
	if len(v.Args) == 3 {
		if c := l.constOf(v.Args[2]); c != nil {
			bias = make([]int64, p.out)
			for o, j := range broadcastIdx(c.Shape, shape) {
				bias[o] = c.I[j]
			}
		} else {
			dynBias = v.Args[2]
		}
	}
	var out rt.ValueID
	if ca == nil && cb == nil {
		out = l.encProducts(nm, l.dyn(A), l.dyn(B), p, shape)
		if bias != nil {
			ones := make([]int64, len(bias))
			for i := range ones {
				ones[i] = 1
			}
			out = b.Affine(nm+".bias", out, ones, bias, shape)
		}
	} else {
		// Linear in the non-constant factor d, weights from the constant w.
		d, w, di, wi := A, cb, p.ai, p.bi
		if ca != nil {
			d, w, di, wi = B, ca, p.bi, p.ai
		}
		rowPtr := make([]int32, 1, p.out+1)
		var src []int32
		var ws []int64
		for o := 0; o < p.out; o++ {
			for t := o * p.k; t < (o+1)*p.k; t++ {
				if x := w.I[wi[t]]; x != 0 {
					src = append(src, di[t])
					ws = append(ws, x)
				}
			}
			rowPtr = append(rowPtr, int32(len(src)))
		}
		out = b.Linear(nm, []rt.ValueID{l.dyn(d)}, shape, rowPtr, src, ws, bias)
	}
	if dynBias != nil {
		out = b.Add(nm+".bias", out, l.dyn(dynBias))
	}
	return out, true
}

// encProducts computes the contraction p of two encrypted tensors as
// Σ floor((a+b)²/4) − floor((a−b)²/4): 2·out·K lookups.
func (l *lowerer) encProducts(nm string, a, c rt.ValueID, p products, shape []int) rt.ValueID {
	b := l.b
	na := int32(b.Value(a).Size())
	terms := p.out * p.k
	ptr := make([]int32, terms+1)
	src := make([]int32, 0, 2*terms)
	wSum := make([]int64, 0, 2*terms)
	wDiff := make([]int64, 0, 2*terms)
	for t := 0; t < terms; t++ {
		src = append(src, p.ai[t], na+p.bi[t])
		wSum = append(wSum, 1, 1)
		wDiff = append(wDiff, 1, -1)
		ptr[t+1] = int32(2 * (t + 1))
	}
	s := b.Linear(nm+".sum", []rt.ValueID{a, c}, []int{terms}, ptr, src, wSum, nil)
	d := b.Linear(nm+".diff", []rt.ValueID{a, c}, []int{terms}, ptr, src, wDiff, nil)
	sq := func(x int64) int64 { return x * x / 4 } // x² ≥ 0: truncation is floor
	qs := b.Apply(nm+".sq_sum", s, sq, 0, rt.RoundExact)
	qd := b.Apply(nm+".sq_diff", d, sq, 0, rt.RoundExact)
	rowPtr := make([]int32, p.out+1)
	osrc := make([]int32, 0, 2*terms)
	ow := make([]int64, 0, 2*terms)
	for o := 0; o < p.out; o++ {
		for t := o * p.k; t < (o+1)*p.k; t++ {
			osrc = append(osrc, int32(t), int32(terms+t))
			ow = append(ow, 1, -1)
		}
		rowPtr[o+1] = int32(len(osrc))
	}
	return b.Linear(nm, []rt.ValueID{qs, qd}, shape, rowPtr, osrc, ow, nil)
}

func ints(a []int64) []int {
	if a == nil {
		return nil
	}
	out := make([]int, len(a))
	for i, x := range a {
		out[i] = int(x)
	}
	return out
}

// conv lowers a convolution with constant weights and bias.
func (l *lowerer) conv(v *ir.Value) (rt.ValueID, bool) {
	x, w := v.Args[0], v.Args[1]
	cw := l.constOf(w)
	if cw == nil || l.constOf(x) != nil {
		l.errorf(v, UnsupportedOp, "conv with non-constant weights has no lowering (weights must be clear constants)")
		return -1, false
	}
	var bias []int64
	var dynBias *ir.Value
	if len(v.Args) == 3 {
		if c := l.constOf(v.Args[2]); c != nil {
			bias = c.I
		} else {
			dynBias = v.Args[2]
		}
	}
	attrs := rt.ConvAttrs{
		Strides:   ints(v.Ints("strides", nil)),
		Dilations: ints(v.Ints("dilations", nil)),
		Pads:      ints(v.Ints("pads", nil)),
		Group:     int(v.Int("group", 1)),
	}
	out := l.b.Conv(name(v), l.dyn(x), cw.I, cw.Shape, bias, attrs)
	if dynBias != nil {
		// Bias of shape [O] along axis 1 of [N, O, ...].
		bs := make([]int, len(v.Type.Shape))
		for i := range bs {
			bs[i] = 1
		}
		bs[1] = v.Type.Shape[1]
		rb := l.b.Reshape(name(v)+".bias_shape", l.dyn(dynBias), bs)
		out = l.b.Add(name(v)+".bias", out, rb)
	}
	return out, true
}

// pool lowers sumpool and maxpool. ceil_mode is turned into extra padding
// at the end (zero for sums, the input minimum for maxima, which never
// wins).
func (l *lowerer) pool(v *ir.Value) (rt.ValueID, bool) {
	x := v.Args[0]
	in := x.Type.Shape[2:]
	s := len(in)
	kernel := ints(v.Ints("kernel", nil))
	fill := func(a []int, n, def int) []int {
		if a != nil {
			return a
		}
		a = make([]int, n)
		for i := range a {
			a[i] = def
		}
		return a
	}
	strides := fill(ints(v.Ints("strides", nil)), s, 1)
	dil := fill(ints(v.Ints("dilations", nil)), s, 1)
	pads := append([]int{}, fill(ints(v.Ints("pads", nil)), 2*s, 0)...)
	out := v.Type.Shape[2:]
	for i := 0; i < s; i++ {
		ext := dil[i]*(kernel[i]-1) + 1
		pads[s+i] = max((out[i]-1)*strides[i]+ext-in[i]-pads[i], 0)
	}
	attrs := rt.ConvAttrs{Strides: strides, Pads: pads}
	if v.Op == ir.OpSumPool {
		return l.b.SumPool(name(v), l.dyn(x), kernel, attrs), true
	}
	attrs.Dilations = dil
	return l.b.MaxPool(name(v), l.dyn(x), kernel, attrs), true
}

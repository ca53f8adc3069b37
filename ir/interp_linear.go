package ir

import "math"

type num interface{ ~int64 | ~float64 }

func data[T num](t *Tensor) []T {
	var z T
	switch any(z).(type) {
	case int64:
		if t.Float {
			panic("BUG: float tensor where integers are expected")
		}
		return any(t.I).([]T)
	default:
		return any(t.Floats()).([]T)
	}
}

func wrap[T num](shape []int, d []T) *Tensor {
	switch x := any(d).(type) {
	case []int64:
		return NewInts(shape, x)
	case []float64:
		return NewFloats(shape, x)
	}
	panic("BUG: bad element type")
}

func evalLinear(v *Value, args []*Tensor, shape []int, float bool) (*Tensor, error) {
	if float {
		return linear[float64](v, args, shape)
	}
	return linear[int64](v, args, shape)
}

func linear[T num](v *Value, args []*Tensor, shape []int) (*Tensor, error) {
	switch v.Op {
	case OpMatMul:
		return wrap(shape, matmul(data[T](args[0]), args[0].Shape, data[T](args[1]), args[1].Shape, shape)), nil
	case OpGemm:
		return wrap(shape, gemm[T](v, args, shape)), nil
	case OpConv:
		return wrap(shape, conv[T](v, args, shape)), nil
	case OpSumPool, OpMaxPool:
		return wrap(shape, pool[T](v, args[0], shape)), nil
	case OpReduceSum, OpReduceMean, OpReduceMax:
		return wrap(shape, reduce[T](v, args[0], shape)), nil
	case OpSoftmax:
		return softmax(v, args[0]), nil
	}
	panic("BUG: no linear rule for " + v.Op.String())
}

func matmul[T num](a []T, as []int, b []T, bs []int, out []int) []T {
	aa, bb := as, bs
	if len(as) == 1 {
		aa = []int{1, as[0]}
	}
	if len(bs) == 1 {
		bb = []int{bs[0], 1}
	}
	m, k, n := aa[len(aa)-2], aa[len(aa)-1], bb[len(bb)-1]
	batch, _ := BroadcastShapes(aa[:len(aa)-2], bb[:len(bb)-2])
	nb := ShapeSize(batch)
	ia := broadcastIndex(aa[:len(aa)-2], batch)
	ib := broadcastIndex(bb[:len(bb)-2], batch)
	res := make([]T, nb*m*n)
	for p := 0; p < nb; p++ {
		ao, bo, ro := ia[p]*m*k, ib[p]*k*n, p*m*n
		for i := 0; i < m; i++ {
			for l := 0; l < k; l++ {
				x := a[ao+i*k+l]
				if x == 0 {
					continue
				}
				row := b[bo+l*n : bo+l*n+n]
				dst := res[ro+i*n : ro+i*n+n]
				for j, y := range row {
					dst[j] += x * y
				}
			}
		}
	}
	_ = out
	return res
}

func gemm[T num](v *Value, args []*Tensor, shape []int) []T {
	a, b := data[T](args[0]), data[T](args[1])
	m, n := shape[0], shape[1]
	ta, tb := v.Int("trans_a", 0) != 0, v.Int("trans_b", 0) != 0
	k := args[0].Shape[1]
	if ta {
		k = args[0].Shape[0]
	}
	res := make([]T, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s T
			for l := 0; l < k; l++ {
				var x, y T
				if ta {
					x = a[l*m+i]
				} else {
					x = a[i*k+l]
				}
				if tb {
					y = b[j*k+l]
				} else {
					y = b[l*n+j]
				}
				s += x * y
			}
			res[i*n+j] = s
		}
	}
	if len(args) == 3 {
		c := data[T](args[2])
		ic := broadcastIndex(args[2].Shape, shape)
		for i := range res {
			res[i] += c[ic[i]]
		}
	}
	return res
}

// window iterates over the output positions of a sliding-window op and, for
// each, over the kernel positions, calling visit(outFlat, kFlat, inFlat) for
// every kernel position inside the input (inFlat is the spatial flat index).
// It calls visit(outFlat, kFlat, -1) for positions in the padding.
func window(in, out, k, st, dl, pads []int, visit func(o, kk, i int)) {
	ns := len(in)
	oc := make([]int, ns)
	kc := make([]int, ns)
	inSt := Strides(in)
	no, nk := ShapeSize(out), ShapeSize(k)
	for o := 0; o < no; o++ {
		for d := range kc {
			kc[d] = 0
		}
		for kk := 0; kk < nk; kk++ {
			idx := 0
			for d := 0; d < ns; d++ {
				p := oc[d]*st[d] - pads[d] + kc[d]*dl[d]
				if p < 0 || p >= in[d] {
					idx = -1
					break
				}
				idx += p * inSt[d]
			}
			visit(o, kk, idx)
			for d := ns - 1; d >= 0; d-- {
				kc[d]++
				if kc[d] < k[d] {
					break
				}
				kc[d] = 0
			}
		}
		for d := ns - 1; d >= 0; d-- {
			oc[d]++
			if oc[d] < out[d] {
				break
			}
			oc[d] = 0
		}
	}
}

func conv[T num](v *Value, args []*Tensor, shape []int) []T {
	xs, ws := args[0].Shape, args[1].Shape
	x, w := data[T](args[0]), data[T](args[1])
	ns := len(xs) - 2
	st, _ := spatial(v, "strides", ns, 1)
	dl, _ := spatial(v, "dilations", ns, 1)
	pd, _ := spatial(v, "pads", 2*ns, 0)
	g := int(v.Int("group", 1))
	N, C, M := xs[0], xs[1], ws[0]
	cg, mg := C/g, M/g
	inSp, outSp, kSp := xs[2:], shape[2:], ws[2:]
	nIn, nOut, nK := ShapeSize(inSp), ShapeSize(outSp), ShapeSize(kSp)
	res := make([]T, ShapeSize(shape))
	// Precompute the (out, kernel, in) triples once for all channels.
	type tap struct{ o, k, i int32 }
	var taps []tap
	window(inSp, outSp, kSp, st, dl, pd, func(o, kk, i int) {
		if i >= 0 {
			taps = append(taps, tap{int32(o), int32(kk), int32(i)})
		}
	})
	for n := 0; n < N; n++ {
		for m := 0; m < M; m++ {
			grp := m / mg
			dst := res[(n*M+m)*nOut : (n*M+m+1)*nOut]
			for c := 0; c < cg; c++ {
				src := x[(n*C+grp*cg+c)*nIn:]
				ker := w[(m*cg+c)*nK:]
				for _, t := range taps {
					dst[t.o] += src[t.i] * ker[t.k]
				}
			}
			if len(args) == 3 {
				b := data[T](args[2])[m]
				for i := range dst {
					dst[i] += b
				}
			}
		}
	}
	return res
}

func pool[T num](v *Value, x *Tensor, shape []int) []T {
	xs := x.Shape
	xd := data[T](x)
	ns := len(xs) - 2
	k, _ := spatial(v, "kernel", ns, 1)
	st, _ := spatial(v, "strides", ns, 1)
	pd, _ := spatial(v, "pads", 2*ns, 0)
	dl := make([]int, ns)
	for i := range dl {
		dl[i] = 1
	}
	if v.Op == OpMaxPool {
		dl, _ = spatial(v, "dilations", ns, 1)
	}
	inSp, outSp := xs[2:], shape[2:]
	nIn, nOut := ShapeSize(inSp), ShapeSize(outSp)
	res := make([]T, ShapeSize(shape))
	isMax := v.Op == OpMaxPool
	seen := make([]bool, nOut)
	for ch := 0; ch < xs[0]*xs[1]; ch++ {
		src := xd[ch*nIn : (ch+1)*nIn]
		dst := res[ch*nOut : (ch+1)*nOut]
		for i := range seen {
			seen[i] = false
		}
		window(inSp, outSp, k, st, dl, pd, func(o, _, i int) {
			if i < 0 {
				return
			}
			if !isMax {
				dst[o] += src[i]
			} else if !seen[o] || src[i] > dst[o] {
				dst[o], seen[o] = src[i], true
			}
		})
	}
	return res
}

func reduce[T num](v *Value, x *Tensor, shape []int) []T {
	axes, _ := normAxes(v.Ints("axes", nil), len(x.Shape))
	xd := data[T](x)
	red := make([]bool, len(x.Shape))
	for _, a := range axes {
		red[a] = true
	}
	// Map every input index to its output index.
	keepShape := make([]int, len(x.Shape))
	for i, d := range x.Shape {
		keepShape[i] = d
		if red[i] {
			keepShape[i] = 1
		}
	}
	ks := Strides(keepShape)
	xs := Strides(x.Shape)
	n := ShapeSize(shape)
	res := make([]T, n)
	cnt := 1
	for i, d := range x.Shape {
		if red[i] {
			cnt *= d
		}
	}
	isMax := v.Op == OpReduceMax
	seen := make([]bool, n)
	for k, val := range xd {
		o := 0
		for d := range x.Shape {
			if !red[d] {
				o += (k / xs[d] % x.Shape[d]) * ks[d]
			}
		}
		if isMax {
			if !seen[o] || val > res[o] {
				res[o], seen[o] = val, true
			}
		} else {
			res[o] += val
		}
	}
	if v.Op == OpReduceMean {
		for i := range res {
			res[i] /= T(cnt)
		}
	}
	return res
}

func softmax(v *Value, x *Tensor) *Tensor {
	axis, _ := normAxis(v.Int("axis", -1), len(x.Shape))
	out := NewFloats(x.Shape, append([]float64{}, x.Floats()...))
	st := Strides(x.Shape)
	d := x.Shape[axis]
	for k := range out.F {
		if (k/st[axis])%d != 0 {
			continue // visit each lane once, from its first element
		}
		m := math.Inf(-1)
		for j := 0; j < d; j++ {
			m = math.Max(m, out.F[k+j*st[axis]])
		}
		s := 0.0
		for j := 0; j < d; j++ {
			e := math.Exp(out.F[k+j*st[axis]] - m)
			out.F[k+j*st[axis]] = e
			s += e
		}
		for j := 0; j < d; j++ {
			out.F[k+j*st[axis]] /= s
		}
	}
	return out
}

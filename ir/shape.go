package ir

import "fmt"

// InferShape computes the result shape of v from its operands and attributes,
// or explains why they are inconsistent. Ops whose result shape is given by
// the result type (const, cast-like, reshape, broadcast) return that shape
// after checking it is compatible.
func InferShape(v *Value) ([]int, error) {
	info := v.Op.Info()
	arg := func(i int) []int { return v.Args[i].Type.Shape }
	switch info.Class {
	case ClassSpecial:
		return v.Type.Shape, nil
	case ClassUnary, ClassQuant:
		return arg(0), nil
	case ClassBinary, ClassCompare:
		return BroadcastShapes(arg(0), arg(1))
	case ClassTernary:
		return BroadcastShapes(arg(0), arg(1), arg(2))
	}
	switch v.Op {
	case OpMatMul:
		return matmulShape(arg(0), arg(1))
	case OpGemm:
		a, b := arg(0), arg(1)
		if len(a) != 2 || len(b) != 2 {
			return nil, fmt.Errorf("gemm operands must be 2-d, got %v and %v", a, b)
		}
		m, k := a[0], a[1]
		if v.Int("trans_a", 0) != 0 {
			m, k = k, m
		}
		k2, n := b[0], b[1]
		if v.Int("trans_b", 0) != 0 {
			k2, n = n, k2
		}
		if k != k2 {
			return nil, fmt.Errorf("gemm inner dimensions differ: got %d, want %d", k2, k)
		}
		if len(v.Args) > 3 {
			return nil, fmt.Errorf("gemm takes 2 or 3 operands, got %d", len(v.Args))
		}
		if len(v.Args) == 3 {
			if _, err := BroadcastShapes(arg(2), []int{m, n}); err != nil {
				return nil, fmt.Errorf("gemm bias %v does not broadcast to [%d %d]", arg(2), m, n)
			}
		}
		return []int{m, n}, nil
	case OpConv:
		return convShape(v)
	case OpSumPool, OpMaxPool:
		return poolShape(v)
	case OpReduceSum, OpReduceMean, OpReduceMax:
		axes, err := normAxes(v.Ints("axes", nil), len(arg(0)))
		if err != nil {
			return nil, err
		}
		return reduceShape(arg(0), axes, v.Int("keepdims", 1) != 0), nil
	case OpSoftmax:
		if _, err := normAxis(v.Int("axis", -1), len(arg(0))); err != nil {
			return nil, err
		}
		return arg(0), nil
	case OpReshape:
		if ShapeSize(v.Type.Shape) != ShapeSize(arg(0)) {
			return nil, fmt.Errorf("reshape from %v (%d elements) to %v (%d elements)", arg(0), ShapeSize(arg(0)), v.Type.Shape, v.Type.Size())
		}
		return v.Type.Shape, nil
	case OpBroadcast:
		s, err := BroadcastShapes(arg(0), v.Type.Shape)
		if err != nil || !SameShape(s, v.Type.Shape) {
			return nil, fmt.Errorf("cannot broadcast %v to %v", arg(0), v.Type.Shape)
		}
		return s, nil
	case OpTranspose:
		perm := v.Ints("perm", nil)
		in := arg(0)
		if len(perm) != len(in) {
			return nil, fmt.Errorf("perm %v has %d entries, want %d", perm, len(perm), len(in))
		}
		seen := make([]bool, len(in))
		out := make([]int, len(in))
		for i, p := range perm {
			if p < 0 || int(p) >= len(in) || seen[p] {
				return nil, fmt.Errorf("perm %v is not a permutation", perm)
			}
			seen[p] = true
			out[i] = in[p]
		}
		return out, nil
	case OpConcat:
		axis, err := normAxis(v.Int("axis", 0), len(arg(0)))
		if err != nil {
			return nil, err
		}
		out := append([]int{}, arg(0)...)
		for i := 1; i < len(v.Args); i++ {
			s := arg(i)
			if len(s) != len(out) {
				return nil, fmt.Errorf("concat operand %d has rank %d, want %d", i, len(s), len(out))
			}
			for d := range s {
				if d != axis && s[d] != out[d] {
					return nil, fmt.Errorf("concat operand %d has shape %v, incompatible with %v on axis %d", i, s, arg(0), d)
				}
			}
			out[axis] += s[axis]
		}
		return out, nil
	case OpSlice:
		return sliceShape(v)
	case OpPad:
		in := arg(0)
		pads := v.Ints("pads", nil)
		if len(pads) != 2*len(in) {
			return nil, fmt.Errorf("pads has %d entries, want %d", len(pads), 2*len(in))
		}
		switch m := v.Str("mode", "constant"); m {
		case "constant", "reflect", "edge":
		default:
			return nil, fmt.Errorf("pad mode %q: want constant, reflect or edge", m)
		}
		out := make([]int, len(in))
		for i := range in {
			out[i] = in[i] + int(pads[i]) + int(pads[i+len(in)])
			if out[i] < 0 {
				return nil, fmt.Errorf("pads %v make axis %d negative", pads, i)
			}
		}
		return out, nil
	case OpGather:
		in := arg(0)
		axis, err := normAxis(v.Int("axis", 0), len(in))
		if err != nil {
			return nil, err
		}
		idx := v.TensorAttr("indices")
		if idx == nil || idx.Float {
			return nil, fmt.Errorf("gather needs integer indices")
		}
		for _, i := range idx.I {
			if i < -int64(in[axis]) || i >= int64(in[axis]) {
				return nil, fmt.Errorf("gather index %d out of range [0,%d)", i, in[axis])
			}
		}
		out := append(append(append([]int{}, in[:axis]...), idx.Shape...), in[axis+1:]...)
		return out, nil
	}
	panic("BUG: no shape rule for " + v.Op.String())
}

func normAxis(a int64, rank int) (int, error) {
	if a < 0 {
		a += int64(rank)
	}
	if a < 0 || a >= int64(max(rank, 1)) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", a, rank)
	}
	return int(a), nil
}

func normAxes(axes []int64, rank int) ([]int, error) {
	if axes == nil {
		out := make([]int, rank)
		for i := range out {
			out[i] = i
		}
		return out, nil
	}
	out := make([]int, len(axes))
	for i, a := range axes {
		n, err := normAxis(a, rank)
		if err != nil {
			return nil, err
		}
		out[i] = n
	}
	return out, nil
}

func reduceShape(in []int, axes []int, keep bool) []int {
	red := make([]bool, len(in))
	for _, a := range axes {
		red[a] = true
	}
	out := []int{}
	for i, d := range in {
		switch {
		case !red[i]:
			out = append(out, d)
		case keep:
			out = append(out, 1)
		}
	}
	return out
}

func matmulShape(a, b []int) ([]int, error) {
	if len(a) == 0 || len(b) == 0 {
		return nil, fmt.Errorf("matmul operands must not be scalars")
	}
	aa, bb := a, b
	if len(a) == 1 {
		aa = []int{1, a[0]}
	}
	if len(b) == 1 {
		bb = []int{b[0], 1}
	}
	if aa[len(aa)-1] != bb[len(bb)-2] {
		return nil, fmt.Errorf("matmul inner dimensions differ: %v and %v", a, b)
	}
	batch, err := BroadcastShapes(aa[:len(aa)-2], bb[:len(bb)-2])
	if err != nil {
		return nil, fmt.Errorf("matmul batch dimensions do not broadcast: %v and %v", a, b)
	}
	out := append(batch, aa[len(aa)-2], bb[len(bb)-1])
	if len(a) == 1 {
		out = append(out[:len(out)-2], out[len(out)-1])
	}
	if len(b) == 1 {
		out = out[:len(out)-1]
	}
	return out, nil
}

// spatial returns an attribute list of length n, or def repeated.
func spatial(v *Value, name string, n int, def int64) ([]int, error) {
	a := v.Ints(name, nil)
	out := make([]int, n)
	if a == nil {
		for i := range out {
			out[i] = int(def)
		}
		return out, nil
	}
	if len(a) != n {
		return nil, fmt.Errorf("%s has %d entries, want %d", name, len(a), n)
	}
	for i, x := range a {
		if x < 0 || (x == 0 && name != "pads") {
			return nil, fmt.Errorf("%s %v: entries must be positive", name, a)
		}
		out[i] = int(x)
	}
	return out, nil
}

func windowOut(in, k, s, d, pb, pe int, ceil bool) int {
	ext := d*(k-1) + 1
	num := in + pb + pe - ext
	if num < 0 {
		return 0
	}
	if ceil {
		o := (num+s-1)/s + 1
		if (o-1)*s >= in+pb { // last window must start inside the input or left pad
			o--
		}
		return o
	}
	return num/s + 1
}

func convShape(v *Value) ([]int, error) {
	x, w := v.Args[0].Type.Shape, v.Args[1].Type.Shape
	if len(x) < 3 || len(w) != len(x) {
		return nil, fmt.Errorf("conv needs x of rank >= 3 and w of the same rank, got %v and %v", x, w)
	}
	if len(v.Args) > 3 {
		return nil, fmt.Errorf("conv takes 2 or 3 operands, got %d", len(v.Args))
	}
	ns := len(x) - 2
	g := int(v.Int("group", 1))
	if g < 1 || x[1]%g != 0 || w[0]%g != 0 || x[1]/g != w[1] {
		return nil, fmt.Errorf("conv channels: x has %d, w %v, group %d", x[1], w, g)
	}
	if len(v.Args) == 3 && !SameShape(v.Args[2].Type.Shape, []int{w[0]}) {
		return nil, fmt.Errorf("conv bias has shape %v, want [%d]", v.Args[2].Type.Shape, w[0])
	}
	st, err := spatial(v, "strides", ns, 1)
	if err != nil {
		return nil, err
	}
	dl, err := spatial(v, "dilations", ns, 1)
	if err != nil {
		return nil, err
	}
	pd, err := spatial(v, "pads", 2*ns, 0)
	if err != nil {
		return nil, err
	}
	out := []int{x[0], w[0]}
	for i := 0; i < ns; i++ {
		o := windowOut(x[i+2], w[i+2], st[i], dl[i], pd[i], pd[i+ns], false)
		if o <= 0 {
			return nil, fmt.Errorf("conv kernel %v larger than padded input %v", w[2:], x[2:])
		}
		out = append(out, o)
	}
	return out, nil
}

func poolShape(v *Value) ([]int, error) {
	x := v.Args[0].Type.Shape
	k := v.Ints("kernel", nil)
	ns := len(k)
	if ns == 0 || len(x) != ns+2 {
		return nil, fmt.Errorf("%s kernel %v does not fit input %v", v.Op, k, x)
	}
	ks, err := spatial(v, "kernel", ns, 1)
	if err != nil {
		return nil, err
	}
	st, err := spatial(v, "strides", ns, 1)
	if err != nil {
		return nil, err
	}
	pd, err := spatial(v, "pads", 2*ns, 0)
	if err != nil {
		return nil, err
	}
	dl := make([]int, ns)
	for i := range dl {
		dl[i] = 1
	}
	if v.Op == OpMaxPool {
		if dl, err = spatial(v, "dilations", ns, 1); err != nil {
			return nil, err
		}
	}
	out := []int{x[0], x[1]}
	for i := 0; i < ns; i++ {
		o := windowOut(x[i+2], ks[i], st[i], dl[i], pd[i], pd[i+ns], v.Int("ceil_mode", 0) != 0)
		if o <= 0 {
			return nil, fmt.Errorf("%s kernel %v larger than padded input %v", v.Op, k, x[2:])
		}
		out = append(out, o)
	}
	return out, nil
}

func sliceShape(v *Value) ([]int, error) {
	in := v.Args[0].Type.Shape
	st, en, ax, sp := v.Ints("starts", nil), v.Ints("ends", nil), v.Ints("axes", nil), v.Ints("steps", nil)
	if len(st) != len(en) || len(st) != len(ax) || len(st) != len(sp) {
		return nil, fmt.Errorf("slice starts/ends/axes/steps have different lengths")
	}
	out := append([]int{}, in...)
	for i := range st {
		a, err := normAxis(ax[i], len(in))
		if err != nil {
			return nil, err
		}
		n, err := sliceLen(st[i], en[i], sp[i], in[a])
		if err != nil {
			return nil, err
		}
		out[a] = n
	}
	return out, nil
}

// sliceLen checks normalized slice bounds and returns the number of elements.
func sliceLen(start, end, step int64, dim int) (int, error) {
	switch {
	case step == 0:
		return 0, fmt.Errorf("slice step is 0")
	case step > 0:
		if start < 0 || end < start || end > int64(dim) {
			return 0, fmt.Errorf("slice [%d:%d:%d] out of bounds for dimension %d", start, end, step, dim)
		}
		return int((end - start + step - 1) / step), nil
	default:
		if start >= int64(dim) || end < -1 || end > start {
			return 0, fmt.Errorf("slice [%d:%d:%d] out of bounds for dimension %d", start, end, step, dim)
		}
		return int((start - end - step - 1) / -step), nil
	}
}

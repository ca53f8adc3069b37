package onnx

import (
	"math"

	"github.com/fheir/fheir/ir"
)

func reshapeTarget(in []int, spec []int64, allowzero bool) ([]int, error) {
	out := make([]int, len(spec))
	infer, known := -1, 1
	for i, d := range spec {
		switch {
		case d == 0 && !allowzero:
			if i >= len(in) {
				return nil, errorf(BadNode, "shape %v copies dimension %d of %v, which has none", spec, i, in)
			}
			out[i] = in[i]
		case d == -1:
			if infer >= 0 {
				return nil, errorf(BadNode, "shape %v has more than one -1", spec)
			}
			infer = i
			continue
		case d < 0 || d > math.MaxInt32:
			return nil, errorf(BadNode, "shape %v has bad dimension %d", spec, d)
		default:
			out[i] = int(d)
		}
		known *= out[i]
	}
	total := ir.ShapeSize(in)
	if infer >= 0 {
		if known == 0 || total%known != 0 {
			return nil, errorf(BadNode, "cannot reshape %v to %v", in, spec)
		}
		out[infer] = total / known
	}
	if ir.ShapeSize(out) != total {
		return nil, errorf(BadNode, "cannot reshape %v (%d elements) to %v", in, total, spec)
	}
	return out, nil
}

func lowerReshape(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 1); err != nil {
		return nil, err
	}
	x := in[0].v
	var spec []int64
	if b.m.Opset("") < 5 {
		spec = n.Ints("shape", nil)
	} else {
		var ok bool
		var err error
		if spec, ok, err = b.constInts(n, 1); err != nil || !ok {
			if err == nil {
				err = errorf(BadNode, "no shape input")
			}
			return nil, err
		}
	}
	shape, err := reshapeTarget(x.Type.Shape, spec, n.Int("allowzero", 0) != 0)
	if err != nil {
		return nil, err
	}
	v, err := b.reshape(x, shape)
	return one(v, in[0].dt), err
}

func lowerFlatten(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 1); err != nil {
		return nil, err
	}
	x := in[0].v
	s := x.Type.Shape
	axis := n.Int("axis", 1)
	if axis < 0 {
		axis += int64(len(s))
	}
	if axis < 0 || axis > int64(len(s)) {
		return nil, errorf(BadNode, "axis %d out of range for rank %d", n.Int("axis", 1), len(s))
	}
	v, err := b.reshape(x, []int{ir.ShapeSize(s[:axis]), ir.ShapeSize(s[axis:])})
	return one(v, in[0].dt), err
}

func lowerSqueeze(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 1); err != nil {
		return nil, err
	}
	x := in[0].v
	s := x.Type.Shape
	axes, ok, err := b.axesInput(n, 13)
	if err != nil {
		return nil, err
	}
	drop := make([]bool, len(s))
	if !ok {
		for i, d := range s {
			drop[i] = d == 1
		}
	}
	for _, a := range axes {
		i, err := normAxis(a, len(s))
		if err != nil {
			return nil, err
		}
		if s[i] != 1 {
			return nil, errorf(BadNode, "cannot squeeze axis %d of shape %v", a, s)
		}
		drop[i] = true
	}
	out := []int{}
	for i, d := range s {
		if !drop[i] {
			out = append(out, d)
		}
	}
	v, err := b.reshape(x, out)
	return one(v, in[0].dt), err
}

func lowerUnsqueeze(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 1); err != nil {
		return nil, err
	}
	x := in[0].v
	s := x.Type.Shape
	axes, ok, err := b.axesInput(n, 13)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errorf(BadNode, "no axes")
	}
	r := len(s) + len(axes)
	ins := make([]bool, r)
	for _, a := range axes {
		i, err := normAxis(a, r)
		if err != nil {
			return nil, err
		}
		if ins[i] {
			return nil, errorf(BadNode, "axes %v repeat an axis", axes)
		}
		ins[i] = true
	}
	out := make([]int, 0, r)
	k := 0
	for i := 0; i < r; i++ {
		if ins[i] {
			out = append(out, 1)
		} else {
			out = append(out, s[k])
			k++
		}
	}
	v, err := b.reshape(x, out)
	return one(v, in[0].dt), err
}

func lowerTranspose(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 1); err != nil {
		return nil, err
	}
	x := in[0].v
	r := len(x.Type.Shape)
	def := make([]int64, r)
	for i := range def {
		def[i] = int64(r - 1 - i)
	}
	v, err := b.emit(ir.OpTranspose, x.Type.Elem, nil, []*ir.Value{x}, ir.IntsAttr("perm", n.Ints("perm", def)))
	return one(v, in[0].dt), err
}

func lowerConcat(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 1); err != nil {
		return nil, err
	}
	args := make([]*ir.Value, len(in))
	for i, x := range in {
		if x.v == nil {
			return nil, errorf(BadNode, "input %d is empty", i)
		}
		args[i] = x.v
	}
	v, err := b.emit(ir.OpConcat, args[0].Type.Elem, nil, args, ir.IntAttr("axis", n.Int("axis", 0)))
	return one(v, in[0].dt), err
}

// sliceAttrs normalizes ONNX slice bounds to the IR's (clamped, 0 <= start).
func sliceAttrs(shape []int, starts, ends, axes, steps []int64) ([]ir.Attr, error) {
	if len(ends) != len(starts) || (axes != nil && len(axes) != len(starts)) || (steps != nil && len(steps) != len(starts)) {
		return nil, errorf(BadNode, "starts %v, ends %v, axes %v, steps %v differ in length", starts, ends, axes, steps)
	}
	var st, en, ax, sp []int64
	for i := range starts {
		a := int64(i)
		if axes != nil {
			a = axes[i]
		}
		k, err := normAxis(a, len(shape))
		if err != nil {
			return nil, err
		}
		step := int64(1)
		if steps != nil {
			step = steps[i]
		}
		if step == 0 {
			return nil, errorf(BadNode, "slice step is 0")
		}
		d := int64(shape[k])
		s, e := starts[i], ends[i]
		if s < 0 {
			s += d
		}
		if e < 0 {
			e += d
		}
		if step > 0 {
			s, e = min(max(s, 0), d), min(max(e, 0), d)
			e = max(e, s)
		} else {
			s, e = min(max(s, -1), d-1), min(max(e, -1), d-1)
			if s < 0 { // empty
				s, e = 0, 0
				step = 1
			}
			e = min(e, s)
		}
		st, en, ax, sp = append(st, s), append(en, e), append(ax, int64(k)), append(sp, step)
	}
	return []ir.Attr{ir.IntsAttr("starts", st), ir.IntsAttr("ends", en), ir.IntsAttr("axes", ax), ir.IntsAttr("steps", sp)}, nil
}

func lowerSlice(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 1); err != nil {
		return nil, err
	}
	x := in[0].v
	var starts, ends, axes, steps []int64
	if b.m.Opset("") < 10 {
		starts, ends, axes = n.Ints("starts", nil), n.Ints("ends", nil), n.Ints("axes", nil)
	} else {
		var err error
		for i, p := range []*[]int64{&starts, &ends, &axes, &steps} {
			if *p, _, err = b.constInts(n, i+1); err != nil {
				return nil, err
			}
		}
	}
	attrs, err := sliceAttrs(x.Type.Shape, starts, ends, axes, steps)
	if err != nil {
		return nil, err
	}
	v, err := b.emit(ir.OpSlice, x.Type.Elem, nil, []*ir.Value{x}, attrs...)
	return one(v, in[0].dt), err
}

func lowerPad(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 1); err != nil {
		return nil, err
	}
	x := in[0].v
	r := len(x.Type.Shape)
	mode := n.Str("mode", "constant")
	if mode != "constant" && mode != "reflect" && mode != "edge" {
		return nil, errorf(UnsupportedOp, "unsupported op: Pad mode %q", mode)
	}
	var pads []int64
	value := 0.0
	if b.m.Opset("") < 11 {
		pads = n.Ints("pads", n.Ints("paddings", nil))
		value = n.Float("value", 0)
	} else {
		var err error
		if pads, _, err = b.constInts(n, 1); err != nil {
			return nil, err
		}
		if c, ok, err := b.constScalar(n, 2); err != nil {
			return nil, err
		} else if ok {
			value = c
		}
		axes, ok, err := b.constInts(n, 3)
		if err != nil {
			return nil, err
		}
		if ok {
			if len(pads) != 2*len(axes) {
				return nil, errorf(BadNode, "pads %v do not fit axes %v", pads, axes)
			}
			full := make([]int64, 2*r)
			for i, a := range axes {
				k, err := normAxis(a, r)
				if err != nil {
					return nil, err
				}
				full[k], full[k+r] = pads[i], pads[i+len(axes)]
			}
			pads = full
		}
	}
	if len(pads) != 2*r {
		return nil, errorf(BadNode, "pads %v: want %d entries for rank %d", pads, 2*r, r)
	}
	v, err := b.emit(ir.OpPad, x.Type.Elem, nil, []*ir.Value{x}, ir.IntsAttr("pads", pads), ir.FloatAttr("value", value), ir.StrAttr("mode", mode))
	return one(v, in[0].dt), err
}

func (b *importer) broadcastTo(x *ir.Value, shape []int) (*ir.Value, error) {
	if ir.SameShape(x.Type.Shape, shape) {
		return x, nil
	}
	return b.emit(ir.OpBroadcast, x.Type.Elem, append([]int{}, shape...), []*ir.Value{x})
}

func lowerExpand(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 2); err != nil {
		return nil, err
	}
	x := in[0].v
	spec, _, err := b.constInts(n, 1)
	if err != nil {
		return nil, err
	}
	s := make([]int, len(spec))
	for i, d := range spec {
		if d < 0 || d > math.MaxInt32 {
			return nil, errorf(BadNode, "bad shape %v", spec)
		}
		s[i] = int(d)
	}
	target, err := ir.BroadcastShapes(x.Type.Shape, s)
	if err != nil {
		return nil, errorf(BadNode, "%v", err)
	}
	v, err := b.broadcastTo(x, target)
	return one(v, in[0].dt), err
}

func lowerTile(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 2); err != nil {
		return nil, err
	}
	x := in[0].v
	s := x.Type.Shape
	reps, _, err := b.constInts(n, 1)
	if err != nil {
		return nil, err
	}
	if len(reps) != len(s) {
		return nil, errorf(BadNode, "repeats %v do not fit rank %d", reps, len(s))
	}
	var split, big, out []int
	for i, d := range s {
		if reps[i] < 0 {
			return nil, errorf(BadNode, "negative repeat %d", reps[i])
		}
		r := int(reps[i])
		split = append(split, 1, d)
		big = append(big, r, d)
		out = append(out, r*d)
	}
	v, err := b.reshape(x, split)
	if err == nil {
		v, err = b.broadcastTo(v, big)
	}
	if err == nil {
		v, err = b.reshape(v, out)
	}
	return one(v, in[0].dt), err
}

func lowerGather(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 2); err != nil {
		return nil, err
	}
	x := in[0].v
	idx := constOf(in[1])
	if idx == nil {
		return nil, errorf(NonConstantInput, "indices %q must be a constant", n.Input(1))
	}
	if idx.Float {
		return nil, errorf(BadNode, "float indices")
	}
	v, err := b.emit(ir.OpGather, x.Type.Elem, nil, []*ir.Value{x},
		ir.IntAttr("axis", n.Int("axis", 0)), ir.TensorAttrOf("indices", ir.Int(64), idx))
	return one(v, in[0].dt), err
}

func lowerSplit(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 1); err != nil {
		return nil, err
	}
	x := in[0].v
	s := x.Type.Shape
	axis, err := normAxis(n.Int("axis", 0), len(s))
	if err != nil {
		return nil, err
	}
	var sizes []int64
	if b.m.Opset("") < 13 {
		sizes = n.Ints("split", nil)
	} else if sizes, _, err = b.constInts(n, 1); err != nil {
		return nil, err
	}
	d := int64(s[axis])
	if sizes == nil {
		k := int64(len(n.Outputs))
		if num := n.Int("num_outputs", 0); num > 0 {
			k = num
		}
		chunk := (d + k - 1) / k
		for i := int64(0); i < k; i++ {
			sizes = append(sizes, max(0, min(chunk, d-i*chunk)))
		}
	}
	var outs []val
	start := int64(0)
	for _, sz := range sizes {
		attrs := []ir.Attr{ir.IntsAttr("starts", []int64{start}), ir.IntsAttr("ends", []int64{start + sz}),
			ir.IntsAttr("axes", []int64{int64(axis)}), ir.IntsAttr("steps", []int64{1})}
		v, err := b.emit(ir.OpSlice, x.Type.Elem, nil, []*ir.Value{x}, attrs...)
		if err != nil {
			return nil, err
		}
		outs = append(outs, val{v, in[0].dt})
		start += sz
	}
	if start != d {
		return nil, errorf(BadNode, "split sizes %v do not add up to %d", sizes, d)
	}
	return outs, nil
}

func (b *importer) permute(x *ir.Value, split []int, perm []int64, out []int) (*ir.Value, error) {
	v, err := b.reshape(x, split)
	if err == nil {
		v, err = b.emit(ir.OpTranspose, x.Type.Elem, nil, []*ir.Value{v}, ir.IntsAttr("perm", perm))
	}
	if err == nil {
		v, err = b.reshape(v, out)
	}
	return v, err
}

func lowerDepthToSpace(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 1); err != nil {
		return nil, err
	}
	x := in[0].v
	s := x.Type.Shape
	bs := int(n.Int("blocksize", 0))
	if len(s) != 4 || bs <= 0 || s[1]%(bs*bs) != 0 {
		return nil, errorf(BadNode, "blocksize %d does not fit input %v", bs, s)
	}
	N, C, H, W := s[0], s[1], s[2], s[3]
	c := C / (bs * bs)
	out := []int{N, c, H * bs, W * bs}
	var v *ir.Value
	var err error
	if n.Str("mode", "DCR") == "CRD" {
		v, err = b.permute(x, []int{N, c, bs, bs, H, W}, []int64{0, 1, 4, 2, 5, 3}, out)
	} else {
		v, err = b.permute(x, []int{N, bs, bs, c, H, W}, []int64{0, 3, 4, 1, 5, 2}, out)
	}
	return one(v, in[0].dt), err
}

func lowerSpaceToDepth(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 1); err != nil {
		return nil, err
	}
	x := in[0].v
	s := x.Type.Shape
	bs := int(n.Int("blocksize", 0))
	if len(s) != 4 || bs <= 0 || s[2]%bs != 0 || s[3]%bs != 0 {
		return nil, errorf(BadNode, "blocksize %d does not fit input %v", bs, s)
	}
	N, C, H, W := s[0], s[1], s[2], s[3]
	v, err := b.permute(x, []int{N, C, H / bs, bs, W / bs, bs}, []int64{0, 3, 5, 1, 2, 4}, []int{N, C * bs * bs, H / bs, W / bs})
	return one(v, in[0].dt), err
}

// exactCastTarget reports whether the IR can hold values of ONNX type dt
// exactly, so a cast to it needs no rounding the IR does not model.
func exactCastTarget(dt DType) bool {
	switch dt {
	case Float32, Float64, Bool, Int8, Int16, Int32, Int64, Uint8, Uint16, Uint32:
		return true
	}
	return false
}

func lowerCast(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	to := DType(n.Int("to", 0))
	if n.OpType == "CastLike" {
		if err := need(n, in, 2); err != nil {
			return nil, err
		}
		to = in[1].dt
	}
	if to == x.dt {
		return []val{x}, nil
	}
	narrow := to == Int4 || to == Uint4 || to == Int2 || to == Uint2
	// float16 and bfloat16 hold every value of these small types exactly,
	// so the cast needs no rounding.
	smallSource := x.dt == Bool || x.dt == Int2 || x.dt == Uint2 || x.dt == Int4 || x.dt == Uint4 ||
		x.dt == Float4E2M1 || x.dt == Int8 || x.dt == Uint8
	half := (to == Float16 || to == BFloat16) && smallSource
	if !exactCastTarget(to) && !narrow && !half {
		return nil, errorf(UnsupportedOp, "unsupported op: Cast to %v", to)
	}
	switch x.dt {
	case Float16, BFloat16, Float4E2M1, Int4, Uint4, Int2, Uint2: // exact in the IR's f32 and integers
	default:
		if !exactCastTarget(x.dt) {
			return nil, errorf(UnsupportedOp, "unsupported op: Cast from %v", x.dt)
		}
	}
	e, err := elemOf(to)
	if err != nil {
		return nil, err
	}
	if to == Bool {
		// x != 0, as 0/1.
		z, err := b.emit(ir.OpEqual, e, nil, []*ir.Value{x.v, b.scalarLike(x.v, 0)})
		if err != nil {
			return nil, err
		}
		v, err := b.emit(ir.OpNot, e, nil, []*ir.Value{z})
		return one(v, to), err
	}
	shape := append([]int{}, x.v.Type.Shape...)
	lo, hi, _ := to.Range()
	slo, shi, isInt := x.dt.Range()
	if !e.Float && e.Bits < 32 && (!isInt || slo < lo || shi > hi) {
		// Like numpy's astype, a cast to a narrow integer type wraps
		// around: ((trunc(x) - lo) mod 2^bits) + lo.
		w, err := b.emit(ir.OpCast, ir.Int(64), shape, []*ir.Value{x.v})
		for _, step := range []struct {
			op ir.Op
			c  int64
		}{{ir.OpSub, lo}, {ir.OpMod, hi - lo + 1}, {ir.OpAdd, lo}} {
			if err != nil {
				return nil, err
			}
			w, err = b.emit(step.op, ir.Int(64), nil, []*ir.Value{w, b.constI(ir.Int(64), []int{}, step.c)})
		}
		if err != nil {
			return nil, err
		}
		v, err := b.emit(ir.OpCast, e, shape, []*ir.Value{w})
		return one(v, to), err
	}
	v, err := b.emit(ir.OpCast, e, shape, []*ir.Value{x.v})
	return one(v, to), err
}

func lowerConstant(b *importer, n *Node, in []val) ([]val, error) {
	var t *Tensor
	switch {
	case n.Has("value"):
		t = n.Tensor("value")
	case n.Has("value_float"):
		t = &Tensor{DType: Float32, Shape: []int{}, F: []float64{n.Float("value_float", 0)}}
	case n.Has("value_floats"):
		f := n.Floats("value_floats", nil)
		t = &Tensor{DType: Float32, Shape: []int{len(f)}, F: f}
	case n.Has("value_int"):
		t = &Tensor{DType: Int64, Shape: []int{}, I: []int64{n.Int("value_int", 0)}}
	case n.Has("value_ints"):
		v := n.Ints("value_ints", nil)
		t = &Tensor{DType: Int64, Shape: []int{len(v)}, I: v}
	default:
		return nil, errorf(UnsupportedOp, "unsupported op: Constant with attributes %v", n.AttrNames())
	}
	if t == nil {
		return nil, n.Err()
	}
	if t.F == nil && t.I == nil {
		if t.DType.IsFloat() {
			t.F = []float64{}
		} else {
			t.I = []int64{}
		}
	}
	c, err := b.constTensor(t)
	return []val{c}, err
}

func lowerConstantOfShape(b *importer, n *Node, in []val) ([]val, error) {
	spec, _, err := b.constInts(n, 0)
	if err != nil {
		return nil, err
	}
	shape := make([]int, len(spec))
	size := 1
	for i, d := range spec {
		if d < 0 || d > maxFoldElems || (d > 0 && size > maxFoldElems/int(d)) {
			return nil, errorf(BadNode, "bad shape %v", spec)
		}
		shape[i] = int(d)
		size *= int(d)
	}
	fillT := &Tensor{DType: Float32, F: []float64{0}}
	if v := n.Tensor("value"); v != nil {
		if v.Len() != 1 {
			return nil, errorf(BadNode, "value has %d elements, want 1", v.Len())
		}
		fillT = v
	}
	t := &Tensor{DType: fillT.DType, Shape: shape}
	if fillT.F != nil {
		t.F = fill(size, fillT.F[0])
	} else {
		t.I = make([]int64, size)
		for i := range t.I {
			t.I[i] = fillT.I[0]
		}
	}
	c, err := b.constTensor(t)
	return []val{c}, err
}

func lowerShape(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 1); err != nil {
		return nil, err
	}
	s := in[0].v.Type.Shape
	r := int64(len(s))
	clamp := func(a int64) int64 {
		if a < 0 {
			a += r
		}
		return min(max(a, 0), r)
	}
	start, end := clamp(n.Int("start", 0)), clamp(n.Int("end", r))
	var dims []int64
	for i := start; i < end; i++ {
		dims = append(dims, int64(s[i]))
	}
	if dims == nil {
		dims = []int64{}
	}
	return []val{{b.constI(ir.Int(64), []int{len(dims)}, dims...), Int64}}, nil
}

func lowerSize(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 1); err != nil {
		return nil, err
	}
	return []val{{b.constI(ir.Int(64), []int{}, int64(in[0].v.Type.Size())), Int64}}, nil
}

func lowerRange(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 3); err != nil {
		return nil, err
	}
	var p [3]float64
	for i := range p {
		x, _, err := b.constScalar(n, i)
		if err != nil {
			return nil, err
		}
		p[i] = x
	}
	if p[2] == 0 {
		return nil, errorf(BadNode, "delta is 0")
	}
	cnt := math.Ceil((p[1] - p[0]) / p[2])
	if cnt > maxFoldElems {
		return nil, errorf(BadNode, "range of %v elements", cnt)
	}
	k := int(max(cnt, 0))
	t := &Tensor{DType: in[0].dt, Shape: []int{k}}
	if t.DType.IsFloat() {
		t.F = make([]float64, k)
		for i := range t.F {
			t.F[i] = p[0] + float64(i)*p[2]
		}
	} else {
		t.I = make([]int64, k)
		for i := range t.I {
			t.I[i] = int64(p[0]) + int64(i)*int64(p[2])
		}
	}
	c, err := b.constTensor(t)
	return []val{c}, err
}

package onnx

import "github.com/fheir/fheir/ir"

// intOperand returns x − zp as int32, for ConvInteger and MatMulInteger.
// zpShape reshapes a per-channel zero point for broadcasting (nil: as is).
func (b *importer) intOperand(n *Node, x val, zpIn int, zpShape func(len int) []int) (*ir.Value, error) {
	i32 := ir.Int(32)
	if x.v.Type.Elem.Float {
		return nil, errorf(BadNode, "operand is %v, want an integer type", x.dt)
	}
	v, err := b.emit(ir.OpCast, i32, append([]int{}, x.v.Type.Shape...), []*ir.Value{x.v})
	if err != nil {
		return nil, err
	}
	zp, ok, err := b.input(n, zpIn)
	if err != nil || !ok {
		return v, err
	}
	z, err := b.emit(ir.OpCast, i32, append([]int{}, zp.v.Type.Shape...), []*ir.Value{zp.v})
	if err != nil {
		return nil, err
	}
	if zpShape != nil && z.Type.Size() > 1 {
		if z, err = b.reshape(z, zpShape(z.Type.Size())); err != nil {
			return nil, err
		}
	}
	return b.emit(ir.OpSub, i32, nil, []*ir.Value{v, z})
}

func lowerMatMulInteger(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 2); err != nil {
		return nil, err
	}
	// a's zero point is per row (shape [M]), b's per column ([N]).
	a, err := b.intOperand(n, in[0], 2, func(m int) []int { return []int{m, 1} })
	if err != nil {
		return nil, err
	}
	c, err := b.intOperand(n, in[1], 3, nil)
	if err != nil {
		return nil, err
	}
	v, err := b.emit(ir.OpMatMul, ir.Int(32), nil, []*ir.Value{a, c})
	return one(v, Int32), err
}

func lowerConvInteger(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 2); err != nil {
		return nil, err
	}
	x, err := b.intOperand(n, in[0], 2, nil)
	if err != nil {
		return nil, err
	}
	rank := len(in[1].v.Type.Shape)
	w, err := b.intOperand(n, in[1], 3, func(m int) []int { return channelShape(m, rank+1) })
	if err != nil {
		return nil, err
	}
	xs, ws := x.Type.Shape, w.Type.Shape
	if len(xs) < 3 || len(ws) != len(xs) {
		return nil, errorf(BadNode, "input %v and weight %v: want N-d tensors of equal rank >= 3", xs, ws)
	}
	var kernel []int64
	for _, d := range ws[2:] {
		kernel = append(kernel, int64(d))
	}
	st, dl, pd, err := windowAttrs(n, xs[2:], kernel)
	if err != nil {
		return nil, err
	}
	v, err := b.emit(ir.OpConv, ir.Int(32), nil, []*ir.Value{x, w}, ir.IntsAttr("strides", st), ir.IntsAttr("pads", pd),
		ir.IntsAttr("dilations", dl), ir.IntAttr("group", n.Int("group", 1)))
	return one(v, Int32), err
}

// lowerLRN: y = x / (bias + alpha/size · Σ x²)^beta, the sum over a window
// of size channels, computed as a sum pooling over the channel axis.
func lowerLRN(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 1); err != nil {
		return nil, err
	}
	x := in[0].v
	xs := x.Type.Shape
	size := n.Int("size", 0)
	if len(xs) < 3 || size < 1 {
		return nil, errorf(BadNode, "size %d for input %v", size, xs)
	}
	e := x.Type.Elem
	alpha, beta, bias := f32Round(n.Float("alpha", 1e-4)), f32Round(n.Float("beta", 0.75)), f32Round(n.Float("bias", 1))
	sq, err := b.emit(ir.OpMul, e, nil, []*ir.Value{x, x})
	if err != nil {
		return nil, err
	}
	rest := ir.ShapeSize(xs[2:])
	v, err := b.reshape(sq, []int{xs[0], 1, xs[1], rest})
	if err != nil {
		return nil, err
	}
	lo, hi := (size-1)/2, size-1-(size-1)/2
	if v, err = b.emit(ir.OpSumPool, e, nil, []*ir.Value{v}, ir.IntsAttr("kernel", []int64{size, 1}),
		ir.IntsAttr("strides", []int64{1, 1}), ir.IntsAttr("pads", []int64{lo, 0, hi, 0})); err != nil {
		return nil, err
	}
	if v, err = b.reshape(v, xs); err != nil {
		return nil, err
	}
	if v, err = b.emit(ir.OpMul, e, nil, []*ir.Value{v, b.constF(e, []int{}, alpha/float64(size))}); err != nil {
		return nil, err
	}
	if v, err = b.emit(ir.OpAdd, e, nil, []*ir.Value{v, b.constF(e, []int{}, bias)}); err != nil {
		return nil, err
	}
	if v, err = b.emit(ir.OpPow, e, nil, []*ir.Value{v, b.constF(e, []int{}, -beta)}); err != nil {
		return nil, err
	}
	v, err = b.emit(ir.OpMul, e, nil, []*ir.Value{x, v})
	return one(v, in[0].dt), err
}

package onnx

import (
	"github.com/fheir/fheir/ir"
)

// flatGather gathers elements of x (flattened) at constant flat indices;
// the result has the indices' shape.
func (b *importer) flatGather(x *ir.Value, idx []int64, shape []int) (*ir.Value, error) {
	flat, err := b.reshape(x, []int{x.Type.Size()})
	if err != nil {
		return nil, err
	}
	return b.emit(ir.OpGather, x.Type.Elem, nil, []*ir.Value{flat},
		ir.IntAttr("axis", 0), ir.TensorAttrOf("indices", ir.Int(64), ir.NewInts(shape, idx)))
}

// constIndices returns constant integer input i, normalized against dim
// (negative indices count from the end) and checked.
func (b *importer) constIndices(n *Node, i int) (*ir.Tensor, error) {
	v, ok, err := b.input(n, i)
	if err != nil {
		return nil, err
	}
	c := constOf(v)
	if !ok || c == nil || c.Float {
		return nil, errorf(NonConstantInput, "indices %q must be an integer constant", n.Input(i))
	}
	return c, nil
}

func normIndex(i int64, dim int) (int64, error) {
	if i < 0 {
		i += int64(dim)
	}
	if i < 0 || i >= int64(dim) {
		return 0, errorf(BadNode, "index %d out of range for dimension %d", i, dim)
	}
	return i, nil
}

// lowerGatherElements: out[p] = x[p with coordinate axis replaced by
// indices[p]], for constant indices.
func lowerGatherElements(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 2); err != nil {
		return nil, err
	}
	x := in[0].v
	xs := x.Type.Shape
	idx, err := b.constIndices(n, 1)
	if err != nil {
		return nil, err
	}
	axis, err := normAxis(n.Int("axis", 0), len(xs))
	if err != nil {
		return nil, err
	}
	if len(idx.Shape) != len(xs) {
		return nil, errorf(BadNode, "indices have rank %d, data %d", len(idx.Shape), len(xs))
	}
	xst, ist := ir.Strides(xs), ir.Strides(idx.Shape)
	flat := make([]int64, idx.Len())
	for k := range flat {
		off := int64(0)
		for d := range xs {
			c := int64(k / ist[d] % idx.Shape[d])
			if d == axis {
				if c, err = normIndex(idx.I[k], xs[d]); err != nil {
					return nil, err
				}
			} else if c >= int64(xs[d]) {
				return nil, errorf(BadNode, "indices shape %v exceeds data shape %v", idx.Shape, xs)
			}
			off += c * int64(xst[d])
		}
		flat[k] = off
	}
	v, err := b.flatGather(x, flat, idx.Shape)
	return one(v, in[0].dt), err
}

// lowerGatherND gathers slices of x addressed by the last axis of the
// constant indices (with batch_dims leading batch axes).
func lowerGatherND(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 2); err != nil {
		return nil, err
	}
	x := in[0].v
	xs := x.Type.Shape
	idx, err := b.constIndices(n, 1)
	if err != nil {
		return nil, err
	}
	bd := int(n.Int("batch_dims", 0))
	q := len(idx.Shape)
	if q < 1 || bd < 0 || bd >= q {
		return nil, errorf(BadNode, "indices of shape %v with batch_dims %d", idx.Shape, bd)
	}
	k := idx.Shape[q-1]
	if bd+k > len(xs) {
		return nil, errorf(BadNode, "indices address %d axes of data %v after %d batch axes", k, xs, bd)
	}
	for d := 0; d < bd; d++ {
		if idx.Shape[d] != xs[d] {
			return nil, errorf(BadNode, "batch dimensions of indices %v and data %v differ", idx.Shape, xs)
		}
	}
	// View x as [M, rest...] with M = prod(xs[:bd+k]) and gather rows.
	lead := xs[:bd+k]
	rest := xs[bd+k:]
	lst := ir.Strides(lead)
	outPrefix := idx.Shape[:q-1]
	pst := ir.Strides(outPrefix)
	np := ir.ShapeSize(outPrefix)
	rows := make([]int64, np)
	for p := 0; p < np; p++ {
		off := int64(0)
		for d := 0; d < bd; d++ {
			off += int64(p/pst[d]%outPrefix[d]) * int64(lst[d])
		}
		for j := 0; j < k; j++ {
			c, err := normIndex(idx.I[p*k+j], lead[bd+j])
			if err != nil {
				return nil, err
			}
			off += c * int64(lst[bd+j])
		}
		rows[p] = off
	}
	view, err := b.reshape(x, append([]int{ir.ShapeSize(lead)}, rest...))
	if err != nil {
		return nil, err
	}
	v, err := b.emit(ir.OpGather, x.Type.Elem, nil, []*ir.Value{view},
		ir.IntAttr("axis", 0), ir.TensorAttrOf("indices", ir.Int(64), ir.NewInts(append([]int{}, outPrefix...), rows)))
	return one(v, in[0].dt), err
}

// scatter returns data with the flat positions pos[u] replaced by element u
// of updates (later writes win), as where(mask, gather(updates), data).
func (b *importer) scatter(data, updates *ir.Value, pos []int64) (*ir.Value, error) {
	d := data.Type.Size()
	src := make([]int64, d)
	mask := make([]int64, d)
	for u, p := range pos {
		src[p], mask[p] = int64(u), 1
	}
	e := data.Type.Elem
	flat, err := b.reshape(data, []int{d})
	if err != nil {
		return nil, err
	}
	picked, err := b.flatGather(updates, src, []int{d})
	if err != nil {
		return nil, err
	}
	m := b.constI(ir.Uint(1), []int{d}, mask...)
	v, err := b.emit(ir.OpWhere, e, nil, []*ir.Value{m, picked, flat})
	if err != nil {
		return nil, err
	}
	return b.reshape(v, data.Type.Shape)
}

func scatterReduction(n *Node) error {
	if r := n.Str("reduction", "none"); r != "none" {
		return errorf(UnsupportedOp, "unsupported op: %s with reduction %q", n.OpType, r)
	}
	return nil
}

// lowerScatterND writes updates into data at the constant index tuples of
// the last axis of indices (torch's index_put_ and slice assignment).
func lowerScatterND(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 3); err != nil {
		return nil, err
	}
	if err := scatterReduction(n); err != nil {
		return nil, err
	}
	x, upd := in[0].v, in[2].v
	xs := x.Type.Shape
	idx, err := b.constIndices(n, 1)
	if err != nil {
		return nil, err
	}
	q := len(idx.Shape)
	if q < 1 || idx.Shape[q-1] > len(xs) {
		return nil, errorf(BadNode, "indices of shape %v for data %v", idx.Shape, xs)
	}
	k := idx.Shape[q-1]
	slice := ir.ShapeSize(xs[k:])
	want := append(append([]int{}, idx.Shape[:q-1]...), xs[k:]...)
	if !ir.SameShape(upd.Type.Shape, want) {
		return nil, errorf(BadNode, "updates have shape %v, want %v", upd.Type.Shape, want)
	}
	st := ir.Strides(xs)
	var pos []int64
	for t := 0; t < ir.ShapeSize(idx.Shape[:q-1]); t++ {
		off := int64(0)
		for j := 0; j < k; j++ {
			c, err := normIndex(idx.I[t*k+j], xs[j])
			if err != nil {
				return nil, err
			}
			off += c * int64(st[j])
		}
		for r := 0; r < slice; r++ {
			pos = append(pos, off+int64(r))
		}
	}
	v, err := b.scatter(x, upd, pos)
	return one(v, in[0].dt), err
}

// lowerScatterElements: out[p with axis coordinate indices[u]] = updates[u]
// for every position u of the constant indices.
func lowerScatterElements(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 3); err != nil {
		return nil, err
	}
	if err := scatterReduction(n); err != nil {
		return nil, err
	}
	x, upd := in[0].v, in[2].v
	xs := x.Type.Shape
	idx, err := b.constIndices(n, 1)
	if err != nil {
		return nil, err
	}
	axis, err := normAxis(n.Int("axis", 0), len(xs))
	if err != nil {
		return nil, err
	}
	if len(idx.Shape) != len(xs) || !ir.SameShape(upd.Type.Shape, idx.Shape) {
		return nil, errorf(BadNode, "indices %v and updates %v must have one shape, of the rank of data %v", idx.Shape, upd.Type.Shape, xs)
	}
	xst, ist := ir.Strides(xs), ir.Strides(idx.Shape)
	pos := make([]int64, idx.Len())
	for u := range pos {
		off := int64(0)
		for d := range xs {
			c := int64(u / ist[d] % idx.Shape[d])
			if d == axis {
				if c, err = normIndex(idx.I[u], xs[d]); err != nil {
					return nil, err
				}
			} else if c >= int64(xs[d]) {
				return nil, errorf(BadNode, "indices shape %v exceeds data shape %v", idx.Shape, xs)
			}
			off += c * int64(xst[d])
		}
		pos[u] = off
	}
	v, err := b.scatter(x, upd, pos)
	return one(v, in[0].dt), err
}

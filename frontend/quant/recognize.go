package quant

import (
	"math"

	"github.com/fheir/fheir/ir"
)

// RecognizeFakeQuant finds fake quantization written with plain ops, as a
// torch model that quantizes by hand exports it,
//
//	y = (clip(round(x/s) + z, lo, hi) − z) · s
//
// (x·(1/s) for x/s, y/(1/s) for y·s, the zero-point add and sub optional,
// the clip before or after the round when its bounds are integers), and
// replaces each by dequantize(quantize(x; s, z, lo, hi)) so that LowerQAT
// can lower the graph (Concrete ML's generic import_qat). It returns the
// number of quantizers recognised.
func RecognizeFakeQuant(f *ir.Func) int {
	n := 0
	for {
		uses := f.Uses()
		found := false
		for _, v := range f.Body {
			if v.Op == ir.OpFRound {
				if fakeQuantAt(f, v, uses) {
					n++
					found = true
					break // the body changed: recompute uses
				}
			}
		}
		if !found {
			return n
		}
	}
}

// scalarConst returns the value of a one-element float constant.
func scalarConst(v *ir.Value) (float64, bool) {
	t := v.ConstValue()
	if t == nil || t.Len() != 1 {
		return 0, false
	}
	return t.At(0), true
}

// byConst matches op(x, c) (and c·x for mul) with a scalar constant c.
func byConst(v *ir.Value, op ir.Op) (x *ir.Value, c float64, ok bool) {
	if v == nil || v.Op != op || len(v.Args) != 2 {
		return nil, 0, false
	}
	if c, ok := scalarConst(v.Args[1]); ok {
		return v.Args[0], c, true
	}
	if c, ok := scalarConst(v.Args[0]); ok && op == ir.OpMul {
		return v.Args[1], c, true
	}
	return nil, 0, false
}

// single returns the only user of v, or nil.
func single(f *ir.Func, v *ir.Value, uses map[*ir.Value][]*ir.Value) *ir.Value {
	if len(uses[v]) != 1 {
		return nil
	}
	for _, r := range f.Results {
		if r == v {
			return nil
		}
	}
	return uses[v][0]
}

// fakeQuantAt tries to match the pattern around the round r.
func fakeQuantAt(f *ir.Func, r *ir.Value, uses map[*ir.Value][]*ir.Value) bool {
	lo, hi := math.Inf(-1), math.Inf(1)
	a := r.Args[0]
	clipBefore := false
	if a.Op == ir.OpClip && single(f, a, uses) == r {
		lo, hi, clipBefore = a.Float("min", lo), a.Float("max", hi), true
		if lo != math.Trunc(lo) || hi != math.Trunc(hi) {
			return false
		}
		a = a.Args[0]
	}
	var x *ir.Value
	var s float64
	if xx, c, ok := byConst(a, ir.OpDiv); ok && c > 0 {
		x, s = xx, c
	} else if xx, c, ok := byConst(a, ir.OpMul); ok && c > 0 {
		x, s = xx, 1/c
	} else {
		return false
	}
	if clipBefore && single(f, a, uses) == nil {
		return false
	}
	cur := r
	next := single(f, cur, uses)
	z := 0.0
	if y, c, ok := byConst(next, ir.OpAdd); ok && y == cur && c == math.Trunc(c) {
		z, cur = c, next
	} else if y, c, ok := byConst(next, ir.OpSub); ok && y == cur && c == math.Trunc(c) {
		z, cur = -c, next
	}
	next = single(f, cur, uses)
	if next != nil && next.Op == ir.OpClip && !clipBefore {
		lo, hi = math.Ceil(next.Float("min", lo)), math.Floor(next.Float("max", hi))
		cur = next
	} else if clipBefore {
		lo, hi = lo+z, hi+z
	}
	if math.IsInf(lo, 0) || math.IsInf(hi, 0) || lo > hi || math.Abs(lo) > 1<<40 || math.Abs(hi) > 1<<40 {
		return false
	}
	next = single(f, cur, uses)
	if z != 0 {
		y, c, ok := byConst(next, ir.OpSub)
		if !ok || y != cur || c != z {
			if y, c, ok = byConst(next, ir.OpAdd); !ok || y != cur || c != -z {
				return false
			}
		}
		cur = next
		next = single(f, cur, uses)
	}
	var ds float64
	if y, c, ok := byConst(next, ir.OpMul); ok && y == cur && c > 0 {
		ds = c
	} else if y, c, ok := byConst(next, ir.OpDiv); ok && y == cur && c > 0 {
		ds = 1 / c
	} else {
		return false
	}
	if math.Abs(ds-s) > 1e-6*s {
		return false
	}
	end := next
	if !ir.SameShape(end.Type.Shape, x.Type.Shape) {
		return false
	}
	qmin, qmax := int64(lo), int64(hi)
	rng := ir.Range{Lo: qmin, Hi: qmax}
	q := &ir.Value{ID: -1, Op: ir.OpQuantize, Type: ir.Type{Elem: elemFor(rng), Shape: x.Type.Shape, Secret: x.Type.Secret},
		Args: []*ir.Value{x}, Attrs: quantAttrs([]float64{s}, []int64{int64(z)}, -1, true, qmin, qmax), Loc: r.Loc}
	d := &ir.Value{ID: -1, Op: ir.OpDequantize, Type: ir.Type{Elem: end.Type.Elem, Shape: x.Type.Shape, Secret: x.Type.Secret},
		Args: []*ir.Value{q}, Attrs: quantAttrs([]float64{ds}, []int64{int64(z)}, -1, false, 0, 0), Loc: end.Loc}
	f.ReplaceAll(end, d)
	body := make([]*ir.Value, 0, len(f.Body)+2)
	for _, v := range f.Body {
		if v == end {
			body = append(body, q, d)
		}
		body = append(body, v)
	}
	f.Body = body
	removeDead(f)
	return true
}

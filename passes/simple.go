package passes

import (
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/fheir/fheir/ir"
)

// dce removes body values that no result depends on.
func dce(s *state) error {
	removeDead(s.f)
	return nil
}

func removeDead(f *ir.Func) { f.RemoveDead() }

// commutative lists the binary ops whose operands cse may swap.
var commutative = map[ir.Op]bool{ir.OpAdd: true, ir.OpMul: true, ir.OpMin: true, ir.OpMax: true,
	ir.OpAnd: true, ir.OpOr: true, ir.OpXor: true, ir.OpEqual: true}

// cse merges values with the same op, type, operands and attributes
// (constants by content). The first one stays; range facts are intersected.
func cse(s *state) error {
	f := s.f
	index := make(map[*ir.Value]int)
	for i, p := range f.Params {
		index[p] = -1 - i
	}
	seen := make(map[string]*ir.Value)
	repl := make(map[*ir.Value]*ir.Value)
	body := f.Body[:0]
	for i, v := range f.Body {
		for j, a := range v.Args {
			if r, ok := repl[a]; ok {
				v.Args[j] = r
			}
		}
		index[v] = i
		k := valueKey(v, index)
		if old, ok := seen[k]; ok {
			repl[v] = old
			if v.Range != nil {
				r := *v.Range
				if old.Range != nil {
					r = r.Intersect(*old.Range)
				}
				if r.Lo <= r.Hi {
					old.Range = &r
				}
			}
			continue
		}
		seen[k] = v
		body = append(body, v)
	}
	f.Body = body
	for i, r := range f.Results {
		if n, ok := repl[r]; ok {
			f.Results[i] = n
		}
	}
	return nil
}

func valueKey(v *ir.Value, index map[*ir.Value]int) string {
	var b strings.Builder
	b.WriteString(v.Op.String())
	b.WriteByte(' ')
	b.WriteString(v.Type.String())
	ids := make([]int, len(v.Args))
	for i, a := range v.Args {
		ids[i] = index[a]
	}
	if commutative[v.Op] {
		sort.Ints(ids)
	}
	for _, id := range ids {
		b.WriteString(" ")
		b.WriteString(strconv.Itoa(id))
	}
	for _, a := range v.Attrs {
		b.WriteString(" ")
		b.WriteString(a.Name)
		b.WriteByte('=')
		writeAttrKey(&b, &a)
	}
	return b.String()
}

func writeAttrKey(b *strings.Builder, a *ir.Attr) {
	switch a.Kind {
	case ir.AttrInt:
		b.WriteString(strconv.FormatInt(a.Int, 10))
	case ir.AttrFloat:
		b.WriteString(strconv.FormatUint(math.Float64bits(a.Float), 16))
	case ir.AttrInts:
		for _, x := range a.Ints {
			b.WriteString(strconv.FormatInt(x, 10))
			b.WriteByte(',')
		}
	case ir.AttrFloats:
		for _, x := range a.Floats {
			b.WriteString(strconv.FormatUint(math.Float64bits(x), 16))
			b.WriteByte(',')
		}
	case ir.AttrString:
		b.WriteString(strconv.Quote(a.Str))
	case ir.AttrTensor:
		t := a.Tensor
		b.WriteString(a.Elem.String())
		for _, d := range t.Shape {
			b.WriteString("x" + strconv.Itoa(d))
		}
		b.WriteByte('[')
		if t.Float {
			for _, x := range t.F {
				b.WriteString(strconv.FormatUint(math.Float64bits(x), 16))
				b.WriteByte(',')
			}
		} else {
			for _, x := range t.I {
				b.WriteString(strconv.FormatInt(x, 10))
				b.WriteByte(',')
			}
		}
		b.WriteByte(']')
	}
}

// maxFoldElems bounds the size of a constant that canonicalize creates.
const maxFoldElems = 1 << 22

// canonicalize folds ops whose operands are all constants (with ir's
// interpreter, so folding means exactly what running means) and removes
// identities, then drops dead values.
func canonicalize(s *state) error {
	f := s.f
	for _, v := range f.Body {
		if v.Op == ir.OpConst || v.Type.Secret {
			continue
		}
		if len(v.Args) == 0 || v.Type.Size() > maxFoldElems {
			continue
		}
		args := make([]*ir.Tensor, len(v.Args))
		ok := true
		for i, a := range v.Args {
			if args[i] = a.ConstValue(); args[i] == nil || a.Op != ir.OpConst {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		t, err := evalOp(v, args, false)
		if err != nil {
			continue // leave it: running it fails the same way
		}
		v.Op, v.Args, v.Range = ir.OpConst, nil, nil
		v.Attrs = ir.Attrs{ir.TensorAttrOf("value", v.Type.Elem, t)}
	}
	for _, v := range f.Body {
		if x := identityOf(v); x != nil {
			f.ReplaceAll(v, x)
		}
	}
	removeDead(f)
	return nil
}

// identityOf returns the value v is equal to, when v is an identity on it.
func identityOf(v *ir.Value) *ir.Value {
	if len(v.Args) == 0 {
		return nil
	}
	x := v.Args[0]
	sameVal := func(x *ir.Value) bool {
		if !ir.SameShape(x.Type.Shape, v.Type.Shape) || x.Type.Secret != v.Type.Secret || x.Type.Elem.Float != v.Type.Elem.Float {
			return false
		}
		// A float result of a different width rounds; integers keep values.
		return !x.Type.Elem.Float || x.Type.Elem == v.Type.Elem
	}
	switch v.Op {
	case ir.OpReshape, ir.OpBroadcast, ir.OpCast:
		if sameVal(x) {
			return x
		}
	case ir.OpConcat:
		if len(v.Args) == 1 && sameVal(x) {
			return x
		}
	case ir.OpTranspose:
		for i, p := range v.Ints("perm", nil) {
			if p != int64(i) {
				return nil
			}
		}
		if sameVal(x) {
			return x
		}
	case ir.OpSlice:
		for _, st := range v.Ints("steps", nil) {
			if st != 1 {
				return nil
			}
		}
		if sameVal(x) {
			return x
		}
	case ir.OpPad:
		for _, p := range v.Ints("pads", nil) {
			if p != 0 {
				return nil
			}
		}
		if sameVal(x) {
			return x
		}
	case ir.OpClip:
		if v.Attrs.Get("min") == nil && v.Attrs.Get("max") == nil && sameVal(x) {
			return x
		}
	case ir.OpNeg:
		if x.Op == ir.OpNeg && sameVal(x.Args[0]) {
			return x.Args[0]
		}
	case ir.OpRelu:
		if x.Op == ir.OpRelu && sameVal(x) {
			return x
		}
	case ir.OpAdd, ir.OpSub, ir.OpMul, ir.OpDiv:
		unit := 0.0
		if v.Op == ir.OpMul || v.Op == ir.OpDiv {
			unit = 1
		}
		if c := v.Args[1].ConstValue(); c != nil && allEqual(c, unit) && sameVal(x) {
			return x
		}
		if v.Op == ir.OpAdd || v.Op == ir.OpMul {
			if c := x.ConstValue(); c != nil && allEqual(c, unit) && sameVal(v.Args[1]) {
				return v.Args[1]
			}
		}
	case ir.OpTLU:
		if identityTable(v) && sameVal(x) {
			return x
		}
	}
	return nil
}

func allEqual(t *ir.Tensor, x float64) bool {
	for i := 0; i < t.Len(); i++ {
		if t.At(i) != x {
			return false
		}
	}
	return true
}

// identityTable reports whether tlu v maps every x of its domain to x.
func identityTable(v *ir.Value) bool {
	t := v.TensorAttr("table")
	lo := v.Int("lo", 0)
	n := t.Shape[len(t.Shape)-1]
	dom := rangeOf(v.Args[0])
	for i, y := range t.I {
		x := lo + int64(i%n)
		if dom.Contains(x) && y != x {
			return false
		}
	}
	return true
}

package ir

import (
	"fmt"
	"sort"
)

// Pos is a position in a .fir file (1-based line and column; zero when the
// value was not parsed from text).
type Pos struct{ Line, Col int }

// String returns "line:col".
func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// Attr is one named attribute value; which field holds it depends on Kind.
type Attr struct {
	Name   string
	Kind   AttrKind
	Int    int64
	Float  float64
	Ints   []int64
	Floats []float64
	Str    string
	Tensor *Tensor
	Elem   Elem // element type of Tensor in the printed form
}

// Attrs is a list of attributes, kept in the order the op table declares them.
type Attrs []Attr

// Get returns the attribute with the given name, or nil.
func (a Attrs) Get(name string) *Attr {
	for i := range a {
		if a[i].Name == name {
			return &a[i]
		}
	}
	return nil
}

// Value is an SSA value: a function parameter or the result of one op.
// Example printed form: v3 = gemm <enc<1x30xi10>> v1 v2 {trans_b=1}  ; loc="Gemm_0".
type Value struct {
	ID    int // dense number, printed as v<ID>
	Op    Op
	Type  Type
	Args  []*Value
	Attrs Attrs
	Range *Range // analysis fact (narrow); printed as range=[lo,hi]
	Loc   string // where it came from (ONNX node name); printed as loc="..."
	Pos   Pos    // where it was parsed from
}

// Func is a function: parameters, a straight-line body in dependency order,
// and results. Example printed form: func main(v0: enc<1x12xf64>) { ... return v5 }.
type Func struct {
	Name    string
	Params  []*Value
	Body    []*Value
	Results []*Value
	Pos     Pos
}

// NewFunc returns an empty function.
func NewFunc(name string) *Func { return &Func{Name: name} }

// AddParam appends a parameter of the given type; name (the model input's
// name) is kept as its Loc.
func (f *Func) AddParam(name string, t Type) *Value {
	v := &Value{ID: -1, Op: OpParam, Type: t, Loc: name}
	f.Params = append(f.Params, v)
	return v
}

// Add appends an op computing a value of type t and returns it.
func (f *Func) Add(op Op, t Type, args []*Value, attrs Attrs) *Value {
	v := &Value{ID: -1, Op: op, Type: t, Args: args, Attrs: attrs}
	f.Body = append(f.Body, v)
	return v
}

// Const appends a constant holding t (a clear tensor of element type e).
func (f *Func) Const(e Elem, t *Tensor) *Value {
	v := &Value{ID: -1, Op: OpConst, Type: TensorOf(e, t.Shape...), Attrs: Attrs{{Name: "value", Kind: AttrTensor, Tensor: t, Elem: e}}}
	f.Body = append(f.Body, v)
	return v
}

// ConstValue returns the tensor of a const value, or nil.
func (v *Value) ConstValue() *Tensor {
	if v.Op != OpConst {
		return nil
	}
	if a := v.Attrs.Get("value"); a != nil {
		return a.Tensor
	}
	return nil
}

// Int returns integer attribute name, or def when absent.
func (v *Value) Int(name string, def int64) int64 {
	if a := v.Attrs.Get(name); a != nil {
		return a.Int
	}
	return def
}

// Float returns float attribute name, or def when absent.
func (v *Value) Float(name string, def float64) float64 {
	if a := v.Attrs.Get(name); a != nil {
		return a.Float
	}
	return def
}

// Ints returns integer-list attribute name, or def when absent.
func (v *Value) Ints(name string, def []int64) []int64 {
	if a := v.Attrs.Get(name); a != nil {
		return a.Ints
	}
	return def
}

// Floats returns float-list attribute name, or nil when absent.
func (v *Value) Floats(name string) []float64 {
	if a := v.Attrs.Get(name); a != nil {
		return a.Floats
	}
	return nil
}

// Str returns string attribute name, or def when absent.
func (v *Value) Str(name, def string) string {
	if a := v.Attrs.Get(name); a != nil {
		return a.Str
	}
	return def
}

// TensorAttr returns tensor attribute name, or nil.
func (v *Value) TensorAttr(name string) *Tensor {
	if a := v.Attrs.Get(name); a != nil {
		return a.Tensor
	}
	return nil
}

// SetAttr sets (or replaces) an attribute, keeping table order.
func (v *Value) SetAttr(a Attr) {
	for i := range v.Attrs {
		if v.Attrs[i].Name == a.Name {
			v.Attrs[i] = a
			return
		}
	}
	v.Attrs = append(v.Attrs, a)
	specs := v.Op.Info().Attrs
	order := func(n string) int {
		for i, s := range specs {
			if s.Name == n {
				return i
			}
		}
		return len(specs)
	}
	sort.SliceStable(v.Attrs, func(i, j int) bool { return order(v.Attrs[i].Name) < order(v.Attrs[j].Name) })
}

// IntAttr, FloatAttr, IntsAttr, FloatsAttr, StrAttr and TensorAttrOf build attributes.
func IntAttr(name string, x int64) Attr { return Attr{Name: name, Kind: AttrInt, Int: x} }

// FloatAttr builds a float attribute.
func FloatAttr(name string, x float64) Attr { return Attr{Name: name, Kind: AttrFloat, Float: x} }

// IntsAttr builds an integer-list attribute.
func IntsAttr(name string, x []int64) Attr { return Attr{Name: name, Kind: AttrInts, Ints: x} }

// FloatsAttr builds a float-list attribute.
func FloatsAttr(name string, x []float64) Attr { return Attr{Name: name, Kind: AttrFloats, Floats: x} }

// StrAttr builds a string attribute.
func StrAttr(name, s string) Attr { return Attr{Name: name, Kind: AttrString, Str: s} }

// TensorAttrOf builds a tensor attribute printed with element type e.
func TensorAttrOf(name string, e Elem, t *Tensor) Attr {
	return Attr{Name: name, Kind: AttrTensor, Tensor: t, Elem: e}
}

// Renumber gives parameters and body values dense IDs in order.
func (f *Func) Renumber() {
	id := 0
	for _, p := range f.Params {
		p.ID = id
		id++
	}
	for _, v := range f.Body {
		v.ID = id
		id++
	}
}

// Uses returns, for every value, the values that use it as an operand (in
// body order), and whether it is a function result.
func (f *Func) Uses() map[*Value][]*Value {
	u := make(map[*Value][]*Value)
	for _, v := range f.Body {
		for _, a := range v.Args {
			u[a] = append(u[a], v)
		}
	}
	return u
}

// ReplaceAll makes every use of old (operands and results) use new instead.
func (f *Func) ReplaceAll(old, new *Value) {
	for _, v := range f.Body {
		for i, a := range v.Args {
			if a == old {
				v.Args[i] = new
			}
		}
	}
	for i, r := range f.Results {
		if r == old {
			f.Results[i] = new
		}
	}
}

// Clone returns a deep copy of f (constants' tensors are shared: they are
// treated as immutable).
func (f *Func) Clone() *Func {
	g := &Func{Name: f.Name, Pos: f.Pos}
	m := make(map[*Value]*Value)
	cp := func(v *Value) *Value {
		w := *v
		w.Args = make([]*Value, len(v.Args))
		for i, a := range v.Args {
			w.Args[i] = m[a]
		}
		w.Attrs = append(Attrs(nil), v.Attrs...)
		if v.Range != nil {
			r := *v.Range
			w.Range = &r
		}
		w.Type.Shape = append([]int{}, v.Type.Shape...)
		m[v] = &w
		return &w
	}
	for _, p := range f.Params {
		g.Params = append(g.Params, cp(p))
	}
	for _, v := range f.Body {
		g.Body = append(g.Body, cp(v))
	}
	for _, r := range f.Results {
		g.Results = append(g.Results, m[r])
	}
	return g
}

// RemoveDead drops the body values that no result depends on, keeping the
// order of the others. (The body is in dependency order, so one backward
// sweep marks every live value.)
func (f *Func) RemoveDead() {
	live := make(map[*Value]bool, len(f.Body))
	for _, r := range f.Results {
		live[r] = true
	}
	for i := len(f.Body) - 1; i >= 0; i-- {
		if v := f.Body[i]; live[v] {
			for _, a := range v.Args {
				live[a] = true
			}
		}
	}
	body := f.Body[:0]
	for _, v := range f.Body {
		if live[v] {
			body = append(body, v)
		}
	}
	clear(f.Body[len(body):])
	f.Body = body
}

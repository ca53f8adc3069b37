package onnx

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fheir/fheir/frontend/onnx/onnxpb"
	"github.com/fheir/fheir/ir"
)

// ImportOptions controls ImportFloat.
type ImportOptions struct {
	// FuncName names the IR function; "main" when empty.
	FuncName string
	// DimSizes gives sizes to symbolic input dimensions by name; unnamed or
	// unlisted ones get DefaultDim.
	DimSizes map[string]int
	// DefaultDim is the size of a symbolic dimension not in DimSizes (1
	// when 0: a batch of one).
	DefaultDim int
	// InputShapes, when set for an input name, replaces its declared shape
	// (it must have the same rank).
	InputShapes map[string][]int
	// ClearInputs lists inputs that are not encrypted (tensor<...> instead of
	// enc<...> parameters). By default every graph input is encrypted.
	ClearInputs map[string]bool
	// Constants binds graph inputs to fixed values; they become constants
	// like initializers (for inputs that carry shapes, axes or indices).
	Constants map[string]*Tensor
}

// ImportFloat lowers the model's graph into an IR function over float (and,
// where the graph computes on integers, integer) tensors, with the ONNX
// semantics of every op: the float program that quantization starts from
// and the reference the IR interpreter checks conformance against.
//
// Constant sub-graphs (Constant nodes, initializer arithmetic, the
// Shape/Gather/Concat/Cast/ConstantOfShape/Slice/Unsqueeze chains exporters
// emit for Reshape and Pad) are folded at import. Every unsupported node is
// reported at once, in an ErrorList of UnsupportedOp errors.
//
// ImportFloat fixes m's symbolic dimensions (FixDims): do not call it
// concurrently on one Model.
func (m *Model) ImportFloat(opts ImportOptions) (*ir.Func, error) {
	name := opts.FuncName
	if name == "" {
		name = "main"
	}
	b := &importer{
		m:           m,
		f:           ir.NewFunc(name),
		vals:        map[string]val{},
		failed:      map[string]bool{},
		unsupported: map[string]bool{},
		funcs:       map[string]*onnxpb.FunctionProto{},
		dir:         filepath.Dir(m.File),
	}
	for _, fn := range m.Proto.Functions {
		b.funcs[normDomain(fn.Domain)+"\x00"+fn.Name] = fn
	}
	if err := b.params(opts); err != nil {
		return nil, err
	}
	for _, n := range m.Graph.Nodes {
		if b.skip(n) {
			continue
		}
		if err := b.lowerOne(n); err != nil {
			b.errs = append(b.errs, err)
			b.fail(n)
		}
	}
	unsupported := b.unsupported
	if len(m.Graph.Outputs) == 0 {
		b.errs = append(b.errs, &Error{File: m.File, Code: MalformedModel, Msg: "the graph has no outputs"})
	}
	for _, o := range m.Graph.Outputs {
		if b.failed[o.Name] {
			continue
		}
		v, err := b.value(o.Name)
		if err != nil {
			b.errs = append(b.errs, place(m.File, fmt.Sprintf("output %q", o.Name), UndefinedValue, err))
			continue
		}
		if err := checkDeclared(o, v); err != nil {
			b.errs = append(b.errs, place(m.File, fmt.Sprintf("output %q", o.Name), BadNode, err))
			continue
		}
		b.f.Results = append(b.f.Results, v.v)
	}
	if len(unsupported) > 0 {
		b.errs = append(b.errs, &Error{File: m.File, Code: UnsupportedOp,
			Msg: fmt.Sprintf("unsupported ops: %s; supported: %s", strings.Join(sortedKeys(unsupported), ", "), strings.Join(SupportedOps(), ", "))})
	}
	if len(b.errs) > 0 {
		return nil, b.errs
	}
	b.f.RemoveDead()
	b.f.Renumber()
	if err := ir.Verify(b.f); err != nil {
		// The importer builds only well-typed IR; a verifier error is our bug,
		// but the user still gets an error naming the model.
		return nil, &Error{File: m.File, Code: BadNode, Msg: "BUG: imported IR does not verify:\n" + err.Error()}
	}
	return b.f, nil
}

// SupportedOps returns the ONNX op types ImportFloat lowers, sorted.
func SupportedOps() []string {
	s := make([]string, 0, len(lowerers))
	for k := range lowerers {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

func sortedKeys(m map[string]bool) []string {
	s := make([]string, 0, len(m))
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// val is an imported ONNX value: its IR value and its ONNX element type
// (which the IR type alone does not pin down: f32 stands for float16 too).
type val struct {
	v  *ir.Value
	dt DType
}

type importer struct {
	m      *Model
	f      *ir.Func
	vals   map[string]val
	failed map[string]bool // values downstream of an error: skipped silently
	errs   ErrorList
	node   *Node // node being lowered

	unsupported map[string]bool                  // op types reported unsupported
	funcs       map[string]*onnxpb.FunctionProto // model-local functions by domain and name
	dir         string                           // where external data lives
	inlined     int                              // inlined bodies so far, for unique names
	depth       int                              // nesting of inlined bodies
}

// lowerOne lowers n and binds its outputs; the error names n (or the node
// inside an inlined body that failed).
func (b *importer) lowerOne(n *Node) *Error {
	outs, err := b.lowerNode(n)
	if err != nil {
		e := place(b.m.File, n.String(), BadNode, err)
		if e.Code == UnsupportedOp && e.Where == n.String() {
			b.unsupported[n.OpType] = true
		}
		return e
	}
	for i, o := range n.Outputs {
		if o == "" {
			continue
		}
		if i >= len(outs) || outs[i].v == nil {
			return n.errorf(UnsupportedOp, "output %d (%q) is not supported", i, o)
		}
		if outs[i].v.Loc == "" {
			outs[i].v.Loc = nodeLoc(n)
		}
		b.vals[o] = outs[i]
	}
	return nil
}

func nodeLoc(n *Node) string {
	if n.Name != "" {
		return n.Name
	}
	return fmt.Sprintf("%s_%d", n.OpType, n.Index)
}

func (b *importer) skip(n *Node) bool {
	for _, in := range n.Inputs {
		if b.failed[in] {
			b.fail(n)
			return true
		}
	}
	return false
}

func (b *importer) fail(n *Node) {
	for _, o := range n.Outputs {
		if o != "" {
			b.failed[o] = true
		}
	}
}

// elemOf maps an ONNX element type to the IR's.
func elemOf(dt DType) (ir.Elem, error) {
	switch dt {
	case Float32, Float16, BFloat16, Float4E2M1:
		return ir.F32, nil
	case Float64:
		return ir.F64, nil
	case Bool:
		return ir.Uint(1), nil
	case Int2, Int4, Int8, Int16, Int32, Int64:
		return ir.Int(dt.bits()), nil
	case Uint2, Uint4, Uint8, Uint16, Uint32:
		return ir.Uint(dt.bits()), nil
	case Uint64:
		return ir.Uint(63), nil
	}
	return ir.Elem{}, errorf(UnsupportedDType, "element type %v is not supported", dt)
}

func (b *importer) params(opts ImportOptions) error {
	def := opts.DefaultDim
	if def == 0 {
		def = 1
	}
	if err := b.m.FixDims(opts.DimSizes, def); err != nil {
		return err
	}
	var errs ErrorList
	for _, in := range b.m.Graph.Inputs {
		where := fmt.Sprintf("input %q", in.Name)
		if t, ok := opts.Constants[in.Name]; ok {
			c, err := b.constTensor(t)
			if err != nil {
				errs = append(errs, place(b.m.File, where, UnsupportedDType, err))
				continue
			}
			c.v.Loc = in.Name
			b.vals[in.Name] = c
			continue
		}
		if in.Kind != KindTensor {
			errs = append(errs, &Error{File: b.m.File, Where: where, Code: UnsupportedType, Msg: fmt.Sprintf("is a %v; only tensor inputs are supported", in.Kind)})
			continue
		}
		shape, err := in.Shape()
		if s, ok := opts.InputShapes[in.Name]; ok {
			if in.HasShape && len(s) != len(in.Dims) {
				errs = append(errs, &Error{File: b.m.File, Where: where, Code: BadDimSize, Msg: fmt.Sprintf("given shape %v has rank %d, want %d", s, len(s), len(in.Dims))})
				continue
			}
			shape, err = append([]int{}, s...), nil
		}
		if err != nil {
			errs = append(errs, place(b.m.File, where, UnknownDim, err))
			continue
		}
		e, err := elemOf(in.DType)
		if err != nil {
			errs = append(errs, place(b.m.File, where, UnsupportedDType, err))
			continue
		}
		t := ir.EncOf(e, shape...)
		if opts.ClearInputs[in.Name] {
			t.Secret = false
		}
		b.vals[in.Name] = val{b.f.AddParam(in.Name, t), in.DType}
	}
	return errs.Err()
}

// input returns the value of node input i; ok is false for an omitted
// optional input.
func (b *importer) input(n *Node, i int) (val, bool, error) {
	name := n.Input(i)
	if name == "" {
		return val{}, false, nil
	}
	v, err := b.value(name)
	return v, err == nil, err
}

// value returns the value named name, materializing an initializer as a
// constant on first use.
func (b *importer) value(name string) (val, error) {
	if v, ok := b.vals[name]; ok {
		return v, nil
	}
	t, ok := b.m.Graph.Initializers[name]
	if !ok {
		return val{}, errorf(UndefinedValue, "%q has no value", name)
	}
	c, err := b.constTensor(t)
	if err != nil {
		return val{}, err
	}
	c.v.Loc = name
	b.vals[name] = c
	return c, nil
}

// constTensor adds a constant holding an ONNX tensor.
func (b *importer) constTensor(t *Tensor) (val, error) {
	e, err := elemOf(t.DType)
	if err != nil {
		return val{}, err
	}
	var it *ir.Tensor
	if t.DType.IsFloat() {
		it = ir.NewFloats(t.Shape, append([]float64{}, t.F...))
	} else {
		if t.DType == Uint64 {
			for _, x := range t.I {
				if x < 0 {
					return val{}, errorf(UnsupportedDType, "uint64 constant %d does not fit 63 bits", uint64(x))
				}
			}
		}
		it = ir.NewInts(t.Shape, append([]int64{}, t.I...))
	}
	return val{b.f.Const(e, it), t.DType}, nil
}

// constOf returns the data of v if it is a constant.
func constOf(v val) *ir.Tensor {
	if v.v == nil {
		return nil
	}
	return v.v.ConstValue()
}

// constInts returns the constant integer data of node input i (nil, false
// when the input is omitted).
func (b *importer) constInts(n *Node, i int) ([]int64, bool, error) {
	v, ok, err := b.input(n, i)
	if err != nil || !ok {
		return nil, false, err
	}
	c := constOf(v)
	if c == nil {
		return nil, false, errorf(NonConstantInput, "input %d (%q) must be a constant", i, n.Input(i))
	}
	out := make([]int64, c.Len())
	for k := range out {
		out[k] = c.Int(k)
	}
	return out, true, nil
}

// constScalar returns the constant scalar (or one-element) node input i.
func (b *importer) constScalar(n *Node, i int) (float64, bool, error) {
	v, ok, err := b.input(n, i)
	if err != nil || !ok {
		return 0, false, err
	}
	c := constOf(v)
	if c == nil {
		return 0, false, errorf(NonConstantInput, "input %d (%q) must be a constant", i, n.Input(i))
	}
	if c.Len() != 1 {
		return 0, false, errorf(BadNode, "input %d (%q) has %d elements, want 1", i, n.Input(i), c.Len())
	}
	return c.At(0), true, nil
}

// emit adds an op. shape is the result shape for ops whose shape the result
// type gives (reshape, broadcast, cast); nil lets ir.InferShape compute it.
// An op whose operands are all constant is evaluated now and becomes a
// constant.
func (b *importer) emit(op ir.Op, e ir.Elem, shape []int, args []*ir.Value, attrs ...ir.Attr) (*ir.Value, error) {
	return b.emitFold(true, op, e, shape, args, attrs...)
}

// maxFoldElems bounds the size of a constant folded at import.
const maxFoldElems = 1 << 24

// emitFold is emit; with fold false, an op on constants stays an op (the
// dequantize of quantized weights, which quantization needs to see).
func (b *importer) emitFold(fold bool, op ir.Op, e ir.Elem, shape []int, args []*ir.Value, attrs ...ir.Attr) (*ir.Value, error) {
	secret := false
	allConst := fold && len(args) > 0
	for _, a := range args {
		secret = secret || a.Type.Secret
		allConst = allConst && a.Op == ir.OpConst
	}
	v := &ir.Value{ID: -1, Op: op, Type: ir.Type{Elem: e, Shape: shape, Secret: secret}, Args: args}
	for _, a := range attrs {
		v.SetAttr(a)
	}
	if b.node != nil {
		v.Loc = nodeLoc(b.node)
	}
	if shape == nil {
		s, err := ir.InferShape(v)
		if err != nil {
			return nil, errorf(BadNode, "%v", err)
		}
		v.Type.Shape = s
	}
	if allConst && v.Type.Size() <= maxFoldElems {
		g := &ir.Func{Name: "fold", Body: append(append([]*ir.Value{}, args...), v), Results: []*ir.Value{v}}
		out, err := ir.Run(g, nil)
		if err != nil {
			return nil, errorf(BadNode, "folding constant %s: %v", op, err)
		}
		c := b.f.Const(e, out[0])
		c.Loc = v.Loc
		return c, nil
	}
	b.f.Body = append(b.f.Body, v)
	return v, nil
}

// constF adds a float constant of element type e.
func (b *importer) constF(e ir.Elem, shape []int, data ...float64) *ir.Value {
	if !e.Float {
		panic("BUG: constF with integer element type " + e.String())
	}
	return b.f.Const(e, ir.NewFloats(shape, data))
}

// constI adds an integer constant of element type e.
func (b *importer) constI(e ir.Elem, shape []int, data ...int64) *ir.Value {
	return b.f.Const(e, ir.NewInts(shape, data))
}

// scalarLike adds a scalar constant x of v's element type.
func (b *importer) scalarLike(v *ir.Value, x float64) *ir.Value {
	if v.Type.Elem.Float {
		return b.constF(v.Type.Elem, []int{}, x)
	}
	return b.constI(v.Type.Elem, []int{}, int64(x))
}

// lowerNode lowers one node, returning a value per output.
func (b *importer) lowerNode(n *Node) ([]val, error) {
	prev := b.node
	b.node = n
	defer func() { b.node = prev }()
	if fn := b.funcs[n.Domain+"\x00"+n.OpType]; fn != nil {
		return b.inlineFunction(n, fn)
	}
	if n.HasSubgraph() && n.OpType != "If" {
		return nil, errorf(UnsupportedOp, "unsupported op (control flow with subgraphs)")
	}
	lw, ok := lowerers[n.OpType]
	if !ok || !domainOK(n) {
		return nil, errorf(UnsupportedOp, "unsupported op")
	}
	// Inputs are fetched (and initializers materialized) up front.
	in := make([]val, len(n.Inputs))
	for i := range n.Inputs {
		v, _, err := b.input(n, i)
		if err != nil {
			return nil, err
		}
		in[i] = v
	}
	outs, err := lw(b, n, in)
	if err == nil {
		err = n.Err()
	}
	return outs, err
}

func domainOK(n *Node) bool {
	switch n.Domain {
	case "":
		return true
	case "qonnx.custom_op.general", "onnx.brevitas":
		switch n.OpType {
		case "Quant", "IntQuant", "Trunc", "BipolarQuant":
			return true
		}
	}
	return false
}

// f32Round rounds x to float32 precision.
func f32Round(x float64) float64 { return float64(float32(x)) }

// checkDeclared compares an imported output with the type and the fixed
// dimensions the model declares for it, to catch a lowering that went wrong
// rather than hand back a function of another shape.
func checkDeclared(o *ValueInfo, v val) error {
	if o.Kind != KindTensor {
		return errorf(UnsupportedType, "is a %v; only tensor outputs are supported", o.Kind)
	}
	if o.DType != Undefined && o.DType != v.dt {
		return errorf(BadNode, "imported as %v, the model declares %v", v.dt, o.DType)
	}
	if !o.HasShape {
		return nil
	}
	got := v.v.Type.Shape
	if len(got) != len(o.Dims) {
		return errorf(BadNode, "imported with shape %v, the model declares %v", got, o)
	}
	for i, d := range o.Dims {
		if !d.symbolic && int64(got[i]) != d.Size {
			return errorf(BadNode, "imported with shape %v, the model declares %v", got, o)
		}
	}
	return nil
}

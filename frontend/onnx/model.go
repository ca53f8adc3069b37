// Package onnx reads ONNX models (as exported by torch.onnx and Brevitas)
// into a small, checked Go form: graph inputs and outputs with their
// shapes, decoded initializers, and nodes with typed attribute access;
// ImportFloat lowers a model into an ir.Func with ONNX's float semantics.
//
// Every user error is an *Error (or an ErrorList of them) whose text names
// the file and the node, with a stable Code. Malformed input never panics.
package onnx

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/fheir/fheir/frontend/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Model is a parsed ONNX model.
type Model struct {
	// File is the name given to Load or Parse; errors start with it.
	File string
	// IRVersion is the ONNX IR version of the file.
	IRVersion int64
	// Opsets maps an operator-set domain to its imported version. The
	// default domain (written "" or "ai.onnx" in files) is "".
	Opsets map[string]int64
	// ProducerName and ProducerVersion say which exporter wrote the file.
	ProducerName, ProducerVersion string
	// Graph is the main graph.
	Graph *Graph
	// Proto is the decoded protobuf, for anything this layer does not expose.
	Proto *onnxpb.ModelProto
}

// Graph is an ONNX graph: inputs, constants, nodes in topological order,
// and outputs.
type Graph struct {
	Name string
	// Inputs are the graph inputs that are not initializers (the values a
	// caller provides).
	Inputs []*ValueInfo
	// Outputs are the graph outputs.
	Outputs []*ValueInfo
	// Initializers holds every constant tensor by name. An initializer
	// also listed as a graph input is a constant, not an input.
	Initializers map[string]*Tensor
	// InitOrder lists the initializer names in file order.
	InitOrder []string
	// Nodes are the nodes in file order, which ONNX requires to be
	// topological; Parse checks it.
	Nodes []*Node
	// ValueInfo holds the shape annotations of intermediate values by name.
	ValueInfo map[string]*ValueInfo
}

// TypeKind says what kind of value a ValueInfo describes.
type TypeKind int

// Value kinds. The frontend handles only tensors.
const (
	KindTensor TypeKind = iota
	KindSequence
	KindMap
	KindOptional
	KindSparseTensor
	KindUnknown
)

var kindNames = [...]string{"tensor", "sequence", "map", "optional", "sparse tensor", "unknown type"}

// String returns "tensor", "sequence", ...
func (k TypeKind) String() string { return kindNames[k] }

// ValueInfo is a named value with its type and shape.
type ValueInfo struct {
	Name  string
	Kind  TypeKind
	DType DType
	// Dims is the shape, nil when HasShape is false (unknown rank).
	Dims     []Dim
	HasShape bool

	file string
}

// Dim is one dimension of a shape: a fixed Size, or a symbolic Param name
// (Size is then -1 until FixDims fixes it). A dimension with neither is
// unknown (Param "" and Size -1).
type Dim struct {
	Size  int64
	Param string

	symbolic bool // not fixed in the file: FixDims may (re)size it
}

// String returns "3", "batch" or "batch=4" (a fixed symbolic dimension) or "?".
func (d Dim) String() string {
	switch {
	case d.Param != "" && d.Size >= 0:
		return d.Param + "=" + strconv.FormatInt(d.Size, 10)
	case d.Param != "":
		return d.Param
	case d.Size < 0:
		return "?"
	}
	return strconv.FormatInt(d.Size, 10)
}

// Shape returns v's shape as ints. It fails if v is not a tensor, has no
// shape, or has a dimension that is neither fixed nor fixed by FixDims.
func (v *ValueInfo) Shape() ([]int, error) {
	where := fmt.Sprintf("value %q", v.Name)
	if v.Kind != KindTensor {
		return nil, &Error{File: v.file, Where: where, Code: UnsupportedType, Msg: fmt.Sprintf("is a %v, not a tensor", v.Kind)}
	}
	if !v.HasShape {
		return nil, &Error{File: v.file, Where: where, Code: UnknownDim, Msg: "has no shape"}
	}
	s := make([]int, len(v.Dims))
	for i, d := range v.Dims {
		if d.Size < 0 {
			return nil, &Error{File: v.file, Where: where, Code: UnknownDim, Msg: fmt.Sprintf("dimension %d (%v) is not fixed", i, d)}
		}
		s[i] = int(d.Size)
	}
	return s, nil
}

// String returns e.g. "x: float32[batch x 12]".
func (v *ValueInfo) String() string {
	s := v.Name + ": "
	if v.Kind != KindTensor {
		return s + v.Kind.String()
	}
	s += v.DType.String()
	if !v.HasShape {
		return s + "[?]"
	}
	s += "["
	for i, d := range v.Dims {
		if i > 0 {
			s += " x "
		}
		s += d.String()
	}
	return s + "]"
}

// FixDims gives every symbolic or unknown dimension of the graph's inputs,
// outputs and value infos a size: sizes[param] if present, def otherwise
// (pass 1 for a batch of one). Sizes must be positive. A later call
// re-sizes them. It modifies m: do not call it concurrently with other
// uses of m.
func (m *Model) FixDims(sizes map[string]int, def int) error {
	for p, s := range sizes {
		if s <= 0 {
			return &Error{File: m.File, Code: BadDimSize, Msg: fmt.Sprintf("size %d for dimension %q: want a positive size", s, p)}
		}
	}
	if def <= 0 {
		return &Error{File: m.File, Code: BadDimSize, Msg: fmt.Sprintf("default size %d: want a positive size", def)}
	}
	fix := func(v *ValueInfo) {
		for i := range v.Dims {
			d := &v.Dims[i]
			if !d.symbolic {
				continue
			}
			d.Size = int64(def)
			if s, ok := sizes[d.Param]; ok && d.Param != "" {
				d.Size = int64(s)
			}
		}
	}
	g := m.Graph
	for _, v := range g.Inputs {
		fix(v)
	}
	for _, v := range g.Outputs {
		fix(v)
	}
	for _, v := range g.ValueInfo {
		fix(v)
	}
	return nil
}

// Opset returns the imported version of domain ("" or "ai.onnx" for the
// default domain), or 0 if the model does not import it.
func (m *Model) Opset(domain string) int64 {
	return m.Opsets[normDomain(domain)]
}

func normDomain(d string) string {
	if d == "ai.onnx" {
		return ""
	}
	return d
}

// Load reads and parses the ONNX model at path. External data files are
// resolved relative to the model's directory.
func Load(path string) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse parses the serialized ONNX model data. name is used in errors, and
// external data files are resolved relative to its directory.
func Parse(name string, data []byte) (*Model, error) {
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, mp); err != nil {
		return nil, &Error{File: name, Code: MalformedModel, Msg: "malformed ONNX protobuf: " + err.Error()}
	}
	if mp.Graph == nil {
		return nil, &Error{File: name, Code: MalformedModel, Msg: "not an ONNX model: no graph"}
	}
	m := &Model{
		File:            name,
		IRVersion:       mp.IrVersion,
		Opsets:          map[string]int64{},
		ProducerName:    mp.ProducerName,
		ProducerVersion: mp.ProducerVersion,
		Proto:           mp,
	}
	for _, o := range mp.OpsetImport {
		m.Opsets[normDomain(o.Domain)] = o.Version
	}
	if len(mp.OpsetImport) == 0 {
		// IR version 2 and older files have no opset imports; they mean opset 1.
		m.Opsets[""] = 1
	}
	g, errs := parseGraph(name, mp.Graph, filepath.Dir(name))
	if len(errs) > 0 {
		return nil, errs
	}
	m.Graph = g
	return m, nil
}

func parseGraph(file string, gp *onnxpb.GraphProto, dir string) (*Graph, ErrorList) {
	g := &Graph{
		Name:         gp.Name,
		Initializers: map[string]*Tensor{},
		ValueInfo:    map[string]*ValueInfo{},
	}
	var errs ErrorList
	add := func(where string, def Code, err error) { errs = append(errs, place(file, where, def, err)) }
	defined := map[string]string{} // value name -> what defines it
	for _, tp := range gp.Initializer {
		where := fmt.Sprintf("initializer %q", tp.Name)
		if _, dup := g.Initializers[tp.Name]; dup {
			add(where, DuplicateName, errorf(DuplicateName, "defined twice"))
			continue
		}
		t, err := decodeTensor(tp, dir)
		if err != nil {
			add(where, MalformedTensor, err)
			continue
		}
		g.Initializers[tp.Name] = t
		g.InitOrder = append(g.InitOrder, tp.Name)
		defined[tp.Name] = where
	}
	for _, sp := range gp.SparseInitializer {
		name := ""
		if sp.Values != nil {
			name = sp.Values.Name
		}
		add(fmt.Sprintf("initializer %q", name), UnsupportedDType, errorf(UnsupportedDType, "sparse initializers are not supported"))
	}
	for _, vp := range gp.Input {
		if _, isConst := g.Initializers[vp.Name]; isConst {
			continue
		}
		where := fmt.Sprintf("input %q", vp.Name)
		if prev, dup := defined[vp.Name]; dup {
			add(where, DuplicateName, errorf(DuplicateName, "already defined as %s", prev))
			continue
		}
		g.Inputs = append(g.Inputs, valueInfo(file, vp))
		defined[vp.Name] = where
	}
	for _, vp := range gp.ValueInfo {
		g.ValueInfo[vp.Name] = valueInfo(file, vp)
	}
	for i, np := range gp.Node {
		n := parseNode(file, i, np, dir, &errs)
		g.Nodes = append(g.Nodes, n)
		for _, in := range n.Inputs {
			if in != "" && defined[in] == "" {
				errs = append(errs, n.errorf(UndefinedValue, "input %q is not defined by an earlier node, an input or an initializer", in))
			}
		}
		for _, out := range n.Outputs {
			if out == "" {
				continue
			}
			if prev, dup := defined[out]; dup {
				errs = append(errs, n.errorf(DuplicateName, "output %q is already defined by %s", out, prev))
				continue
			}
			defined[out] = n.String()
		}
	}
	for _, vp := range gp.Output {
		if defined[vp.Name] == "" {
			add(fmt.Sprintf("output %q", vp.Name), UndefinedValue, errorf(UndefinedValue, "not defined by any node, input or initializer"))
		}
		g.Outputs = append(g.Outputs, valueInfo(file, vp))
	}
	return g, errs
}

func valueInfo(file string, vp *onnxpb.ValueInfoProto) *ValueInfo {
	v := &ValueInfo{Name: vp.Name, Kind: KindUnknown, file: file}
	if vp.Type == nil {
		return v
	}
	switch x := vp.Type.Value.(type) {
	case *onnxpb.TypeProto_TensorType:
		v.Kind = KindTensor
		v.DType = DType(x.TensorType.ElemType)
		if sh := x.TensorType.Shape; sh != nil {
			v.HasShape = true
			v.Dims = make([]Dim, len(sh.Dim))
			for i, d := range sh.Dim {
				switch dv := d.Value.(type) {
				case *onnxpb.TensorShapeProto_Dimension_DimValue:
					v.Dims[i] = Dim{Size: dv.DimValue}
					if dv.DimValue < 0 {
						v.Dims[i] = Dim{Size: -1, symbolic: true}
					}
				case *onnxpb.TensorShapeProto_Dimension_DimParam:
					v.Dims[i] = Dim{Size: -1, Param: dv.DimParam, symbolic: true}
				default:
					v.Dims[i] = Dim{Size: -1, symbolic: true}
				}
			}
		}
	case *onnxpb.TypeProto_SequenceType:
		v.Kind = KindSequence
	case *onnxpb.TypeProto_MapType:
		v.Kind = KindMap
	case *onnxpb.TypeProto_OptionalType:
		v.Kind = KindOptional
	case *onnxpb.TypeProto_SparseTensorType:
		v.Kind = KindSparseTensor
	}
	return v
}

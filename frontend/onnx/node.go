package onnx

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/fheir/fheir/frontend/onnx/onnxpb"
)

// Node is one operator application. Inputs keeps ONNX's positions: an
// omitted optional input is the empty name "".
type Node struct {
	Name   string
	OpType string
	// Domain is the operator set domain; the default domain is "" (files may
	// write it "ai.onnx"). Custom ones include "qonnx.custom_op.general" and
	// "onnx.brevitas".
	Domain  string
	Inputs  []string
	Outputs []string
	// Attrs holds the attributes by name.
	Attrs map[string]*Attr
	// Index is the node's position in the graph.
	Index int

	file  string
	err   *Error            // first attribute access error
	proto *onnxpb.NodeProto // for inlining model-local functions
}

// AttrKind is the kind of an attribute value.
type AttrKind int

// Attribute kinds.
const (
	AttrUndefined AttrKind = iota
	AttrFloat
	AttrInt
	AttrString
	AttrTensor
	AttrGraph
	AttrFloats
	AttrInts
	AttrStrings
	AttrTensors
	AttrGraphs
	AttrOther // sparse tensors and type protos
)

var attrKindNames = [...]string{"undefined", "float", "int", "string", "tensor", "graph",
	"floats", "ints", "strings", "tensors", "graphs", "other"}

// String returns "int", "floats", ...
func (k AttrKind) String() string { return attrKindNames[k] }

// Attr is a decoded attribute. Only the field matching Kind is set; float
// attributes are widened from float32 to float64.
type Attr struct {
	Name    string
	Kind    AttrKind
	F       float64
	I       int64
	S       string
	T       *Tensor
	Floats  []float64
	Ints    []int64
	Strings []string
	Tensors []*Tensor
	// Graph is the undecoded body of a graph attribute (If's branches).
	Graph *onnxpb.GraphProto
}

// String returns `node "Gemm_3" (Gemm)`, or `node 7 (Add)` for an unnamed
// node; a custom domain is added: `node "q" (Quant, qonnx.custom_op.general)`.
func (n *Node) String() string {
	id := strconv.Quote(n.Name)
	if n.Name == "" {
		id = strconv.Itoa(n.Index)
	}
	if n.Domain != "" {
		return fmt.Sprintf("node %s (%s, %s)", id, n.OpType, n.Domain)
	}
	return fmt.Sprintf("node %s (%s)", id, n.OpType)
}

// File returns the file name of the model n belongs to.
func (n *Node) File() string { return n.file }

// Errorf returns an *Error that names n's file and n.
func (n *Node) Errorf(code Code, format string, args ...any) *Error {
	return n.errorf(code, format, args...)
}

func (n *Node) errorf(code Code, format string, args ...any) *Error {
	return &Error{File: n.file, Where: n.String(), Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Err returns the first error met by an attribute accessor (Int, Float,
// ...) on n, or nil. Accessors return their default after an error.
func (n *Node) Err() error {
	if n.err == nil {
		return nil
	}
	return n.err
}

// Input returns input i, or "" if it is omitted or beyond the list.
func (n *Node) Input(i int) string {
	if i < len(n.Inputs) {
		return n.Inputs[i]
	}
	return ""
}

// Has reports whether n has attribute name.
func (n *Node) Has(name string) bool { return n.Attrs[name] != nil }

// HasSubgraph reports whether n holds a graph attribute (If, Loop, Scan),
// which the frontend does not support.
func (n *Node) HasSubgraph() bool {
	for _, a := range n.Attrs {
		if a.Kind == AttrGraph || a.Kind == AttrGraphs {
			return true
		}
	}
	return false
}

// attr returns attribute name if it has one of kinds; nil if it is absent
// or of another kind (then n.Err is set).
func (n *Node) attr(name string, kinds ...AttrKind) *Attr {
	a := n.Attrs[name]
	if a == nil {
		return nil
	}
	for _, k := range kinds {
		if a.Kind == k {
			return a
		}
	}
	if n.err == nil {
		if a.Kind == AttrGraph || a.Kind == AttrGraphs {
			n.err = n.errorf(UnsupportedSubgraph, "attribute %q holds a subgraph; control flow (If, Loop, Scan) is not supported", name)
		} else {
			n.err = n.errorf(BadAttribute, "attribute %q is %v, want %v", name, a.Kind, kinds[0])
		}
	}
	return nil
}

// Int returns int attribute name, or def if it is absent.
func (n *Node) Int(name string, def int64) int64 {
	if a := n.attr(name, AttrInt); a != nil {
		return a.I
	}
	return def
}

// Float returns float attribute name (an int attribute is converted), or
// def if it is absent.
func (n *Node) Float(name string, def float64) float64 {
	if a := n.attr(name, AttrFloat, AttrInt); a != nil {
		if a.Kind == AttrInt {
			return float64(a.I)
		}
		return a.F
	}
	return def
}

// Str returns string attribute name, or def if it is absent.
func (n *Node) Str(name, def string) string {
	if a := n.attr(name, AttrString); a != nil {
		return a.S
	}
	return def
}

// Ints returns ints attribute name, or def if it is absent.
func (n *Node) Ints(name string, def []int64) []int64 {
	if a := n.attr(name, AttrInts); a != nil {
		return a.Ints
	}
	return def
}

// Floats returns floats attribute name, or def if it is absent.
func (n *Node) Floats(name string, def []float64) []float64 {
	if a := n.attr(name, AttrFloats); a != nil {
		return a.Floats
	}
	return def
}

// Strs returns strings attribute name, or def if it is absent.
func (n *Node) Strs(name string, def []string) []string {
	if a := n.attr(name, AttrStrings); a != nil {
		return a.Strings
	}
	return def
}

// Tensor returns tensor attribute name, or nil if it is absent.
func (n *Node) Tensor(name string) *Tensor {
	if a := n.attr(name, AttrTensor); a != nil {
		return a.T
	}
	return nil
}

// AttrNames returns the names of n's attributes, sorted.
func (n *Node) AttrNames() []string {
	s := make([]string, 0, len(n.Attrs))
	for k := range n.Attrs {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

func parseNode(file string, index int, np *onnxpb.NodeProto, dir string, errs *ErrorList) *Node {
	n := &Node{
		Name:    np.Name,
		OpType:  np.OpType,
		Domain:  normDomain(np.Domain),
		Inputs:  np.Input,
		Outputs: np.Output,
		Attrs:   map[string]*Attr{},
		Index:   index,
		file:    file,
		proto:   np,
	}
	for _, ap := range np.Attribute {
		if _, dup := n.Attrs[ap.Name]; dup {
			*errs = append(*errs, n.errorf(BadAttribute, "attribute %q given twice", ap.Name))
			continue
		}
		a, err := decodeAttr(ap, dir)
		if err != nil {
			*errs = append(*errs, place(file, n.String(), BadAttribute, err))
			continue
		}
		n.Attrs[ap.Name] = a
	}
	return n
}

func decodeAttr(ap *onnxpb.AttributeProto, dir string) (*Attr, error) {
	a := &Attr{Name: ap.Name}
	typ := ap.Type
	if typ == onnxpb.AttributeProto_UNDEFINED {
		typ = inferAttrType(ap)
	}
	if ap.RefAttrName != "" {
		return nil, errorf(BadAttribute, "attribute %q refers to function attribute %q; functions are not supported", ap.Name, ap.RefAttrName)
	}
	var err error
	switch typ {
	case onnxpb.AttributeProto_FLOAT:
		a.Kind, a.F = AttrFloat, float64(ap.F)
	case onnxpb.AttributeProto_INT:
		a.Kind, a.I = AttrInt, ap.I
	case onnxpb.AttributeProto_STRING:
		a.Kind, a.S = AttrString, string(ap.S)
	case onnxpb.AttributeProto_TENSOR:
		a.Kind = AttrTensor
		if ap.T == nil {
			return nil, errorf(BadAttribute, "tensor attribute %q has no tensor", ap.Name)
		}
		a.T, err = decodeTensor(ap.T, dir)
	case onnxpb.AttributeProto_FLOATS:
		a.Kind = AttrFloats
		a.Floats = make([]float64, len(ap.Floats))
		for i, f := range ap.Floats {
			a.Floats[i] = float64(f)
		}
	case onnxpb.AttributeProto_INTS:
		a.Kind, a.Ints = AttrInts, append([]int64{}, ap.Ints...)
	case onnxpb.AttributeProto_STRINGS:
		a.Kind = AttrStrings
		for _, s := range ap.Strings {
			a.Strings = append(a.Strings, string(s))
		}
	case onnxpb.AttributeProto_TENSORS:
		a.Kind = AttrTensors
		for _, tp := range ap.Tensors {
			var t *Tensor
			if t, err = decodeTensor(tp, dir); err != nil {
				break
			}
			a.Tensors = append(a.Tensors, t)
		}
	case onnxpb.AttributeProto_GRAPH:
		a.Kind, a.Graph = AttrGraph, ap.G
	case onnxpb.AttributeProto_GRAPHS:
		a.Kind = AttrGraphs
	default:
		a.Kind = AttrOther
	}
	if err != nil {
		return nil, errorf(BadAttribute, "attribute %q: %v", ap.Name, err)
	}
	return a, nil
}

// inferAttrType guesses the kind of an attribute written without its type
// field (IR version 1 files).
func inferAttrType(ap *onnxpb.AttributeProto) onnxpb.AttributeProto_AttributeType {
	switch {
	case len(ap.Floats) > 0:
		return onnxpb.AttributeProto_FLOATS
	case len(ap.Ints) > 0:
		return onnxpb.AttributeProto_INTS
	case len(ap.Strings) > 0:
		return onnxpb.AttributeProto_STRINGS
	case len(ap.Tensors) > 0:
		return onnxpb.AttributeProto_TENSORS
	case len(ap.Graphs) > 0:
		return onnxpb.AttributeProto_GRAPHS
	case ap.T != nil:
		return onnxpb.AttributeProto_TENSOR
	case ap.G != nil:
		return onnxpb.AttributeProto_GRAPH
	case len(ap.S) > 0:
		return onnxpb.AttributeProto_STRING
	case ap.F != 0:
		return onnxpb.AttributeProto_FLOAT
	}
	return onnxpb.AttributeProto_INT
}

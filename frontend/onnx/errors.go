package onnx

import (
	"fmt"
	"strings"
)

// Code is a stable, append-only identifier for a kind of user error, in the
// adjective-noun style of go/types error codes. Tools may match on it; the
// message text may change.
type Code string

// Error codes of the ONNX frontend. Append only; never rename.
const (
	// MalformedModel: the bytes are not a valid ONNX ModelProto (truncated,
	// corrupt, or not protobuf at all), or the model has no graph.
	MalformedModel Code = "MalformedModel"
	// MalformedTensor: a TensorProto whose data does not match its dims and
	// data type (wrong element count, short raw_data, negative dims).
	MalformedTensor Code = "MalformedTensor"
	// UnsupportedDType: a tensor data type the frontend cannot decode
	// (string, complex, float8, float6).
	UnsupportedDType Code = "UnsupportedDType"
	// BadExternalData: an external data reference that cannot be read
	// (missing file, path escaping the model directory, bad offset/length).
	BadExternalData Code = "BadExternalData"
	// DuplicateName: two initializers, or two node outputs, define one name.
	DuplicateName Code = "DuplicateName"
	// UndefinedValue: a node or graph output uses a name that no input,
	// initializer or earlier node defines.
	UndefinedValue Code = "UndefinedValue"
	// BadAttribute: an attribute has the wrong kind, or a required one is missing.
	BadAttribute Code = "BadAttribute"
	// UnsupportedSubgraph: a node holds a graph attribute (If, Loop, Scan).
	UnsupportedSubgraph Code = "UnsupportedSubgraph"
	// UnsupportedType: a graph input or output that is not a tensor
	// (sequence, map, optional, sparse tensor).
	UnsupportedType Code = "UnsupportedType"
	// UnknownDim: a shape has a dimension that is neither fixed nor symbolic,
	// or a symbolic dimension was not fixed before its shape was asked for.
	UnknownDim Code = "UnknownDim"
	// BadDimSize: a size given to FixDims is not positive.
	BadDimSize Code = "BadDimSize"
	// UnsupportedOp: an operator (type, domain, opset) the importer does not handle.
	UnsupportedOp Code = "UnsupportedOp"
	// BadNode: a node's inputs, outputs or attributes are inconsistent with
	// its operator (wrong arity, shapes that do not broadcast, bad axis).
	BadNode Code = "BadNode"
	// NonConstantInput: an input that fheir needs at compile time (a shape,
	// axes, pads, indices, a quantizer's scale) is computed at run time.
	NonConstantInput Code = "NonConstantInput"
)

// Error is a user error in an ONNX file. Its text names the file and the
// place: `model.onnx: node "Gemm_3" (Gemm): weight has 3 dims, want 2`.
type Error struct {
	File  string // file name as given to Load or Parse
	Where string // `node "Gemm_3" (Gemm)`, `initializer "w"`, `input "x"`; may be empty
	Code  Code
	Msg   string
}

// Error returns "file: where: message".
func (e *Error) Error() string {
	if e.Where == "" {
		return e.File + ": " + e.Msg
	}
	return e.File + ": " + e.Where + ": " + e.Msg
}

// ErrorList is a list of errors, reported together (for instance every
// unsupported node of a model at once). It is never empty when returned as
// an error.
type ErrorList []*Error

// maxListed is how many errors ErrorList.Error spells out.
const maxListed = 10

// Error returns one error per line, the first ten, then "(and N more errors)".
func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i == maxListed {
			fmt.Fprintf(&b, "\n(and %d more errors)", len(l)-maxListed)
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Err returns l as an error, or nil if l is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// codedError is an error whose place is filled in by the caller.
type codedError struct {
	code Code
	msg  string
}

func (e *codedError) Error() string { return e.msg }

func errorf(code Code, format string, args ...any) *codedError {
	return &codedError{code, fmt.Sprintf(format, args...)}
}

// place turns err into an *Error at file/where, keeping the code of a
// *codedError and using def otherwise.
func place(file, where string, def Code, err error) *Error {
	switch e := err.(type) {
	case *Error:
		return e
	case *codedError:
		return &Error{File: file, Where: where, Code: e.code, Msg: e.msg}
	}
	return &Error{File: file, Where: where, Code: def, Msg: err.Error()}
}

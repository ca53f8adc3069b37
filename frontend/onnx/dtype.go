package onnx

import "fmt"

// DType is a tensor element type. Its values are those of ONNX's
// TensorProto.DataType, so DType(tp.DataType) converts.
type DType int32

// Element types. Only those the frontend decodes are named.
const (
	Undefined  DType = 0
	Float32    DType = 1
	Uint8      DType = 2
	Int8       DType = 3
	Uint16     DType = 4
	Int16      DType = 5
	Int32      DType = 6
	Int64      DType = 7
	String     DType = 8
	Bool       DType = 9
	Float16    DType = 10
	Float64    DType = 11
	Uint32     DType = 12
	Uint64     DType = 13
	BFloat16   DType = 16
	Uint4      DType = 21
	Int4       DType = 22
	Float4E2M1 DType = 23
	Uint2      DType = 25
	Int2       DType = 26
)

var dtypeNames = map[DType]string{
	Undefined: "undefined", Float32: "float32", Uint8: "uint8", Int8: "int8",
	Uint16: "uint16", Int16: "int16", Int32: "int32", Int64: "int64",
	String: "string", Bool: "bool", Float16: "float16", Float64: "float64",
	Uint32: "uint32", Uint64: "uint64", 14: "complex64", 15: "complex128",
	BFloat16: "bfloat16", 17: "float8e4m3fn", 18: "float8e4m3fnuz",
	19: "float8e5m2", 20: "float8e5m2fnuz", Uint4: "uint4", Int4: "int4",
	Float4E2M1: "float4e2m1", 24: "float8e8m0", Uint2: "uint2", Int2: "int2",
	27: "float6e2m3", 28: "float6e3m2",
}

// String returns the lower-case name of d, e.g. "float32", or "dtype(99)".
func (d DType) String() string {
	if s, ok := dtypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("dtype(%d)", int32(d))
}

// IsFloat reports whether d is a floating-point type; tensors of such types
// hold their elements in Tensor.F, all others in Tensor.I.
func (d DType) IsFloat() bool {
	switch d {
	case Float32, Float64, Float16, BFloat16, Float4E2M1:
		return true
	}
	return false
}

// Decodable reports whether the frontend can decode tensors of type d.
func (d DType) Decodable() bool {
	switch d {
	case Float32, Float64, Float16, BFloat16, Float4E2M1,
		Int8, Int16, Int32, Int64, Uint8, Uint16, Uint32, Uint64, Bool,
		Int4, Uint4, Int2, Uint2:
		return true
	}
	return false
}

// bits returns the storage width of one element of d in raw_data.
func (d DType) bits() int {
	switch d {
	case Float64, Int64, Uint64:
		return 64
	case Float32, Int32, Uint32:
		return 32
	case Float16, BFloat16, Int16, Uint16:
		return 16
	case Int8, Uint8, Bool:
		return 8
	case Int4, Uint4, Float4E2M1:
		return 4
	case Int2, Uint2:
		return 2
	}
	return 0
}

// Range returns the smallest and largest value of an integer type d
// (Bool is [0, 1]; Uint64's upper end is clamped to MaxInt64). ok is false
// for non-integer types.
func (d DType) Range() (lo, hi int64, ok bool) {
	switch d {
	case Bool:
		return 0, 1, true
	case Int2:
		return -2, 1, true
	case Uint2:
		return 0, 3, true
	case Int4:
		return -8, 7, true
	case Uint4:
		return 0, 15, true
	case Int8:
		return -128, 127, true
	case Uint8:
		return 0, 255, true
	case Int16:
		return -1 << 15, 1<<15 - 1, true
	case Uint16:
		return 0, 1<<16 - 1, true
	case Int32:
		return -1 << 31, 1<<31 - 1, true
	case Uint32:
		return 0, 1<<32 - 1, true
	case Int64:
		return -1 << 63, 1<<63 - 1, true
	case Uint64:
		return 0, 1<<63 - 1, true
	}
	return 0, 0, false
}

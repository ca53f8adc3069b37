// Package ir is fheir's SSA intermediate representation: typed tensors of
// integers (with bit width and signedness) or floats, an op table that the
// printer, parser, verifier and interpreter all read, and a clear interpreter
// that defines the meaning of every op.
//
// A function is a straight-line list of values; every op produces exactly one
// value. Example printed form:
//
//	func main(v0: enc<1x12xf64>) {
//	  v1 = quantize <enc<1x12xi4>> v0 {scale=[0.25], zero_point=[0], axis=-1, qmin=-8, qmax=7}
//	  v2 = const <tensor<30x12xi3>> [...]
//	  v3 = gemm <enc<1x30xi10>> v1 v2 {trans_b=1}  ; range=[-300,280] loc="Gemm_3"
//	  return v3
//	}
package ir

import (
	"fmt"
	"strconv"
	"strings"
)

// Elem is a tensor element type: a signed or unsigned integer of 1..64 bits,
// or a float (f32 or f64). Example printed forms: i9, u4, f64.
type Elem struct {
	Float  bool  // f32/f64 when set; Signed is then ignored
	Signed bool  // iN when set, uN otherwise
	Bits   uint8 // 1..64 for integers, 32 or 64 for floats
}

// Common element types.
var (
	F64 = Elem{Float: true, Bits: 64}
	F32 = Elem{Float: true, Bits: 32}
)

// Int returns the signed integer element type of the given width.
func Int(bits int) Elem { return Elem{Signed: true, Bits: uint8(bits)} }

// Uint returns the unsigned integer element type of the given width.
func Uint(bits int) Elem { return Elem{Bits: uint8(bits)} }

// String returns the printed form of e, such as "i9", "u4" or "f64".
func (e Elem) String() string {
	switch {
	case e.Float:
		return "f" + strconv.Itoa(int(e.Bits))
	case e.Signed:
		return "i" + strconv.Itoa(int(e.Bits))
	default:
		return "u" + strconv.Itoa(int(e.Bits))
	}
}

// Min returns the smallest value an integer element type holds.
func (e Elem) Min() int64 {
	if e.Float || !e.Signed {
		return 0
	}
	if e.Bits >= 64 {
		return -1 << 63
	}
	return -(int64(1) << (e.Bits - 1))
}

// Max returns the largest value an integer element type holds.
func (e Elem) Max() int64 {
	switch {
	case e.Float:
		return 0
	case e.Signed && e.Bits >= 64, !e.Signed && e.Bits >= 63:
		return 1<<63 - 1
	case e.Signed:
		return int64(1)<<(e.Bits-1) - 1
	default:
		return int64(1)<<e.Bits - 1
	}
}

// Range returns the value range of an integer element type.
func (e Elem) Range() Range { return Range{e.Min(), e.Max()} }

// Type is the type of a value: an element type, a static shape and a secrecy
// qualifier. Encrypted values print as enc<...>, clear ones as tensor<...>.
// A scalar has an empty shape. Example printed forms: enc<1x30xi9>,
// tensor<30x12xi3>, tensor<f64>.
type Type struct {
	Elem   Elem
	Shape  []int
	Secret bool
}

// TensorOf returns a clear tensor type.
func TensorOf(e Elem, shape ...int) Type { return Type{Elem: e, Shape: shape} }

// EncOf returns an encrypted tensor type.
func EncOf(e Elem, shape ...int) Type { return Type{Elem: e, Shape: shape, Secret: true} }

// Size returns the number of elements of t.
func (t Type) Size() int { return ShapeSize(t.Shape) }

// WithElem returns t with another element type (the shape is shared).
func (t Type) WithElem(e Elem) Type { t.Elem = e; return t }

// WithShape returns t with another shape.
func (t Type) WithShape(s []int) Type { t.Shape = s; return t }

// Equal reports whether two types are identical.
func (t Type) Equal(u Type) bool {
	return t.Elem == u.Elem && t.Secret == u.Secret && SameShape(t.Shape, u.Shape)
}

// String returns the printed form of t.
func (t Type) String() string {
	var b strings.Builder
	if t.Secret {
		b.WriteString("enc<")
	} else {
		b.WriteString("tensor<")
	}
	for _, d := range t.Shape {
		b.WriteString(strconv.Itoa(d))
		b.WriteByte('x')
	}
	b.WriteString(t.Elem.String())
	b.WriteByte('>')
	return b.String()
}

// ShapeSize returns the product of the dimensions (1 for a scalar).
func ShapeSize(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// SameShape reports whether two shapes are equal.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ParseElem parses an element type such as "i9", "u4" or "f32".
func ParseElem(s string) (Elem, error) {
	if len(s) < 2 {
		return Elem{}, fmt.Errorf("bad element type %q", s)
	}
	n, err := strconv.Atoi(s[1:])
	if err != nil || n < 1 || n > 64 {
		return Elem{}, fmt.Errorf("bad element type %q: width must be 1..64", s)
	}
	switch s[0] {
	case 'i':
		return Int(n), nil
	case 'u':
		return Uint(n), nil
	case 'f':
		if n != 32 && n != 64 {
			return Elem{}, fmt.Errorf("bad element type %q: floats are f32 or f64", s)
		}
		return Elem{Float: true, Bits: uint8(n)}, nil
	}
	return Elem{}, fmt.Errorf("bad element type %q", s)
}

// ParseType parses a printed type such as "enc<1x30xi9>".
func ParseType(s string) (Type, error) {
	var t Type
	switch {
	case strings.HasPrefix(s, "enc<"):
		t.Secret = true
		s = s[len("enc<"):]
	case strings.HasPrefix(s, "tensor<"):
		s = s[len("tensor<"):]
	default:
		return t, fmt.Errorf("bad type %q: want enc<...> or tensor<...>", s)
	}
	if !strings.HasSuffix(s, ">") {
		return t, fmt.Errorf("bad type: missing '>'")
	}
	parts := strings.Split(s[:len(s)-1], "x")
	for _, p := range parts[:len(parts)-1] {
		d, err := strconv.Atoi(p)
		if err != nil || d < 0 {
			return t, fmt.Errorf("bad dimension %q", p)
		}
		t.Shape = append(t.Shape, d)
	}
	e, err := ParseElem(parts[len(parts)-1])
	if err != nil {
		return t, err
	}
	t.Elem = e
	if t.Shape == nil {
		t.Shape = []int{}
	}
	return t, nil
}

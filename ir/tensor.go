package ir

import "fmt"

// Tensor is a dense row-major tensor of int64 or float64 values: the runtime
// value of the interpreter and the payload of constants.
type Tensor struct {
	Shape []int
	Float bool
	I     []int64   // used when !Float
	F     []float64 // used when Float
}

// NewInts returns an integer tensor; data is used as is, or allocated when nil.
func NewInts(shape []int, data []int64) *Tensor {
	if data == nil {
		data = make([]int64, ShapeSize(shape))
	}
	return &Tensor{Shape: append([]int{}, shape...), I: data}
}

// NewFloats returns a float tensor; data is used as is, or allocated when nil.
func NewFloats(shape []int, data []float64) *Tensor {
	if data == nil {
		data = make([]float64, ShapeSize(shape))
	}
	return &Tensor{Shape: append([]int{}, shape...), Float: true, F: data}
}

// Len returns the number of elements.
func (t *Tensor) Len() int {
	if t.Float {
		return len(t.F)
	}
	return len(t.I)
}

// At returns element i as a float64.
func (t *Tensor) At(i int) float64 {
	if t.Float {
		return t.F[i]
	}
	return float64(t.I[i])
}

// Int returns element i as an int64 (floats are truncated).
func (t *Tensor) Int(i int) int64 {
	if t.Float {
		return int64(t.F[i])
	}
	return t.I[i]
}

// Floats returns the elements as float64 (a copy for integer tensors).
func (t *Tensor) Floats() []float64 {
	if t.Float {
		return t.F
	}
	f := make([]float64, len(t.I))
	for i, v := range t.I {
		f[i] = float64(v)
	}
	return f
}

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	c := &Tensor{Shape: append([]int{}, t.Shape...), Float: t.Float}
	if t.Float {
		c.F = append([]float64{}, t.F...)
	} else {
		c.I = append([]int64{}, t.I...)
	}
	return c
}

// Equal reports whether two tensors have the same shape, kind and elements.
func (t *Tensor) Equal(u *Tensor) bool {
	if t.Float != u.Float || !SameShape(t.Shape, u.Shape) {
		return false
	}
	if t.Float {
		for i := range t.F {
			if t.F[i] != u.F[i] && !(t.F[i] != t.F[i] && u.F[i] != u.F[i]) {
				return false
			}
		}
		return true
	}
	for i := range t.I {
		if t.I[i] != u.I[i] {
			return false
		}
	}
	return true
}

// Strides returns the row-major strides of a shape.
func Strides(shape []int) []int {
	s := make([]int, len(shape))
	n := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = n
		n *= shape[i]
	}
	return s
}

// BroadcastShapes returns the numpy broadcast of shapes, or an error.
func BroadcastShapes(shapes ...[]int) ([]int, error) {
	r := 0
	for _, s := range shapes {
		r = max(r, len(s))
	}
	out := make([]int, r)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		for i, d := range s {
			j := r - len(s) + i
			switch {
			case out[j] == d || d == 1:
			case out[j] == 1:
				out[j] = d
			default:
				return nil, fmt.Errorf("shapes %v do not broadcast", shapes)
			}
		}
	}
	return out, nil
}

// broadcastIndex maps every flat index of shape out to a flat index of shape
// in (which broadcasts to out).
func broadcastIndex(in, out []int) []int {
	n := ShapeSize(out)
	idx := make([]int, n)
	is := Strides(in)
	off := len(out) - len(in)
	coord := make([]int, len(out))
	for k := 0; k < n; k++ {
		j := 0
		for d := range in {
			if in[d] != 1 {
				j += coord[d+off] * is[d]
			}
		}
		idx[k] = j
		for d := len(out) - 1; d >= 0; d-- {
			coord[d]++
			if coord[d] < out[d] {
				break
			}
			coord[d] = 0
		}
	}
	return idx
}

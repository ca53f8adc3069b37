package ir

import (
	"math"
	"math/bits"
)

// Range is a closed integer interval [Lo, Hi], the fact that the narrow pass
// computes for every integer value. Example printed form: range=[-384,381].
type Range struct{ Lo, Hi int64 }

// Union returns the smallest range containing r and s.
func (r Range) Union(s Range) Range { return Range{min(r.Lo, s.Lo), max(r.Hi, s.Hi)} }

// Intersect returns the intersection of r and s (possibly empty: Lo > Hi).
func (r Range) Intersect(s Range) Range { return Range{max(r.Lo, s.Lo), min(r.Hi, s.Hi)} }

// Contains reports whether x is in r.
func (r Range) Contains(x int64) bool { return r.Lo <= x && x <= r.Hi }

// Add returns the range of x+y for x in r and y in s (saturating).
func (r Range) Add(s Range) Range { return Range{satAdd(r.Lo, s.Lo), satAdd(r.Hi, s.Hi)} }

// Neg returns the range of -x.
func (r Range) Neg() Range { return Range{satNeg(r.Hi), satNeg(r.Lo)} }

// Scale returns the range of w*x for a constant w (saturating).
func (r Range) Scale(w int64) Range {
	a, b := satMul(r.Lo, w), satMul(r.Hi, w)
	return Range{min(a, b), max(a, b)}
}

// Mul returns the range of x*y for x in r and y in s.
func (r Range) Mul(s Range) Range {
	c := [4]int64{satMul(r.Lo, s.Lo), satMul(r.Lo, s.Hi), satMul(r.Hi, s.Lo), satMul(r.Hi, s.Hi)}
	return Range{min(c[0], c[1], c[2], c[3]), max(c[0], c[1], c[2], c[3])}
}

// Signed reports whether the range holds a negative value.
func (r Range) Signed() bool { return r.Lo < 0 }

// Bits returns the minimal width of an integer type holding r: signed when
// r.Lo < 0, unsigned otherwise, and at least 1.
func (r Range) Bits() int {
	if r.Lo >= 0 {
		return max(1, bits.Len64(uint64(r.Hi)))
	}
	// Signed: need b with -2^(b-1) <= Lo and Hi <= 2^(b-1)-1.
	n := bits.Len64(uint64(^r.Lo)) // magnitude bits of Lo (two's complement)
	if r.Hi > 0 {
		n = max(n, bits.Len64(uint64(r.Hi)))
	}
	return n + 1
}

// Elem returns the minimal integer element type holding r.
func (r Range) Elem() Elem {
	if r.Lo < 0 {
		return Int(r.Bits())
	}
	return Uint(r.Bits())
}

func satAdd(a, b int64) int64 {
	s := a + b
	if (a > 0 && b > 0 && s < 0) || (a < 0 && b < 0 && s >= 0) {
		if a > 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return s
}

func satNeg(a int64) int64 {
	if a == math.MinInt64 {
		return math.MaxInt64
	}
	return -a
}

func satMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(abs64(a)), uint64(abs64(b)))
	neg := (a < 0) != (b < 0)
	if hi != 0 || lo > math.MaxInt64 {
		if neg {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	if neg {
		return -int64(lo)
	}
	return int64(lo)
}

func abs64(a int64) int64 {
	if a < 0 {
		if a == math.MinInt64 {
			return math.MaxInt64
		}
		return -a
	}
	return a
}

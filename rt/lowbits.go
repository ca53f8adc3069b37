package rt

import "math/bits"

// maxZeroBits caps known trailing zero bits (the count for the constant 0).
const maxZeroBits = 62

// trailingZeros returns the number of low zero bits of x, maxZeroBits for 0.
func trailingZeros(x int64) int {
	if x == 0 {
		return maxZeroBits
	}
	return min(bits.TrailingZeros64(uint64(x)), maxZeroBits)
}

// KnownZeroBits returns, per value of c, the number z of low bits that are
// zero in every element the circuit can compute: every element is a
// multiple of 2^z (maxZeroBits, 62, for a value that is always 0). Inputs
// have 0. A Linear row's sum has at least the fewest zeros among its bias
// and its terms, a term w·x having tz(w) + z(x); a lookup's output has the
// fewest zeros among its table entries. The analysis holds for any input
// values, whatever the ranges.
func (c *Circuit) KnownZeroBits() []int {
	z := make([]int, len(c.Values))
	for k := range c.Ops {
		op := &c.Ops[k]
		switch op.Kind {
		case OpLinear:
			source := c.sources(op)
			src := func(s int32) ValueID {
				i, _ := source(int(s))
				return op.In[i]
			}
			zo := maxZeroBits
			for j := 0; j+1 < len(op.RowPtr) && zo > 0; j++ {
				if op.Bias != nil {
					zo = min(zo, trailingZeros(op.Bias[j]))
				}
				for t := op.RowPtr[j]; t < op.RowPtr[j+1] && zo > 0; t++ {
					if w := op.W[t]; w != 0 {
						zo = min(zo, trailingZeros(w)+z[src(op.Src[t])])
					}
				}
			}
			z[op.Out] = zo
		case OpTLU:
			// Every entry, not only those the input's range reaches:
			// tables are built over that range anyway, and a lookup whose
			// read is off (noise, calibrated ranges) still returns an
			// entry with the zeros the next exact rounding relies on.
			zo := maxZeroBits
			for _, t := range op.Tables {
				for _, e := range t {
					zo = min(zo, trailingZeros(e))
				}
			}
			z[op.Out] = zo
		default:
			panic("BUG: unknown op kind in KnownZeroBits")
		}
	}
	return z
}

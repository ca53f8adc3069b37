package tfhe

import "math/bits"

// encodeQ returns round(m · Q / 2^(msgBits+1)) modulo Q for a signed m.
func encodeQ(m int64, q uint64, msgBits int) uint64 {
	neg := m < 0
	a := uint64(m)
	if neg {
		a = uint64(-m)
	}
	hi, lo := bits.Mul64(a, q)
	s := uint(msgBits + 1)
	// round((hi:lo) / 2^s)
	lo, c := bits.Add64(lo, uint64(1)<<(s-1), 0)
	hi += c
	v := lo>>s | hi<<(64-s)
	v %= q
	if neg && v != 0 {
		v = q - v
	}
	return v
}

// NewLUT builds the test polynomial of the table f applied to
// v = round(m / 2^dropBits) for the signed MsgBits-wide input m, that is
// v in [-2^(p-1), 2^(p-1)) with p = MsgBits - dropBits. f's results must fit
// the signed MsgBits encoding. Errors (CodeBadArgument) when p exceeds
// PBSBits, dropBits is out of range, or a table value does not fit.
// The rounding is approximate: inputs within the noise of a rounding
// boundary may read the neighbouring entry (off by one step of v).
func (p Params) NewLUT(f func(v int64) int64, dropBits int) (*LUT, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	prec := p.MsgBits - dropBits
	if dropBits < 0 || prec < 1 {
		return nil, errorf(CodeBadArgument, "lookup drops %d of %d bits", dropBits, p.MsgBits)
	}
	if prec > p.PBSBits {
		return nil, errorf(CodeBadArgument, "lookup on %d bits (MsgBits %d - dropBits %d), parameter set %s resolves %d bits", prec, p.MsgBits, dropBits, p.Name, p.PBSBits)
	}
	N := p.PolyDegree
	box := N >> prec // phase units (of 1/2N) per step of v
	if box < 1 {
		return nil, errorf(CodeBadArgument, "lookup on %d bits needs N >= 2^%d, have N=%d", prec, prec, N)
	}
	lo, hi := -(int64(1) << (p.MsgBits - 1)), int64(1)<<(p.MsgBits-1)
	half := int64(1) << (prec - 1)
	vals := make([]uint64, 1<<prec)
	for v := -half; v < half; v++ {
		y := f(v)
		if y < lo || y >= hi {
			return nil, errorf(CodeBadArgument, "table value f(%d) = %d does not fit %d signed bits", v, y, p.MsgBits)
		}
		vals[v+half] = encodeQ(y, p.Q, p.MsgBits)
	}
	tv := make([]uint64, N)
	for j := 0; j < N; j++ {
		v := int64((j + box/2) / box) // round half up; v in [0, 2^prec]
		var x uint64
		if v < half {
			x = vals[v+half]
		} else {
			// phase j - N, i.e. v - 2^prec: negacyclic, store the negation
			x = vals[v-2*half+half]
			if x != 0 {
				x = p.Q - x
			}
		}
		tv[j] = x
	}
	return &LUT{fp: p.Fingerprint(), dropBits: dropBits, tv: tv}, nil
}

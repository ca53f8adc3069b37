package tfhe

import "math"

// Exact rounding. To read v = round(m / 2^k) exactly, the evaluator first
// removes the k low bits of m2 = m + 2^(k-1) one at a time, from the least
// significant up:
//
//	for i in 0..k-1:
//	    t   = 2^(MsgBits-i) · run           bit i of run now sits on the padding bit
//	    out = PBS(t + 1/4, constant 2^i·Δ/2) = ±2^i·Δ/2, minus iff bit i is 1
//	    run = run + out - 2^i·Δ/2           = run - bit_i·2^i
//
// after which run = v·2^k exactly, so the final lookup (dropBits k) reads
// its input at the centre of a box. Each extraction tolerates an error of
// 1/4 of the torus, but multiplies the input noise by 2^(MsgBits-i): exact
// rounding needs inputs that are correct to the last bit of MsgBits with
// margin, which the noise model checks (PFailExact).

// NewLUTExact builds a lookup that drops dropBits LSBs exactly (round half
// up, no off-by-one near rounding boundaries) at the price of dropBits
// extra bootstraps per lookup. Use PFailExact / Requirements.ExactDropBits
// for its failure probability.
func (p Params) NewLUTExact(f func(v int64) int64, dropBits int) (*LUT, error) {
	return p.NewLUTExactZeros(f, dropBits, 0)
}

// NewLUTExactZeros is NewLUTExact for inputs whose zeroBits low message
// bits are known to be zero (the caller guarantees it; noise aside): bits
// that are always zero need no extraction, so the lookup costs
// dropBits − min(zeroBits, dropBits) extra bootstraps instead of dropBits,
// and reads exactly what NewLUTExact's would (the half-up bias 2^(dropBits-1)
// sits above the zero bits; when all dropped bits are zero the input is
// already at the centre of its box and gets no bias). PFailExactZeros is
// its failure probability.
func (p Params) NewLUTExactZeros(f func(v int64) int64, dropBits, zeroBits int) (*LUT, error) {
	if zeroBits < 0 {
		return nil, errorf(CodeBadArgument, "exact lookup: %d known zero bits", zeroBits)
	}
	lut, err := p.NewLUT(f, dropBits)
	if err != nil {
		return nil, err
	}
	lut.exact = true
	lut.zeroBits = min(zeroBits, dropBits)
	N := p.PolyDegree
	for i := 0; i < dropBits; i++ {
		if i < lut.zeroBits {
			lut.bit = append(lut.bit, nil) // never extracted
			continue
		}
		// constant 2^i·Δ/2 = 2^(i-MsgBits-2) of the torus, in the Q scale
		c := encodeQ(int64(1)<<i, p.Q, p.MsgBits+1)
		tv := make([]uint64, N)
		for j := range tv {
			tv[j] = c
		}
		lut.bit = append(lut.bit, tv)
	}
	return lut, nil
}

// Exact reports whether the LUT rounds exactly (NewLUTExact).
func (l *LUT) Exact() bool { return l.exact }

// Extractions returns the number of bit extractions (extra bootstraps) an
// exact LUT runs per lookup: DropBits minus the known zero bits (0 for an
// approximate LUT).
func (l *LUT) Extractions() int {
	if !l.exact {
		return 0
	}
	return l.dropBits - l.zeroBits
}

// bootstrapExact removes the low lut.dropBits bits of ct (after adding
// the half-up bias) and bootstraps the result with lut.tv.
func (ev *Evaluator) bootstrapExact(dst, ct *Ciphertext, lut *LUT) {
	p := &ev.params
	if ev.run == nil {
		ev.run, ev.tmp = ev.NewCiphertext(), ev.NewCiphertext()
	}
	run, tmp := ev.run.c, ev.tmp.c
	copy(run, ct.c)
	M := p.MsgBits
	k := lut.dropBits
	body := len(run) - 1
	// Bits below lut.zeroBits are zero in ct and in the bias: their
	// extraction would give 0 and leave run unchanged.
	if lut.zeroBits < k {
		run[body] += (uint64(1) << (k - 1)) << (63 - M) // + 2^(k-1)·Δ
	}
	for i := lut.zeroBits; i < k; i++ {
		sh := uint(M - i)
		for j := range tmp {
			tmp[j] = run[j] << sh
		}
		tmp[body] += 1 << 62 // centre the two halves of the torus
		ev.keySwitch(ev.small, tmp)
		bt := ev.modSwitch(ev.abar, ev.small)
		ev.blindRotate(bt, lut.bit[i])
		ev.sampleExtract(tmp)
		for j := range run {
			run[j] += tmp[j]
		}
		run[body] -= uint64(1) << (uint(i) + 62 - uint(M)) // 2^i·Δ/2
	}
	ev.keySwitch(ev.small, run)
	bt := ev.modSwitch(ev.abar, ev.small)
	ev.blindRotate(bt, lut.tv)
	ev.sampleExtract(dst.c)
}

// CostExact estimates the seconds of one lookup built by NewLUTExact
// dropping dropBits bits: dropBits bit extractions plus the lookup (with
// NewLUTExactZeros: CostExact(dropBits − zeroBits)).
func (p Params) CostExact(dropBits int) float64 { return float64(dropBits+1) * p.Cost() }

// PFailExact is the failure probability of a lookup built by NewLUTExact
// dropping dropBits bits, reading a weighted sum of 2-norm norm2: the
// union bound over the bit extractions and the final lookup.
func (p Params) PFailExact(norm2 float64, dropBits int) float64 {
	return p.PFailExactZeros(norm2, dropBits, 0)
}

// PFailExactZeros is PFailExact for a lookup built by NewLUTExactZeros
// with zeroBits known zero bits: only the extractions of bits zeroBits to
// dropBits−1 can fail (and add noise).
func (p Params) PFailExactZeros(norm2 float64, dropBits, zeroBits int) float64 {
	n2 := math.Max(norm2, 1)
	vIn := n2 * n2 * math.Max(p.VarBootstrap(), p.VarFresh())
	vBR := p.VarBootstrap()
	after := p.VarKeySwitch() + p.VarModSwitch()
	z := max(min(zeroBits, dropBits), 0)
	total := 0.0
	for i := z; i < dropBits; i++ {
		scale := math.Ldexp(1, 2*(p.MsgBits-i))
		v := scale*(vIn+float64(i-z)*vBR) + after
		total += math.Erfc(0.25 / math.Sqrt(2*v))
	}
	// final lookup at box centres of the p-bit table
	prec := max(p.MsgBits-dropBits, 1)
	v := vIn + float64(dropBits-z)*vBR + after
	total += math.Erfc(math.Ldexp(1, -(prec+2)) / math.Sqrt(2*v))
	return math.Min(total, 1)
}

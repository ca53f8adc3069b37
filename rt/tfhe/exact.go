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
	lut, err := p.NewLUT(f, dropBits)
	if err != nil {
		return nil, err
	}
	lut.exact = true
	N := p.PolyDegree
	for i := 0; i < dropBits; i++ {
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
	run[body] += (uint64(1) << (k - 1)) << (63 - M) // + 2^(k-1)·Δ
	for i := 0; i < k; i++ {
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
// dropping dropBits bits: dropBits bit extractions plus the lookup.
func (p Params) CostExact(dropBits int) float64 { return float64(dropBits+1) * p.Cost() }

// PFailExact is the failure probability of a lookup built by NewLUTExact
// dropping dropBits bits, reading a weighted sum of 2-norm norm2: the
// union bound over the bit extractions and the final lookup.
func (p Params) PFailExact(norm2 float64, dropBits int) float64 {
	n2 := math.Max(norm2, 1)
	vIn := n2 * n2 * math.Max(p.VarBootstrap(), p.VarFresh())
	vBR := p.VarBootstrap()
	after := p.VarKeySwitch() + p.VarModSwitch()
	total := 0.0
	for i := 0; i < dropBits; i++ {
		scale := math.Ldexp(1, 2*(p.MsgBits-i))
		v := scale*(vIn+float64(i)*vBR) + after
		total += math.Erfc(0.25 / math.Sqrt(2*v))
	}
	// final lookup at box centres of the p-bit table
	prec := max(p.MsgBits-dropBits, 1)
	v := vIn + float64(dropBits)*vBR + after
	total += math.Erfc(math.Ldexp(1, -(prec+2)) / math.Sqrt(2*v))
	return math.Min(total, 1)
}

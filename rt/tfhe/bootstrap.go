package tfhe

import "math/bits"

// Bootstrap sets dst to an encryption of lut's table applied to ct's
// value: key switch, modulus switch, blind rotation, sample extraction.
// dst may alias ct. ct and lut must belong to ev's Params (checked via
// fingerprints; a mismatch panics with "BUG:" because the runtime must
// not mix sets).
func (ev *Evaluator) Bootstrap(dst, ct *Ciphertext, lut *LUT) {
	ev.check(dst, ct)
	dirty(dst)
	if lut == nil {
		panic("BUG: tfhe: nil LUT")
	}
	if lut.fp != ev.fp {
		panic("BUG: tfhe: LUT of another parameter set")
	}
	if lut.exact && lut.dropBits > 0 {
		ev.bootstrapExact(dst, ct, lut)
		return
	}
	ev.keySwitch(ev.small, ct.c)
	bt := ev.modSwitch(ev.abar, ev.small)
	ev.blindRotate(bt, lut.tv)
	ev.sampleExtract(dst.c)
}

// keySwitch sets out (n+1, modulo 2^32) to the key switch of c (k·N+1,
// modulo 2^64) to the small key.
func (ev *Evaluator) keySwitch(out []uint32, c []uint64) {
	p := &ev.params
	n, lks, b := p.LWEDim, p.KSLevels, uint(p.KSBaseLog)
	bl := b * uint(lks)
	ksk := ev.ek.ksk
	clear(out)
	dim := len(c) - 1
	out = out[:n+1]
	out[n] = uint32((c[dim] + 1<<31) >> 32)
	roundBit := uint64(1) << (63 - bl)
	mask := uint32(1)<<b - 1
	for i := 0; i < dim; i++ {
		val := uint32((c[i] + roundBit) >> (64 - bl))
		// signed digits, least significant first (level lks-1 .. 0)
		for j := lks - 1; j >= 0; j-- {
			d := val & mask
			val >>= b
			neg := -(d >> (b - 1))
			val -= neg          // carry when the digit is negative
			d -= neg & (1 << b) // two's complement negative digit
			if d == 0 {
				continue
			}
			row := ksk[(i*lks+j)*(n+1) : (i*lks+j+1)*(n+1)]
			row = row[:len(out)]
			for t := range out {
				out[t] -= d * row[t]
			}
		}
	}
}

// modSwitch rounds the small LWE c (n+1, modulo 2^32) to Z_2N: abar gets
// the mask, the body is returned.
func (ev *Evaluator) modSwitch(abar []uint64, c []uint32) uint64 {
	logTwoN := uint(bits.TrailingZeros(uint(2 * ev.params.PolyDegree)))
	sh := 32 - logTwoN
	half := uint32(1) << (sh - 1)
	mask := uint32(2*ev.params.PolyDegree - 1)
	n := len(abar)
	for i := 0; i < n; i++ {
		abar[i] = uint64(((c[i] + half) >> sh) & mask)
	}
	return uint64(((c[n] + half) >> sh) & mask)
}

// rotate sets out = X^e·in (negacyclic), e in [0, 2N), modulo Q.
func rotate(out, in []uint64, e int, q uint64) {
	N := len(in)
	neg := false
	if e >= N {
		e -= N
		neg = true
	}
	// out[t+e] = ±in[t] for t+e < N; out[t+e-N] = ∓in[t] otherwise.
	for t := 0; t < N-e; t++ {
		v := in[t]
		if neg && v != 0 {
			v = q - v
		}
		out[t+e] = v
	}
	for t := N - e; t < N; t++ {
		v := in[t]
		if !neg && v != 0 {
			v = q - v
		}
		out[t+e-N] = v
	}
}

// blindRotate sets ev.acc to X^{-(bt - Σ abar_i s_i)}·tv.
func (ev *Evaluator) blindRotate(bt uint64, tv []uint64) {
	ev.blindRotateSteps(bt, tv, 0, ev.params.LWEDim/ev.params.GroupSize)
}

// blindRotateSteps runs the blind rotation steps [from, to) only (the
// benchmarks time one step, i.e. one external product).
func (ev *Evaluator) blindRotateSteps(bt uint64, tv []uint64, from, to int) {
	p := &ev.params
	rq := ev.r
	N, k, l, g := p.PolyDegree, p.GLWEDim, p.PBSLevels, p.GroupSize
	k1 := k + 1
	Q := rq.Q
	twoN := uint64(2 * N)
	for r := 0; r < k; r++ {
		clear(ev.acc[r])
	}
	rotate(ev.acc[k], tv, int((twoN-bt)%twoN), Q)
	combos := 1<<g - 1
	stepLen := combos * k1 * l * k1 * N
	bsk := ev.ek.bsk
	var es [16]uint64
	for step := from; step < to; step++ {
		allZero := true
		for c := 1; c <= combos; c++ {
			var e uint64
			for t := 0; t < g; t++ {
				if c>>t&1 == 1 {
					e += ev.abar[step*g+t]
				}
			}
			e %= twoN
			es[c-1] = e
			if e != 0 {
				allZero = false
			}
		}
		if allZero {
			continue // X^0 - 1 = 0: the accumulator is unchanged
		}
		ev.decompose()
		for row := range ev.dig {
			rq.nttLazy(ev.dig[row], ev.dig[row]) // [0, 2Q): mulGGSW accepts it
		}
		for c := 0; c < combos; c++ {
			ev.twiddle(ev.tw[c], es[c])
		}
		keys := bsk[step*stepLen : (step+1)*stepLen]
		ev.mulGGSW(keys)
		for col := 0; col < k1; col++ {
			rq.inttLazy(ev.prod[col], ev.prod[col])
			a := ev.acc[col]
			pr := ev.prod[col][:len(a)]
			for t := range a {
				v := a[t] + pr[t] // < 3Q
				if v >= Q {
					v -= Q
				}
				if v >= Q {
					v -= Q
				}
				a[t] = v
			}
		}
	}
}

// twiddle sets tw = NTT(X^e - 1) in Montgomery form, values in [0, 2Q).
func (ev *Evaluator) twiddle(tw []uint64, e uint64) {
	rq := ev.r
	mask := uint64(2*rq.N - 1)
	one := rq.Q - rq.one
	expo := rq.expo[:len(tw)]
	pow := rq.powM
	for t := range tw {
		tw[t] = pow[(uint64(expo[t])*e)&mask] + one
	}
}

// mulGGSW sets ev.prod[col] = Σ_row dig[row] ⊙ Σ_c tw_c ⊙ G_c[row][col]
// (NTT domain, reduced modulo Q).
func (ev *Evaluator) mulGGSW(keys []uint64) {
	rq := ev.r
	Q, qInv := rq.Q, rq.qInv
	N := rq.N
	k1 := len(ev.prod)
	rows := len(ev.dig)
	combos := len(ev.tw)
	for col := 0; col < k1; col++ {
		clear(ev.prod[col])
	}
	if (combos == 1 || combos == 3 || combos == 7) && rows <= 6 {
		// one 128-bit accumulator per coefficient over the rows, reduced once
		for col := 0; col < k1; col++ {
			hi, lo := ev.accHi[:N], ev.accLo[:N]
			clear(hi)
			clear(lo)
			for row := 0; row < rows; row++ {
				switch combos {
				case 1:
					ev.mulRow1(hi, lo, ev.dig[row][:N], keys, row, col, rows, k1)
				case 3:
					ev.mulRow3(hi, lo, ev.dig[row][:N], keys, row, col, rows, k1)
				default:
					ev.mulRow7(hi, lo, ev.dig[row][:N], keys, row, col, rows, k1)
				}
			}
			out := ev.prod[col][:N]
			for t := range out {
				H, _ := bits.Mul64(lo[t]*qInv, Q)
				v := hi[t] - H + Q
				if v >= Q {
					v -= Q
				}
				out[t] = v
			}
		}
		return
	}
	gsum := ev.gsum
	for row := 0; row < rows; row++ {
		d := ev.dig[row][:N]
		for col := 0; col < k1; col++ {
			out := ev.prod[col][:N]
			clear(gsum)
			for c := 0; c < combos; c++ {
				gc := keys[((c*rows+row)*k1+col)*N:][:N]
				tc := ev.tw[c][:N]
				for t := 0; t < N; t++ {
					gsum[t] += mredLazy(tc[t], gc[t], Q, qInv)
				}
			}
			for t := 0; t < N; t++ {
				out[t] += mredLazy(d[t], rq.bred(gsum[t]), Q, qInv)
			}
		}
	}
	for col := 0; col < k1; col++ {
		out := ev.prod[col]
		for t := range out {
			out[t] = rq.bred(out[t])
		}
	}
}

// mulRow3 adds to the 128-bit accumulators (hi, lo) the product of the
// digit polynomial d (values in [0, 2Q)) with the assembled GGSW' entry
// (row, col) = Σ_c tw_c ⊙ G_c[row][col] for three combinations (GroupSize
// 2). The three twiddle products are summed as 128-bit integers and reduced
// once (Montgomery, lazy: 3·2Q·Q < 2^64·Q); the digit products are
// accumulated unreduced (rows·2Q·2Q < 2^64·Q for rows <= 6 and Q < 2^58).
func (ev *Evaluator) mulRow3(accHi, accLo, d, keys []uint64, row, col, rows, k1 int) {
	Q, qInv := ev.r.Q, ev.r.qInv
	N := len(d)
	accHi, accLo = accHi[:N], accLo[:N]
	g0 := keys[((0*rows+row)*k1+col)*N:][:N]
	g1 := keys[((1*rows+row)*k1+col)*N:][:N]
	g2 := keys[((2*rows+row)*k1+col)*N:][:N]
	t0, t1, t2 := ev.tw[0][:N], ev.tw[1][:N], ev.tw[2][:N]
	for t := 0; t < N; t++ {
		h0, l0 := bits.Mul64(t0[t], g0[t])
		h1, l1 := bits.Mul64(t1[t], g1[t])
		h2, l2 := bits.Mul64(t2[t], g2[t])
		lo, c := bits.Add64(l0, l1, 0)
		hi := h0 + h1 + c
		lo, c = bits.Add64(lo, l2, 0)
		hi += h2 + c
		H, _ := bits.Mul64(lo*qInv, Q)
		s := hi - H + Q // in [0, 2Q)
		ph, pl := bits.Mul64(d[t], s)
		accLo[t], c = bits.Add64(accLo[t], pl, 0)
		accHi[t] += ph + c
	}
}

// mulRow1 is mulRow3 for one combination (GroupSize 1).
func (ev *Evaluator) mulRow1(accHi, accLo, d, keys []uint64, row, col, rows, k1 int) {
	Q, qInv := ev.r.Q, ev.r.qInv
	N := len(d)
	accHi, accLo = accHi[:N], accLo[:N]
	g0 := keys[(row*k1+col)*N:][:N]
	t0 := ev.tw[0][:N]
	for t := 0; t < N; t++ {
		s := mredLazy(t0[t], g0[t], Q, qInv) // [0, 2Q)
		ph, pl := bits.Mul64(d[t], s)
		var c uint64
		accLo[t], c = bits.Add64(accLo[t], pl, 0)
		accHi[t] += ph + c
	}
}

// mulRow7 is mulRow3 for seven combinations (GroupSize 3):
// 7·2Q·Q < 2^64·Q still holds for Q < 2^58.
func (ev *Evaluator) mulRow7(accHi, accLo, d, keys []uint64, row, col, rows, k1 int) {
	Q, qInv := ev.r.Q, ev.r.qInv
	N := len(d)
	accHi, accLo = accHi[:N], accLo[:N]
	key := func(c int) []uint64 { return keys[((c*rows+row)*k1+col)*N:][:N] }
	g0, g1, g2, g3, g4, g5, g6 := key(0), key(1), key(2), key(3), key(4), key(5), key(6)
	tw := ev.tw
	t0, t1, t2, t3, t4, t5, t6 := tw[0][:N], tw[1][:N], tw[2][:N], tw[3][:N], tw[4][:N], tw[5][:N], tw[6][:N]
	for t := 0; t < N; t++ {
		h, lo := bits.Mul64(t0[t], g0[t])
		var c uint64
		h1, l1 := bits.Mul64(t1[t], g1[t])
		lo, c = bits.Add64(lo, l1, 0)
		h += h1 + c
		h1, l1 = bits.Mul64(t2[t], g2[t])
		lo, c = bits.Add64(lo, l1, 0)
		h += h1 + c
		h1, l1 = bits.Mul64(t3[t], g3[t])
		lo, c = bits.Add64(lo, l1, 0)
		h += h1 + c
		h1, l1 = bits.Mul64(t4[t], g4[t])
		lo, c = bits.Add64(lo, l1, 0)
		h += h1 + c
		h1, l1 = bits.Mul64(t5[t], g5[t])
		lo, c = bits.Add64(lo, l1, 0)
		h += h1 + c
		h1, l1 = bits.Mul64(t6[t], g6[t])
		lo, c = bits.Add64(lo, l1, 0)
		h += h1 + c
		H, _ := bits.Mul64(lo*qInv, Q)
		s := h - H + Q // in [0, 2Q)
		ph, pl := bits.Mul64(d[t], s)
		accLo[t], c = bits.Add64(accLo[t], pl, 0)
		accHi[t] += ph + c
	}
}

// toTorus rescales x in [0, Q) to x·2^64/Q modulo 2^64.
func (ev *Evaluator) toTorus(x uint64) uint64 {
	hi, _ := bits.Mul64(x, ev.cFrac)
	return x*ev.cInt + hi
}

// decompose writes the signed gadget digits of ev.acc into ev.dig
// (coefficient domain, modulo Q).
func (ev *Evaluator) decompose() {
	p := &ev.params
	Q := ev.r.Q
	l, b := p.PBSLevels, uint(p.PBSBaseLog)
	bl := b * uint(l)
	roundBit := uint64(1) << (63 - bl)
	mask := uint64(1)<<b - 1
	cInt, cFrac := ev.cInt, ev.cFrac
	for r, a := range ev.acc {
		if l == 1 {
			out := ev.dig[r][:len(a)]
			sh := 64 - bl
			for t, x := range a {
				hi, _ := bits.Mul64(x, cFrac)
				y := x*cInt + hi + roundBit
				// signed digit of b bits: d - 2^b·[d >= 2^(b-1)], as a
				// residue modulo Q (branch-free).
				d := y >> sh
				neg := -(d >> (b - 1)) // all ones when the digit is negative
				out[t] = d + (neg & (Q - 1<<b))
			}
			continue
		}
		for t, x := range a {
			hi, _ := bits.Mul64(x, cFrac)
			val := (x*cInt + hi + roundBit) >> (64 - bl)
			for j := l - 1; j >= 0; j-- {
				d := val & mask
				val >>= b
				neg := -(d >> (b - 1))
				val -= neg // carry 1 when the digit is negative
				ev.dig[r*l+j][t] = d + (neg & (Q - 1<<b))
			}
		}
	}
}

// sampleExtract writes the constant coefficient of ev.acc as an LWE
// ciphertext under the big key, rescaled to 2^64.
func (ev *Evaluator) sampleExtract(out []uint64) {
	p := &ev.params
	N, k := p.PolyDegree, p.GLWEDim
	Q := ev.r.Q
	for r := 0; r < k; r++ {
		a := ev.acc[r]
		o := out[r*N : (r+1)*N]
		o[0] = ev.toTorus(a[0])
		for t := 1; t < N; t++ {
			v := a[N-t]
			if v != 0 {
				v = Q - v
			}
			o[t] = ev.toTorus(v)
		}
	}
	out[k*N] = ev.toTorus(ev.acc[k][0])
}

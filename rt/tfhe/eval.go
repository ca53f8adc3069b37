package tfhe

import "math/bits"

// NewEvaluator returns an evaluator for p using ek (which must be made for
// p, else a CodeParamsMismatch error).
func NewEvaluator(p Params, ek *EvalKey) (*Evaluator, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	if ek == nil {
		return nil, errorf(CodeBadArgument, "nil evaluation key")
	}
	if ek.params.Fingerprint() != p.Fingerprint() {
		return nil, errorf(CodeParamsMismatch, "evaluation key is for %s, want %s", ek.params, p)
	}
	if len(ek.bsk) != p.bskLen() || len(ek.ksk) != p.kskLen() {
		return nil, errorf(CodeCorruptData, "evaluation key has the wrong size for %s", p)
	}
	rq, err := newRingQ(p.PolyDegree, p.Q)
	if err != nil {
		return nil, err
	}
	N, k1, l := p.PolyDegree, p.GLWEDim+1, p.PBSLevels
	ev := &Evaluator{params: p, ek: ek, r: rq, fp: p.Fingerprint()}
	ev.small = make([]uint32, p.LWEDim+1)
	ev.abar = make([]uint64, p.LWEDim)
	ev.acc = make2(k1, N)
	ev.dig = make2(k1*l, N)
	ev.prod = make2(k1, N)
	ev.tw = make2(1<<p.GroupSize-1, N)
	ev.gsum = make([]uint64, N)
	ev.accHi = make([]uint64, N)
	ev.accLo = make([]uint64, N)
	// Q -> 2^64 rescaling constants: 2^64/Q = cInt + cFrac/2^64.
	ev.cInt, _ = bits.Div64(1, 0, p.Q)
	rem := -(ev.cInt * p.Q) // 2^64 mod Q
	ev.cFrac, _ = bits.Div64(rem, 0, p.Q)
	return ev, nil
}

func make2(a, b int) [][]uint64 {
	flat := make([]uint64, a*b)
	out := make([][]uint64, a)
	for i := range out {
		out[i] = flat[i*b : (i+1)*b]
	}
	return out
}

// NewCiphertext allocates a zero (trivial encryption of 0) ciphertext.
func (ev *Evaluator) NewCiphertext() *Ciphertext { return ev.params.NewCiphertext() }

// NewCiphertext allocates a zero (trivial encryption of 0) ciphertext.
func (p Params) NewCiphertext() *Ciphertext {
	return &Ciphertext{fp: p.Fingerprint(), c: make([]uint64, p.GLWEDim*p.PolyDegree+1)}
}

// CopyFrom sets ct to a copy of src.
func (ct *Ciphertext) CopyFrom(src *Ciphertext) {
	ct.fp, ct.seed = src.fp, src.seed
	if len(ct.c) != len(src.c) {
		ct.c = make([]uint64, len(src.c))
	}
	copy(ct.c, src.c)
}

// dirty marks ciphertexts that ev overwrites: their mask no longer comes
// from a seed.
func dirty(cts ...*Ciphertext) {
	for _, ct := range cts {
		ct.seed = nil
	}
}

func (ev *Evaluator) check(cts ...*Ciphertext) {
	d := ev.params.GLWEDim*ev.params.PolyDegree + 1
	for _, ct := range cts {
		if ct.fp != ev.fp || len(ct.c) != d {
			panic("BUG: tfhe: ciphertext of another parameter set")
		}
	}
}

// Trivial sets dst to a noiseless encryption of the constant m.
func (ev *Evaluator) Trivial(dst *Ciphertext, m int64) {
	ev.check(dst)
	dirty(dst)
	clear(dst.c)
	dst.c[len(dst.c)-1] = uint64(m) * ev.params.delta()
}

// WeightedSum sets dst = Σ w[i]·in[i] + bias (bias in plaintext units).
// dst must not alias any element of in. It does not allocate.
func (ev *Evaluator) WeightedSum(dst *Ciphertext, in []*Ciphertext, w []int64, bias int64) {
	if len(in) != len(w) {
		panic("BUG: tfhe: WeightedSum: len(in) != len(w)")
	}
	ev.check(dst)
	ev.check(in...)
	dirty(dst)
	weightedSum(dst.c, in, w)
	dst.c[len(dst.c)-1] += uint64(bias) * ev.params.delta()
}

// weightedSum sets d = Σ w[i]·in[i].c modulo 2^64, four inputs per pass
// over d (one load and store of d per four products).
func weightedSum(d []uint64, in []*Ciphertext, w []int64) {
	clear(d)
	var xs [4][]uint64
	var ws [4]uint64
	k := 0
	flush := func() {
		switch k {
		case 4:
			x0, x1, x2, x3 := xs[0][:len(d)], xs[1][:len(d)], xs[2][:len(d)], xs[3][:len(d)]
			w0, w1, w2, w3 := ws[0], ws[1], ws[2], ws[3]
			for j := range d {
				d[j] += w0*x0[j] + w1*x1[j] + w2*x2[j] + w3*x3[j]
			}
		case 3:
			x0, x1, x2 := xs[0][:len(d)], xs[1][:len(d)], xs[2][:len(d)]
			w0, w1, w2 := ws[0], ws[1], ws[2]
			for j := range d {
				d[j] += w0*x0[j] + w1*x1[j] + w2*x2[j]
			}
		case 2:
			x0, x1 := xs[0][:len(d)], xs[1][:len(d)]
			w0, w1 := ws[0], ws[1]
			for j := range d {
				d[j] += w0*x0[j] + w1*x1[j]
			}
		case 1:
			axpy(d, xs[0], ws[0])
		}
		k = 0
	}
	for i, ct := range in {
		if w[i] == 0 {
			continue
		}
		xs[k], ws[k] = ct.c, uint64(w[i])
		k++
		if k == 4 {
			flush()
		}
	}
	flush()
}

// axpy sets d += w·x modulo 2^64.
func axpy(d, x []uint64, w uint64) {
	x = x[:len(d)]
	for j := range d {
		d[j] += w * x[j]
	}
}

// Linear computes a dense layer: dst[o] = Σ_i w[o*len(in)+i]·in[i] + bias[o]
// (bias may be nil). dst must not alias in. It does not allocate.
func (ev *Evaluator) Linear(dst, in []*Ciphertext, w []int64, bias []int64) {
	nIn := len(in)
	if len(w) != len(dst)*nIn || (bias != nil && len(bias) != len(dst)) {
		panic("BUG: tfhe: Linear: shape mismatch")
	}
	ev.check(dst...)
	ev.check(in...)
	dirty(dst...)
	for o, d := range dst {
		weightedSum(d.c, in, w[o*nIn:(o+1)*nIn])
		if bias != nil {
			d.c[len(d.c)-1] += uint64(bias[o]) * ev.params.delta()
		}
	}
}

// Add sets dst = a + b (dst may alias a or b).
func (ev *Evaluator) Add(dst, a, b *Ciphertext) {
	ev.check(dst, a, b)
	dirty(dst)
	for j := range dst.c {
		dst.c[j] = a.c[j] + b.c[j]
	}
}

// Sub sets dst = a - b (dst may alias a or b).
func (ev *Evaluator) Sub(dst, a, b *Ciphertext) {
	ev.check(dst, a, b)
	dirty(dst)
	for j := range dst.c {
		dst.c[j] = a.c[j] - b.c[j]
	}
}

// AddPlain sets dst = a + m (plaintext units; dst may alias a).
func (ev *Evaluator) AddPlain(dst, a *Ciphertext, m int64) {
	ev.check(dst, a)
	dst.seed = a.seed // the mask is unchanged
	copy(dst.c, a.c)
	dst.c[len(dst.c)-1] += uint64(m) * ev.params.delta()
}

// MulPlain sets dst = w·a (dst may alias a).
func (ev *Evaluator) MulPlain(dst, a *Ciphertext, w int64) {
	ev.check(dst, a)
	dirty(dst)
	for j := range dst.c {
		dst.c[j] = uint64(w) * a.c[j]
	}
}

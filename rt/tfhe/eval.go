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
	ct.fp = src.fp
	if len(ct.c) != len(src.c) {
		ct.c = make([]uint64, len(src.c))
	}
	copy(ct.c, src.c)
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
	d := dst.c
	clear(d)
	for i, ct := range in {
		ev.check(ct)
		axpy(d, ct.c, uint64(w[i]))
	}
	d[len(d)-1] += uint64(bias) * ev.params.delta()
}

// axpy sets d += w·x modulo 2^64.
func axpy(d, x []uint64, w uint64) {
	if w == 0 {
		return
	}
	x = x[:len(d)]
	if w == 1 {
		for j := range d {
			d[j] += x[j]
		}
		return
	}
	for j := range d {
		d[j] += w * x[j]
	}
}

// Linear computes a dense layer: dst[o] = Σ_i w[o*len(in)+i]·in[i] + bias[o]
// (bias may be nil). It is WeightedSum for every output, blocked over the
// ciphertext coefficients so that large layers stay in cache. dst must not
// alias in. It does not allocate.
func (ev *Evaluator) Linear(dst, in []*Ciphertext, w []int64, bias []int64) {
	nIn := len(in)
	if len(w) != len(dst)*nIn || (bias != nil && len(bias) != len(dst)) {
		panic("BUG: tfhe: Linear: shape mismatch")
	}
	ev.check(dst...)
	ev.check(in...)
	dim := ev.params.GLWEDim*ev.params.PolyDegree + 1
	const chunk = 256
	for c0 := 0; c0 < dim; c0 += chunk {
		c1 := min(c0+chunk, dim)
		for _, o := range dst {
			clear(o.c[c0:c1])
		}
		for i, x := range in {
			xs := x.c[c0:c1]
			for oi, o := range dst {
				axpy(o.c[c0:c1], xs, uint64(w[oi*nIn+i]))
			}
		}
	}
	if bias != nil {
		for oi, o := range dst {
			o.c[dim-1] += uint64(bias[oi]) * ev.params.delta()
		}
	}
}

// Add sets dst = a + b (dst may alias a or b).
func (ev *Evaluator) Add(dst, a, b *Ciphertext) {
	ev.check(dst, a, b)
	for j := range dst.c {
		dst.c[j] = a.c[j] + b.c[j]
	}
}

// Sub sets dst = a - b (dst may alias a or b).
func (ev *Evaluator) Sub(dst, a, b *Ciphertext) {
	ev.check(dst, a, b)
	for j := range dst.c {
		dst.c[j] = a.c[j] - b.c[j]
	}
}

// AddPlain sets dst = a + m (plaintext units; dst may alias a).
func (ev *Evaluator) AddPlain(dst, a *Ciphertext, m int64) {
	ev.check(dst, a)
	copy(dst.c, a.c)
	dst.c[len(dst.c)-1] += uint64(m) * ev.params.delta()
}

// MulPlain sets dst = w·a (dst may alias a).
func (ev *Evaluator) MulPlain(dst, a *Ciphertext, w int64) {
	ev.check(dst, a)
	for j := range dst.c {
		dst.c[j] = uint64(w) * a.c[j]
	}
}

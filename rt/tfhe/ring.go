package tfhe

// This file is the only one that imports lattigo: NTT arithmetic modulo one
// NTT-friendly prime Q < 2^61. Moving to lattigo v6 changes the import path
// below and nothing else.

import (
	"fmt"

	"github.com/tuneinsight/lattigo/v5/ring"
)

// ringQ is Z_Q[X]/(X^N+1) for one prime Q with its NTT tables, plus the
// table that gives NTT(X^e) by lookup (for multi-bit blind rotation).
type ringQ struct {
	sub   *ring.SubRing
	N     int
	Q     uint64
	qInv  uint64   // Montgomery constant
	bredC []uint64 // Barrett constants
	one   uint64   // 1 in Montgomery form
	// NTT(X^e)[j] = powM[(expo[j]*e) mod 2N] (Montgomery form).
	expo []uint32
	powM []uint64
}

func newRingQ(N int, Q uint64) (*ringQ, error) {
	r, err := ring.NewRing(N, []uint64{Q})
	if err != nil {
		return nil, fmt.Errorf("ring N=%d Q=%d: %w", N, Q, err)
	}
	s := r.SubRings[0]
	rq := &ringQ{sub: s, N: N, Q: Q, qInv: s.MRedConstant, bredC: s.BRedConstant}
	rq.one = rq.mform(1)
	// NTT of the monomial X: every slot holds an odd power of a primitive
	// 2N-th root psi. Recover the exponents to get NTT(X^e) by lookup.
	x := make([]uint64, N)
	x[1] = 1
	s.NTT(x, x)
	psi := x[0]
	pow := make([]uint64, 2*N)
	index := make(map[uint64]uint32, 2*N)
	pow[0] = 1
	for t := 1; t < 2*N; t++ {
		pow[t] = ring.BRed(pow[t-1], psi, Q, rq.bredC)
	}
	for t, v := range pow {
		index[v] = uint32(t)
	}
	if len(index) != 2*N {
		return nil, fmt.Errorf("BUG: NTT root of X is not a primitive 2N-th root")
	}
	rq.expo = make([]uint32, N)
	for j, v := range x {
		e, ok := index[v]
		if !ok {
			return nil, fmt.Errorf("BUG: NTT(X) slot %d is not a power of psi", j)
		}
		rq.expo[j] = e
	}
	rq.powM = make([]uint64, 2*N)
	for t, v := range pow {
		rq.powM[t] = rq.mform(v)
	}
	return rq, nil
}

// ntt sets out = NTT(in) (values in [0,Q)).
func (r *ringQ) ntt(in, out []uint64) { r.sub.NTT(in, out) }

// nttLazy sets out = NTT(in) with values in [0, 2Q).
func (r *ringQ) nttLazy(in, out []uint64) { r.sub.NTTLazy(in, out) }

// inttLazy sets out = INTT(in) with values in [0, 2Q).
func (r *ringQ) inttLazy(in, out []uint64) { r.sub.INTTLazy(in, out) }

// intt sets out = INTT(in) (values in [0,Q)).
func (r *ringQ) intt(in, out []uint64) { r.sub.INTT(in, out) }

// mform returns x·2^64 mod Q (Montgomery form).
func (r *ringQ) mform(x uint64) uint64 { return ring.MForm(x, r.Q, r.bredC) }

// mredLazy returns x·y/2^64 mod Q in [0, 2Q) (x·y < 2^64·Q).
func mredLazy(x, y, q, qInv uint64) uint64 { return ring.MRedLazy(x, y, q, qInv) }

// bred reduces x modulo Q (any 64-bit x).
func (r *ringQ) bred(x uint64) uint64 { return ring.BRedAdd(x, r.Q, r.bredC) }

// mulMod returns x·y mod Q for x, y < Q.
func (r *ringQ) mulMod(x, y uint64) uint64 { return ring.BRed(x, y, r.Q, r.bredC) }

// nttPrime returns the largest prime below 2^bits that is 1 mod 2^logTwoN.
func nttPrime(bits, logTwoN int) (uint64, error) {
	g := ring.NewNTTFriendlyPrimesGenerator(uint64(bits), uint64(1)<<logTwoN)
	return g.NextDownstreamPrime()
}

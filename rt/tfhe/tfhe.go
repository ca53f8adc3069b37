package tfhe

import "sync"

// SecretKey is the client's secret: the small LWE key (dimension n) and the
// GLWE key (k polynomials of degree N, also used as the big LWE key of
// dimension k·N under which ciphertexts live). Keys are uniform binary.
// Its methods are safe for concurrent use.
type SecretKey struct {
	params Params
	small  []uint64 // n bits
	big    []uint64 // k·N bits, GLWE key coefficients
	mu     sync.Mutex
	rng    *prng // guarded by mu
}

// EvalKey is the server's evaluation key: the bootstrapping key (GGSW
// encryptions of the small key bits, grouped for multi-bit blind rotation,
// stored in NTT form) and the key-switching key (big key -> small key). It
// is read-only once generated and can be shared by many Evaluators.
type EvalKey struct {
	params Params
	// bsk[((step*combos+c)*(k+1)*l + row)*(k+1)*N + col*N + j]: GGSW rows in
	// NTT (Montgomery) form.
	bsk []uint64
	// ksk[(i*ksLevels+j)*(n+1):]: LWE encryptions modulo 2^32 of
	// big[i]·2^32/B^(j+1) under the small key.
	ksk []uint32
	// seeded keys draw every mask from the public stream of seed:
	// MarshalBinary then writes the bodies only.
	seeded bool
	seed   [32]byte
}

// Ciphertext is an LWE ciphertext under the big key (dimension k·N) modulo
// 2^64: k·N mask coefficients followed by the body.
type Ciphertext struct {
	fp uint64
	c  []uint64
	// seed of the mask of a fresh encryption (nil otherwise): lets
	// MarshalBinary write 32 bytes instead of the k·N mask words.
	seed *[32]byte
}

// LUT is a test polynomial: a table lookup ready for Bootstrap. A LUT is
// read-only and may be shared across Evaluators of the same Params.
type LUT struct {
	fp       uint64
	dropBits int
	tv       []uint64 // N coefficients modulo Q
	// exact rounding: bit[i] extracts bit i of the input (constant test
	// polynomials), see exact.go
	exact bool
	bit   [][]uint64 // nil below zeroBits
	// zeroBits low input bits are known zero: not extracted
	zeroBits int
}

// Evaluator runs homomorphic operations. It owns scratch buffers: it is NOT
// safe for concurrent use. Make one per goroutine; they can share one
// *EvalKey.
type Evaluator struct {
	params Params
	ek     *EvalKey
	r      *ringQ
	fp     uint64
	// scratch
	small []uint32   // key-switched LWE modulo 2^32 (n+1)
	abar  []uint64   // modulus-switched mask (n)
	acc   [][]uint64 // GLWE accumulator (k+1 polys, coefficient domain)
	dig   [][]uint64 // (k+1)·l digit polynomials (NTT domain)
	prod  [][]uint64 // (k+1) product polynomials
	tw    [][]uint64 // NTT(X^e_c - 1) per combination
	gsum  []uint64
	accHi []uint64 // 128-bit accumulators of the external product
	accLo []uint64
	run   *Ciphertext // exact rounding: running value
	tmp   *Ciphertext
	// 2^64/Q = cInt + cFrac/2^64 (rescaling Q -> 2^64)
	cInt, cFrac uint64
}

// Params returns the parameter set of the key.
func (sk *SecretKey) Params() Params { return sk.params }

// Params returns the parameter set of the key.
func (ek *EvalKey) Params() Params { return ek.params }

// Params returns the parameter set of the evaluator.
func (ev *Evaluator) Params() Params { return ev.params }

// Fingerprint returns the Params.Fingerprint of the set ct was made for.
func (ct *Ciphertext) Fingerprint() uint64 { return ct.fp }

// Dim returns the LWE dimension of ct (k·N); ct has Dim()+1 words.
func (ct *Ciphertext) Dim() int { return len(ct.c) - 1 }

// SizeBytes returns the in-memory (and serialized payload) size of ct.
func (ct *Ciphertext) SizeBytes() int { return 8 * len(ct.c) }

// SizeBytes returns the in-memory size of the evaluation key (the
// serialized form has the same size plus a small header).
func (ek *EvalKey) SizeBytes() int { return 8*len(ek.bsk) + 4*len(ek.ksk) }

// BootstrapKeyBytes returns the size of the bootstrapping key alone.
func (ek *EvalKey) BootstrapKeyBytes() int { return 8 * len(ek.bsk) }

// KeySwitchKeyBytes returns the size of the key-switching key alone.
func (ek *EvalKey) KeySwitchKeyBytes() int { return 4 * len(ek.ksk) }

// DropBits returns the number of LSBs the LUT drops before the lookup.
func (l *LUT) DropBits() int { return l.dropBits }

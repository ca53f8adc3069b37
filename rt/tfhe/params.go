package tfhe

import (
	"encoding/binary"
	"fmt"
	"hash/crc64"
	"math"
	"sort"
)

// Params is one parameter set: the cryptographic parameters (LWE, GLWE,
// gadget decompositions, noise) plus the global message encoding (MsgBits).
// A circuit uses exactly one Params. Obtain one from Catalog or Select; the
// zero value is invalid.
type Params struct {
	// Name names the cryptographic set, e.g. "p4"; MsgBits is not part of it.
	Name string
	// MsgBits is the width of the signed plaintexts of the circuit:
	// values lie in [-2^(MsgBits-1), 2^(MsgBits-1)).
	MsgBits int
	// PBSBits is the number of bits a table lookup resolves exactly at the
	// design failure probability (2^-40 per TLU at weight norm 1).
	PBSBits int

	// LWEDim is n, the dimension of the small LWE key the blind rotation
	// consumes (binary key).
	LWEDim int
	// GLWEDim is k, the number of ring elements of the GLWE mask.
	GLWEDim int
	// PolyDegree is N, the ring degree of the accumulator (power of two).
	PolyDegree int
	// Q is the NTT-friendly prime modulus of the accumulator (< 2^61).
	Q uint64
	// GroupSize is the number of small-key bits consumed per external
	// product in the blind rotation (1: classic CMux, 2: multi-bit).
	GroupSize int
	// PBSBaseLog and PBSLevels define the signed gadget decomposition of
	// the blind rotation (base 2^PBSBaseLog, PBSLevels digits).
	PBSBaseLog, PBSLevels int
	// KSBaseLog and KSLevels define the signed decomposition of the key
	// switch from the big key (dimension k·N) to the small key.
	KSBaseLog, KSLevels int
	// LWEStdDev is the standard deviation of the small-key (key-switching
	// key) noise, relative to the modulus 2^64 (a fraction of the torus).
	LWEStdDev float64
	// GLWEStdDev is the standard deviation of the GLWE noise (bootstrapping
	// key and fresh encryptions), relative to the modulus.
	GLWEStdDev float64

	// SecurityBits is the estimated security level of the weakest of the
	// two LWE problems (small key, and GLWE seen as LWE of dimension k·N).
	// 0 marks an insecure set meant for tests only.
	SecurityBits int
	// SecurityNote says where the estimate comes from.
	SecurityNote string
}

// Error is a user-facing error of this package. Code is a stable
// identifier (see the Code* constants).
type Error struct {
	Code string
	Msg  string
}

// Error formats the error as "Code: message".
func (e *Error) Error() string { return e.Code + ": " + e.Msg }

// Stable error codes (append-only).
const (
	// CodeNoCryptoParameters: no catalog set satisfies the requirements.
	CodeNoCryptoParameters = "NoCryptoParameters"
	// CodeAccumulatorTooWide: the table lookup is wider than any set.
	CodeAccumulatorTooWide = "AccumulatorTooWide"
	// CodeParamsMismatch: a key, ciphertext or LUT belongs to another set.
	CodeParamsMismatch = "ParamsMismatch"
	// CodeCorruptData: serialized bytes are truncated or corrupted.
	CodeCorruptData = "CorruptData"
	// CodeBadArgument: an argument is out of its documented range.
	CodeBadArgument = "BadArgument"
	// CodeNotImplemented: the feature is declared but not built yet.
	CodeNotImplemented = "NotImplemented"
)

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Requirements describe what one circuit needs from a parameter set.
type Requirements struct {
	// MsgBits is the global message width (widest value of the circuit,
	// including accumulators that are only rounded before a lookup).
	MsgBits int
	// PBSBits is the widest exact lookup precision needed,
	// i.e. max over TLUs of MsgBits - dropBits.
	PBSBits int
	// MaxNorm2 is the largest 2-norm of a weight vector applied to
	// bootstrap outputs (or fresh inputs) before they reach the next TLU.
	// Values below 1 are treated as 1.
	MaxNorm2 float64
	// PError is the maximal failure probability per TLU; 0 means 2^-40.
	PError float64
	// ExactDropBits, when positive, is the largest dropBits of a lookup
	// built with NewLUTExact (exact rounding): the set must then also meet
	// PError under PFailExact.
	ExactDropBits int
}

// DefaultPError is the per-TLU failure probability used when
// Requirements.PError is 0.
const DefaultPError = 1.0 / (1 << 40)

// MaxMsgBits is the widest message encoding supported.
const MaxMsgBits = 24

// Catalog returns the parameter sets, cheapest (by Cost) first, with
// MsgBits equal to PBSBits. Sets with SecurityBits < 128 are not listed.
func Catalog() []Params {
	out := make([]Params, 0, len(catalog))
	for _, p := range catalog {
		if p.SecurityBits >= 128 {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Cost() < out[j].Cost() })
	return out
}

// ParamsByName returns the catalog set with the given name and message
// width (CodeBadArgument if there is none).
func ParamsByName(name string, msgBits int) (Params, error) {
	for _, p := range catalog {
		if p.Name == name {
			p = p.WithMsgBits(msgBits)
			if err := p.validate(); err != nil {
				return Params{}, err
			}
			return p, nil
		}
	}
	return Params{}, errorf(CodeBadArgument, "no parameter set named %q", name)
}

// WithMsgBits returns a copy of p with another message width. The
// cryptographic part (and hence keys) must be regenerated: keys carry the
// full identity of their Params.
func (p Params) WithMsgBits(m int) Params {
	p.MsgBits = m
	return p
}

// Select returns the cheapest catalog set satisfying r, with MsgBits set to
// r.MsgBits. Errors are *Error with Code CodeAccumulatorTooWide (a lookup
// wider than every set) or CodeNoCryptoParameters (the noise of the
// weights is too large for every set wide enough).
func Select(r Requirements) (Params, error) {
	if r.PBSBits < 1 || r.MsgBits < r.PBSBits {
		return Params{}, errorf(CodeBadArgument, "requirements: PBSBits=%d MsgBits=%d: want 1 <= PBSBits <= MsgBits", r.PBSBits, r.MsgBits)
	}
	if r.MsgBits > MaxMsgBits {
		return Params{}, errorf(CodeAccumulatorTooWide, "values of %d bits, want at most %d bits", r.MsgBits, MaxMsgBits)
	}
	if math.IsNaN(r.MaxNorm2) || math.IsInf(r.MaxNorm2, 0) || math.IsNaN(r.PError) || r.PError >= 1 || r.ExactDropBits < 0 {
		return Params{}, errorf(CodeBadArgument, "requirements: weight norm %g, p_error %g, exact drop %d", r.MaxNorm2, r.PError, r.ExactDropBits)
	}
	pe := r.PError
	if pe <= 0 {
		pe = DefaultPError
	}
	norm := math.Max(r.MaxNorm2, 1)
	widest := 0
	for _, c := range Catalog() {
		widest = max(widest, c.PBSBits)
		if c.PBSBits < r.PBSBits {
			continue
		}
		p := c.WithMsgBits(r.MsgBits)
		if p.PFail(norm, r.MsgBits-r.PBSBits) > pe {
			continue
		}
		if r.ExactDropBits > 0 && p.PFailExact(norm, r.ExactDropBits) > pe {
			continue
		}
		return p, nil
	}
	if r.PBSBits > widest {
		return Params{}, errorf(CodeAccumulatorTooWide, "%d-bit table lookup, the widest parameter set resolves %d bits: round the accumulator (drop LSBs) before the lookup", r.PBSBits, widest)
	}
	return Params{}, errorf(CodeNoCryptoParameters, "no parameter set for a %d-bit table lookup with weight 2-norm %.4g at p_error %.3g: reduce the weight norm (fewer or smaller weights before the lookup), lower the lookup precision, or raise p_error", r.PBSBits, norm, pe)
}

// Noise model. All variances are relative to the modulus (torus fractions).
// Keys are uniform binary (E[s^2] = 1/2).

// digitVar is E[d^2] of a signed digit uniform in [-B/2, B/2).
func digitVar(baseLog int) float64 {
	b := math.Ldexp(1, baseLog)
	return (b*b + 2) / 12
}

// VarBootstrap is the variance of the noise of a bootstrap output
// (after sample extraction, before any linear operation).
func (p Params) VarBootstrap() float64 {
	k, N, l := float64(p.GLWEDim), float64(p.PolyDegree), float64(p.PBSLevels)
	vKey := p.GLWEStdDev * p.GLWEStdDev
	// External product: digits times GGSW noise, plus the decomposition
	// rounding error times the GLWE key and the GGSW message.
	v1 := (k + 1) * l * N * digitVar(p.PBSBaseLog) * vKey
	eps2 := math.Ldexp(1, -2*p.PBSBaseLog*p.PBSLevels) / 12
	keyed := 1 + k*N/2
	g := p.GroupSize
	combos := float64(int(1)<<g - 1)
	steps := float64((p.LWEDim + g - 1) / g)
	// GGSW' = sum over non-zero combos of (X^e - 1)·GGSW_c: each term
	// doubles the noise of its GGSW; the message X^e - 1 of the active
	// combination has squared norm 2, active with probability 1 - 2^-g.
	msg2 := 2 * (1 - math.Ldexp(1, -g))
	perStep := 2*combos*v1 + msg2*eps2*keyed
	// Rescaling Q -> 2^64 after sample extraction and the rounding of the
	// test polynomial add about keyed/(12 Q^2): negligible but counted.
	q := float64(p.Q)
	return steps*perStep + keyed/(12*q*q)
}

// VarFresh is the variance of the noise of a fresh encryption.
func (p Params) VarFresh() float64 { return p.GLWEStdDev * p.GLWEStdDev }

// VarKeySwitch is the variance added by the key switch from the big key to
// the small key.
func (p Params) VarKeySwitch() float64 {
	kN := float64(p.GLWEDim * p.PolyDegree)
	digits := kN * float64(p.KSLevels) * digitVar(p.KSBaseLog) * p.LWEStdDev * p.LWEStdDev
	round := kN / 2 * math.Ldexp(1, -2*p.KSBaseLog*p.KSLevels) / 12
	return digits + round
}

// VarModSwitch is the variance added by the modulus switch to 2N.
func (p Params) VarModSwitch() float64 {
	twoN := float64(2 * p.PolyDegree)
	return (float64(p.LWEDim)/2 + 1) / 12 / (twoN * twoN)
}

// VarPBSInput is the variance of the phase error the blind rotation sees
// when the input is a weighted sum (2-norm norm2) of bootstrap outputs or
// fresh encryptions.
func (p Params) VarPBSInput(norm2 float64) float64 {
	n2 := math.Max(norm2, 1)
	return n2*n2*math.Max(p.VarBootstrap(), p.VarFresh()) + p.VarKeySwitch() + p.VarModSwitch()
}

// PFail is the probability that one TLU reading a weighted sum with weight
// 2-norm norm2, dropping dropBits LSBs, returns a wrong value (beyond the
// documented approximate rounding for dropBits > 0).
func (p Params) PFail(norm2 float64, dropBits int) float64 {
	prec := p.MsgBits - dropBits
	if prec < 1 {
		prec = 1
	}
	half := math.Ldexp(1, -(prec + 2)) // half a box of the p-bit lookup
	sigma := math.Sqrt(p.VarPBSInput(norm2))
	return math.Erfc(half / (sigma * math.Sqrt2))
}

// InputNoiseStdDev is the standard deviation of the error of a TLU input,
// in units of one step of the rounded value round(m/2^dropBits). It lets a
// simulator perturb clear lookups like the real scheme does: the table
// reads round(m/2^dropBits + e) with e ~ N(0, InputNoiseStdDev^2).
func (p Params) InputNoiseStdDev(norm2 float64, dropBits int) float64 {
	step := math.Ldexp(1, -(p.MsgBits - dropBits + 1))
	return math.Sqrt(p.VarPBSInput(norm2)) / step
}

// Cost estimates the seconds one programmable bootstrap (key switch
// included) takes on one core of the development machine.
func (p Params) Cost() float64 {
	N := float64(p.PolyDegree)
	k1 := float64(p.GLWEDim + 1)
	l := float64(p.PBSLevels)
	g := p.GroupSize
	ntt := nttSecondsPerButterfly * N / 2 * math.Log2(N)
	steps := float64(p.LWEDim / g)
	combos := float64(int(1)<<g - 1)
	perStep := (k1*l+k1)*ntt + // forward NTT of the digits, inverse of the products
		k1*k1*l*N*(mulSeconds+combos*comboSeconds) + // GGSW' assembly and digit products
		k1*l*N*decompSeconds + combos*N*twiddleSeconds
	// Key switch: memory bound on the 32-bit key (zero digits are skipped).
	ks := float64(p.GLWEDim*p.PolyDegree*p.KSLevels*(p.LWEDim+1)) * ksSecondsPerMAC * (1 - math.Ldexp(1, -p.KSBaseLog))
	return steps*perStep + ks
}

// Calibration of Cost (go test -bench StepParts|PBS on the development
// machine, single goroutine, least contended runs).
const (
	nttSecondsPerButterfly = 1.35e-9
	mulSeconds             = 1.55e-9 // per GGSW' coefficient: reduction, digit product
	comboSeconds           = 0.5e-9  // per combination and coefficient (128-bit MAC)
	decompSeconds          = 1.8e-9
	twiddleSeconds         = 0.4e-9
	ksSecondsPerMAC        = 0.8e-9
)

// Fingerprint identifies p (every field that matters for keys and
// ciphertexts, MsgBits included). Keys and ciphertexts record it.
func (p Params) Fingerprint() uint64 {
	var b []byte
	b = append(b, p.Name...)
	for _, v := range p.fieldsU64() {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return crc64.Checksum(b, crcTable)
}

var crcTable = crc64.MakeTable(crc64.ECMA)

// String gives a one-line summary of p.
func (p Params) String() string {
	return fmt.Sprintf("%s(msg=%d pbs=%d n=%d k=%d N=%d q=2^%.1f g=%d br=%dx%d ks=%dx%d sec=%d)",
		p.Name, p.MsgBits, p.PBSBits, p.LWEDim, p.GLWEDim, p.PolyDegree, math.Log2(float64(p.Q)),
		p.GroupSize, p.PBSBaseLog, p.PBSLevels, p.KSBaseLog, p.KSLevels, p.SecurityBits)
}

// Package tfhe implements a TFHE/CGGI-style fully homomorphic encryption
// scheme over integers: LWE ciphertexts with clear-weight linear algebra and
// programmable bootstrapping (table lookups, "TLUs") through a blind rotation
// of a GLWE accumulator.
//
// Pipeline of one programmable bootstrap (the "KS-PBS" order):
//
//	LWE under the big key (dimension k·N, modulus 2^64)
//	  -> key switch to the small LWE key (dimension n, modulus 2^64)
//	  -> modulus switch to 2N (also drops LSBs: approximate rounding)
//	  -> blind rotation of a test polynomial (GLWE modulo an NTT prime Q,
//	     one external product per group of key bits, signed gadget digits)
//	  -> sample extraction, rescale Q -> 2^64: LWE under the big key again.
//
// Encoding: a circuit uses one global encoding. A plaintext is a signed
// integer m in [-2^(MsgBits-1), 2^(MsgBits-1)) stored as m·Δ with
// Δ = 2^64 / 2^(MsgBits+1): the top bit of the torus is the padding bit.
// Linear operations never overflow because the compiler proves value ranges.
//
// A TLU reads round(m / 2^dropBits) (round half up) and returns a table
// value under the same encoding. The exact precision of a lookup is
// p = MsgBits - dropBits, and the parameter set must resolve p bits
// (Params.PBSBits >= p). The rounded value must lie in [-2^(p-1), 2^(p-1)):
// a value that rounds to 2^(p-1) wraps (the compiler's range analysis must
// keep it out, or ask for one more PBS bit).
//
// Rounding is approximate with NewLUT (inputs within the noise of a
// rounding boundary may read the neighbouring entry) and exact with
// NewLUTExact, which first removes the dropped bits one by one with cheap
// constant-table bootstraps (dropBits extra bootstraps per lookup, and
// inputs must be correct to their last bit: see PFailExact and
// Requirements.ExactDropBits); NewLUTExactZeros skips the extraction of
// low bits the caller knows to be zero.
//
// Serialization (MarshalBinary, EvalKey.WriteTo, ReadEvalKey) adds a
// header (magic, version, kind, parameter fingerprint or full Params) and a
// CRC-64 checksum: bytes of another set, truncated or corrupted bytes are
// errors (CodeParamsMismatch, CodeCorruptData), never panics. Masks drawn
// from public seeds keep fresh ciphertexts (71 bytes) and evaluation keys
// (bodies only) small on the wire.
//
// Parameter sets, their security estimate and noise model: PARAMS.md.
//
// Evaluators are not safe for concurrent use: make one per goroutine and
// share the *EvalKey read-only.
//
// All lattigo imports live in ring.go so that moving to lattigo v6 is an
// import-path change.
package tfhe

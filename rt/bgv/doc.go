// Package bgv is fheir's SIMD BGV backend on lattigo v5 (he/heint,
// schemes/bgv): exact integer arithmetic mod a prime t on N slots per
// ciphertext, with table lookups evaluated as interpolating polynomials.
//
// Parameters (Params, Select, PARAMS.md): N = 2^14, 2^15 or 2^16, t a
// prime ≡ 1 mod 2N above twice the largest |value|, and exactly the
// levels the circuit needs; every set stays within the 128-bit bound on
// log2(Q·P) of the 2024 homomorphic-encryption security guidelines
// (Bossuat et al., Table 5.2; lattigo checks none).
//
// Operations, all keeping ciphertexts at scale 1:
//   - WeightedSum: a plaintext-scalar linear combination of ciphertexts
//     (batch-major linear layers; optionally rescaled, one level).
//   - Lookup: a polynomial over Z_t (Interpolate builds it from a table on
//     its exact domain; degree = domain size − 1, ceil(log2(size)) levels),
//     evaluated slot-wise by baby-step giant-step.
//   - MatVecSum and LookupSlots: vector-major products (diagonal method,
//     rotations: lattigo's hoisted baby-step giant-step, or two-key
//     products that need two rotation keys, twokey.go), slot-wise sums
//     (SlotSum) and per-slot-group polynomials (vector.go).
//
// Keys: SecretKey (client) and EvalKey (relinearization plus the Galois
// keys of the rotations used), serialized with a magic/version/params
// header and a SHA-256 checksum; damaged bytes give CodeCorruptData.
// Evaluators are not safe for concurrent use: one per goroutine
// (ShallowCopy).
package bgv

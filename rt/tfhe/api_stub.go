package tfhe

// GenSecretKey samples a fresh secret key for p from the operating
// system's entropy.
func GenSecretKey(p Params) (*SecretKey, error) {
	return nil, errorf(CodeNotImplemented, "GenSecretKey")
}

// GenEvalKey generates the evaluation key (bootstrapping and key-switching
// keys) for sk.
func (sk *SecretKey) GenEvalKey() (*EvalKey, error) {
	return nil, errorf(CodeNotImplemented, "GenEvalKey")
}

// Encrypt encrypts the signed integer m, which must lie in
// [-2^(MsgBits-1), 2^(MsgBits-1)) (other values wrap modulo 2^MsgBits
// into the padding bit and break lookups).
func (sk *SecretKey) Encrypt(m int64) *Ciphertext { return nil }

// Decrypt decrypts ct to a signed integer in [-2^MsgBits, 2^MsgBits)
// (the padding bit included, so that overflows are visible). A ciphertext
// of another parameter set or key decrypts to garbage, never panics.
func (sk *SecretKey) Decrypt(ct *Ciphertext) int64 { return 0 }

// NewEvaluator returns an evaluator for p using ek (which must be made for
// p, else a CodeParamsMismatch error).
func NewEvaluator(p Params, ek *EvalKey) (*Evaluator, error) {
	return nil, errorf(CodeNotImplemented, "NewEvaluator")
}

// NewCiphertext allocates a zero (trivial encryption of 0) ciphertext.
func (ev *Evaluator) NewCiphertext() *Ciphertext { return nil }

// NewCiphertext allocates a zero (trivial encryption of 0) ciphertext.
func (p Params) NewCiphertext() *Ciphertext { return nil }

// Trivial sets dst to a noiseless encryption of the constant m.
func (ev *Evaluator) Trivial(dst *Ciphertext, m int64) {}

// WeightedSum sets dst = Σ w[i]·in[i] + bias (bias in plaintext units).
// dst must not alias any element of in. It does not allocate.
func (ev *Evaluator) WeightedSum(dst *Ciphertext, in []*Ciphertext, w []int64, bias int64) {}

// Add sets dst = a + b (dst may alias a or b).
func (ev *Evaluator) Add(dst, a, b *Ciphertext) {}

// Sub sets dst = a - b (dst may alias a or b).
func (ev *Evaluator) Sub(dst, a, b *Ciphertext) {}

// AddPlain sets dst = a + m (plaintext units; dst may alias a).
func (ev *Evaluator) AddPlain(dst, a *Ciphertext, m int64) {}

// MulPlain sets dst = w·a (dst may alias a).
func (ev *Evaluator) MulPlain(dst, a *Ciphertext, w int64) {}

// NewLUT builds the test polynomial of the table f applied to
// v = round(m / 2^dropBits) for the signed MsgBits-wide input m, that is
// v in [-2^(p-1), 2^(p-1)) with p = MsgBits - dropBits. f's results must fit
// the signed MsgBits encoding. Errors (CodeBadArgument) when p exceeds
// PBSBits, dropBits is out of range, or a table value does not fit.
// The rounding is approximate: inputs within the noise of a rounding
// boundary may read the neighbouring entry (off by one step of v).
func (p Params) NewLUT(f func(v int64) int64, dropBits int) (*LUT, error) {
	return nil, errorf(CodeNotImplemented, "NewLUT")
}

// NewLUTExact will build a lookup that drops dropBits LSBs exactly (no
// off-by-one near rounding boundaries), at the price of extra low-precision
// bootstraps. Not implemented yet: returns a CodeNotImplemented error.
func (p Params) NewLUTExact(f func(v int64) int64, dropBits int) (*LUT, error) {
	return nil, errorf(CodeNotImplemented, "exact rounding (NewLUTExact)")
}

// Bootstrap sets dst to an encryption of lut's table applied to ct's
// value: key switch, modulus switch, blind rotation, sample extraction.
// dst may alias ct. ct and lut must belong to ev's Params (checked via
// fingerprints; a mismatch panics with "BUG:" because the runtime must
// not mix sets).
func (ev *Evaluator) Bootstrap(dst, ct *Ciphertext, lut *LUT) {}

// MarshalBinary encodes ct with a header (magic, version, Params
// fingerprint) and a checksum.
func (ct *Ciphertext) MarshalBinary() ([]byte, error) { return nil, errorf(CodeNotImplemented, "") }

// UnmarshalBinary decodes data produced by MarshalBinary. Truncated or
// corrupted data yields a CodeCorruptData error. Use
// Params.UnmarshalCiphertext to also check the parameter set.
func (ct *Ciphertext) UnmarshalBinary(data []byte) error { return errorf(CodeNotImplemented, "") }

// UnmarshalCiphertext decodes a ciphertext and checks that it belongs to p
// (CodeParamsMismatch otherwise).
func (p Params) UnmarshalCiphertext(data []byte) (*Ciphertext, error) {
	return nil, errorf(CodeNotImplemented, "")
}

// MarshalBinary encodes ek with a header (magic, version, full Params) and
// a checksum.
func (ek *EvalKey) MarshalBinary() ([]byte, error) { return nil, errorf(CodeNotImplemented, "") }

// UnmarshalBinary decodes an evaluation key; its Params come from the
// header (compare ek.Params().Fingerprint() with the expected set, or let
// NewEvaluator do it). Truncated or corrupted data yields CodeCorruptData.
func (ek *EvalKey) UnmarshalBinary(data []byte) error { return errorf(CodeNotImplemented, "") }

// MarshalBinary encodes sk with a header and a checksum.
func (sk *SecretKey) MarshalBinary() ([]byte, error) { return nil, errorf(CodeNotImplemented, "") }

// UnmarshalBinary decodes a secret key (see EvalKey.UnmarshalBinary).
func (sk *SecretKey) UnmarshalBinary(data []byte) error { return errorf(CodeNotImplemented, "") }

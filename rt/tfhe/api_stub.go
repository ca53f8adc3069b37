package tfhe

// NewLUTExact will build a lookup that drops dropBits LSBs exactly (no
// off-by-one near rounding boundaries), at the price of extra low-precision
// bootstraps. Not implemented yet: returns a CodeNotImplemented error.
func (p Params) NewLUTExact(f func(v int64) int64, dropBits int) (*LUT, error) {
	return nil, errorf(CodeNotImplemented, "exact rounding (NewLUTExact)")
}

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

package bgv

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/heint"
)

// SecretKey is a client's BGV secret key with its parameters; it encrypts
// and decrypts. It is not safe for concurrent use.
type SecretKey struct {
	p   Params
	hp  heint.Parameters
	sk  *rlwe.SecretKey
	enc *rlwe.Encryptor
	dec *rlwe.Decryptor
	ecd *heint.Encoder
}

// EvalKey is the server's evaluation key set: the relinearization key and
// the Galois (rotation) keys of the rotations the circuit uses (none for
// batch-major packing). It is read-only and may be shared by Evaluators.
type EvalKey struct {
	p   Params
	hp  heint.Parameters
	rlk *rlwe.RelinearizationKey
	gks []*rlwe.GaloisKey
}

// GenSecretKey draws a fresh secret key for p from the operating system's
// entropy (lattigo's key generator).
func GenSecretKey(p Params) (*SecretKey, error) {
	hp, err := p.Lattigo()
	if err != nil {
		return nil, err
	}
	sk := heint.NewKeyGenerator(hp).GenSecretKeyNew()
	return newSecretKey(p, hp, sk), nil
}

func newSecretKey(p Params, hp heint.Parameters, sk *rlwe.SecretKey) *SecretKey {
	return &SecretKey{p: p, hp: hp, sk: sk, enc: heint.NewEncryptor(hp, sk), dec: heint.NewDecryptor(hp, sk), ecd: heint.NewEncoder(hp)}
}

// Params returns the key's parameters.
func (sk *SecretKey) Params() Params { return sk.p }

// GenEvalKey derives the evaluation keys from the secret key.
func (sk *SecretKey) GenEvalKey() *EvalKey {
	rlk := heint.NewKeyGenerator(sk.hp).GenRelinearizationKeyNew(sk.sk)
	return &EvalKey{p: sk.p, hp: sk.hp, rlk: rlk}
}

// Params returns the key's parameters.
func (ek *EvalKey) Params() Params { return ek.p }

// SizeBytes returns the serialized size of the keys.
func (ek *EvalKey) SizeBytes() int {
	n := ek.rlk.BinarySize()
	for _, g := range ek.gks {
		n += g.BinarySize()
	}
	return n
}

// RotationKeyBytes returns the serialized size of the Galois keys.
func (ek *EvalKey) RotationKeyBytes() int { return ek.SizeBytes() - ek.rlk.BinarySize() }

// GaloisElements returns the Galois elements the keys cover.
func (ek *EvalKey) GaloisElements() []uint64 {
	g := make([]uint64, len(ek.gks))
	for i, k := range ek.gks {
		g[i] = k.GaloisElement
	}
	return g
}

// Encrypt encrypts values (one per slot, at most Slots(), the rest zero)
// at the top level with scale 1. Values are taken mod t.
func (sk *SecretKey) Encrypt(values []int64) (*Ciphertext, error) {
	if len(values) > sk.p.Slots() {
		return nil, errorf(CodeBadArgument, "%d values for %d slots", len(values), sk.p.Slots())
	}
	ct, err := sk.enc.EncryptNew(encodeTop(sk.hp, sk.ecd, values))
	if err != nil {
		panic("BUG: encrypting: " + err.Error())
	}
	return &Ciphertext{p: sk.p, ct: ct}, nil
}

// encodeTop encodes values mod t (zeros after them) in the slots of a
// plaintext at the top level.
func encodeTop(hp heint.Parameters, ecd *heint.Encoder, values []int64) *rlwe.Plaintext {
	t := hp.PlaintextModulus()
	r := make([]uint64, hp.MaxSlots())
	for i, v := range values {
		r[i] = Mod(v, t)
	}
	pt := heint.NewPlaintext(hp, hp.MaxLevel())
	if err := ecd.Encode(r, pt); err != nil {
		panic("BUG: encoding a full slot vector: " + err.Error())
	}
	return pt
}

// ShallowCopy returns a key sharing the secret but with its own
// encryptor, decryptor and encoder, for use in another goroutine.
func (sk *SecretKey) ShallowCopy() *SecretKey { return newSecretKey(sk.p, sk.hp, sk.sk) }

// Decrypt returns the first n slots of ct, centred in (-t/2, t/2].
func (sk *SecretKey) Decrypt(ct *Ciphertext, n int) ([]int64, error) {
	if ct.p != sk.p {
		return nil, errorf(CodeParamsMismatch, "ciphertext for %s, key for %s", ct.p.Name(), sk.p.Name())
	}
	if n < 0 || n > sk.p.Slots() {
		return nil, errorf(CodeBadArgument, "%d slots of %d", n, sk.p.Slots())
	}
	pt := sk.dec.DecryptNew(ct.ct)
	r := make([]uint64, sk.p.Slots())
	if err := sk.ecd.Decode(pt, r); err != nil {
		return nil, errorf(CodeCorruptData, "decoding: %v", err)
	}
	out := make([]int64, n)
	for i := range out {
		out[i] = Centre(r[i], sk.p.T)
	}
	return out, nil
}

// Serialization: every object is framed as
//
//	magic "FHEIRBGV" | version uint16 LE | kind byte | params name (uvarint
//	length + bytes) | lattigo body (uvarint length + bytes) | SHA-256 of all before
//
// so that a flipped or truncated byte is detected before lattigo decodes.
const (
	magic   = "FHEIRBGV"
	version = 1

	kindSecretKey  = 1
	kindEvalKey    = 2
	kindCiphertext = 3
)

func frame(kind byte, p Params, body []byte) []byte {
	name := p.Name()
	b := make([]byte, 0, len(magic)+3+2*binary.MaxVarintLen64+len(name)+len(body)+sha256.Size)
	b = append(b, magic...)
	b = binary.LittleEndian.AppendUint16(b, version)
	b = append(b, kind)
	b = binary.AppendUvarint(b, uint64(len(name)))
	b = append(b, name...)
	b = binary.AppendUvarint(b, uint64(len(body)))
	b = append(b, body...)
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

var kindNames = map[byte]string{kindSecretKey: "secret key", kindEvalKey: "evaluation key", kindCiphertext: "ciphertext"}

// unframe checks a frame of the given kind and returns its parameters and
// lattigo body.
func unframe(kind byte, data []byte) (Params, []byte, error) {
	what := kindNames[kind]
	head := len(magic) + 3
	if len(data) < head+sha256.Size || string(data[:len(magic)]) != magic {
		return Params{}, nil, errorf(CodeCorruptData, "%s: not a fheir BGV object (bad magic or too short)", what)
	}
	n := len(data) - sha256.Size
	if sum := sha256.Sum256(data[:n]); !bytes.Equal(sum[:], data[n:]) {
		return Params{}, nil, errorf(CodeCorruptData, "%s: checksum mismatch (corrupted or truncated)", what)
	}
	if v := binary.LittleEndian.Uint16(data[len(magic):]); v != version {
		return Params{}, nil, errorf(CodeCorruptData, "%s: format version %d, this package reads %d", what, v, version)
	}
	if k := data[len(magic)+2]; k != kind {
		return Params{}, nil, errorf(CodeCorruptData, "got a %s, want a %s", kindNames[k], what)
	}
	rest := data[head:n]
	field := func() []byte {
		l, m := binary.Uvarint(rest)
		if m <= 0 || l > uint64(len(rest)-m) {
			return nil
		}
		f := rest[m : m+int(l)]
		rest = rest[m+int(l):]
		return f
	}
	name := field()
	body := field()
	if name == nil || body == nil || len(rest) != 0 {
		return Params{}, nil, errorf(CodeCorruptData, "%s: bad framing", what)
	}
	p, err := ParseParams(string(name))
	if err != nil {
		return Params{}, nil, errorf(CodeCorruptData, "%s: %v", what, err)
	}
	return p, body, nil
}

// MarshalBinary serializes the secret key.
func (sk *SecretKey) MarshalBinary() ([]byte, error) {
	b, err := sk.sk.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("marshalling the secret key: %w", err)
	}
	return frame(kindSecretKey, sk.p, b), nil
}

// UnmarshalSecretKey decodes MarshalBinary's bytes.
func UnmarshalSecretKey(data []byte) (*SecretKey, error) {
	var sk *rlwe.SecretKey
	p, hp, err := unmarshalLattigo(kindSecretKey, data, func(hp heint.Parameters, body []byte) (bool, error) {
		sk = rlwe.NewSecretKey(hp)
		if err := safeUnmarshal(sk.UnmarshalBinary, body); err != nil {
			return false, err
		}
		return sk.LevelQ() == hp.MaxLevelQ() && sk.LevelP() == hp.MaxLevelP() && sk.Value.Q.N() == hp.N(), nil
	})
	if err != nil {
		return nil, err
	}
	return newSecretKey(p, hp, sk), nil
}

// unmarshalLattigo unframes data of the given kind and decodes its body
// with dec, which reports whether the decoded object has the shape the
// parameters give.
func unmarshalLattigo(kind byte, data []byte, dec func(heint.Parameters, []byte) (bool, error)) (Params, heint.Parameters, error) {
	p, body, err := unframe(kind, data)
	if err != nil {
		return p, heint.Parameters{}, err
	}
	hp, err := p.Lattigo()
	if err != nil {
		return p, hp, err
	}
	ok, err := dec(hp, body)
	if err != nil {
		return p, hp, errorf(CodeCorruptData, "%s: %v", kindNames[kind], err)
	}
	if !ok {
		return p, hp, errorf(CodeCorruptData, "%s: shape does not match %s", kindNames[kind], p.Name())
	}
	return p, hp, nil
}

// MarshalBinary serializes the evaluation keys: a count, then the
// relinearization key and each Galois key, length-prefixed.
func (ek *EvalKey) MarshalBinary() ([]byte, error) {
	parts := make([][]byte, 0, 1+len(ek.gks))
	b, err := ek.rlk.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("marshalling the relinearization key: %w", err)
	}
	parts = append(parts, b)
	for _, g := range ek.gks {
		if b, err = g.MarshalBinary(); err != nil {
			return nil, fmt.Errorf("marshalling a rotation key: %w", err)
		}
		parts = append(parts, b)
	}
	var body []byte
	body = binary.AppendUvarint(body, uint64(len(parts)))
	for _, b := range parts {
		body = binary.AppendUvarint(body, uint64(len(b)))
		body = append(body, b...)
	}
	return frame(kindEvalKey, ek.p, body), nil
}

// UnmarshalEvalKey decodes MarshalBinary's bytes.
func UnmarshalEvalKey(data []byte) (*EvalKey, error) {
	ek := &EvalKey{}
	p, hp, err := unmarshalLattigo(kindEvalKey, data, func(hp heint.Parameters, body []byte) (bool, error) {
		n, m := binary.Uvarint(body)
		if m <= 0 || n == 0 || n > uint64(len(body)) {
			return false, nil
		}
		body = body[m:]
		seen := map[uint64]bool{}
		for i := range n {
			l, m := binary.Uvarint(body)
			if m <= 0 || l > uint64(len(body)-m) {
				return false, nil
			}
			part := body[m : m+int(l)]
			body = body[m+int(l):]
			if i == 0 {
				ek.rlk = rlwe.NewRelinearizationKey(hp)
				want := ek.rlk.BinarySize()
				if err := safeUnmarshal(ek.rlk.UnmarshalBinary, part); err != nil {
					return false, err
				}
				if ek.rlk.BinarySize() != want {
					return false, nil
				}
				continue
			}
			g := rlwe.NewGaloisKey(hp)
			want := g.BinarySize()
			if err := safeUnmarshal(g.UnmarshalBinary, part); err != nil {
				return false, err
			}
			if g.BinarySize() != want || g.GaloisElement&1 == 0 || g.GaloisElement >= 2*uint64(hp.N()) || g.NthRoot != 2*uint64(hp.N()) || seen[g.GaloisElement] {
				return false, nil
			}
			seen[g.GaloisElement] = true
			ek.gks = append(ek.gks, g)
		}
		return len(body) == 0, nil
	})
	if err != nil {
		return nil, err
	}
	ek.p, ek.hp = p, hp
	return ek, nil
}

// safeUnmarshal runs a lattigo decoder, turning a panic on malformed
// input (which the checksum makes unlikely) into an error.
func safeUnmarshal(f func([]byte) error, b []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed data: %v", r)
		}
	}()
	return f(b)
}

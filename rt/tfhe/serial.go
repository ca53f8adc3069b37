package tfhe

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"hash/crc64"
	"math"
)

// Serialized layout (little endian):
//
//	magic "FHEIRTFH" | version u16 | kind u8 | body | crc64-ECMA of all before
//
// Ciphertext body: params fingerprint u64 | words u32 | words × u64.
// Compact fresh ciphertext (kind 4): fingerprint u64 | words u32 |
// mask seed 32 bytes | body u64 (the mask is the ChaCha8 stream of the seed).
// EvalKey body:    params | bsk words u64 | ksk words u64 | bsk × u64 | ksk × u32.
// Seeded EvalKey (kind 5): params | mask seed 32 bytes | bsk words u64 |
// ksk words u64 | body polynomial of every GGSW row (N × u64 each) | body
// of every key-switching row (u32 each).
// SecretKey body:  params | n u32 | kN u32 | n + kN key bits (one byte each).
// params:          name (u8 length + bytes) | 13 × u64 fields | fingerprint u64.

const (
	serialMagic       = "FHEIRTFH"
	serialVersion     = 1
	kindCipher        = 1
	kindEvalKey       = 2
	kindSecretKey     = 3
	kindCipherSeeded  = 4
	kindEvalKeySeeded = 5
)

func appendHeader(b []byte, kind byte) []byte {
	b = append(b, serialMagic...)
	b = binary.LittleEndian.AppendUint16(b, serialVersion)
	return append(b, kind)
}

func appendTrailer(b []byte) []byte {
	return binary.LittleEndian.AppendUint64(b, crc64.Checksum(b, crcTable))
}

// reader decodes with sticky errors: reads past the end yield zeros and set
// bad, so that truncated input never panics.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) take(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.bad = true
		r.b = nil
		return make([]byte, max(n, 0))
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8() byte    { return r.take(1)[0] }
func (r *reader) u16() uint16 { return binary.LittleEndian.Uint16(r.take(2)) }
func (r *reader) u32() uint32 { return binary.LittleEndian.Uint32(r.take(4)) }
func (r *reader) u64() uint64 { return binary.LittleEndian.Uint64(r.take(8)) }

// openEnvelope checks magic, version, kind and checksum and returns a
// reader positioned on the body.
func openEnvelope(data []byte, kind byte, what string) (*reader, error) {
	if len(data) < len(serialMagic)+3+8 {
		return nil, errorf(CodeCorruptData, "%s: %d bytes, too short", what, len(data))
	}
	if string(data[:len(serialMagic)]) != serialMagic {
		return nil, errorf(CodeCorruptData, "%s: bad magic", what)
	}
	body, sum := data[:len(data)-8], binary.LittleEndian.Uint64(data[len(data)-8:])
	if crc64.Checksum(body, crcTable) != sum {
		return nil, errorf(CodeCorruptData, "%s: checksum mismatch (truncated or corrupted)", what)
	}
	r := &reader{b: body[len(serialMagic):]}
	if v := r.u16(); v != serialVersion {
		return nil, errorf(CodeCorruptData, "%s: version %d, want %d", what, v, serialVersion)
	}
	if k := r.u8(); k != kind {
		return nil, errorf(CodeCorruptData, "%s: object kind %d, want %d", what, k, kind)
	}
	return r, nil
}

func (p Params) fieldsU64() []uint64 {
	return []uint64{uint64(p.MsgBits), uint64(p.PBSBits), uint64(p.LWEDim), uint64(p.GLWEDim),
		uint64(p.PolyDegree), p.Q, uint64(p.GroupSize), uint64(p.PBSBaseLog), uint64(p.PBSLevels),
		uint64(p.KSBaseLog), uint64(p.KSLevels), math.Float64bits(p.LWEStdDev), math.Float64bits(p.GLWEStdDev)}
}

func appendParams(b []byte, p Params) []byte {
	name := p.Name
	if len(name) > 255 {
		name = name[:255]
	}
	b = append(b, byte(len(name)))
	b = append(b, name...)
	for _, v := range p.fieldsU64() {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return binary.LittleEndian.AppendUint64(b, p.Fingerprint())
}

func readParams(r *reader, what string) (Params, error) {
	var p Params
	p.Name = string(r.take(int(r.u8())))
	var f [13]uint64
	for i := range f {
		f[i] = r.u64()
	}
	fp := r.u64()
	if r.bad {
		return p, errorf(CodeCorruptData, "%s: truncated parameters", what)
	}
	small := func(v uint64) int {
		if v > 1<<20 {
			return -1
		}
		return int(v)
	}
	p.MsgBits, p.PBSBits, p.LWEDim, p.GLWEDim = small(f[0]), small(f[1]), small(f[2]), small(f[3])
	p.PolyDegree, p.Q, p.GroupSize = small(f[4]), f[5], small(f[6])
	p.PBSBaseLog, p.PBSLevels, p.KSBaseLog, p.KSLevels = small(f[7]), small(f[8]), small(f[9]), small(f[10])
	p.LWEStdDev, p.GLWEStdDev = math.Float64frombits(f[11]), math.Float64frombits(f[12])
	if p.Fingerprint() != fp {
		return p, errorf(CodeCorruptData, "%s: parameter fingerprint mismatch", what)
	}
	if err := p.validate(); err != nil {
		return p, errorf(CodeCorruptData, "%s: %v", what, err)
	}
	p.SecurityBits = securityBits(p)
	p.SecurityNote = "decoded; security recomputed from the 128-bit curve"
	for _, c := range catalog {
		if c.WithMsgBits(p.MsgBits).Fingerprint() == fp {
			p = c.WithMsgBits(p.MsgBits)
		}
	}
	return p, nil
}

// MarshalBinary encodes ct with a header (magic, version, Params
// fingerprint) and a checksum. A fresh encryption (not yet modified by an
// Evaluator) is written compactly: its mask is replaced by the 32-byte
// seed it was drawn from (about 80 bytes in all).
func (ct *Ciphertext) MarshalBinary() ([]byte, error) {
	if ct.seed != nil && ct.maskMatchesSeed() {
		b := make([]byte, 0, 11+12+32+8+8)
		b = appendHeader(b, kindCipherSeeded)
		b = binary.LittleEndian.AppendUint64(b, ct.fp)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(ct.c)))
		b = append(b, ct.seed[:]...)
		b = binary.LittleEndian.AppendUint64(b, ct.c[len(ct.c)-1])
		return appendTrailer(b), nil
	}
	b := make([]byte, 0, 11+12+8*len(ct.c)+8)
	b = appendHeader(b, kindCipher)
	b = binary.LittleEndian.AppendUint64(b, ct.fp)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(ct.c)))
	for _, v := range ct.c {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return appendTrailer(b), nil
}

// maskMatchesSeed reports whether ct's mask is still the seed's stream.
func (ct *Ciphertext) maskMatchesSeed() bool {
	mask := make([]uint64, len(ct.c)-1)
	expandMask(mask, ct.seed)
	for i, v := range mask {
		if ct.c[i] != v {
			return false
		}
	}
	return true
}

// UnmarshalBinary decodes data produced by MarshalBinary. Truncated or
// corrupted data yields a CodeCorruptData error. Use
// Params.UnmarshalCiphertext to also check the parameter set.
func (ct *Ciphertext) UnmarshalBinary(data []byte) error {
	r, err := openEnvelope(data, kindCipher, "ciphertext")
	if err == nil {
		fp := r.u64()
		n := int(r.u32())
		if r.bad || n < 2 || n > len(r.b)/8 || len(r.b) != 8*n {
			return errorf(CodeCorruptData, "ciphertext: bad length")
		}
		c := make([]uint64, n)
		for i := range c {
			c[i] = r.u64()
		}
		ct.fp, ct.c, ct.seed = fp, c, nil
		return nil
	}
	r, err2 := openEnvelope(data, kindCipherSeeded, "ciphertext")
	if err2 != nil {
		return err
	}
	fp := r.u64()
	n := int(r.u32())
	seed := new([32]byte)
	copy(seed[:], r.take(32))
	body := r.u64()
	if r.bad || len(r.b) != 0 || n < 2 || n > 1<<20 {
		return errorf(CodeCorruptData, "ciphertext: bad length")
	}
	c := make([]uint64, n)
	expandMask(c[:n-1], seed)
	c[n-1] = body
	ct.fp, ct.c, ct.seed = fp, c, seed
	return nil
}

// UnmarshalCiphertext decodes a ciphertext and checks that it belongs to p
// (CodeParamsMismatch otherwise).
func (p Params) UnmarshalCiphertext(data []byte) (*Ciphertext, error) {
	ct := new(Ciphertext)
	if err := ct.UnmarshalBinary(data); err != nil {
		return nil, err
	}
	if ct.fp != p.Fingerprint() || len(ct.c) != p.GLWEDim*p.PolyDegree+1 {
		return nil, errorf(CodeParamsMismatch, "ciphertext of another parameter set (fingerprint %016x, want %016x for %s)", ct.fp, p.Fingerprint(), p)
	}
	return ct, nil
}

// MarshalBinary encodes ek with a header (magic, version, full Params)
// and a checksum. A generated key is written compactly: the seed of its
// masks and the bodies only (2-5x smaller; the masks are regenerated when
// decoding).
func (ek *EvalKey) MarshalBinary() ([]byte, error) {
	var buf bytes.Buffer
	if _, err := ek.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// UnmarshalBinary decodes an evaluation key; its Params come from the
// header (compare ek.Params().Fingerprint() with the expected set, or let
// NewEvaluator do it). Truncated or corrupted data yields CodeCorruptData.
func (ek *EvalKey) UnmarshalBinary(data []byte) error {
	r := bytes.NewReader(data)
	br := bufio.NewReader(r)
	got, err := ReadEvalKey(br)
	if err != nil {
		return err
	}
	if rest := r.Len() + br.Buffered(); rest != 0 {
		return errorf(CodeCorruptData, "evaluation key: %d trailing bytes", rest)
	}
	*ek = *got
	return nil
}

// MarshalBinary encodes sk with a header and a checksum.
func (sk *SecretKey) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 256+len(sk.small)+len(sk.big))
	b = appendHeader(b, kindSecretKey)
	b = appendParams(b, sk.params)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(sk.small)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(sk.big)))
	for _, v := range sk.small {
		b = append(b, byte(v))
	}
	for _, v := range sk.big {
		b = append(b, byte(v))
	}
	return appendTrailer(b), nil
}

// UnmarshalBinary decodes a secret key (see EvalKey.UnmarshalBinary).
func (sk *SecretKey) UnmarshalBinary(data []byte) error {
	r, err := openEnvelope(data, kindSecretKey, "secret key")
	if err != nil {
		return err
	}
	p, err := readParams(r, "secret key")
	if err != nil {
		return err
	}
	n, kn := int(r.u32()), int(r.u32())
	if r.bad || n != p.LWEDim || kn != p.GLWEDim*p.PolyDegree || len(r.b) != n+kn {
		return errorf(CodeCorruptData, "secret key: sizes do not match %s", p)
	}
	small, big := make([]uint64, n), make([]uint64, kn)
	for i := range small {
		small[i] = uint64(r.u8())
	}
	for i := range big {
		big[i] = uint64(r.u8())
	}
	for _, v := range append(append([]uint64(nil), small...), big...) {
		if v > 1 {
			return errorf(CodeCorruptData, "secret key: non-binary coefficient")
		}
	}
	sk.mu.Lock()
	sk.params, sk.small, sk.big, sk.rng = p, small, big, nil
	sk.mu.Unlock()
	return nil
}

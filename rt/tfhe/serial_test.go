package tfhe

import (
	"bufio"
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var te *Error
	if !errors.As(err, &te) || te.Code != code {
		t.Errorf("%s: err = %v, want code %s", what, err, code)
	}
}

func TestSerializationRoundTrip(t *testing.T) {
	p := InsecureTestParams(4)
	e := newEnv(t, p)
	ct := e.sk.Encrypt(-3)
	data, err := ct.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ciphertext: %d bytes serialized, %d in memory (dim %d)", len(data), ct.SizeBytes(), ct.Dim())
	back, err := p.UnmarshalCiphertext(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.sk.Decrypt(back); got != -3 {
		t.Errorf("decoded ciphertext decrypts to %d", got)
	}

	skData, err := e.sk.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var sk2 SecretKey
	if err := sk2.UnmarshalBinary(skData); err != nil {
		t.Fatal(err)
	}
	if sk2.Params().Fingerprint() != p.Fingerprint() || sk2.Decrypt(ct) != -3 {
		t.Errorf("decoded secret key does not decrypt")
	}

	ekData, err := e.ek.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var ek2 EvalKey
	if err := ek2.UnmarshalBinary(ekData); err != nil {
		t.Fatal(err)
	}
	t.Logf("evaluation key: %d bytes serialized (seeded masks), %d in memory", len(ekData), e.ek.SizeBytes())
	if est := p.EvalKeySerializedBytes(); int64(len(ekData)) > est || int64(len(ekData)) < est-200 {
		t.Errorf("EvalKeySerializedBytes = %d, actual %d", est, len(ekData))
	}
	if len(ekData) > e.ek.SizeBytes()/2 {
		t.Errorf("seeded evaluation key takes %d bytes, more than half of %d", len(ekData), e.ek.SizeBytes())
	}
	if !slices.Equal(ek2.bsk, e.ek.bsk) || !slices.Equal(ek2.ksk, e.ek.ksk) {
		t.Fatal("decoded evaluation key differs from the generated one (mask regeneration)")
	}
	// the full (unseeded) form still decodes
	unseeded := *e.ek
	unseeded.seeded = false
	fullData, _ := unseeded.MarshalBinary()
	var ek3 EvalKey
	if err := ek3.UnmarshalBinary(fullData); err != nil || !slices.Equal(ek3.bsk, e.ek.bsk) {
		t.Fatalf("full-form key: %v", err)
	}
	ev2, err := NewEvaluator(p, &ek2)
	if err != nil {
		t.Fatal(err)
	}
	lut, _ := p.NewLUT(func(v int64) int64 { return 2 * v / 3 }, 0)
	out := ev2.NewCiphertext()
	ev2.Bootstrap(out, back, lut)
	if got := sk2.Decrypt(out); got != -2 {
		t.Errorf("bootstrap with decoded keys: %d, want -2", got)
	}
}

func TestSerializationCorruption(t *testing.T) {
	p := InsecureTestParams(4)
	e := newEnv(t, p)
	rng := rand.New(rand.NewPCG(1, 1))
	ct := e.sk.Encrypt(2)
	ctData, _ := ct.MarshalBinary()
	full := e.ev.NewCiphertext()
	e.ev.Add(full, ct, ct)
	fullData, _ := full.MarshalBinary()
	skData, _ := e.sk.MarshalBinary()
	ekData, _ := e.ek.MarshalBinary()
	decoders := map[string]struct {
		data   []byte
		decode func([]byte) error
	}{
		"ciphertext":        {ctData, func(b []byte) error { _, err := p.UnmarshalCiphertext(b); return err }},
		"ciphertext (full)": {fullData, func(b []byte) error { _, err := p.UnmarshalCiphertext(b); return err }},
		"secret key":        {skData, func(b []byte) error { var k SecretKey; return k.UnmarshalBinary(b) }},
		"eval key":          {ekData, func(b []byte) error { var k EvalKey; return k.UnmarshalBinary(b) }},
	}
	for name, d := range decoders {
		// flipped bytes: header, parameters, payload, checksum
		for _, pos := range []int{0, 9, 12, 20, len(d.data) / 2, len(d.data) - 9, len(d.data) - 1, rng.IntN(len(d.data))} {
			b := append([]byte(nil), d.data...)
			b[pos] ^= 1 << rng.IntN(8)
			wantCode(t, name+" flipped byte", d.decode(b), CodeCorruptData)
		}
		for _, n := range []int{0, 5, 11, 30, len(d.data) / 3, len(d.data) - 1} {
			wantCode(t, name+" truncated", d.decode(d.data[:n]), CodeCorruptData)
		}
		wantCode(t, name+" extended", d.decode(append(append([]byte(nil), d.data...), 0)), CodeCorruptData)
	}
	// kind confusion: a secret key is not an evaluation key
	var ek EvalKey
	wantCode(t, "secret key as eval key", ek.UnmarshalBinary(skData), CodeCorruptData)
}

func TestWrongParams(t *testing.T) {
	p := InsecureTestParams(4)
	q := InsecureTestParams(5) // same crypto, other encoding
	e := newEnv(t, p)
	ctData, _ := e.sk.Encrypt(1).MarshalBinary()
	_, err := q.UnmarshalCiphertext(ctData)
	wantCode(t, "ciphertext for another MsgBits", err, CodeParamsMismatch)
	_, err = NewEvaluator(q, e.ek)
	wantCode(t, "evaluator with another set's key", err, CodeParamsMismatch)
	cat := Catalog()[0]
	_, err = cat.UnmarshalCiphertext(ctData)
	wantCode(t, "ciphertext for a catalog set", err, CodeParamsMismatch)
	if _, err := ParamsByName("nope", 4); err == nil {
		t.Error("ParamsByName(nope): no error")
	}
	// Running a LUT of another set is a runtime bug: it panics with BUG.
	lut, _ := q.NewLUT(func(v int64) int64 { return v }, 0)
	func() {
		defer func() {
			if r := recover(); r == nil {
				t.Error("bootstrap with a foreign LUT did not panic")
			}
		}()
		out := e.ev.NewCiphertext()
		e.ev.Bootstrap(out, e.sk.Encrypt(1), lut)
	}()
}

// TestWrongKey decrypts with another key: garbage, but no panic, also for
// ciphertexts of other dimensions.
func TestWrongKey(t *testing.T) {
	p := InsecureTestParams(4)
	e := newEnv(t, p)
	other, err := GenSecretKey(p)
	if err != nil {
		t.Fatal(err)
	}
	right := 0
	for i := 0; i < 64; i++ {
		m := int64(i%16 - 8)
		if other.Decrypt(e.sk.Encrypt(m)) == m {
			right++
		}
	}
	if right > 20 { // chance level is 64/32 = 2
		t.Errorf("wrong key decrypted %d of 64 correctly", right)
	}
	big := Catalog()[0].NewCiphertext()
	_ = other.Decrypt(big)
	_ = other.Decrypt(&Ciphertext{})
}

func TestEvalKeyStream(t *testing.T) {
	p := InsecureTestParams(4)
	e := newEnv(t, p)
	var buf bytes.Buffer
	n, err := e.ek.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := e.ek.MarshalBinary()
	if int(n) != buf.Len() || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("WriteTo wrote %d bytes, differs from MarshalBinary (%d bytes)", n, len(data))
	}
	// two keys back to back: the reader stops after the first checksum
	buf.Write(data)
	br := bufio.NewReader(&buf)
	for i := 0; i < 2; i++ {
		ek, err := ReadEvalKey(br)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewEvaluator(p, ek); err != nil {
			t.Fatal(err)
		}
	}
	for _, pos := range []int{3, 40, len(data) / 2, len(data) - 3} {
		b := append([]byte(nil), data...)
		b[pos] ^= 0x10
		_, err := ReadEvalKey(bytes.NewReader(b))
		wantCode(t, "stream flipped byte", err, CodeCorruptData)
	}
	for _, n := range []int{0, 10, 50, len(data) / 2, len(data) - 1} {
		_, err := ReadEvalKey(bytes.NewReader(data[:n]))
		wantCode(t, "stream truncated", err, CodeCorruptData)
	}
}

// TestCompactCiphertext: fresh encryptions serialize as seed + body; any
// change of the mask falls back to the full form; both decode.
func TestCompactCiphertext(t *testing.T) {
	p := InsecureTestParams(4)
	e := newEnv(t, p)
	roundTrip := func(ct *Ciphertext) (int, int64) {
		t.Helper()
		data, err := ct.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		back, err := p.UnmarshalCiphertext(data)
		if err != nil {
			t.Fatal(err)
		}
		return len(data), e.sk.Decrypt(back)
	}
	ct := e.sk.Encrypt(3)
	if n, v := roundTrip(ct); n > 100 || v != 3 {
		t.Errorf("fresh: %d bytes, decrypts to %d", n, v)
	}
	e.ev.AddPlain(ct, ct, 2) // the mask is unchanged: still compact
	if n, v := roundTrip(ct); n > 100 || v != 5 {
		t.Errorf("after AddPlain: %d bytes, decrypts to %d", n, v)
	}
	other := e.sk.Encrypt(-1)
	e.ev.Add(ct, ct, other)
	if n, v := roundTrip(ct); n < 8*ct.Dim() || v != 4 {
		t.Errorf("after Add: %d bytes, decrypts to %d", n, v)
	}
	tampered := e.sk.Encrypt(1)
	tampered.c[0]++ // mask no longer the seed's stream: the full form is written
	if n, _ := roundTrip(tampered); n < 8*tampered.Dim() {
		t.Errorf("tampered mask serialized compactly (%d bytes)", n)
	}
	var cp Ciphertext
	cp.CopyFrom(other)
	if n, v := roundTrip(&cp); n > 100 || v != -1 {
		t.Errorf("copy of a fresh ciphertext: %d bytes, %d", n, v)
	}
	// a ciphertext decoded from the compact form is itself compact again
	data, _ := other.MarshalBinary()
	back, _ := p.UnmarshalCiphertext(data)
	if n, _ := roundTrip(back); n != len(data) {
		t.Errorf("re-encoding a decoded compact ciphertext: %d bytes, want %d", n, len(data))
	}
}

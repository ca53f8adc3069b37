package tfhe

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// TestExactRounding reads 8-bit values through a 4-bit table after
// dropping 4 LSBs exactly: every input, ties included, must give
// f(round half up(m/16)).
func TestExactRounding(t *testing.T) {
	p := InsecureTestParams(8)
	p.PBSBits = 4
	if pf := p.PFailExact(1, 4); pf > 1e-9 {
		t.Fatalf("toy set: PFailExact = %g", pf)
	}
	e := newEnv(t, p)
	rng := rand.New(rand.NewPCG(11, 12))
	table := randomTable(rng, 4, 8)
	f := func(v int64) int64 { return table[v+8] }
	lut, err := p.NewLUTExact(f, 4)
	if err != nil {
		t.Fatal(err)
	}
	if !lut.Exact() {
		t.Fatal("LUT not exact")
	}
	out := e.ev.NewCiphertext()
	for m := int64(-128); m < 120; m++ {
		if r := m & 15; (r < 6 || r > 10) && rng.IntN(8) != 0 {
			continue // all values near ties, 1 in 8 of the others
		}
		e.ev.Bootstrap(out, e.sk.Encrypt(m), lut)
		v := (m + 8) >> 4
		if got := e.sk.Decrypt(out); got != f(v) {
			t.Errorf("m=%d: got %d, want f(%d) = %d", m, got, v, f(v))
		}
	}
}

// TestExactRoundingCatalog runs exact rounding on a real set after a
// linear combination.
func TestExactRoundingCatalog(t *testing.T) {
	p := mustParams(t, "p4a", 7)
	pf := p.PFailExact(3, 3)
	t.Logf("p4a msg=7: PFailExact(norm 3, drop 3) = 2^%.1f", math.Log2(pf))
	if pf > DefaultPError {
		t.Skip("p4a cannot round 7-bit values exactly at norm 3")
	}
	e := newEnv(t, p)
	rng := rand.New(rand.NewPCG(13, 14))
	lut, err := p.NewLUTExact(func(v int64) int64 { return 3*v + 1 }, 3)
	if err != nil {
		t.Fatal(err)
	}
	out := e.ev.NewCiphertext()
	sum := e.ev.NewCiphertext()
	for i := 0; i < 8; i++ {
		a, b := rng.Int64N(16)-8, rng.Int64N(16)-8
		if i < 4 { // force a tie: 2a + b ≡ 4 (mod 8)
			b = ((4-2*a)%8 + 8) % 8
			if b >= 4 {
				b -= 8
			}
		}
		m := 2*a + b // |m| <= 24
		if i < 4 && (m%8+8)%8 != 4 {
			t.Fatalf("BUG in test: m=%d is not a tie", m)
		}
		e.ev.WeightedSum(sum, []*Ciphertext{e.sk.Encrypt(a), e.sk.Encrypt(b)}, []int64{2, 1}, 0)
		e.ev.Bootstrap(out, sum, lut)
		v := (m + 4) >> 3
		if got := e.sk.Decrypt(out); got != 3*v+1 {
			t.Errorf("m=%d: got %d, want %d", m, got, 3*v+1)
		}
	}
}

func TestSelectExact(t *testing.T) {
	r := Requirements{MsgBits: 9, PBSBits: 4, MaxNorm2: 8, ExactDropBits: 5}
	p, err := Select(r)
	if err != nil {
		var te *Error
		if !errors.As(err, &te) || te.Code != CodeNoCryptoParameters {
			t.Fatalf("err = %v", err)
		}
		t.Logf("no set for exact rounding of 9-bit values: %v", err)
		return
	}
	if p.PFailExact(8, 5) > DefaultPError || p.PFail(8, 5) > DefaultPError {
		t.Errorf("Select gave %s with PFailExact 2^%.1f", p, math.Log2(p.PFailExact(8, 5)))
	}
	t.Logf("exact rounding 9 -> 4 bits at norm 8: %s", p)
}

// TestExactRoundingZeros drops 4 bits of 8-bit multiples of 4 with the two
// known zero bits skipped (2 extractions) and of multiples of 16 with all
// four skipped (no extraction, no bias): every input, ties included, reads
// f(round half up(m/16)), as NewLUTExact does.
func TestExactRoundingZeros(t *testing.T) {
	p := InsecureTestParams(8)
	p.PBSBits = 4
	e := newEnv(t, p)
	rng := rand.New(rand.NewPCG(15, 16))
	table := randomTable(rng, 4, 8)
	f := func(v int64) int64 { return table[v+8] }
	for _, z := range []int{2, 4, 6} {
		if pz, p0 := p.PFailExactZeros(1, 4, z), p.PFailExact(1, 4); pz > p0 || pz > 1e-9 {
			t.Fatalf("PFailExactZeros(1, 4, %d) = %g, PFailExact = %g", z, pz, p0)
		}
		lut, err := p.NewLUTExactZeros(f, 4, z)
		if err != nil {
			t.Fatal(err)
		}
		if want := 4 - min(z, 4); !lut.Exact() || lut.Extractions() != want {
			t.Fatalf("zeros %d: exact %v, %d extractions, want %d", z, lut.Exact(), lut.Extractions(), want)
		}
		out := e.ev.NewCiphertext()
		step := int64(1) << min(z, 7)
		for m := int64(-128); m < 120; m += step {
			e.ev.Bootstrap(out, e.sk.Encrypt(m), lut)
			v := (m + 8) >> 4
			if got := e.sk.Decrypt(out); got != f(v) {
				t.Errorf("zeros %d, m=%d: got %d, want f(%d) = %d", z, m, got, v, f(v))
			}
		}
	}
	if _, err := p.NewLUTExactZeros(f, 4, -1); err == nil {
		t.Error("NewLUTExactZeros with -1 zero bits: no error")
	}
}

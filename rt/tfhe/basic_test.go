package tfhe

import (
	"math/rand/v2"
	"testing"
)

func TestToyRoundTrip(t *testing.T) {
	p := testParams(4)
	sk, err := GenSecretKey(p)
	if err != nil {
		t.Fatal(err)
	}
	for m := int64(-8); m < 8; m++ {
		if got := sk.Decrypt(sk.Encrypt(m)); got != m {
			t.Errorf("decrypt(encrypt(%d)) = %d", m, got)
		}
	}
	ek, err := sk.GenEvalKey()
	if err != nil {
		t.Fatal(err)
	}
	ev, err := NewEvaluator(p, ek)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	table := make([]int64, 16)
	for i := range table {
		table[i] = rng.Int64N(16) - 8
	}
	lut, err := p.NewLUT(func(v int64) int64 { return table[v+8] }, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := ev.NewCiphertext()
	for m := int64(-8); m < 8; m++ {
		ev.Bootstrap(out, sk.Encrypt(m), lut)
		if got := sk.Decrypt(out); got != table[m+8] {
			t.Errorf("PBS(%d) = %d, want %d", m, got, table[m+8])
		}
	}
}

package bgv

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestLookupEvaluators checks that Lookup's evaluator (fused baby steps),
// the same with per-term baby steps and lattigo's evaluator all decrypt to
// the table and use the planned levels, for full and partial power-of-two
// domains. With
// the 22-bit T, q_0 takes the Montgomery path (21 + 47 bits) and the q_i
// the fused one.
func TestLookupEvaluators(t *testing.T) {
	for _, tc := range []struct {
		p    Params
		doms [][2]int64
	}{
		{Params{LogN: 14, T: 65537, Levels: 9}, [][2]int64{{-8, 7}, {-3, 60}, {-100, 99}}},
		{Params{LogN: 14, T: PlaintextModulus(14, 1<<21), Levels: 8}, [][2]int64{{-70, 50}}},
	} {
		compareEvaluators(t, tc.p, tc.doms)
	}
}

func compareEvaluators(t *testing.T, p Params, doms [][2]int64) {
	k := keysFor(t, p)
	rng := rand.New(rand.NewPCG(21, p.T))
	for _, dom := range doms {
		poly, f := randomTable(t, rng, p.T, dom[0], dom[1])
		x := randVals(rng, p.Slots(), dom[0], dom[1])
		ct, err := k.sk.Encrypt(x)
		if err != nil {
			t.Fatal(err)
		}
		n := dom[1] - dom[0] + 1
		var outs []*Ciphertext
		for _, how := range []int{lookupFused, lookupPerTerm, lookupLattigo} {
			out, err := k.ev.lookup(ct, poly, how)
			if err != nil {
				t.Fatal(err)
			}
			checkLookup(t, k, ct, out, poly, x, f)
			outs = append(outs, out)
		}
		// Fused and per-term baby steps: the same arithmetic, bit for bit.
		for j := range outs[0].ct.Value {
			if !outs[0].ct.Value[j].Equal(&outs[1].ct.Value[j]) {
				t.Errorf("%s domain %d: fused and per-term baby steps differ in polynomial %d", p.Name(), n, j)
			}
		}
		// lattigo adds the constant term inside a baby step, we add it
		// last: the same plaintext, the noise within a bit.
		nf, _ := k.sk.NoiseBits(outs[0])
		nl, _ := k.sk.NoiseBits(outs[2])
		if math.Abs(nf-nl) > 1 {
			t.Errorf("%s domain %d: noise 2^%.1f, lattigo's 2^%.1f", p.Name(), n, nf, nl)
		}
	}
}

// TestLookupStructured covers tables whose interpolant is not generic:
// even and odd functions on symmetric domains (half the powers), a linear
// table (degree 1 on a 128-point domain) and a constant one. Each must be
// exact and end at the level the plan expects (PolyDepth of the domain).
func TestLookupStructured(t *testing.T) {
	p := Params{LogN: 14, T: 65537, Levels: 9}
	k := keysFor(t, p)
	rng := rand.New(rand.NewPCG(23, 24))
	half := randVals(rng, 128, -32000, 32000)
	for _, tc := range []struct {
		name   string
		lo, hi int64
		f      func(int64) int64
	}{
		{"even", -100, 100, func(x int64) int64 { return half[max(x, -x)] }},
		{"odd", -100, 100, func(x int64) int64 {
			if x < 0 {
				return -half[-x]
			}
			return half[x] * min(x, 1)
		}},
		{"odd plus a constant", -100, 100, func(x int64) int64 {
			if x < 0 {
				return 77 - half[-x]
			}
			return 77 + half[x]
		}},
		{"linear", -50, 77, func(x int64) int64 { return 3*x + 5 }},
		{"constant", -50, 77, func(int64) int64 { return -1234 }},
	} {
		poly, err := Interpolate(p.T, tc.lo, tc.hi, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		x := randVals(rng, p.Slots(), tc.lo, tc.hi)
		ct, err := k.sk.Encrypt(x)
		if err != nil {
			t.Fatal(err)
		}
		for _, how := range []int{lookupFused, lookupPerTerm} {
			out, err := k.ev.lookup(ct, poly, how)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			checkLookup(t, k, ct, out, poly, x, tc.f)
		}
	}
}

// checkLookup decrypts a lookup's output and compares every slot with f,
// and its level with the planned depth.
func checkLookup(t *testing.T, k *testKeys, in, out *Ciphertext, poly *Poly, x []int64, f func(int64) int64) {
	t.Helper()
	if got, want := in.Level()-out.Level(), PolyDepth(int(poly.Hi-poly.Lo)); got != want {
		t.Errorf("domain [%d,%d]: used %d levels, want %d", poly.Lo, poly.Hi, got, want)
	}
	got, err := k.sk.Decrypt(out, len(x))
	if err != nil {
		t.Fatal(err)
	}
	for i, y := range got {
		if y != f(x[i]) {
			t.Fatalf("domain [%d,%d] slot %d: f(%d) = %d, want %d", poly.Lo, poly.Hi, i, x[i], y, f(x[i]))
		}
	}
}

// randomTable returns the interpolant of a random table on [lo, hi] with
// values in (-t/2, t/2) and the table as a function.
func randomTable(t testing.TB, rng *rand.Rand, mod uint64, lo, hi int64) (*Poly, func(int64) int64) {
	t.Helper()
	tab := randVals(rng, int(hi-lo+1), -int64(mod/2), int64(mod/2))
	f := func(x int64) int64 { return tab[x-lo] }
	poly, err := Interpolate(mod, lo, hi, f)
	if err != nil {
		t.Fatal(err)
	}
	return poly, f
}

package bgv

import (
	"math/rand/v2"
	"sync"
	"testing"
)

// The tests share one key pair per parameter set (key generation and
// evaluator set-up dominate otherwise).
var (
	keysMu sync.Mutex
	keys   = map[Params]*testKeys{}
)

type testKeys struct {
	sk *SecretKey
	ek *EvalKey
	ev *Evaluator
}

func keysFor(t testing.TB, p Params) *testKeys {
	t.Helper()
	keysMu.Lock()
	defer keysMu.Unlock()
	if k, ok := keys[p]; ok {
		return k
	}
	sk, err := GenSecretKey(p)
	if err != nil {
		t.Fatal(err)
	}
	ek := sk.GenEvalKey()
	k := &testKeys{sk: sk, ek: ek, ev: NewEvaluator(ek)}
	keys[p] = k
	return k
}

func randVals(rng *rand.Rand, n int, lo, hi int64) []int64 {
	v := make([]int64, n)
	for i := range v {
		v[i] = lo + rng.Int64N(hi-lo+1)
	}
	return v
}

func TestInterpolateClear(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		t      uint64
		lo, hi int64
	}{{65537, 0, 0}, {65537, -5, 9}, {65537, -128, 127}, {786433, 1000, 1300}, {97, -40, 40}} {
		tab := randVals(rng, int(tc.hi-tc.lo+1), -int64(tc.t/2), int64(tc.t/2))
		p, err := Interpolate(tc.t, tc.lo, tc.hi, func(x int64) int64 { return tab[x-tc.lo] })
		if err != nil {
			t.Fatal(err)
		}
		if p.Degree() != int(tc.hi-tc.lo) {
			t.Errorf("degree %d, want %d", p.Degree(), tc.hi-tc.lo)
		}
		for x := tc.lo; x <= tc.hi; x++ {
			if got := p.Eval(x); got != tab[x-tc.lo] {
				t.Fatalf("t=%d [%d,%d]: p(%d) = %d, want %d", tc.t, tc.lo, tc.hi, x, got, tab[x-tc.lo])
			}
		}
	}
	if _, err := Interpolate(97, 0, 96, func(int64) int64 { return 0 }); err == nil {
		t.Error("a domain of t points was accepted (residues repeat)")
	}
}

func TestSelect(t *testing.T) {
	for _, tc := range []struct {
		depth  int
		maxAbs int64
		logN   int
		t      uint64
		code   string
	}{
		{9, 100, 14, 65537, ""},
		{10, 32000, 14, 65537, ""},
		{11, 100, 15, 65537, ""},
		{22, 100, 15, 65537, ""},
		{23, 100, 16, 786433, ""},
		{30, 40000, 16, 786433, ""},
		{200, 100, 0, 0, CodeDepthExceeded},
		{3, 1 << 40, 0, 0, CodeNoCryptoParameters},
	} {
		p, err := Select(tc.depth, tc.maxAbs)
		if tc.code != "" {
			if e, ok := err.(*Error); !ok || e.Code != tc.code {
				t.Errorf("Select(%d, %d) = %v, %v; want code %s", tc.depth, tc.maxAbs, p, err, tc.code)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Select(%d, %d): %v", tc.depth, tc.maxAbs, err)
		}
		if p.LogN != tc.logN || p.T != tc.t || p.Levels != tc.depth {
			t.Errorf("Select(%d, %d) = %s, want N=2^%d t=%d", tc.depth, tc.maxAbs, p, tc.logN, tc.t)
		}
		if p.LogQP() > maxLogQP[p.LogN] || uint64(2*tc.maxAbs) >= p.T {
			t.Errorf("%s: log QP %d (bound %d), t %d for ±%d", p, p.LogQP(), maxLogQP[p.LogN], p.T, tc.maxAbs)
		}
		hp, err := p.Lattigo()
		if err != nil {
			t.Fatal(err)
		}
		if got := hp.LogQP(); got > float64(maxLogQP[p.LogN]) {
			t.Errorf("%s: lattigo log QP %.2f above the bound %d", p, got, maxLogQP[p.LogN])
		}
		if q, err := ParseParams(p.Name()); err != nil || q != p {
			t.Errorf("ParseParams(%q) = %v, %v", p.Name(), q, err)
		}
	}
}

// TestLookupExact evaluates random tables over their full domain (one
// domain point per slot, repeated over all slots) and checks every slot.
func TestLookupExact(t *testing.T) {
	p := Params{LogN: 14, T: 65537, Levels: 9}
	k := keysFor(t, p)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, dom := range []struct{ lo, hi int64 }{{0, 1}, {-8, 7}, {-3, 60}, {0, 255}} {
		n := int(dom.hi - dom.lo + 1)
		tab := randVals(rng, n, -32768, 32768)
		poly, err := Interpolate(p.T, dom.lo, dom.hi, func(x int64) int64 { return tab[x-dom.lo] })
		if err != nil {
			t.Fatal(err)
		}
		x := make([]int64, p.Slots())
		for i := range x {
			x[i] = dom.lo + int64(i%n)
		}
		ct, err := k.sk.Encrypt(x)
		if err != nil {
			t.Fatal(err)
		}
		out, err := k.ev.Lookup(ct, poly)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ct.Level()-out.Level(), PolyDepth(n-1); got != want {
			t.Errorf("domain %d: used %d levels, want %d", n, got, want)
		}
		got, err := k.sk.Decrypt(out, p.Slots())
		if err != nil {
			t.Fatal(err)
		}
		for i, y := range got {
			if y != tab[x[i]-dom.lo] {
				t.Fatalf("domain [%d,%d] slot %d: f(%d) = %d, want %d", dom.lo, dom.hi, i, x[i], y, tab[x[i]-dom.lo])
			}
		}
	}
}

// TestWeightedSum checks slot-wise sums with and without rescaling, then
// a lookup on the rescaled sum (the noise the sum left must not matter).
func TestWeightedSum(t *testing.T) {
	p := Params{LogN: 14, T: 65537, Levels: 9}
	k := keysFor(t, p)
	rng := rand.New(rand.NewPCG(7, 8))
	const terms = 40
	xs := make([][]int64, terms)
	cts := make([]*Ciphertext, terms)
	w := randVals(rng, terms, -127, 127)
	for i := range xs {
		xs[i] = randVals(rng, p.Slots(), -7, 7)
		var err error
		if cts[i], err = k.sk.Encrypt(xs[i]); err != nil {
			t.Fatal(err)
		}
	}
	want := make([]int64, p.Slots())
	for j := range want {
		want[j] = 300
		for i := range xs {
			want[j] += w[i] * xs[i][j]
		}
	}
	for _, rescale := range []bool{false, true} {
		s, err := k.ev.WeightedSum(cts, w, 300, rescale)
		if err != nil {
			t.Fatal(err)
		}
		got, err := k.sk.Decrypt(s, p.Slots())
		if err != nil {
			t.Fatal(err)
		}
		for j := range got {
			if got[j] != want[j] {
				t.Fatalf("rescale=%v slot %d: %d, want %d", rescale, j, got[j], want[j])
			}
		}
		if !rescale {
			continue
		}
		lo, hi := int64(-127*7*terms+300), int64(127*7*terms+300)
		lo, hi = max(lo, -128), min(hi, 127) // clamp the domain: test slots within it only
		poly, err := Interpolate(p.T, lo, hi, func(x int64) int64 { return x*x - 3 })
		if err != nil {
			t.Fatal(err)
		}
		out, err := k.ev.Lookup(s, poly)
		if err != nil {
			t.Fatal(err)
		}
		y, err := k.sk.Decrypt(out, p.Slots())
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		for j, v := range want {
			if v >= lo && v <= hi {
				checked++
				if y[j] != v*v-3 {
					t.Fatalf("lookup after sum, slot %d: f(%d) = %d, want %d", j, v, y[j], v*v-3)
				}
			}
		}
		if checked < 100 {
			t.Fatalf("only %d slots inside the domain", checked)
		}
	}
}

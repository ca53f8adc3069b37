package bgv

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/tuneinsight/lattigo/v5/he/heint"
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
		{9, 32000, 14, 65537, ""},
		{10, 100, 15, 65537, ""}, // 2^14 holds 9 levels under the 2024 bound 430
		{21, 100, 15, 65537, ""},
		{22, 100, 16, 786433, ""}, // 2^15 holds 21 under 868
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

// TestSerialization round-trips keys and ciphertexts and checks that
// damaged bytes give errors with the right codes, never panics.
func TestSerialization(t *testing.T) {
	p := Params{LogN: 14, T: 65537, Levels: 2}
	k := keysFor(t, p)
	rng := rand.New(rand.NewPCG(11, 12))
	x := randVals(rng, 100, -30000, 30000)
	ct, err := k.sk.Encrypt(x)
	if err != nil {
		t.Fatal(err)
	}
	ctb, err := ct.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	skb, err := k.sk.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	ekb, err := k.ek.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	ct2, err := UnmarshalCiphertext(p, ctb)
	if err != nil {
		t.Fatal(err)
	}
	sk2, err := UnmarshalSecretKey(skb)
	if err != nil {
		t.Fatal(err)
	}
	ek2, err := UnmarshalEvalKey(ekb)
	if err != nil {
		t.Fatal(err)
	}
	// The reloaded keys work together: x²+5 under ek2, decrypt with sk2.
	sq, err := Interpolate(p.T, -1, 1, func(v int64) int64 { return v*v + 5 })
	if err != nil {
		t.Fatal(err)
	}
	small, err := k.sk.Encrypt([]int64{-1, 0, 1})
	if err != nil {
		t.Fatal(err)
	}
	sqct, err := NewEvaluator(ek2).Lookup(small, sq)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := sk2.Decrypt(sqct, 3); err != nil || !slices.Equal(got, []int64{6, 5, 6}) {
		t.Errorf("reloaded keys: %v, %v; want [6 5 6]", got, err)
	}
	if got, err := sk2.Decrypt(ct2, len(x)); err != nil || !slices.Equal(got, x) {
		t.Errorf("reloaded ciphertext decrypts to %v..., %v", got[:3], err)
	}

	code := func(err error) string {
		if e, ok := err.(*Error); ok {
			return e.Code
		}
		return fmt.Sprint(err)
	}
	for name, data := range map[string][]byte{"ciphertext": ctb, "secret key": skb, "eval key": ekb} {
		for _, pos := range []int{0, 9, 12, len(data) / 3, len(data) - 40, len(data) - 1} {
			bad := slices.Clone(data)
			bad[pos] ^= 4
			var err error
			switch name {
			case "ciphertext":
				_, err = UnmarshalCiphertext(p, bad)
			case "secret key":
				_, err = UnmarshalSecretKey(bad)
			default:
				_, err = UnmarshalEvalKey(bad)
			}
			if code(err) != CodeCorruptData {
				t.Errorf("%s with byte %d flipped: %v, want %s", name, pos, err, CodeCorruptData)
			}
		}
		for _, n := range []int{0, 10, len(data) / 2, len(data) - 1} {
			if _, err := UnmarshalEvalKey(data[:n]); code(err) != CodeCorruptData {
				t.Errorf("%s truncated to %d bytes: %v", name, n, err)
			}
		}
	}
	// Wrong kind and wrong parameters.
	if _, err := UnmarshalEvalKey(skb); code(err) != CodeCorruptData {
		t.Errorf("secret key read as eval key: %v", err)
	}
	other := Params{LogN: 14, T: 65537, Levels: 3}
	if _, err := UnmarshalCiphertext(other, ctb); code(err) != CodeParamsMismatch {
		t.Errorf("ciphertext for other params: %v, want %s", err, CodeParamsMismatch)
	}
	// A well-framed ciphertext with an out-of-range coefficient (valid
	// checksum: a hostile sender) is rejected by the shape checks.
	raw, _ := ct.ct.MarshalBinary()
	forged := ct.ct.CopyNew()
	forged.Value[1].Coeffs[0][7] = p.mustLattigo(t).Q()[0]
	fb, _ := forged.MarshalBinary()
	if len(fb) != len(raw) {
		t.Fatal("forged ciphertext changed size")
	}
	if _, err := UnmarshalCiphertext(p, frame(kindCiphertext, p, fb)); code(err) != CodeCorruptData {
		t.Errorf("forged coefficient: %v, want %s", err, CodeCorruptData)
	}
	// Garbage lattigo body behind a valid frame.
	junk := make([]byte, 64)
	for i := range junk {
		junk[i] = byte(rng.Uint32())
	}
	for kind, f := range map[byte]func([]byte) error{
		kindCiphertext: func(b []byte) error { _, err := UnmarshalCiphertext(p, b); return err },
		kindSecretKey:  func(b []byte) error { _, err := UnmarshalSecretKey(b); return err },
		kindEvalKey:    func(b []byte) error { _, err := UnmarshalEvalKey(b); return err },
	} {
		if err := f(frame(kind, p, junk)); code(err) != CodeCorruptData {
			t.Errorf("%s with a junk body: %v, want %s", kindNames[kind], err, CodeCorruptData)
		}
	}
}

func (p Params) mustLattigo(t testing.TB) heint.Parameters {
	hp, err := p.Lattigo()
	if err != nil {
		t.Fatal(err)
	}
	return hp
}

// TestNoiseMargin runs the deepest chain a set allows (a noisy weighted
// sum with rescale, then a lookup using every remaining level), checks it
// is exact and that the final noise leaves a margin below q_0. The N=2^15
// and 2^16 sets (slow) run with BGV_SLOW=1.
func TestNoiseMargin(t *testing.T) {
	type cfg struct {
		p    Params
		slow bool
	}
	cfgs := []cfg{
		{Params{LogN: 14, T: 65537, Levels: 9}, false},
		{Params{LogN: 14, T: PlaintextModulus(14, 1<<21), Levels: 8}, false},
		{Params{LogN: 15, T: 65537, Levels: 9}, true},
		{Params{LogN: 16, T: 786433, Levels: 9}, true},
		{Params{LogN: 16, T: PlaintextModulus(16, 1<<28), Levels: 9}, true},
	}
	for _, c := range cfgs {
		p := c.p
		t.Run(p.Name(), func(t *testing.T) {
			if c.slow && os.Getenv("BGV_SLOW") == "" {
				t.Skip("set BGV_SLOW=1")
			}
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			k := keysFor(t, p)
			rng := rand.New(rand.NewPCG(13, uint64(p.LogN)))
			deg := 1<<(p.Levels-1) - 1
			lo := -int64(deg / 2)
			hi := lo + int64(deg)
			x := randVals(rng, p.Slots(), lo, hi)
			ct, err := k.sk.Encrypt(x)
			if err != nil {
				t.Fatal(err)
			}
			// 64 terms with weights of magnitude up to t/2 summing to 1.
			w := randVals(rng, 64, -int64(p.T/2), int64(p.T/2))
			var s int64
			for _, v := range w[1:] {
				s += v
			}
			w[0] = 1 - s
			cts := make([]*Ciphertext, len(w))
			for i := range cts {
				cts[i] = ct
			}
			sum, err := k.ev.WeightedSum(cts, w, 0, true)
			if err != nil {
				t.Fatal(err)
			}
			tab := randVals(rng, deg+1, -int64(p.T/2), int64(p.T/2))
			poly, err := Interpolate(p.T, lo, hi, func(v int64) int64 { return tab[v-lo] })
			if err != nil {
				t.Fatal(err)
			}
			out, err := k.ev.Lookup(sum, poly)
			if err != nil {
				t.Fatal(err)
			}
			if out.Level() != 0 {
				t.Errorf("lookup ended at level %d, want 0", out.Level())
			}
			got, err := k.sk.Decrypt(out, p.Slots())
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if got[i] != tab[x[i]-lo] {
					t.Fatalf("slot %d: f(%d) = %d, want %d", i, x[i], got[i], tab[x[i]-lo])
				}
			}
			noise, logQ := k.sk.NoiseBits(out)
			t.Logf("%s: final noise 2^%.1f, q0 2^%.1f, margin %.1f bits", p, noise, logQ, logQ-1-noise)
			if logQ-1-noise < 8 {
				t.Errorf("margin %.1f bits below q0, want ≥ 8", logQ-1-noise)
			}
		})
	}
}

// TestExcessMargin checks the level plan's rule that a sum may skip its
// rescale while its noise stays within maxExcess (4) rescale floors: four
// lookup outputs (floor noise) summed with weights ±1 and no rescale feed
// a lookup that uses every remaining level; it must be exact with the
// margin TestNoiseMargin asks for (measured: 18.0, 18.4 and 18.3 bits).
func TestExcessMargin(t *testing.T) {
	for _, p := range []Params{{LogN: 14, T: 65537, Levels: 9}, {LogN: 15, T: 65537, Levels: 9}, {LogN: 16, T: 786433, Levels: 9}} {
		t.Run(p.Name(), func(t *testing.T) {
			k := keysFor(t, p)
			rng := rand.New(rand.NewPCG(17, uint64(p.LogN)))
			// First lookups: [-4,3] → [0,15] (degree 7, 3 levels).
			first, err := Interpolate(p.T, -4, 3, func(v int64) int64 { return (v*v + 3*v + 5) & 15 })
			if err != nil {
				t.Fatal(err)
			}
			xs := make([][]int64, 4)
			ys := make([]*Ciphertext, 4)
			for i := range ys {
				xs[i] = randVals(rng, p.Slots(), -4, 3)
				ct, err := k.sk.Encrypt(xs[i])
				if err != nil {
					t.Fatal(err)
				}
				if ys[i], err = k.ev.Lookup(ct, first); err != nil {
					t.Fatal(err)
				}
			}
			w := []int64{1, -1, 1, -1}
			sum, err := k.ev.WeightedSum(ys, w, 0, false)
			if err != nil {
				t.Fatal(err)
			}
			// The sum lies in [-30, 30]: degree 60, the 6 levels left.
			tab := randVals(rng, 61, -int64(p.T/2), int64(p.T/2))
			second, err := Interpolate(p.T, -30, 30, func(v int64) int64 { return tab[v+30] })
			if err != nil {
				t.Fatal(err)
			}
			if second.Depth() != sum.Level() {
				t.Fatalf("second lookup needs %d levels, %d left", second.Depth(), sum.Level())
			}
			out, err := k.ev.Lookup(sum, second)
			if err != nil {
				t.Fatal(err)
			}
			got, err := k.sk.Decrypt(out, p.Slots())
			if err != nil {
				t.Fatal(err)
			}
			f := func(v int64) int64 { return (v*v + 3*v + 5) & 15 }
			for i := range got {
				s := f(xs[0][i]) - f(xs[1][i]) + f(xs[2][i]) - f(xs[3][i])
				if got[i] != tab[s+30] {
					t.Fatalf("slot %d: g(%d) = %d, want %d", i, s, got[i], tab[s+30])
				}
			}
			noise, logQ := k.sk.NoiseBits(out)
			t.Logf("%s: final noise 2^%.1f, q0 2^%.1f, margin %.1f bits", p, noise, logQ, logQ-1-noise)
			if logQ-1-noise < 8 {
				t.Errorf("margin %.1f bits below q0, want ≥ 8", logQ-1-noise)
			}
		})
	}
}

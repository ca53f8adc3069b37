package bgv

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestVectorMajor multiplies a full layout of samples (interleaved, both
// slot rows) by random sparse matrices, sums two products with a bias,
// applies per-slot-group lookups and checks every value against the clear
// computation, with lattigo's hoisted products and with two-key ones.
func TestVectorMajor(t *testing.T) {
	t.Run("hoisted", func(t *testing.T) { testVectorMajor(t, false) })
	t.Run("two-key", func(t *testing.T) { testVectorMajor(t, true) })
}

func testVectorMajor(t *testing.T, twoKey bool) {
	p := Params{LogN: 14, T: 65537, Levels: 3}
	sk, err := GenSecretKey(p)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(21, 22))
	const nA, nB, nOut = 24, 6, 8
	randEntries := func(nIn int) []Entry {
		var es []Entry
		for i := range nOut {
			for j := range nIn {
				if rng.IntN(3) == 0 {
					es = append(es, Entry{Row: int32(i), Col: int32(j), W: rng.Int64N(15) - 7})
				}
			}
		}
		return es
	}
	ea, eb := randEntries(nA), randEntries(nB)
	l, err := NewLayout(p, nA)
	if err != nil {
		t.Fatal(err)
	}
	if l.Stride != 256 || l.Samples() != 512 || l.MaxLen() != 32 {
		t.Fatalf("layout for %d elements at N=2^14: stride %d, %d samples, length %d; want 256, 512, 32", nA, l.Stride, l.Samples(), l.MaxLen())
	}
	if twoKey {
		if l = l.TwoKey(); l.Giant != 8 {
			t.Fatalf("two-key giant step for 32 elements: %d, want 8", l.Giant)
		}
	}
	ga, err := l.MatVecGaloisElements(ea)
	if err != nil {
		t.Fatal(err)
	}
	gb, _ := l.MatVecGaloisElements(eb)
	ek := sk.GenEvalKeyWithRotations(append(ga, gb...))
	ekb, err := ek.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if ek, err = UnmarshalEvalKey(ekb); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d rotation keys, %d MiB", len(ek.gks), ek.RotationKeyBytes()>>20)
	if twoKey && len(ek.gks) != 2 {
		t.Errorf("two-key products use %d rotation keys, want 2", len(ek.gks))
	}
	ev := NewEvaluator(ek)
	if twoKey {
		// Diagonal products shared with a helper goroutine.
		ev.SetHelpers([]*Evaluator{ev.ShallowCopy()})
	}
	level := p.Levels
	ma, err := ev.EncodeMatVec(l, nOut, nA, ea, level)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := ev.EncodeMatVec(l, nOut, nB, eb, level)
	if err != nil {
		t.Fatal(err)
	}
	ns := l.Samples()
	xa := make([][]int64, ns)
	xb := make([][]int64, ns)
	for q := range ns {
		xa[q] = randVals(rng, nA, -3, 3)
		xb[q] = randVals(rng, nB, 0, 5)
	}
	bias := randVals(rng, nOut, -10, 10)
	cta, err := sk.EncryptVectors(l, xa)
	if err != nil {
		t.Fatal(err)
	}
	ctb, err := ev.TrivialVectors(l, xb) // a clear operand
	if err != nil {
		t.Fatal(err)
	}
	sum, err := ev.MatVecSum([]*Ciphertext{cta, ctb}, []*MatVec{ma, mb}, bias)
	if err != nil {
		t.Fatal(err)
	}
	want := make([][]int64, ns)
	for r := range want {
		want[r] = append([]int64(nil), bias...)
		for _, e := range ea {
			want[r][e.Row] += e.W * xa[r][e.Col]
		}
		for _, e := range eb {
			want[r][e.Row] += e.W * xb[r][e.Col]
		}
	}
	got, err := sk.DecryptVectors(l, sum, nOut, ns)
	if err != nil {
		t.Fatal(err)
	}
	for r := range want {
		for j := range want[r] {
			if got[r][j] != want[r][j] {
				t.Fatalf("row %d out %d: %d, want %d", r, j, got[r][j], want[r][j])
			}
		}
	}
	// A second product reading cta again (two-key: from the cached baby
	// steps, extended as far as this matrix needs).
	ec := randEntries(nA)
	gc, _ := l.MatVecGaloisElements(ec)
	for _, g := range gc {
		if !slices.Contains(ek.GaloisElements(), g) {
			t.Skipf("rotation %d of the second matrix has no key", g)
		}
	}
	mc, err := ev.EncodeMatVec(l, nOut, nA, ec, level)
	if err != nil {
		t.Fatal(err)
	}
	// Then ma again on cta: its baby steps come from the cache.
	for i, tc := range []struct {
		m  *MatVec
		es []Entry
	}{{mc, ec}, {ma, ea}} {
		prod, err := ev.MatVecSum([]*Ciphertext{cta}, []*MatVec{tc.m}, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := sk.DecryptVectors(l, prod, nOut, ns)
		if err != nil {
			t.Fatal(err)
		}
		for r := range ns {
			want := make([]int64, nOut)
			for _, e := range tc.es {
				want[e.Row] += e.W * xa[r][e.Col]
			}
			if !slices.Equal(got[r], want) {
				t.Fatalf("product %d on the same input, row %d: %v, want %v", i+2, r, got[r], want)
			}
		}
	}
	if twoKey && ev.baby.src != cta {
		t.Error("two-key products on the same input did not keep its baby steps")
	}
	// Per-group lookups (4 groups) on the fresh input's domain [-3,3].
	polys := make([]*Poly, 4)
	for g := range polys {
		if polys[g], err = Interpolate(p.T, -3, 3, func(v int64) int64 { return v*v*int64(g+1) - int64(g) }); err != nil {
			t.Fatal(err)
		}
	}
	groups := make([]int32, nA)
	for j := range groups {
		groups[j] = int32(j % 4)
	}
	out, err := ev.LookupSlots(l, cta, polys, groups)
	if err != nil {
		t.Fatal(err)
	}
	y, err := sk.DecryptVectors(l, out, nA, ns)
	if err != nil {
		t.Fatal(err)
	}
	for r := range xa {
		for j, v := range xa[r] {
			g := int64(j % 4)
			if y[r][j] != v*v*(g+1)-g {
				t.Fatalf("row %d slot %d: f_%d(%d) = %d, want %d", r, j, g, v, y[r][j], v*v*(g+1)-g)
			}
		}
	}
	// A product whose rotations have no keys fails cleanly.
	other := []Entry{{Row: 0, Col: 5, W: 1}, {Row: 3, Col: 0, W: 2}, {Row: 1, Col: 20, W: 1}}
	mo, err := NewEvaluator(sk.GenEvalKey()).EncodeMatVec(l, nOut, nA, other, level)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewEvaluator(sk.GenEvalKey()).MatVecSum([]*Ciphertext{cta}, []*MatVec{mo}, nil); err == nil || err.(*Error).Code != CodeParamsMismatch {
		t.Errorf("product without rotation keys: %v, want %s", err, CodeParamsMismatch)
	}
}

package passes

import (
	"math/rand"
	"testing"

	"github.com/fheir/fheir/ir"
)

// TestRoundSemantics checks the rounded table exhaustively against its
// definition: for every x in the input range, the rounded tlu gives
// old_table(clip(round(x)·2^k, lo_x, hi_x)), and its input fits n bits.
func TestRoundSemantics(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	for iter := 0; iter < 60; iter++ {
		lo := rng.Int63n(600) - 400
		hi := lo + 1 + rng.Int63n(700)
		dom := ir.Range{Lo: lo, Hi: hi}
		n := 2 + rng.Intn(5)
		method := []string{"exact", "approximate"}[iter%2]
		C := 1 + iter%3
		size := int(hi - lo + 1)
		table := ir.NewInts([]int{C, size}, nil)
		for i := range table.I {
			table.I[i] = rng.Int63n(16)
		}
		f := ir.NewFunc("main")
		x := f.AddParam("x", ir.EncOf(dom.Elem(), 2, C))
		x.Range = &dom
		attrs := ir.Attrs{ir.IntAttr("lo", lo), ir.IntAttr("axis", 1), ir.TensorAttrOf("table", ir.Uint(4), table)}
		y := f.Add(ir.OpTLU, ir.EncOf(ir.Uint(4), 2, C), []*ir.Value{x}, attrs)
		f.Results = []*ir.Value{y}
		orig := f.Clone()
		if err := Run(f, "round", &Options{RoundingBits: n, RoundingMethod: method}); err != nil {
			t.Fatal(err)
		}
		if dom.Bits() <= n {
			if len(f.Body) != 1 {
				t.Fatalf("round fired on a %d-bit input with threshold %d", dom.Bits(), n)
			}
			continue
		}
		r := f.Body[0]
		slack := 0
		if method == "approximate" {
			slack = 1 // ±1 may not fit n bits for any k below the input width
		}
		if r.Op != ir.OpRound || r.Range.Bits() > n+slack {
			t.Fatalf("want a round to at most %d bits, got\n%s", n, ir.Print(f))
		}
		k := r.Int("bits", 0)
		for v := lo; v <= hi; v++ {
			in := ir.NewInts([]int{2, C}, nil)
			for i := range in.I {
				in.I[i] = v
			}
			got, err := ir.Run(f, []*ir.Tensor{in})
			if err != nil {
				t.Fatal(err)
			}
			q := min(max(((v+int64(1)<<(k-1))>>k)<<k, lo), hi)
			for i := range in.I {
				in.I[i] = q
			}
			want, err := ir.Run(orig, []*ir.Tensor{in})
			if err != nil {
				t.Fatal(err)
			}
			if !got[0].Equal(want[0]) {
				t.Fatalf("x=%d (k=%d): got %v, want old table at %d = %v", v, k, got[0].I, q, want[0].I)
			}
		}
	}
}

// TestRoundTooWide: a tlu reading more than MaxTLUBits after rounding is
// an AccumulatorTooWide error naming the layer, with the hint.
func TestRoundTooWide(t *testing.T) {
	src := `func main(v0: enc<1x2xu3>) {
  v1 = const <tensor<2x1xi3>> [3, 2]
  v2 = gemm <enc<1x1xu6>> v0 v1  ; range=[0,35] loc="Gemm_3"
  v3 = tlu <enc<1x1xu2>> v2 {lo=0, table=<36xu2>[0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3]}
  return v3
}`
	f, err := ir.Parse("t.fir", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	err = Run(f.Clone(), "round", &Options{MaxTLUBits: 5})
	if !ir.HasCode(err, ir.AccumulatorTooWide) {
		t.Fatalf("want AccumulatorTooWide, got %v", err)
	}
	const want = `3:3: node "Gemm_3": table lookup on the accumulator of Gemm_3 would read 6 bits, max 5: lower n_bits or set rounding_threshold_bits [AccumulatorTooWide]`
	if err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	// With rounding to 5 bits the same limit is met.
	if err := Run(f.Clone(), "round", &Options{MaxTLUBits: 5, RoundingBits: 5}); err != nil {
		t.Errorf("with rounding: %v", err)
	}
}

// TestRoundTooWideMax: an encrypted maxpool looks up differences of its
// inputs, which must fit MaxTLUBits too.
func TestRoundTooWideMax(t *testing.T) {
	src := `func main(v0: enc<1x1x2x2xi9> range=[-200,200]) {
  v1 = maxpool <enc<1x1x1x1xi9>> v0 {kernel=[2, 2]}  ; loc="MaxPool_1"
  return v1
}`
	f, err := ir.Parse("t.fir", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := Run(f.Clone(), "round", nil); err != nil {
		t.Errorf("10-bit differences under the default limit: %v", err)
	}
	err = Run(f.Clone(), "round", &Options{MaxTLUBits: 9})
	const want = `2:3: node "MaxPool_1": maxpool of encrypted values looks up 10-bit differences, max 9: lower n_bits [AccumulatorTooWide]`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	rep := Analyze(f)
	if len(rep.Layers) != 1 || rep.Layers[0].TLUs != 3 || rep.Layers[0].TLUInputBits != 10 {
		t.Errorf("report: %+v", rep.Layers)
	}
}

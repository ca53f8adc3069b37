package passes

import (
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fheir/fheir/ir"
)

// loadNet parses and verifies a handmade network from testdata.
func loadNet(t testing.TB, name string) *ir.Func {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	f, err := ir.Parse(name, src)
	if err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return f
}

// randomInputs draws one input per parameter: floats uniform in [-4, 4]
// (the quantizers clamp), integers uniform in the declared range.
func randomInputs(rng *rand.Rand, f *ir.Func) []*ir.Tensor {
	var in []*ir.Tensor
	for _, p := range f.Params {
		if p.Type.Elem.Float {
			t := ir.NewFloats(p.Type.Shape, nil)
			for i := range t.F {
				t.F[i] = float64(float32(rng.Float64()*8 - 4))
			}
			in = append(in, t)
			continue
		}
		r := rangeOf(p)
		t := ir.NewInts(p.Type.Shape, nil)
		for i := range t.I {
			t.I[i] = r.Lo + rng.Int63n(r.Hi-r.Lo+1)
		}
		in = append(in, t)
	}
	return in
}

var nets = []string{"mlp.fir", "convbn.fir", "silu.fir", "perchannel.fir", "chain.fir", "bnfold.fir"}

// TestPassesPreserveSemantics runs every pass alone, and the default
// pipeline, on every handmade network and checks that the interpreter gives
// identical outputs before and after on random inputs.
func TestPassesPreserveSemantics(t *testing.T) {
	pipelines := append(Names(), "default", "narrow,fuse-tlu", "fuse-tlu,merge-linear,cse,dce", "fold-batchnorm,fuse-tlu,dce")
	for _, name := range nets {
		for _, pl := range pipelines {
			if pl == "round" {
				continue // round changes results by design; see TestRoundSemantics
			}
			t.Run(strings.TrimSuffix(name, ".fir")+"/"+pl, func(t *testing.T) {
				orig := loadNet(t, name)
				f := orig.Clone()
				if err := Run(f, pl, nil); err != nil {
					t.Fatalf("%v\n%s", err, ir.Print(f))
				}
				rng := rand.New(rand.NewSource(1))
				for i := 0; i < 100; i++ {
					in := randomInputs(rng, orig)
					want, err := ir.Run(orig, in)
					if err != nil {
						t.Fatal(err)
					}
					got, err := ir.Run(f, in)
					if err != nil {
						t.Fatalf("after %s: %v\n%s", pl, err, ir.Print(f))
					}
					for j := range want {
						if !want[j].Equal(got[j]) {
							t.Fatalf("after %s: input %d: result %d differs:\nwant %v\ngot  %v\n%s", pl, i, j, want[j], got[j], ir.Print(f))
						}
					}
				}
			})
		}
	}
}

// TestDefaultPipelineWithRounding: with rounding_threshold_bits every table
// reads at most that many bits (the report agrees), and the rounded
// networks still run on random inputs.
func TestDefaultPipelineWithRounding(t *testing.T) {
	for _, name := range nets {
		for _, n := range []int{3, 5} {
			f := loadNet(t, name)
			if err := Run(f, "default", &Options{RoundingBits: n, RoundingMethod: "exact"}); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for _, v := range f.Body {
				if v.Op == ir.OpTLU && bitsOf(v.Args[0]) > n {
					t.Errorf("%s: %s reads %d bits, threshold %d", name, v, bitsOf(v.Args[0]), n)
				}
			}
			if rep := Analyze(f); rep.MaxTLUBits > n {
				t.Errorf("%s: report max_tlu_bits %d > %d", name, rep.MaxTLUBits, n)
			}
			rng := rand.New(rand.NewSource(7))
			for i := 0; i < 50; i++ {
				if _, err := ir.Run(f, randomInputs(rng, f)); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}
		}
	}
}

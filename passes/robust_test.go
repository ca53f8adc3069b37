package passes

import (
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fheir/fheir/ir"
	"golang.org/x/tools/txtar"
)

// TestPassesOnAllGoldenInputs runs every pass, and the default pipeline, on
// the input of every golden case in the repository that parses and
// verifies (the IR package's cases exercise every op): no pass may panic,
// the result must verify, and the interpreter must give the same results.
func TestPassesOnAllGoldenInputs(t *testing.T) {
	files, _ := filepath.Glob("../golden/testdata/*/*.txtar")
	if len(files) == 0 {
		t.Skip("no golden files")
	}
	pipelines := append(Names(), "default")
	ran := 0
	for _, file := range files {
		a, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var src []byte
		for _, f := range a.Files {
			if f.Name == "in.fir" {
				src = f.Data
			}
		}
		orig, err := ir.Parse("in.fir", src)
		if err != nil || ir.Verify(orig) != nil {
			continue
		}
		for _, pl := range pipelines {
			if pl == "round" {
				continue
			}
			f := orig.Clone()
			err := Run(f, pl, nil)
			if err != nil {
				if strings.Contains(err.Error(), "panic") || strings.HasPrefix(err.Error(), "after pass") {
					t.Errorf("%s: %s: %v", filepath.Base(file), pl, err)
				}
				t.Logf("%s: %s: %v", filepath.Base(file), pl, err)
				continue
			}
			ran++
			rng := rand.New(rand.NewSource(8))
			for i := 0; i < 20; i++ {
				in := randomInputs(rng, orig)
				want, err := ir.Run(orig, in)
				if err != nil {
					continue
				}
				got, err := ir.Run(f, in)
				if err != nil {
					t.Errorf("%s: after %s: %v", filepath.Base(file), pl, err)
					break
				}
				for j := range want {
					if !want[j].Equal(got[j]) {
						t.Errorf("%s: after %s: result %d differs", filepath.Base(file), pl, j)
					}
				}
			}
		}
	}
	t.Logf("%d pipeline runs", ran)
}

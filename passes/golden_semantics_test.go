package passes

import (
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fheir/fheir/ir"
	"golang.org/x/tools/txtar"
)

// TestGoldenSemantics checks every passes golden case (the harness in
// ../golden checks the printed output): in.fir and want.fir must agree on
// random inputs, except for cases whose pipeline rounds (round changes
// results by design).
func TestGoldenSemantics(t *testing.T) {
	files, err := filepath.Glob("../golden/testdata/passes/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, file := range files {
		a, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		sec := make(map[string][]byte)
		for _, f := range a.Files {
			sec[f.Name] = f.Data
		}
		pl := strings.TrimSpace(string(sec["pipeline"]))
		if sec["want.fir"] == nil || strings.Contains(pl, "round") || strings.Contains(pl, "bits=") {
			continue
		}
		t.Run(filepath.Base(file), func(t *testing.T) {
			in, err := ir.Parse("in.fir", sec["in.fir"])
			if err != nil {
				t.Fatal(err)
			}
			want, err := ir.Parse("want.fir", sec["want.fir"])
			if err != nil {
				t.Fatal(err)
			}
			if err := ir.Verify(want); err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewSource(2))
			for i := 0; i < 200; i++ {
				x := randomInputs(rng, in)
				a, errA := ir.Run(in, x)
				b, errB := ir.Run(want, x)
				if errA != nil {
					continue // input outside what in.fir's types allow
				}
				if errB != nil {
					t.Fatalf("want.fir fails where in.fir runs: %v", errB)
				}
				for j := range a {
					if !a[j].Equal(b[j]) {
						t.Fatalf("input %v: result %d: in.fir gives %v, want.fir %v", x, j, a[j], b[j])
					}
				}
			}
		})
	}
}

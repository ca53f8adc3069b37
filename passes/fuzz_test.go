package passes

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/fheir/fheir/ir"
	"golang.org/x/tools/txtar"
)

// FuzzDefaultPipeline: for any text that parses and verifies, the default
// pipeline (with and without rounding) never panics and its output
// verifies. Seeds are the golden inputs. Run with
// go test ./passes -fuzz FuzzDefaultPipeline.
func FuzzDefaultPipeline(f *testing.F) {
	files, _ := filepath.Glob("../golden/testdata/*/*.txtar")
	for _, file := range files {
		a, err := txtar.ParseFile(file)
		if err != nil {
			continue
		}
		for _, s := range a.Files {
			if s.Name == "in.fir" {
				f.Add(string(s.Data), uint8(0))
				f.Add(string(s.Data), uint8(3))
			}
		}
	}
	f.Fuzz(func(t *testing.T, src string, bits uint8) {
		g, err := ir.Parse("fuzz.fir", []byte(src))
		if err != nil || ir.Verify(g) != nil {
			return
		}
		for _, v := range g.Body {
			if v.Type.Size() > 1<<12 {
				return // keep each run small
			}
		}
		err = Run(g, "default", &Options{RoundingBits: int(bits % 9)})
		if err != nil && (strings.Contains(err.Error(), "panic during pass") || strings.HasPrefix(err.Error(), "after pass")) {
			t.Fatalf("%v\n%s", err, src)
		}
	})
}

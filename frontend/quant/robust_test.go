package quant

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/fheir/fheir/ir"
	"golang.org/x/tools/txtar"
)

// Every function of the project's golden IR files (all ops, float and
// integer, valid ones only) goes through LowerQAT and PTQ without a panic:
// they either lower (and then verify) or return coded errors.
func TestNoPanicOnGoldenIR(t *testing.T) {
	files, _ := filepath.Glob("../../golden/testdata/*/*.txtar")
	pf, _ := filepath.Glob("../../passes/testdata/*.fir")
	if len(files) == 0 {
		t.Skip("no golden files")
	}
	n := 0
	try := func(name string, src []byte) {
		f, err := ir.Parse(name, src)
		if err != nil || ir.Verify(f) != nil {
			return
		}
		n++
		for _, mode := range []string{"qat", "ptq"} {
			g := f.Clone()
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("%s (%s): panic: %v\n%s", name, mode, r, src)
					}
				}()
				var err error
				if mode == "qat" {
					err = LowerQAT(g)
				} else {
					rnd := rand.New(rand.NewSource(1))
					var calib [][]*ir.Tensor
					ok := true
					for i := 0; i < 5 && ok; i++ {
						var sample []*ir.Tensor
						for _, p := range g.Params {
							if !p.Type.Elem.Float {
								ok = false
								break
							}
							sample = append(sample, randomInputs(rnd, &ir.Func{Params: []*ir.Value{p}}, 1)[0])
						}
						calib = append(calib, sample)
					}
					if !ok {
						return
					}
					err = PTQ(g, Config{NBits: Bits(4)}, calib)
				}
				if err == nil {
					if verr := ir.Verify(g); verr != nil {
						t.Errorf("%s (%s): lowered function does not verify: %v", name, mode, verr)
					}
				}
			}()
		}
	}
	for _, file := range files {
		a, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, fl := range a.Files {
			if filepath.Ext(fl.Name) == ".fir" {
				try(fmt.Sprintf("%s/%s", filepath.Base(file), fl.Name), fl.Data)
			}
		}
	}
	for _, file := range pf {
		src, _ := os.ReadFile(file)
		try(filepath.Base(file), src)
	}
	t.Logf("%d valid functions", n)
}

// FuzzLowerQAT: LowerQAT on any valid function returns (coded errors or a
// function that verifies) and never panics. Seeds: the test networks.
func FuzzLowerQAT(f *testing.F) {
	f.Add([]byte(ir.Print(simpleNet(1, true, ir.F32))))
	f.Add([]byte(ir.Print(convNet(2, false))))
	f.Add([]byte(ir.Print(poolNet(3))))
	f.Add([]byte(ir.Print(residualNet(4, false))))
	f.Fuzz(func(t *testing.T, src []byte) {
		g, err := ir.Parse("fuzz.fir", src)
		if err != nil || ir.Verify(g) != nil || len(g.Body) > 200 {
			return
		}
		for _, v := range g.Body {
			if v.Type.Size() > 1<<12 {
				return
			}
		}
		if LowerQAT(g) == nil {
			if err := ir.Verify(g); err != nil {
				t.Fatalf("lowered function does not verify: %v", err)
			}
		}
	})
}

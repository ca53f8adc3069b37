package onnx

import (
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fheir/fheir/internal/npy"
	"github.com/fheir/fheir/ir"
)

var update = flag.Bool("update", false, "update golden files")

// TestFixtureSemantics imports each fixture export and runs every test row
// through the IR interpreter: the float graph and the QAT graphs (QONNX
// Quant and QCDQ) must reproduce the PyTorch/Brevitas outputs.
func TestFixtureSemantics(t *testing.T) {
	cases := []struct {
		model, data string
		tol         float64 // max |got - want| on the logits
	}{
		{"float_mlp_wine.torch.op14.onnx", "float_mlp_wine", 2e-5},
		{"qat_simplenet_wine.qonnx.op14.onnx", "qat_simplenet_wine", 2e-5},
		{"qat_simplenet_wine.qcdq.op14.onnx", "qat_simplenet_wine", 2e-5},
		{"qat_convnet_digits.qonnx.op14.onnx", "qat_convnet_digits", 2e-5},
		{"qat_convnet_digits.qcdq.op14.onnx", "qat_convnet_digits", 2e-5},
	}
	for _, c := range cases {
		t.Run(c.model, func(t *testing.T) {
			m, err := Load(filepath.Join(fixtures, c.model))
			if err != nil {
				t.Skip(err)
			}
			f, err := m.ImportFloat(ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			text := ir.Print(f)
			golden(t, filepath.Join("testdata", "golden", strings.TrimSuffix(c.model, ".onnx")+".fir"), text)
			if g, err := ir.Parse(c.model, []byte(text)); err != nil {
				t.Errorf("printed IR does not parse: %v", err)
			} else if ir.Print(g) != text {
				t.Errorf("print(parse(print(f))) != print(f)")
			}
			in, err := npy.ReadFile(filepath.Join(fixtures, c.data+".input.npy"))
			if err != nil {
				t.Fatal(err)
			}
			want, err := npy.ReadFile(filepath.Join(fixtures, c.data+".output.npy"))
			if err != nil {
				t.Fatal(err)
			}
			labels, err := npy.ReadFile(filepath.Join(fixtures, c.data+".label.npy"))
			if err != nil {
				t.Fatal(err)
			}
			p := f.Params[0]
			rows := in.Shape[0]
			worst, correct := 0.0, 0
			for r := 0; r < rows; r++ {
				x := ir.NewFloats(p.Type.Shape, append([]float64{}, in.Row(r)...))
				out, err := ir.Run(f, []*ir.Tensor{x})
				if err != nil {
					t.Fatalf("row %d: %v", r, err)
				}
				got, w := out[0].Floats(), want.Row(r)
				if len(got) != len(w) {
					t.Fatalf("row %d: %d outputs, want %d", r, len(got), len(w))
				}
				best := 0
				for i := range got {
					worst = math.Max(worst, math.Abs(got[i]-w[i]))
					if got[i] > got[best] {
						best = i
					}
				}
				if int64(best) == labels.I[r] {
					correct++
				}
			}
			t.Logf("%d rows, max |error| %.3g, accuracy %d/%d", rows, worst, correct, rows)
			if worst > c.tol {
				t.Errorf("max |error| %.3g > %g", worst, c.tol)
			}
		})
	}
}

// golden compares got with the golden file, or rewrites it under -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the imported IR; run go test -update and review the diff\ngot:\n%s", path, got)
	}
}

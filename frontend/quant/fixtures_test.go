package quant_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fheir/fheir/frontend/onnx"
	"github.com/fheir/fheir/internal/npy"
	"github.com/fheir/fheir/ir"
)

const fixtures = "../../../shared/fixtures"

func fixturePath(name string) string { return filepath.Join(fixtures, name) }

// importFloat loads an ONNX fixture into float IR.
func importFloat(t *testing.T, name string) *ir.Func {
	t.Helper()
	if _, err := os.Stat(fixtures); err != nil {
		t.Skipf("shared fixtures not available: %v", err)
	}
	m, err := onnx.Load(fixturePath(name))
	if err != nil {
		t.Skipf("fixture: %v", err)
	}
	f, err := m.ImportFloat(onnx.ImportOptions{})
	if err != nil {
		t.Fatalf("ImportFloat: %v", err)
	}
	return f
}

// rows splits an .npy array of shape [N, ...] into N inputs of the
// function's parameter shape.
func rows(t *testing.T, f *ir.Func, name string) [][]*ir.Tensor {
	t.Helper()
	a, err := npy.ReadFile(fixturePath(name))
	if err != nil {
		t.Fatal(err)
	}
	shape := f.Params[0].Type.Shape
	n := a.Shape[0]
	out := make([][]*ir.Tensor, n)
	for i := range out {
		r := a.Row(i)
		if len(r) != ir.ShapeSize(shape) {
			t.Fatalf("%s row has %d values, parameter %v", name, len(r), shape)
		}
		out[i] = []*ir.Tensor{ir.NewFloats(shape, append([]float64{}, r...))}
	}
	return out
}

func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

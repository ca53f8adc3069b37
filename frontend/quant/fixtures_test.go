package quant_test

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/fheir/fheir/frontend/onnx"
	"github.com/fheir/fheir/frontend/quant"
	"github.com/fheir/fheir/internal/npy"
	"github.com/fheir/fheir/ir"
	"github.com/fheir/fheir/passes"
)

const fixtures = "../../../shared/fixtures"

func fixturePath(name string) string { return filepath.Join(fixtures, name) }

// importFloat loads an ONNX fixture into float IR.
func importFloat(t *testing.T, name string) *ir.Func {
	t.Helper()
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

// afterPipeline runs the passes' default pipeline on a copy of the lowered
// function and checks that the result computes on integers only between
// the input quantizers and the final dequantize (+ float ops on clear
// constants after it, which run on the client).
func afterPipeline(t *testing.T, f *ir.Func) *ir.Func {
	t.Helper()
	g := f.Clone()
	if err := passes.Run(g, "default", nil); err != nil {
		t.Fatalf("default pipeline: %v", err)
	}
	tail := make(map[*ir.Value]bool) // float values after the last dequantize
	for _, r := range g.Results {
		markTail(r, tail)
	}
	for _, v := range g.Body {
		if v.Type.Elem.Float && v.Type.Secret && !tail[v] {
			t.Errorf("float value %s (%s) between quantizers after the pipeline:\n%s", v.Op, v.Loc, ir.Print(g))
			break
		}
	}
	return g
}

// markTail marks r and, through float ops that are not dequantize, the
// float values it is computed from.
func markTail(r *ir.Value, tail map[*ir.Value]bool) {
	if !r.Type.Elem.Float || tail[r] {
		return
	}
	tail[r] = true
	if r.Op == ir.OpDequantize || r.Op == ir.OpParam {
		return
	}
	for _, a := range r.Args {
		markTail(a, tail)
	}
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

func TestQATFixtures(t *testing.T) {
	for _, c := range []struct{ model, name string }{
		{"qat_simplenet_wine.qonnx.op14.onnx", "qat_simplenet_wine"},
		{"qat_simplenet_wine.qcdq.op14.onnx", "qat_simplenet_wine"},
		{"qat_convnet_digits.qonnx.op14.onnx", "qat_convnet_digits"},
		{"qat_convnet_digits.qcdq.op14.onnx", "qat_convnet_digits"},
	} {
		t.Run(c.model, func(t *testing.T) {
			f := importFloat(t, c.model)
			if !quant.HasQuantizers(f) {
				t.Fatal("QAT fixture has no quantizers")
			}
			if err := quant.LowerQAT(f); err != nil {
				t.Fatalf("LowerQAT: %v", err)
			}
			f = afterPipeline(t, f)
			in := rows(t, f, c.name+".input.npy")
			want, err := npy.ReadFile(fixturePath(c.name + ".output.npy"))
			if err != nil {
				t.Fatal(err)
			}
			labels, err := npy.ReadFile(fixturePath(c.name + ".label.npy"))
			if err != nil {
				t.Fatal(err)
			}
			worst, agree, correct := 0.0, 0, 0
			for i, x := range in {
				got, err := ir.Run(f, x)
				if err != nil {
					t.Fatal(err)
				}
				g, w := got[0].F, want.Row(i)
				for k := range w {
					worst = max(worst, math.Abs(g[k]-w[k])/(1+math.Abs(w[k])))
				}
				if argmax(g) == argmax(w) {
					agree++
				}
				if argmax(g) == int(labels.Floats()[i]) {
					correct++
				}
			}
			t.Logf("%d rows: worst relative logit difference %.2g, argmax agreement %d/%d, accuracy %d/%d", len(in), worst, agree, len(in), correct, len(in))
			if worst > 1e-4 || agree != len(in) {
				t.Errorf("integer IR does not reproduce the Brevitas outputs: worst %.2g, agreement %d/%d", worst, agree, len(in))
			}
		})
	}
}

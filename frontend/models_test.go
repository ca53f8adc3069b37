package frontend

import (
	"path/filepath"
	"testing"

	"github.com/fheir/fheir/frontend/quant"
	"github.com/fheir/fheir/ir"
	"github.com/fheir/fheir/passes"
)

const models = "../testdata/models"

// The project's own exports (testdata/models): QAT graphs reproduce the
// Brevitas outputs before and after the passes' default pipeline; float
// graphs quantized after training (n_bits 8 and 4) stay close to torch, and
// at n_bits 4 the pipeline keeps them integer-only (with
// rounding_threshold_bits=8 if an accumulator is too wide for a lookup).
func TestImportModels(t *testing.T) {
	for _, c := range []struct {
		file, name string
		qat        bool
		minAcc     float64 // at n_bits 8 (PTQ) or as exported (QAT)
	}{
		{"qat_cnn_digits.qonnx.op14.onnx", "qat_cnn_digits", true, 0.9},
		{"qat_cnn_digits.qcdq.op14.onnx", "qat_cnn_digits", true, 0.9},
		{"qat_mlp_demo.qonnx.op14.onnx", "qat_mlp_demo", true, 0.85},
		{"qat_mlp_demo.qcdq.op14.onnx", "qat_mlp_demo", true, 0.85},
		{"float_mlp_digits.torch.op14.onnx", "float_mlp_digits", false, 0.93},
		{"float_mlp_digits.dynamo.op18.onnx", "float_mlp_digits", false, 0.93},
		{"float_cnn_digits.torch.op14.onnx", "float_cnn_digits", false, 0.93},
		{"univariate_zoo.torch.op14.onnx", "univariate_zoo", false, 0.95},
		{"univariate_zoo.torch.op20.onnx", "univariate_zoo", false, 0.95},
		{"univariate_zoo.dynamo.op18.onnx", "univariate_zoo", false, 0.95},
	} {
		t.Run(c.file, func(t *testing.T) {
			bitsList := []int{8, 4}
			if c.qat {
				bitsList = []int{0} // the quantizers fix the widths
			}
			for _, bits := range bitsList {
				path := filepath.Join(models, c.file)
				opts := Options{CalibrationPath: filepath.Join(models, c.name+".calib.npy")}
				if bits > 0 {
					opts.NBits = quant.Bits(bits)
				}
				f, err := Import(path, opts)
				if err != nil {
					t.Fatalf("Import: %v", err)
				}
				if !quant.HasQuantizers(f) {
					t.Fatal("no quantizers")
				}
				agree, acc, worst := accuracyIn(t, f, models, c.name)
				t.Logf("n_bits=%d: argmax agreement with torch %.1f%%, accuracy %.1f%%, worst relative logit difference %.3g", bits, 100*agree, 100*acc, worst)
				if c.qat && (agree != 1 || worst > 1e-6) {
					t.Errorf("QAT import does not reproduce Brevitas: agreement %.3f, worst %.3g", agree, worst)
				}
				if bits != 4 && acc < c.minAcc {
					t.Errorf("accuracy %.3f, want at least %.3f", acc, c.minAcc)
				}
				if bits == 8 {
					// Accumulators exceed 16 bits; the pipeline with rounding
					// takes seconds on univariate_zoo (building tables on wide
					// accumulators), so it runs for n_bits 4 and QAT only.
					continue
				}
				g, rounding := pipeline(t, f)
				agree2, acc2, _ := accuracyIn(t, g, models, c.name)
				t.Logf("n_bits=%d after the default pipeline (rounding_threshold_bits=%d): agreement %.1f%%, accuracy %.1f%%", bits, rounding, 100*agree2, 100*acc2)
				if rounding == 0 && agree2 != agree {
					t.Errorf("the pipeline without rounding changed the predictions: agreement %.3f → %.3f", agree, agree2)
				}
			}
		})
	}
}

// pipeline runs the default pipeline on a copy of f, with
// rounding_threshold_bits=8 when a table lookup would otherwise read more
// than 16 bits, and checks the result is integer-only.
func pipeline(t *testing.T, f *ir.Func) (*ir.Func, int) {
	t.Helper()
	g := f.Clone()
	err := passes.Run(g, "default", nil)
	if err == nil {
		return afterPipeline(t, g), 0
	}
	if !ir.HasCode(err, ir.AccumulatorTooWide) {
		t.Fatalf("default pipeline: %v", err)
	}
	g = f.Clone()
	if err := passes.Run(g, "default", &passes.Options{RoundingBits: 8}); err != nil {
		t.Fatalf("default pipeline with rounding: %v", err)
	}
	return afterPipeline(t, g), 8
}

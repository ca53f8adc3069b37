package quant_test

import (
	"math"
	"testing"

	"github.com/fheir/fheir/frontend/quant"
	"github.com/fheir/fheir/internal/npy"
	"github.com/fheir/fheir/ir"
	"github.com/fheir/fheir/passes"
)

// ptqResult measures a post-training quantized float_mlp_wine on a set of
// rows against the float model (the imported float IR) and the labels.
type ptqResult struct {
	acc, agree float64 // accuracy vs labels, argmax agreement with float
	worst      float64 // worst absolute logit error vs float
	maxLogit   float64 // largest |float logit|
}

// ptqWine quantizes float_mlp_wine with the given n_bits and evaluates it on
// rows (an .npy name) with labels (or "" for none). With rounding > 0 the
// passes' default pipeline runs first with rounding_threshold_bits =
// rounding.
func ptqWine(t *testing.T, nb quant.NBits, rounding int, rowsName, labelsName string) ptqResult {
	t.Helper()
	float := importFloat(t, "float_mlp_wine.torch.op14.onnx")
	f := float.Clone()
	// float_mlp_wine ships no calibration set; it shares its test rows and
	// labels with qat_simplenet_wine (same standardized wine features), whose
	// calib.npy comes from the training split.
	calib := rows(t, f, "qat_simplenet_wine.calib.npy")
	if err := quant.PTQ(f, quant.Config{NBits: nb}, calib); err != nil {
		t.Fatalf("PTQ: %v", err)
	}
	if rounding > 0 {
		if err := passes.Run(f, "default", &passes.Options{RoundingBits: rounding}); err != nil {
			t.Fatalf("default pipeline: %v", err)
		}
	}
	in := rows(t, f, rowsName)
	var labels []float64
	if labelsName != "" {
		l, err := npy.ReadFile(fixturePath(labelsName))
		if err != nil {
			t.Fatal(err)
		}
		labels = l.Floats()
	}
	var r ptqResult
	nOK, nAgree := 0, 0
	for i, x := range in {
		got, err := ir.Run(f, x)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ir.Run(float, x)
		if err != nil {
			t.Fatal(err)
		}
		g, w := got[0].F, want[0].F
		for k := range w {
			r.worst = max(r.worst, math.Abs(g[k]-w[k]))
			r.maxLogit = max(r.maxLogit, math.Abs(w[k]))
		}
		if labels != nil && argmax(g) == int(labels[i]) {
			nOK++
		}
		if argmax(g) == argmax(w) {
			nAgree++
		}
	}
	n := float64(len(in))
	r.acc, r.agree = float64(nOK)/n, float64(nAgree)/n
	return r
}

func TestPTQFloatMLPWine(t *testing.T) {
	for _, bits := range []int{8, 6, 5, 4, 3, 2} {
		nb := quant.NBits{ModelInputs: bits, OpInputs: bits, OpWeights: bits, ModelOutputs: bits}
		r := ptqWine(t, nb, 0, "float_mlp_wine.input.npy", "float_mlp_wine.label.npy")
		t.Logf("n_bits=%d, integer IR: accuracy %.1f%% (float 94.9%%), argmax agreement with float %.1f%%, worst logit error %.3g (logits up to %.3g)", bits, 100*r.acc, 100*r.agree, r.worst, r.maxLogit)
		if bits == 8 && (r.acc < 0.92 || r.agree < 0.97) {
			t.Errorf("n_bits=8 is too far from the float model: accuracy %.3f, agreement %.3f", r.acc, r.agree)
		}
		r = ptqWine(t, nb, 8, "float_mlp_wine.input.npy", "float_mlp_wine.label.npy")
		t.Logf("n_bits=%d, after the pipeline with rounding_threshold_bits=8: accuracy %.1f%%, agreement %.1f%%, worst logit error %.3g", bits, 100*r.acc, 100*r.agree, r.worst)
	}
}

// On the calibration rows nothing is clipped, so the error is the rounding
// error alone and shrinks as n_bits grows.
func TestPTQConvergesOnCalibrationSet(t *testing.T) {
	prev := math.Inf(1)
	for _, bits := range []int{4, 8, 12} {
		nb := quant.NBits{ModelInputs: bits, OpInputs: bits, OpWeights: bits, ModelOutputs: bits}
		r := ptqWine(t, nb, 0, "qat_simplenet_wine.calib.npy", "")
		t.Logf("n_bits=%d on the calibration rows: worst logit error %.3g (logits up to %.3g), agreement %.1f%%", bits, r.worst, r.maxLogit, 100*r.agree)
		if r.worst >= prev {
			t.Errorf("n_bits=%d: error %.3g did not shrink (was %.3g)", bits, r.worst, prev)
		}
		prev = r.worst
	}
	if prev > 0.01 {
		t.Errorf("12-bit error %.3g on the calibration rows, want < 0.01", prev)
	}
}

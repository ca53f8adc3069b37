package frontend

import (
	"path/filepath"
	"testing"

	"github.com/fheir/fheir/frontend/quant"
)

// BenchmarkImportQAT measures Import (load, float lowering, LowerQAT) of
// the Brevitas CNN.
func BenchmarkImportQAT(b *testing.B) {
	path := filepath.Join(models, "qat_cnn_digits.qonnx.op14.onnx")
	for b.Loop() {
		if _, err := Import(path, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkImportPTQ measures Import of the float CNN with post-training
// quantization calibrated on its input set.
func BenchmarkImportPTQ(b *testing.B) {
	path := filepath.Join(models, "float_cnn_digits.torch.op14.onnx")
	opts := Options{NBits: quant.Bits(6), CalibrationPath: filepath.Join(models, "float_cnn_digits.calib.npy")}
	for b.Loop() {
		if _, err := Import(path, opts); err != nil {
			b.Fatal(err)
		}
	}
}

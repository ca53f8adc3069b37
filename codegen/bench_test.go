package codegen

import (
	"context"
	"testing"

	"github.com/fheir/fheir/frontend"
	"github.com/fheir/fheir/internal/npy"
	"github.com/fheir/fheir/ir"
	"github.com/fheir/fheir/passes"
	"github.com/fheir/fheir/rt"
)

// compileModel imports a committed model and runs the default pipeline
// with approximate rounding to roundBits.
func compileModel(b *testing.B, prefix, kind string, roundBits int) *ir.Func {
	b.Helper()
	f, err := frontend.Import("../testdata/models/"+prefix+"."+kind+".op14.onnx", frontend.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := passes.Run(f, passes.DefaultPipeline, &passes.Options{RoundingBits: roundBits, RoundingMethod: "approximate"}); err != nil {
		b.Fatal(err)
	}
	return f
}

// BenchmarkLowerCNN lowers the committed QAT CNN (conv, batch norm,
// per-channel activations, maxpool, average pooling, linear).
func BenchmarkLowerCNN(b *testing.B) {
	f := compileModel(b, "qat_cnn_digits", "qonnx", 5)
	for b.Loop() {
		if _, _, err := Lower(f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncryptedInference runs the demo model (16 lookups of 4 bits)
// on one encrypted sample through the server, keys generated once.
func BenchmarkEncryptedInference(b *testing.B) {
	f := compileModel(b, "qat_mlp_demo", "qonnx", 4)
	c, _, err := Lower(f)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := SelectParams(c, rt.SelectOptions{}); err != nil {
		b.Skip(err)
	}
	client, err := rt.NewClient(c)
	if err != nil {
		b.Fatal(err)
	}
	if err := client.GenerateKeys(nil); err != nil {
		b.Fatal(err)
	}
	ek, err := client.EvaluationKeys()
	if err != nil {
		b.Fatal(err)
	}
	server, err := rt.NewServer(c, ek, nil)
	if err != nil {
		b.Fatal(err)
	}
	x, err := npy.ReadFile("../testdata/models/qat_mlp_demo.input.npy")
	if err != nil {
		b.Fatal(err)
	}
	ct, err := client.Encrypt(x.F[:c.Values[c.Inputs[0].Value].Size()])
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := server.Run(context.Background(), ct); err != nil {
			b.Fatal(err)
		}
	}
}

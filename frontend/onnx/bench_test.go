package onnx

import (
	"os"
	"path/filepath"
	"testing"
)

func BenchmarkParseConvnet(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(fixtures, "qat_convnet_digits.qonnx.op14.onnx"))
	if err != nil {
		b.Skip(err)
	}
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		if _, err := Parse("m.onnx", data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkImportConvnet(b *testing.B) {
	m, err := Load(filepath.Join(fixtures, "qat_convnet_digits.qonnx.op14.onnx"))
	if err != nil {
		b.Skip(err)
	}
	for i := 0; i < b.N; i++ {
		if _, err := m.ImportFloat(ImportOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

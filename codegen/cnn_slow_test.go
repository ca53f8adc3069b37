package codegen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompileBGVCNN is issue 7's acceptance run: `fheir compile --backend
// bgv` on the committed digits CNN (Brevitas QONNX: conv, batchnorm,
// 3-bit ReLUs, max and average pooling, 664 exact lookups of up to 10
// bits) picks a BGV packing by itself (vector-major: batch-major needs
// about 20 GiB) and the generated command's encrypted predictions equal
// the clear run on real rows, integer for integer (the printed outputs are
// dequantized integers). It takes minutes (one evaluation at N=2^16 with
// 38 levels, 1.3 GiB of keys, ~9 GB peak), so it runs only with
// FHEIR_SLOW=1.
func TestCompileBGVCNN(t *testing.T) {
	if os.Getenv("FHEIR_SLOW") == "" {
		t.Skip("set FHEIR_SLOW=1: one encrypted evaluation of the digits CNN takes minutes and ~9 GB")
	}
	const (
		prefix = "../testdata/models/qat_cnn_digits"
		rows   = 8
	)
	dir, fheir, model, inputs := fheirModule(t, prefix)
	run := func(bin string, args ...string) (string, string) {
		t.Helper()
		return runIn(t, dir, bin, args...)
	}
	report, _ := run(fheir, "compile", model, "-o", "out/cnn", "--backend", "bgv")
	for _, want := range []string{"backend: bgv-vector (bgv, lowest estimated latency)", "bgv-batch   does not fit: MemoryExceeded", "crypto parameters: bgv-vector/n16-"} {
		if !strings.Contains(report, want) {
			t.Fatalf("fheir compile --backend bgv: report lacks %q:\n%s", want, report)
		}
	}
	goCmd(t, dir, "build", "-o", "bin/", "./out/cnn/cmd/cnn")
	bin := filepath.Join(dir, "bin", "cnn")

	// The clear reference: the IR interpreter after the default pipeline.
	want := modelClearLines(t, model, inputs, rows)
	n := []string{"--input", inputs, "--n", "8"}
	if got, _ := run(bin, append(n, "--mode", "disable")...); strings.TrimSpace(got) != strings.Join(want, "\n") {
		t.Errorf("disable differs from the IR interpreter:\n got %s\nwant %s", got, strings.Join(want, "\n"))
	}
	got, errs := run(bin, append(n, "--mode", "execute")...)
	if strings.TrimSpace(got) != strings.Join(want, "\n") {
		t.Errorf("execute differs from the clear run:\n got %s\nwant %s", got, strings.Join(want, "\n"))
	}
	if !strings.Contains(errs, "8 samples in 1 encrypted evaluation of up to 128") {
		t.Errorf("execute: stderr lacks the one-evaluation summary:\n%s", errs)
	}
}

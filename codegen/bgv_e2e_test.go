package codegen

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fheir/fheir/frontend"
	"github.com/fheir/fheir/internal/npy"
	"github.com/fheir/fheir/ir"
	"github.com/fheir/fheir/passes"
)

// TestCompileBGVPackage runs the fheir command line as a user would:
// `fheir compile --backend bgv` on the committed demo MLP (Brevitas QONNX
// export, exact lookups) into a temporary module, then the generated
// command in disable mode (checked against the IR interpreter on every
// committed row) and in execute mode on the first rows (batch-major BGV,
// keys and ciphertexts serialized between client and server), which must
// print exactly what disable prints: the same dequantized outputs, hence
// the same integer outputs and predictions.
func TestCompileBGVPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the fheir command and a generated module, runs BGV inference (12 s on a quiet 2-core machine, 27 s loaded)")
	}
	const (
		prefix = "../testdata/models/qat_mlp_demo"
		execN  = 2
	)
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := tempModule(t)
	fheir := filepath.Join(dir, "bin", "fheir")
	goCmd(t, repo, "build", "-o", fheir, "./cmd/fheir")
	model, err := filepath.Abs(prefix + ".qonnx.op14.onnx")
	if err != nil {
		t.Fatal(err)
	}
	inputs, err := filepath.Abs(prefix + ".input.npy")
	if err != nil {
		t.Fatal(err)
	}
	run := func(bin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s %s: %v\n%s%s", filepath.Base(bin), strings.Join(args, " "), err, out.String(), errb.String())
		}
		t.Logf("%s %s:\n%s%s", filepath.Base(bin), strings.Join(args, " "), out.String(), errb.String())
		return out.String()
	}
	report := run(fheir, "compile", model, "-o", "out/mlpbgv", "--backend", "bgv")
	if !strings.Contains(report, "crypto parameters: bgv/") || !strings.Contains(report, "batch-major") {
		t.Fatalf("fheir compile --backend bgv did not choose batch-major BGV parameters:\n%s", report)
	}
	goCmd(t, dir, "vet", "./out/...")
	goCmd(t, dir, "build", "-o", "bin/", "./out/mlpbgv/cmd/mlpbgv")
	bin := filepath.Join(dir, "bin", "mlpbgv")

	// The reference: the same model through the front end, the default
	// pipeline (no rounding, as fheir compile without flags) and the IR
	// interpreter.
	f, err := frontend.Import(model, frontend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := passes.Run(f, passes.DefaultPipeline, &passes.Options{}); err != nil {
		t.Fatal(err)
	}
	rows, err := npy.ReadFile(inputs)
	if err != nil {
		t.Fatal(err)
	}
	p := f.Params[0]
	size := p.Type.Size()
	var want []string
	for r := 0; r < rows.Len()/size; r++ {
		x := append([]float64{}, rows.F[r*size:(r+1)*size]...)
		outs, err := ir.Run(f, []*ir.Tensor{ir.NewFloats(p.Type.Shape, x)})
		if err != nil {
			t.Fatal(err)
		}
		var y [][]float64
		for _, o := range outs {
			y = append(y, o.Floats())
		}
		want = append(want, formatResult(r, y))
	}
	if len(want) < execN {
		t.Fatalf("%s holds %d rows, want at least %d", inputs, len(want), execN)
	}

	got := strings.Split(strings.TrimSpace(run(bin, "--input", inputs, "--mode", "disable")), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("disable differs from the IR interpreter:\n got %q\nwant %q", got, want)
	}
	ex := strings.Split(strings.TrimSpace(run(bin, "--input", inputs, "--mode", "execute", "--n", fmt.Sprint(execN))), "\n")
	if strings.Join(ex, "\n") != strings.Join(want[:execN], "\n") {
		t.Errorf("execute (bgv) differs from the clear run:\n got %q\nwant %q", ex, want[:execN])
	}
}

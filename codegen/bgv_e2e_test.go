package codegen

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompileBGVPackage runs the fheir command line as a user would:
// `fheir compile --backend bgv-batch` on the committed demo MLP (Brevitas
// QONNX export, exact lookups) into a temporary module, then the generated
// command in disable mode (checked against the IR interpreter on every
// committed row) and in execute mode (batch-major BGV, keys and
// ciphertexts serialized between client and server), which must print
// exactly what disable prints for every row: the same dequantized outputs,
// hence the same integer outputs and predictions. Its report must show
// every row in one evaluation. A small program in the same module calls
// the package's Forward on several rows: one encrypted evaluation (counted
// from the runtime's progress reports) whose outputs equal Disable's bit
// for bit. The same model compiled with --backend bgv-vector runs a few
// rows with --batch below their count: three evaluations, the last one
// partial, equal to disable.
func TestCompileBGVPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the fheir command and a generated module, runs five BGV evaluations (54 s on a 2-core machine at load 7)")
	}
	const (
		prefix = "../testdata/models/qat_mlp_demo"
		fwdN   = 4 // rows of the Forward run
		vecN   = 7 // rows of the bgv-vector run
		vecB   = 3 // its --batch: evaluations of 3, 3 and 1 rows
	)
	dir, fheir, model, inputs := fheirModule(t, prefix)
	runErr := func(bin string, args ...string) (stdout, stderr string) {
		t.Helper()
		return runIn(t, dir, bin, args...)
	}
	run := func(bin string, args ...string) string {
		t.Helper()
		out, _ := runErr(bin, args...)
		return out
	}
	report := run(fheir, "compile", model, "-o", "out/mlpbgv", "--backend", "bgv-batch")
	if !strings.Contains(report, "crypto parameters: bgv-batch/") || !strings.Contains(report, "batch-major") {
		t.Fatalf("fheir compile --backend bgv-batch did not choose batch-major BGV parameters:\n%s", report)
	}
	// A program that calls the generated Forward on several rows at once.
	fwd := filepath.Join(dir, "fwd", "main.go")
	if err := os.MkdirAll(filepath.Dir(fwd), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fwd, []byte(forwardProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	report = run(fheir, "compile", model, "-o", "out/mlpvec", "--backend", "bgv-vector")
	if !strings.Contains(report, "crypto parameters: bgv-vector/") {
		t.Fatalf("fheir compile --backend bgv-vector did not choose vector-major BGV parameters:\n%s", report)
	}
	goCmd(t, dir, "vet", "./out/...", "./fwd")
	goCmd(t, dir, "build", "-o", "bin/", "./out/mlpbgv/cmd/mlpbgv", "./out/mlpvec/cmd/mlpvec", "./fwd")
	bin := filepath.Join(dir, "bin", "mlpbgv")

	// The reference: the same model through the front end, the default
	// pipeline (no rounding, as fheir compile without flags) and the IR
	// interpreter.
	want := modelClearLines(t, model, inputs, 0)
	if len(want) < max(fwdN, vecN) {
		t.Fatalf("%s holds %d rows, want at least %d", inputs, len(want), max(fwdN, vecN))
	}

	got := strings.Split(strings.TrimSpace(run(bin, "--input", inputs, "--mode", "disable")), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("disable differs from the IR interpreter:\n got %q\nwant %q", got, want)
	}
	// Every row through the command: one evaluation carries them all.
	out, errs := runErr(bin, "--input", inputs, "--mode", "execute")
	if ex := strings.Split(strings.TrimSpace(out), "\n"); strings.Join(ex, "\n") != strings.Join(want, "\n") {
		t.Errorf("execute (bgv) differs from the clear run:\n got %q\nwant %q", ex, want)
	}
	for _, line := range []string{
		fmt.Sprintf("\nevaluation 1, samples 0-%d: ", len(want)-1),
		fmt.Sprintf("\n%d samples in 1 encrypted evaluation of up to ", len(want)),
	} {
		if !strings.Contains(errs, line) {
			t.Errorf("execute (bgv): stderr lacks %q:\n%s", line[1:], errs)
		}
	}

	// Forward on the first rows: one encrypted evaluation, equal to
	// Disable bit for bit.
	fw := strings.Split(strings.TrimSpace(run(filepath.Join(dir, "bin", "fwd"), inputs, fmt.Sprint(fwdN))), "\n")
	if len(fw) != 2 || !strings.HasPrefix(fw[0], "disable ") || !strings.HasPrefix(fw[1], "execute 1 evaluations: ") {
		t.Fatalf("fwd printed %q, want a disable line and an execute line with one evaluation", fw)
	}
	if d, e := strings.TrimPrefix(fw[0], "disable "), strings.TrimPrefix(fw[1], "execute 1 evaluations: "); d != e || len(strings.Fields(d)) != fwdN*10 {
		t.Errorf("Forward on %d rows: execute differs from disable (or not %d values):\n execute %s\n disable %s", fwdN, fwdN*10, e, d)
	}

	// Vector-major BGV with --batch below the row count: several
	// evaluations, the last one a single sample.
	out, errs = runErr(filepath.Join(dir, "bin", "mlpvec"), "--input", inputs, "--mode", "execute", "--n", fmt.Sprint(vecN), "--batch", fmt.Sprint(vecB))
	if ex := strings.Split(strings.TrimSpace(out), "\n"); strings.Join(ex, "\n") != strings.Join(want[:vecN], "\n") {
		t.Errorf("execute (bgv-vector) differs from the clear run:\n got %q\nwant %q", ex, want[:vecN])
	}
	for _, line := range []string{
		fmt.Sprintf("\nevaluation 1, samples 0-%d: ", vecB-1),
		fmt.Sprintf("\nevaluation 2, samples %d-%d: ", vecB, 2*vecB-1),
		fmt.Sprintf("\nsample %d: encrypt ", vecN-1),
		fmt.Sprintf("\n%d samples in 3 encrypted evaluations of up to %d: ", vecN, vecB),
	} {
		if !strings.Contains(errs, line) {
			t.Errorf("execute (bgv-vector) --batch %d: stderr lacks %q:\n%s", vecB, line[1:], errs)
		}
	}
}

// forwardProgram calls the generated package's Forward on the first
// os.Args[2] rows of the .npy file os.Args[1] (float32 rows of 36 values
// after a version 1 header) in Disable and Execute mode and prints both
// outputs in full precision, with the number of encrypted evaluations
// Execute ran (counted by the runtime's progress reports).
const forwardProgram = `package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"example.com/app/out/mlpbgv"
	"github.com/fheir/fheir/rt"
)

func main() {
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	rows, _ := strconv.Atoi(os.Args[2])
	hlen := int(binary.LittleEndian.Uint16(data[8:10]))
	body := data[10+hlen:]
	x := make([]float64, rows*36)
	for i := range x {
		x[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:])))
	}
	m, err := mlpbgv.Model()
	if err != nil {
		panic(err)
	}
	runs := 0
	m.Opts.Progress = func(p rt.Progress) {
		if p.Stage == "run" && p.Done {
			runs++
		}
	}
	for _, mode := range []rt.Mode{mlpbgv.Disable, mlpbgv.Execute} {
		runs = 0
		y, err := mlpbgv.Forward(x, mode)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		s := make([]string, len(y))
		for i, v := range y {
			s[i] = strconv.FormatFloat(v, 'g', -1, 64)
		}
		if mode == mlpbgv.Execute {
			fmt.Printf("execute %d evaluations: %s\n", runs, strings.Join(s, " "))
		} else {
			fmt.Println("disable", strings.Join(s, " "))
		}
	}
}
`

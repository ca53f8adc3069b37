package codegen

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fheir/fheir/frontend"
	"github.com/fheir/fheir/internal/npy"
	"github.com/fheir/fheir/ir"
	"github.com/fheir/fheir/passes"
	"github.com/fheir/fheir/rt"
)

// goEnv is the environment of the go commands run on generated code:
// offline, this toolchain, the module cache of the repository's tests.
func goEnv() []string {
	return append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local")
}

func goCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(gobin, args...)
	cmd.Dir, cmd.Env = dir, goEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("go %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	t.Logf("go %s: %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	return out.String()
}

// tempModule makes a module example.com/app that requires this repository
// through a replace directive, with the repository's requirements and
// checksums.
func tempModule(t *testing.T) string {
	t.Helper()
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(repo, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	gosum, _ := os.ReadFile(filepath.Join(repo, "go.sum"))
	var reqs []string
	for _, line := range strings.Split(string(gomod), "\n") {
		if strings.HasPrefix(line, "go ") || strings.HasPrefix(line, "require") || strings.HasPrefix(line, "\t") || line == ")" {
			reqs = append(reqs, line)
		}
	}
	dir := t.TempDir()
	mod := "module example.com/app\n\n" + strings.Join(reqs, "\n") +
		"\nrequire github.com/fheir/fheir v0.0.0-00010101000000-000000000000\n\nreplace github.com/fheir/fheir => " + repo + "\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), gosum, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// e2eModel is a model compiled into the temporary module.
type e2eModel struct {
	name   string
	f      *ir.Func
	c      *rt.Circuit
	inputs [][]*ir.Tensor // samples
	npy    string         // the same samples for the generated command
	exec   bool           // parameters were found: execute runs
	execN  int            // samples to run encrypted
	exact  bool           // execute must equal disable bit for bit
}

// numbers returns the values of a printed result line "sample i: [a b c] argmax k".
func numbers(line string) []float64 {
	l, r := strings.IndexByte(line, '['), strings.IndexByte(line, ']')
	if l < 0 || r < l {
		return nil
	}
	var x []float64
	for _, f := range strings.Fields(line[l+1 : r]) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return nil
		}
		x = append(x, v)
	}
	return x
}

// approxBound returns, per output, a bound on how far an encrypted run may
// differ from the clear one in integer units when every approximately
// rounded lookup may read a neighbouring entry: a lookup with an exact
// input errs by at most its largest step between neighbouring entries, a
// lookup with an inexact input by at most its table's range, and a linear
// op by its weighted sum of input errors.
func approxBound(c *rt.Circuit) []float64 {
	errs := make([]float64, len(c.Values))
	for _, op := range c.Ops {
		switch op.Kind {
		case rt.OpLinear:
			var in []float64
			for _, id := range op.In {
				for range c.Values[id].Size() {
					in = append(in, errs[id])
				}
			}
			worst := 0.0
			for j := 0; j+1 < len(op.RowPtr); j++ {
				e := 0.0
				for k := op.RowPtr[j]; k < op.RowPtr[j+1]; k++ {
					e += math.Abs(float64(op.W[k])) * in[op.Src[k]]
				}
				worst = max(worst, e)
			}
			errs[op.Out] = worst
		case rt.OpTLU:
			step, width := 0.0, 0.0
			for _, t := range op.Tables {
				lo, hi := t[0], t[0]
				for i, y := range t {
					lo, hi = min(lo, y), max(hi, y)
					if i > 0 {
						step = max(step, math.Abs(float64(y-t[i-1])))
					}
				}
				width = max(width, float64(hi-lo))
			}
			switch {
			case errs[op.In[0]] > 0:
				errs[op.Out] = width
			case op.Rounding == rt.RoundApprox && op.DropBits > 0:
				errs[op.Out] = step
			}
		}
	}
	out := make([]float64, len(c.Outputs))
	for i, o := range c.Outputs {
		out[i] = errs[o.Value]
	}
	return out
}

// TestGeneratedPackage compiles handmade models into a temporary module,
// checks that the generated packages build and pass go vet, runs their
// commands in disable mode against the IR interpreter and, when crypto
// parameters exist, in execute mode against disable (bit for bit, through
// serialized keys and ciphertexts).
func TestGeneratedPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with the go command and runs encrypted inference (about a minute)")
	}
	dir := tempModule(t)
	rng := rand.New(rand.NewPCG(7, 7))
	var models []*e2eModel
	add := func(m *e2eModel, posts []Post) {
		if _, err := SelectParams(m.c, rt.SelectOptions{}); err != nil {
			t.Logf("%s: no crypto parameters, execute mode is not tested: %v", m.name, err)
		} else {
			m.exec = true
		}
		gen, err := Generate(m.c, m.name, &Options{Version: "test", ImportPath: "example.com/app/out/" + m.name, Post: posts})
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteFiles(filepath.Join(dir, "out", m.name), gen); err != nil {
			t.Fatal(err)
		}
		models = append(models, m)
	}
	// Handmade networks on five random samples, written as one .npy of
	// float64 rows; execute must equal disable bit for bit.
	for name, n := range map[string]int{"mlp": 2, "conv": 1, "post": 2} {
		f := loadFIR(t, "testdata/lower/"+name+".fir")
		c, posts, err := Lower(f)
		if err != nil {
			t.Fatal(err)
		}
		m := &e2eModel{name: name, f: f, c: c, execN: n, exact: true, npy: filepath.Join(dir, name+".npy")}
		var data []float64
		for range 5 {
			in := randomInputs(f, rng)
			m.inputs = append(m.inputs, in)
			data = append(data, in[0].Floats()...)
		}
		a := &npy.Array{Shape: []int{5, len(data) / 5}, Descr: "<f8", F: data}
		if err := npy.WriteFile(m.npy, a); err != nil {
			t.Fatal(err)
		}
		add(m, posts)
	}
	// The committed demo model (Brevitas QONNX export) on its committed
	// float32 test rows, compiled with 4-bit approximate rounding: execute
	// may read a neighbouring table entry near a rounding boundary, so it
	// must give the same predictions, not the same bits.
	{
		const prefix = "../testdata/models/qat_mlp_demo"
		f, err := frontend.Import(prefix+".qonnx.op14.onnx", frontend.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := passes.Run(f, passes.DefaultPipeline, &passes.Options{RoundingBits: 4, RoundingMethod: "approximate"}); err != nil {
			t.Fatal(err)
		}
		c, posts, err := Lower(f)
		if err != nil {
			t.Fatal(err)
		}
		m := &e2eModel{name: "digits", f: f, c: c, execN: 2, npy: prefix + ".input.npy"}
		rows, err := npy.ReadFile(m.npy)
		if err != nil {
			t.Fatal(err)
		}
		p := f.Params[0]
		for r := 0; r < rows.Len()/p.Type.Size(); r++ {
			x := append([]float64{}, rows.F[r*p.Type.Size():(r+1)*p.Type.Size()]...)
			m.inputs = append(m.inputs, []*ir.Tensor{ir.NewFloats(p.Type.Shape, x)})
		}
		add(m, posts)
	}
	goCmd(t, dir, "vet", "./...")
	goCmd(t, dir, "build", "-o", "bin/", "./...")

	for _, m := range models {
		bin := filepath.Join(dir, "bin", m.name)
		run := func(mode string, n int) string {
			cmd := exec.Command(bin, "--input", m.npy, "--mode", mode, "--n", fmt.Sprint(n))
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Run(); err != nil {
				t.Fatalf("%s --mode %s: %v\n%s", m.name, mode, err, errb.String())
			}
			t.Logf("%s --mode %s:\n%s%s", m.name, mode, out.String(), errb.String())
			return out.String()
		}
		// Disable equals the IR interpreter, printed the same way.
		want := clearLines(t, m.f, m.inputs)
		got := strings.Split(strings.TrimSpace(run("disable", 0)), "\n")
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s disable:\n got %q\nwant %q", m.name, got, want)
		}
		if sim := strings.TrimSpace(run("simulate", 1)); !strings.HasPrefix(sim, "sample 0: ") || strings.Contains(sim, "\n") {
			t.Errorf("%s simulate printed %q, want one sample line", m.name, sim)
		}
		if m.exec {
			k := m.execN
			ex := strings.Split(strings.TrimSpace(run("execute", k)), "\n")
			switch {
			case len(ex) != k:
				t.Errorf("%s execute printed %q, want %d lines", m.name, ex, k)
			case m.exact && strings.Join(ex, "\n") != strings.Join(got[:k], "\n"):
				t.Errorf("%s execute differs from disable:\n got %q\nwant %q", m.name, ex, got[:k])
			case !m.exact:
				// Each output may differ by the approximate lookups' error.
				bound := approxBound(m.c)[0] * m.c.Outputs[0].Dequant.Scale[0]
				for i := range ex {
					e, g := numbers(ex[i]), numbers(got[i])
					for j := range g {
						if d := math.Abs(e[j] - g[j]); len(e) != len(g) || d > bound*(1+1e-5)+1e-4 {
							t.Errorf("%s execute differs from disable by more than %g:\n got %q\nwant %q", m.name, bound, ex[i], got[i])
							break
						}
					}
				}
			}
		}
	}
}

// formatResult prints like the generated command's printResult.
func formatResult(i int, y [][]float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "sample %d:", i)
	for k, out := range y {
		if len(y) > 1 {
			fmt.Fprintf(&b, " output %d", k)
		}
		b.WriteString(" [")
		best := 0
		for j, v := range out {
			if j > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%.6g", v)
			if v > out[best] {
				best = j
			}
		}
		b.WriteByte(']')
		if len(out) > 1 {
			fmt.Fprintf(&b, " argmax %d", best)
		}
	}
	return b.String()
}

// TestClientServerBytes runs the client/server split in process through
// serialized bytes only (evaluation keys, inputs, outputs), and checks
// that execute equals disable bit for bit and that keys of another model
// are refused. It needs crypto parameters and key serialization from the
// runtime, and skips when they are not available.
func TestClientServerBytes(t *testing.T) {
	f := loadFIR(t, "testdata/lower/mlp.fir")
	c, _, err := Lower(f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SelectParams(c, rt.SelectOptions{}); err != nil {
		t.Skipf("no crypto parameters for the model: %v", err)
	}
	blob, err := c.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// The server side decodes its own copy of the circuit, as a deployed
	// server would from the generated package.
	var sc rt.Circuit
	if err := sc.UnmarshalBinary(blob); err != nil {
		t.Fatal(err)
	}
	client, err := rt.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.GenerateKeys(nil); err != nil {
		t.Skipf("key generation: %v", err)
	}
	ek, err := client.EvaluationKeys()
	if err != nil {
		t.Skipf("evaluation keys: %v", err)
	}
	server, err := rt.NewServer(&sc, ek, nil)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	ctx := context.Background()
	for i := range 2 {
		in := randomInputs(f, rng)
		want, _, qin := interpret(t, f, in)
		ct, err := client.Encrypt(floats(in)...)
		if err != nil {
			t.Fatal(err)
		}
		res, err := server.Run(ctx, ct)
		if err != nil {
			t.Fatal(err)
		}
		got, err := client.DecryptQuantized(res)
		if err != nil {
			t.Fatal(err)
		}
		clear, err := c.Run(ctx, rt.Disable, qin, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k := range want {
			if !slices.Equal(got[k], clear[k]) || !slices.Equal(clear[k], want[k]) {
				t.Errorf("sample %d output %d: execute %v, disable %v, interpreter %v", i, k, got[k], clear[k], want[k])
			}
		}
	}
	// Keys of another model are refused.
	other, _, err := Lower(loadFIR(t, "testdata/lower/conv.fir"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SelectParams(other, rt.SelectOptions{}); err == nil {
		if _, err := rt.NewServer(other, ek, nil); rt.CodeOf(err) != rt.WrongModel {
			t.Errorf("server of another model accepted the keys: %v", err)
		}
	}
}

// clearLines runs f in the IR interpreter on each input set and prints
// the results as the generated command does.
func clearLines(t *testing.T, f *ir.Func, inputs [][]*ir.Tensor) []string {
	t.Helper()
	var lines []string
	for i, in := range inputs {
		outs, err := ir.Run(f, in)
		if err != nil {
			t.Fatal(err)
		}
		var y [][]float64
		for _, o := range outs {
			y = append(y, o.Floats())
		}
		lines = append(lines, formatResult(i, y))
	}
	return lines
}

// modelClearLines imports a one-input model, runs the default pipeline
// (as fheir compile without flags does) and returns clearLines on the first
// n rows of the .npy file (all rows when n ≤ 0).
func modelClearLines(t *testing.T, model, rowsPath string, n int) []string {
	t.Helper()
	f, err := frontend.Import(model, frontend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := passes.Run(f, passes.DefaultPipeline, &passes.Options{}); err != nil {
		t.Fatal(err)
	}
	rows, err := npy.ReadFile(rowsPath)
	if err != nil {
		t.Fatal(err)
	}
	p := f.Params[0]
	size := p.Type.Size()
	if n <= 0 || n > rows.Len()/size {
		n = rows.Len() / size
	}
	inputs := make([][]*ir.Tensor, n)
	for r := range inputs {
		inputs[r] = []*ir.Tensor{ir.NewFloats(p.Type.Shape, append([]float64{}, rows.F[r*size:(r+1)*size]...))}
	}
	return clearLines(t, f, inputs)
}

// runIn runs bin with args in dir, failing the test when it fails, and
// returns its stdout and stderr (both logged).
func runIn(t *testing.T, dir, bin string, args ...string) (stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(bin), strings.Join(args, " "), err, out.String(), errb.String())
	}
	t.Logf("%s %s:\n%s%s", filepath.Base(bin), strings.Join(args, " "), out.String(), errb.String())
	return out.String(), errb.String()
}

// fheirModule returns a temporary module (tempModule) with the fheir
// command built into its bin/, and the absolute paths of a committed
// model's QONNX export and input rows (prefix as "../testdata/models/NAME").
func fheirModule(t *testing.T, prefix string) (dir, fheir, model, inputs string) {
	t.Helper()
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir = tempModule(t)
	fheir = filepath.Join(dir, "bin", "fheir")
	goCmd(t, repo, "build", "-o", fheir, "./cmd/fheir")
	if model, err = filepath.Abs(prefix + ".qonnx.op14.onnx"); err != nil {
		t.Fatal(err)
	}
	if inputs, err = filepath.Abs(prefix + ".input.npy"); err != nil {
		t.Fatal(err)
	}
	return dir, fheir, model, inputs
}

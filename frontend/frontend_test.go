package frontend

import (
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fheir/fheir/frontend/onnx"
	"github.com/fheir/fheir/frontend/quant"
	"github.com/fheir/fheir/internal/npy"
	"github.com/fheir/fheir/ir"
	"github.com/fheir/fheir/passes"
)

const fixtures = "../../shared/fixtures"

// fixture returns the path of a shared fixture; tests skip when the
// shared fixtures (outside the repository) are absent.
func fixture(name string) string { return filepath.Join(fixtures, name) }

func needFixtures(t *testing.T) {
	if _, err := os.Stat(fixtures); err != nil {
		t.Skipf("shared fixtures not available: %v", err)
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

// accuracy runs f on the rows of NAME.input.npy and returns the argmax
// agreement with NAME.output.npy, the accuracy against NAME.label.npy and
// the worst relative logit difference.
func accuracy(t *testing.T, f *ir.Func, name string) (agree, acc, worst float64) {
	t.Helper()
	return accuracyIn(t, f, fixtures, name)
}

// accuracyIn is accuracy for the files NAME.* in dir.
func accuracyIn(t *testing.T, f *ir.Func, dir, name string) (agree, acc, worst float64) {
	t.Helper()
	in, err := LoadCalibration(filepath.Join(dir, name+".input.npy"), f)
	if err != nil {
		t.Fatal(err)
	}
	want, err := npy.ReadFile(filepath.Join(dir, name+".output.npy"))
	if err != nil {
		t.Fatal(err)
	}
	labels, err := npy.ReadFile(filepath.Join(dir, name+".label.npy"))
	if err != nil {
		t.Fatal(err)
	}
	nAgree, nOK := 0, 0
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
			nAgree++
		}
		if argmax(g) == int(labels.Floats()[i]) {
			nOK++
		}
	}
	n := float64(len(in))
	return float64(nAgree) / n, float64(nOK) / n, worst
}

func TestImportQATFixtures(t *testing.T) {
	needFixtures(t)
	for _, c := range []struct{ file, name string }{
		{"qat_simplenet_wine.qonnx.op14.onnx", "qat_simplenet_wine"},
		{"qat_simplenet_wine.qcdq.op14.onnx", "qat_simplenet_wine"},
		{"qat_convnet_digits.qonnx.op14.onnx", "qat_convnet_digits"},
		{"qat_convnet_digits.qcdq.op14.onnx", "qat_convnet_digits"},
	} {
		// NBits is ignored for QAT graphs: their quantizers fix the widths.
		f, err := Import(fixture(c.file), Options{NBits: quant.Bits(2)})
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if f.Params[0].Type.Elem.Float != true || !f.Params[0].Type.Secret {
			t.Errorf("%s: parameter %s, want an encrypted float", c.file, f.Params[0].Type)
		}
		f = afterPipeline(t, f)
		agree, acc, worst := accuracy(t, f, c.name)
		t.Logf("%s (after the default pipeline): argmax agreement %.1f%%, accuracy %.1f%%, worst relative logit difference %.2g", c.file, 100*agree, 100*acc, worst)
		if agree != 1 || worst > 1e-6 {
			t.Errorf("%s does not reproduce Brevitas: agreement %.3f, worst %.2g", c.file, agree, worst)
		}
	}
}

// afterPipeline runs the passes' default pipeline on f and checks that the
// result computes on integers only between the input quantizers and the
// final dequantize (+ float ops on clear constants after it, which run on
// the client).
func afterPipeline(t *testing.T, f *ir.Func) *ir.Func {
	t.Helper()
	if !quant.HasQuantizers(f) || hasTLU(f) {
		// Already run (by pipeline).
	} else if err := passes.Run(f, "default", nil); err != nil {
		t.Fatalf("default pipeline: %v", err)
	}
	tail := make(map[*ir.Value]bool) // float values after the last dequantize
	for _, r := range f.Results {
		markTail(r, tail)
	}
	for _, v := range f.Body {
		if v.Type.Elem.Float && v.Type.Secret && !tail[v] {
			t.Errorf("float value %s (%s) between quantizers after the pipeline:\n%s", v.Op, v.Loc, ir.Print(f))
			break
		}
	}
	return f
}

func hasTLU(f *ir.Func) bool {
	for _, v := range f.Body {
		if v.Op == ir.OpTLU {
			return true
		}
	}
	return false
}

// markTail marks r and, through float ops other than dequantize, the float
// values it is computed from.
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

func TestImportPTQ(t *testing.T) {
	needFixtures(t)
	path := fixture("float_mlp_wine.torch.op14.onnx")
	_, err := Import(path, Options{})
	if !ir.HasCode(err, quant.BadCalibration) || !strings.HasPrefix(err.Error(), path+":") {
		t.Errorf("PTQ without calibration: got %v, want BadCalibration naming the file", err)
	}
	// float_mlp_wine's test rows are qat_simplenet_wine's; its calibration
	// set (training split) serves both.
	for _, bits := range []int{8, 4} {
		f, err := Import(path, Options{NBits: quant.Bits(bits), CalibrationPath: fixture("qat_simplenet_wine.calib.npy")})
		if err != nil {
			t.Fatal(err)
		}
		if !quant.HasQuantizers(f) {
			t.Fatal("no quantizers after PTQ")
		}
		agree, acc, _ := accuracy(t, f, "float_mlp_wine")
		t.Logf("n_bits=%d: accuracy %.1f%% (float 94.9%%), argmax agreement with torch %.1f%%", bits, 100*acc, 100*agree)
		if acc < 0.9 {
			t.Errorf("n_bits=%d: accuracy %.3f", bits, acc)
		}
	}
}

func TestImportFIR(t *testing.T) {
	_, err := Import("testdata/missing_quant.fir", Options{})
	if !ir.HasCode(err, quant.MissingQuantizer) || !strings.HasPrefix(err.Error(), "testdata/missing_quant.fir:10:3:") ||
		!strings.Contains(err.Error(), `"/Relu"`) {
		t.Errorf("got %v, want a MissingQuantizer error at testdata/missing_quant.fir:10:3 naming /Relu", err)
	}
	// A plain float .fir is quantized after training.
	rnd := rand.New(rand.NewSource(1))
	var calib [][]*ir.Tensor
	for i := 0; i < 100; i++ {
		calib = append(calib, []*ir.Tensor{ir.NewFloats([]int{1, 3}, []float64{rnd.NormFloat64(), rnd.NormFloat64(), rnd.NormFloat64()})})
	}
	f, err := Import("testdata/plain_float.fir", Options{NBits: quant.Bits(10), Calibration: calib})
	if err != nil {
		t.Fatal(err)
	}
	src, _ := os.ReadFile("testdata/plain_float.fir")
	ref, _ := ir.Parse("plain_float.fir", src)
	for _, x := range calib[:20] {
		want, _ := ir.Run(ref, x)
		got, err := ir.Run(f, x)
		if err != nil {
			t.Fatal(err)
		}
		for k := range want[0].F {
			if math.Abs(want[0].F[k]-got[0].F[k]) > 0.01 {
				t.Errorf("10-bit PTQ output %v, float %v", got[0].F[k], want[0].F[k])
			}
		}
	}
	if _, err := Import("testdata/nope.txt", Options{}); !ir.HasCode(err, UnknownFormat) {
		t.Errorf("unknown extension: got %v", err)
	}
	if _, err := Import("testdata/absent.fir", Options{}); err == nil {
		t.Error("missing file: no error")
	}
}

func TestForcedQAT(t *testing.T) {
	_, err := Import("testdata/plain_float.fir", Options{QAT: true})
	if !ir.HasCode(err, quant.NoQuantizer) {
		t.Errorf("forced QAT on a float graph: got %v, want NoQuantizer", err)
	}
}

func TestIntegerFIRUnchanged(t *testing.T) {
	const src = `func main(v0: enc<1x2xi4> loc="x") {
  v1 = const <tensor<2x2xi3>> [1, -2, 3, 0]
  v2 = matmul <enc<1x2xi8>> v0 v1
  return v2
}
`
	dir := t.TempDir()
	p := filepath.Join(dir, "int.fir")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Import(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ir.Print(f); got != src {
		t.Errorf("integer .fir changed:\n%s", got)
	}
}

func TestLoadCalibration(t *testing.T) {
	needFixtures(t)
	m, err := onnx.Load(fixture("qat_convnet_digits.qonnx.op14.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := m.ImportFloat(onnx.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadCalibration(fixture("qat_convnet_digits.calib.npy"), f)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := npy.ReadFile(fixture("qat_convnet_digits.calib.npy"))
	if len(s) != a.Shape[0] || !ir.SameShape(s[0][0].Shape, []int{1, 1, 8, 8}) || s[1][0].F[5] != a.Row(1)[5] {
		t.Errorf("got %d samples of %v, want %d of [1 1 8 8] holding the rows", len(s), s[0][0].Shape, a.Shape[0])
	}
	// The wine set's rows (12 values) do not split into 64-value samples.
	if _, err := LoadCalibration(fixture("qat_simplenet_wine.calib.npy"), f); !ir.HasCode(err, quant.BadCalibration) {
		t.Errorf("mismatched set: got %v", err)
	}
}

package quant

import (
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/fheir/fheir/ir"
	"github.com/fheir/fheir/passes"
)

func TestParseNBits(t *testing.T) {
	for _, c := range []struct {
		in   string
		want NBits
		err  bool
	}{
		{in: "8", want: NBits{8, 8, 8, 8}},
		{in: "3", want: NBits{5, 3, 3, 5}},
		{in: "op_inputs=6,op_weights=4", want: NBits{5, 6, 4, 5}},
		{in: " op_inputs = 6 , op_weights=4, model_inputs=8, model_outputs=7", want: NBits{8, 6, 4, 7}},
		{in: `{"op_inputs": 7, "op_weights": 3, "model_outputs": 9}`, want: NBits{5, 7, 3, 9}},
		{in: "op_inputs=6", err: true},
		{in: "op_inputs=6,op_weights=4,bias=3", err: true},
		{in: "17", err: true},
		{in: "op_inputs=6,op_weights=1", err: true},
		{in: "eight", err: true},
		{in: `{"op_inputs": "x"}`, err: true},
	} {
		got, err := ParseNBits(c.in)
		switch {
		case c.err && err == nil:
			t.Errorf("ParseNBits(%q) = %+v, want an error", c.in, got)
		case c.err && !ir.HasCode(err, BadQuantConfig):
			t.Errorf("ParseNBits(%q): error %v lacks code BadQuantConfig", c.in, err)
		case !c.err && err != nil:
			t.Errorf("ParseNBits(%q): %v", c.in, err)
		case !c.err && got != c.want:
			t.Errorf("ParseNBits(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

// floatConvNet is a plain float CNN: conv → relu → maxpool → flatten →
// gemm → sigmoid (so the output needs a model_outputs quantizer).
func floatConvNet(seed int64) *ir.Func {
	b := newNet(seed, ir.F32)
	x := b.param("x", 1, 1, 6, 6)
	h := b.add(ir.OpConv, []int{1, 3, 6, 6}, []*ir.Value{x, b.floats([]int{3, 1, 3, 3}, 0.5), b.floats([]int{3}, 0.2)},
		ir.Attrs{ir.IntsAttr("pads", []int64{1, 1, 1, 1})}, "/conv/Conv")
	h = b.unary(ir.OpRelu, h, "/Relu")
	h = b.add(ir.OpMaxPool, []int{1, 3, 3, 3}, []*ir.Value{h}, ir.Attrs{ir.IntsAttr("kernel", []int64{2, 2}), ir.IntsAttr("strides", []int64{2, 2})}, "/MaxPool")
	h = b.add(ir.OpReshape, []int{1, 27}, []*ir.Value{h}, nil, "/Flatten")
	h = b.gemm(h, b.floats([]int{4, 27}, 0.3), true, "/fc/Gemm")
	h = b.unary(ir.OpSigmoid, h, "/Sigmoid")
	b.f.Results = []*ir.Value{h}
	return b.f
}

// floatResidualNet: two linear branches of one input added, then a gemm.
func floatResidualNet(seed int64) *ir.Func {
	b := newNet(seed, ir.F64)
	x := b.param("x", 1, 6)
	a := b.unary(ir.OpRelu, b.gemm(x, b.floats([]int{6, 6}, 0.5), true, "/a/Gemm"), "/ReluA")
	c := b.unary(ir.OpTanh, b.gemm(x, b.floats([]int{6, 6}, 0.5), true, "/b/Gemm"), "/TanhB")
	s := b.add(ir.OpAdd, []int{1, 6}, []*ir.Value{a, c}, nil, "/Add")
	s = b.gemm(s, b.floats([]int{2, 6}, 0.5), true, "/fc/Gemm")
	b.f.Results = []*ir.Value{s}
	return b.f
}

func calibSet(rnd *rand.Rand, f *ir.Func, n int) [][]*ir.Tensor {
	out := make([][]*ir.Tensor, n)
	for i := range out {
		out[i] = randomInputs(rnd, f, 1)
	}
	return out
}

// ptqError quantizes a copy of f and returns the worst absolute output
// error against f on fresh inputs inside the calibrated distribution. When
// the accumulators fit table lookups (n_bits <= 4 here), it also checks
// that the passes' default pipeline keeps the outputs.
func ptqError(t *testing.T, f *ir.Func, cfg Config) float64 {
	t.Helper()
	rnd := rand.New(rand.NewSource(3))
	q := f.Clone()
	if err := PTQ(q, cfg, calibSet(rnd, f, 300)); err != nil {
		t.Fatalf("PTQ: %v", err)
	}
	if msg := integerOnly(q); msg != "" {
		t.Fatalf("%s\n%s", msg, ir.Print(q))
	}
	piped := q
	if cfg.NBits.OpInputs <= 4 {
		piped = q.Clone()
		if err := passes.Run(piped, "default", nil); err != nil {
			t.Fatalf("default pipeline: %v\n%s", err, ir.Print(q))
		}
	}
	worst := 0.0
	for s := 0; s < 100; s++ {
		in := randomInputs(rnd, f, 0.5) // well inside the calibrated range
		want, err := ir.Run(f, in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ir.Run(q, in)
		if err != nil {
			t.Fatalf("%v\n%s", err, ir.Print(q))
		}
		gotP, err := ir.Run(piped, in)
		if err != nil {
			t.Fatal(err)
		}
		for k := range want[0].F {
			worst = max(worst, math.Abs(want[0].F[k]-got[0].F[k]))
			if math.Abs(got[0].F[k]-gotP[0].F[k]) > 1e-5*(1+math.Abs(got[0].F[k])) {
				t.Fatalf("the pipeline changed a PTQ output: %v → %v", got[0].F[k], gotP[0].F[k])
			}
		}
	}
	return worst
}

func TestPTQConvNet(t *testing.T) {
	f := floatConvNet(11)
	prev := math.Inf(1)
	for _, bits := range []int{4, 8, 12} {
		for _, pc := range []bool{false, true} {
			e := ptqError(t, f, Config{NBits: NBits{bits, bits, bits, bits}, PerChannel: pc})
			t.Logf("n_bits=%d per-channel=%v: worst output error %.3g", bits, pc, e)
			if !pc {
				if e >= prev {
					t.Errorf("n_bits=%d: error %.3g did not shrink from %.3g", bits, e, prev)
				}
				prev = e
			}
		}
	}
	if prev > 2e-3 {
		t.Errorf("12-bit worst error %.3g, want < 2e-3 (sigmoid outputs)", prev)
	}
	// Structure: the conv and gemm read integers, the output has a
	// model_outputs quantizer before its final dequantize.
	q := f.Clone()
	if err := PTQ(q, Config{NBits: Bits(6)}, calibSet(rand.New(rand.NewSource(1)), f, 50)); err != nil {
		t.Fatal(err)
	}
	r := q.Results[0]
	if r.Op != ir.OpDequantize || r.Args[0].Op != ir.OpQuantize || r.Args[0].Int("qmax", 0) != 63 {
		t.Errorf("result should be dequantize(quantize to 6 bits), got:\n%s", ir.Print(q))
	}
}

func TestPTQResidualSharesScale(t *testing.T) {
	f := floatResidualNet(12)
	if e := ptqError(t, f, Config{NBits: Bits(10)}); e > 0.02 {
		t.Errorf("10-bit worst error %.3g, want < 0.02", e)
	}
	ptqError(t, f, Config{NBits: Bits(3)})
	q := f.Clone()
	if err := PTQ(q, Config{NBits: Bits(6)}, calibSet(rand.New(rand.NewSource(1)), f, 50)); err != nil {
		t.Fatal(err)
	}
	for _, v := range q.Body {
		if v.Loc == "/Add" {
			if v.Type.Elem.Float || v.Args[0].Op != ir.OpQuantize || v.Args[1].Op != ir.OpQuantize ||
				v.Args[0].Floats("scale")[0] != v.Args[1].Floats("scale")[0] {
				t.Errorf("the add must read two quantizers with one scale:\n%s", ir.Print(q))
			}
			return
		}
	}
	t.Fatalf("no add:\n%s", ir.Print(q))
}

func TestPTQCalibrationErrors(t *testing.T) {
	f := floatResidualNet(13)
	if err := PTQ(f.Clone(), Config{}, nil); !ir.HasCode(err, BadCalibration) {
		t.Errorf("empty calibration: got %v", err)
	}
	bad := [][]*ir.Tensor{{ir.NewFloats([]int{1, 5}, nil)}}
	err := PTQ(f.Clone(), Config{}, bad)
	if !ir.HasCode(err, BadCalibration) || !strings.Contains(err.Error(), "want 6") {
		t.Errorf("wrong input size: got %v", err)
	}
	two := [][]*ir.Tensor{{ir.NewFloats([]int{1, 6}, nil), ir.NewFloats([]int{1, 6}, nil)}}
	if err := PTQ(f.Clone(), Config{}, two); !ir.HasCode(err, BadCalibration) {
		t.Errorf("two tensors for one input: got %v", err)
	}
	if err := PTQ(f.Clone(), Config{NBits: NBits{8, 8, 1, 8}}, calibSet(rand.New(rand.NewSource(1)), f, 2)); !ir.HasCode(err, BadQuantConfig) {
		t.Errorf("1-bit weights: got %v", err)
	}
	// A flat sample of the right size is accepted for a [1,6] input.
	flat := [][]*ir.Tensor{{ir.NewFloats([]int{6}, []float64{1, 2, 3, 4, 5, 6})}}
	if err := PTQ(f.Clone(), Config{}, flat); err != nil {
		t.Errorf("flat sample: %v", err)
	}
}

// A clear model input (--inputs-encryption clear) multiplying an encrypted
// one: both are quantized, the matmul reads an encrypted and a clear
// integer operand.
func TestPTQClearInput(t *testing.T) {
	b := newNet(44, ir.F64)
	x := b.param("x", 2, 3)
	x.Type.Secret = true
	y := b.param("y", 3, 2)
	h := b.add(ir.OpMatMul, []int{2, 2}, []*ir.Value{x, y}, nil, "/MatMul")
	b.f.Results = []*ir.Value{h}
	rnd := rand.New(rand.NewSource(5))
	q := b.f.Clone()
	if err := PTQ(q, Config{NBits: Bits(8)}, calibSet(rnd, b.f, 200)); err != nil {
		t.Fatalf("PTQ: %v", err)
	}
	mm := q.Results[0].Args[0]
	if mm.Op != ir.OpMatMul || mm.Type.Elem.Float || !mm.Type.Secret || q.Params[1].Type.Secret {
		t.Fatalf("want an integer matmul of an encrypted and a clear input:\n%s", ir.Print(q))
	}
	worst := 0.0
	for s := 0; s < 50; s++ {
		in := randomInputs(rnd, b.f, 0.5)
		want, _ := ir.Run(b.f, in)
		got, err := ir.Run(q, in)
		if err != nil {
			t.Fatal(err)
		}
		for k := range want[0].F {
			worst = max(worst, math.Abs(want[0].F[k]-got[0].F[k]))
		}
	}
	if worst > 0.05 {
		t.Errorf("worst error %.3g at 8 bits", worst)
	}
}

// A model input returned as is gets its input quantizer only; a bias added
// on the left still counts as the end of a mixing op.
func TestPTQOutputs(t *testing.T) {
	b := newNet(45, ir.F64)
	x := b.param("x", 1, 3)
	g := b.gemm(x, b.floats([]int{2, 3}, 0.5), false, "/fc/Gemm")
	g = b.add(ir.OpAdd, []int{1, 2}, []*ir.Value{b.floats([]int{2}, 0.3), g}, nil, "/Bias")
	b.f.Results = []*ir.Value{x, g}
	q := b.f.Clone()
	if err := PTQ(q, Config{NBits: Bits(6)}, calibSet(rand.New(rand.NewSource(6)), b.f, 50)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range q.Body {
		if v.Op == ir.OpQuantize {
			n++
		}
	}
	if n != 1 || q.Results[0].Op != ir.OpDequantize || q.Results[1].Op != ir.OpAdd {
		t.Errorf("want one (input) quantizer, results dequantize and add:\n%s", ir.Print(q))
	}
}

package quant

import (
	"math"
	"math/rand"
	"testing"

	"github.com/fheir/fheir/ir"
	"github.com/fheir/fheir/passes"
)

// netBuilder writes float fake-quant networks the way frontend/onnx lowers
// Brevitas exports: QONNX Quant as quantize → dequantize on floats, QCDQ
// weights as an integer constant → clip → dequantize.
type netBuilder struct {
	f   *ir.Func
	rnd *rand.Rand
	fe  ir.Elem
}

func newNet(seed int64, fe ir.Elem) *netBuilder {
	return &netBuilder{f: ir.NewFunc("main"), rnd: rand.New(rand.NewSource(seed)), fe: fe}
}

func (b *netBuilder) param(name string, shape ...int) *ir.Value {
	return b.f.AddParam(name, ir.TensorOf(b.fe, shape...))
}

func (b *netBuilder) add(op ir.Op, shape []int, args []*ir.Value, attrs ir.Attrs, loc string) *ir.Value {
	v := b.f.Add(op, ir.TensorOf(b.fe, shape...), args, attrs)
	v.Loc = loc
	return v
}

func (b *netBuilder) floats(shape []int, scale float64) *ir.Value {
	t := ir.NewFloats(shape, nil)
	for i := range t.F {
		t.F[i] = float64(float32(b.rnd.NormFloat64() * scale))
	}
	return b.f.Const(b.fe, t)
}

// bounds returns Brevitas' integer range for a quantizer.
func bounds(bits int, signed, narrow bool) (int64, int64) {
	if !signed {
		return 0, 1<<bits - 1
	}
	lo, hi := -int64(1)<<(bits-1), int64(1)<<(bits-1)-1
	if narrow {
		lo++
	}
	return lo, hi
}

// quant is a QONNX Quant: quantize → dequantize (per tensor).
func (b *netBuilder) quant(x *ir.Value, scale float64, zp int64, bits int, signed bool, loc string) *ir.Value {
	lo, hi := bounds(bits, signed, false)
	e := ir.Uint(bits)
	if signed {
		e = ir.Int(bits)
	}
	q := b.f.Add(ir.OpQuantize, ir.TensorOf(e, x.Type.Shape...), []*ir.Value{x}, quantAttrs([]float64{scale}, []int64{zp}, -1, true, lo, hi))
	q.Loc = loc
	return b.add(ir.OpDequantize, x.Type.Shape, []*ir.Value{q}, quantAttrs([]float64{scale}, []int64{zp}, -1, false, 0, 0), loc)
}

// qcdq is QCDQ's QuantizeLinear(i8) → Clip → DequantizeLinear.
func (b *netBuilder) qcdq(x *ir.Value, scale float64, zp int64, bits int, signed bool, loc string) *ir.Value {
	lo, hi := bounds(bits, signed, false)
	e, wlo, whi := ir.Int(8), int64(-128), int64(127)
	if !signed {
		e, wlo, whi = ir.Uint(8), 0, 255
	}
	q := b.f.Add(ir.OpQuantize, ir.TensorOf(e, x.Type.Shape...), []*ir.Value{x}, quantAttrs([]float64{scale}, []int64{zp}, -1, true, wlo, whi))
	c := b.f.Add(ir.OpClip, ir.TensorOf(e, x.Type.Shape...), []*ir.Value{q}, ir.Attrs{ir.FloatAttr("min", float64(lo)), ir.FloatAttr("max", float64(hi))})
	q.Loc, c.Loc = loc, loc
	return b.add(ir.OpDequantize, x.Type.Shape, []*ir.Value{c}, quantAttrs([]float64{scale}, []int64{zp}, -1, false, 0, 0), loc)
}

// weight returns a quantized random weight: float constant → quantize →
// dequantize (QONNX), or with qcdq an int8 constant → clip → dequantize.
// axis >= 0 gives per-channel scales along it.
func (b *netBuilder) weight(shape []int, bits, axis int, qcdq bool, loc string) *ir.Value {
	w := b.floats(shape, 0.5)
	lo, hi := bounds(bits, true, true)
	n := 1
	if axis >= 0 {
		n = shape[axis]
	}
	scale := make([]float64, n)
	zp := make([]int64, n)
	for i := range scale {
		scale[i] = float64(float32(0.05 + 0.3*b.rnd.Float64()))
	}
	ax := axis
	if n == 1 {
		ax = -1
	}
	if !qcdq {
		q := b.f.Add(ir.OpQuantize, ir.TensorOf(ir.Int(bits), shape...), []*ir.Value{w}, quantAttrs(scale, zp, ax, true, lo, hi))
		q.Loc = loc
		return b.add(ir.OpDequantize, shape, []*ir.Value{q}, quantAttrs(scale, zp, ax, false, 0, 0), loc)
	}
	t := ir.NewInts(shape, nil)
	for i := range t.I {
		t.I[i] = b.rnd.Int63n(256) - 128
	}
	c := b.f.Const(ir.Int(8), t)
	cl := b.f.Add(ir.OpClip, ir.TensorOf(ir.Int(8), shape...), []*ir.Value{c}, ir.Attrs{ir.FloatAttr("min", float64(lo)), ir.FloatAttr("max", float64(hi))})
	cl.Loc = loc
	return b.add(ir.OpDequantize, shape, []*ir.Value{cl}, quantAttrs(scale, zp, ax, false, 0, 0), loc)
}

func (b *netBuilder) gemm(x, w *ir.Value, bias bool, loc string) *ir.Value {
	m, n := x.Type.Shape[0], w.Type.Shape[0]
	args := []*ir.Value{x, w}
	if bias {
		args = append(args, b.floats([]int{n}, 0.3))
	}
	return b.add(ir.OpGemm, []int{m, n}, args, ir.Attrs{ir.IntAttr("trans_b", 1)}, loc)
}

func (b *netBuilder) unary(op ir.Op, x *ir.Value, loc string) *ir.Value {
	return b.add(op, x.Type.Shape, []*ir.Value{x}, nil, loc)
}

// randomInputs returns one random input per parameter (normal, scaled).
func randomInputs(rnd *rand.Rand, f *ir.Func, scale float64) []*ir.Tensor {
	in := make([]*ir.Tensor, len(f.Params))
	for i, p := range f.Params {
		t := ir.NewFloats(p.Type.Shape, nil)
		for k := range t.F {
			t.F[k] = float64(float32(rnd.NormFloat64() * scale))
		}
		in[i] = t
	}
	return in
}

// checkLowering lowers a copy of the fake-quant function f and checks, on
// random inputs, that the integer function gives the same outputs up to
// float rounding; it returns the lowered function.
func checkLowering(t *testing.T, f *ir.Func, samples int, inScale float64) *ir.Func {
	t.Helper()
	if err := ir.Verify(f); err != nil {
		t.Fatalf("test network does not verify: %v\n%s", err, ir.Print(f))
	}
	low := f.Clone()
	if err := LowerQAT(low); err != nil {
		t.Fatalf("LowerQAT: %v\n%s", err, ir.Print(f))
	}
	if msg := integerOnly(low); msg != "" {
		t.Errorf("lowered function is not integer-only: %s\n%s", msg, ir.Print(low))
	}
	piped := low.Clone()
	if err := passes.Run(piped, "default", nil); err != nil {
		t.Fatalf("default pipeline on the lowered function: %v\n%s", err, ir.Print(low))
	}
	rnd := rand.New(rand.NewSource(1))
	worst := 0.0
	for s := 0; s < samples; s++ {
		in := randomInputs(rnd, f, inScale)
		want, err := ir.Run(f, in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ir.Run(low, in)
		if err != nil {
			t.Fatalf("running the lowered function: %v\n%s", err, ir.Print(low))
		}
		gotP, err := ir.Run(piped, in)
		if err != nil {
			t.Fatalf("running the lowered function after the pipeline: %v\n%s", err, ir.Print(piped))
		}
		for i := range got {
			for k := range got[i].F {
				if math.Abs(got[i].F[k]-gotP[i].F[k]) > 1e-5*(1+math.Abs(got[i].F[k])) {
					t.Fatalf("sample %d: the pipeline changed output %d[%d] from %v to %v", s, i, k, got[i].F[k], gotP[i].F[k])
				}
			}
		}
		for i := range want {
			for k := range want[i].F {
				w, g := want[i].F[k], got[i].F[k]
				d := math.Abs(w-g) / (1 + math.Abs(w))
				worst = max(worst, d)
				if d > 1e-6 {
					t.Fatalf("sample %d output %d[%d]: lowered %v, fake-quant %v\n%s", s, i, k, g, w, ir.Print(low))
				}
			}
		}
	}
	t.Logf("worst relative difference over %d samples: %.2g", samples, worst)
	return low
}

// integerOnly checks the shape of a lowered function: every encrypted
// float value is a parameter, a dequantize, or an element-wise op; every
// mixing op reads integers; every parameter feeds only quantizers.
func integerOnly(f *ir.Func) string {
	uses := f.Uses()
	for _, p := range f.Params {
		for _, u := range uses[p] {
			if u.Op != ir.OpQuantize {
				return "parameter " + p.Loc + " feeds " + u.Op.String()
			}
		}
	}
	for _, v := range f.Body {
		if !v.Type.Secret {
			continue
		}
		if (isMixing(v.Op) || isTransparent(v.Op)) && v.Type.Elem.Float {
			return v.Op.String() + " (" + v.Loc + ") computes on floats"
		}
	}
	return ""
}

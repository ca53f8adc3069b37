package quant

import (
	"testing"

	"github.com/fheir/fheir/ir"
)

// plainFakeQuant writes y = (clip(round(x/s) + z, lo, hi) − z)·s with plain
// ops; clipFirst writes round(clip(x/s, lo−z, hi−z)) + z instead, mulForm
// x·(1/s) and y/(1/s).
func (b *netBuilder) plainFakeQuant(x *ir.Value, s float64, z, lo, hi int64, clipFirst, mulForm bool, loc string) *ir.Value {
	sh := x.Type.Shape
	scalar := func(c float64) *ir.Value { return b.f.Const(b.fe, ir.NewFloats([]int{}, []float64{c})) }
	var t *ir.Value
	if mulForm {
		t = b.add(ir.OpMul, sh, []*ir.Value{x, scalar(1 / s)}, nil, loc)
	} else {
		t = b.add(ir.OpDiv, sh, []*ir.Value{x, scalar(s)}, nil, loc)
	}
	clip := func(v *ir.Value, lo, hi int64) *ir.Value {
		return b.add(ir.OpClip, sh, []*ir.Value{v}, ir.Attrs{ir.FloatAttr("min", float64(lo)), ir.FloatAttr("max", float64(hi))}, loc)
	}
	if clipFirst {
		t = clip(t, lo-z, hi-z)
	}
	t = b.unary(ir.OpFRound, t, loc)
	if z != 0 {
		t = b.add(ir.OpAdd, sh, []*ir.Value{t, scalar(float64(z))}, nil, loc)
	}
	if !clipFirst {
		t = clip(t, lo, hi)
	}
	if z != 0 {
		t = b.add(ir.OpSub, sh, []*ir.Value{t, scalar(float64(z))}, nil, loc)
	}
	if mulForm {
		return b.add(ir.OpDiv, sh, []*ir.Value{t, scalar(1 / s)}, nil, loc)
	}
	return b.add(ir.OpMul, sh, []*ir.Value{t, scalar(s)}, nil, loc)
}

func TestRecognizeFakeQuant(t *testing.T) {
	b := newNet(21, ir.F64)
	x := b.param("x", 1, 6)
	h := b.plainFakeQuant(x, 0.25, 0, -8, 7, false, false, "/q0")
	w := b.plainFakeQuant(b.floats([]int{5, 6}, 0.5), 0.125, 0, -7, 7, false, true, "/w1")
	h = b.unary(ir.OpRelu, b.gemm(h, w, true, "/fc1/Gemm"), "/Relu")
	h = b.plainFakeQuant(h, 0.2, 3, 0, 15, true, false, "/q1")
	w = b.plainFakeQuant(b.floats([]int{2, 5}, 0.5), 0.1, 0, -7, 7, false, false, "/w2")
	b.f.Results = []*ir.Value{b.gemm(h, w, true, "/fc2/Gemm")}
	f := b.f.Clone()
	if n := RecognizeFakeQuant(f); n != 4 {
		t.Fatalf("recognised %d quantizers, want 4:\n%s", n, ir.Print(f))
	}
	for _, v := range f.Body {
		if v.Op == ir.OpFRound || v.Op == ir.OpClip {
			t.Fatalf("%s left after recognition:\n%s", v.Op, ir.Print(f))
		}
	}
	// The recognised graph computes the same function as the plain-op
	// one, and lowers to integers.
	low := checkLowering(t, f, 200, 2)
	ref := b.f
	rnd := newNet(0, ir.F64).rnd
	for s := 0; s < 100; s++ {
		in := randomInputs(rnd, ref, 2)
		want, _ := ir.Run(ref, in)
		got, err := ir.Run(low, in)
		if err != nil {
			t.Fatal(err)
		}
		for k := range want[0].F {
			if d := want[0].F[k] - got[0].F[k]; d > 1e-9 || d < -1e-9 {
				t.Fatalf("sample %d: plain-op graph gives %v, lowered %v", s, want[0].F[k], got[0].F[k])
			}
		}
	}
}

// Near misses are left alone: different quantize and dequantize scales, or
// a round whose result is used twice.
func TestRecognizeFakeQuantNearMiss(t *testing.T) {
	b := newNet(22, ir.F64)
	x := b.param("x", 1, 4)
	sh := x.Type.Shape
	c := func(v float64) *ir.Value { return b.f.Const(b.fe, ir.NewFloats([]int{}, []float64{v})) }
	t1 := b.add(ir.OpDiv, sh, []*ir.Value{x, c(0.5)}, nil, "")
	r := b.unary(ir.OpFRound, t1, "")
	cl := b.add(ir.OpClip, sh, []*ir.Value{r}, ir.Attrs{ir.FloatAttr("min", -4), ir.FloatAttr("max", 3)}, "")
	y := b.add(ir.OpMul, sh, []*ir.Value{cl, c(0.25)}, nil, "")
	b.f.Results = []*ir.Value{y}
	if n := RecognizeFakeQuant(b.f); n != 0 {
		t.Errorf("recognised %d quantizers with mismatched scales", n)
	}
	b.f.Results = []*ir.Value{b.add(ir.OpMul, sh, []*ir.Value{b.add(ir.OpMul, sh, []*ir.Value{cl, c(0.5)}, nil, ""), r}, nil, "")}
	if n := RecognizeFakeQuant(b.f); n != 0 {
		t.Errorf("recognised %d quantizers when the round has two users", n)
	}
}

package passes

import (
	"math/rand"
	"testing"

	"github.com/fheir/fheir/ir"
)

// bigConvNet builds a frontend-shaped CNN on 28×28 inputs: two 3×3 convs
// with 16 channels, per-channel batchnorm constants, relu, average pooling
// and a dense layer.
func bigConvNet(rng *rand.Rand) *ir.Func {
	f := ir.NewFunc("main")
	x := f.AddParam("input", ir.EncOf(ir.F32, 1, 1, 28, 28))
	weights := func(bits int, shape ...int) *ir.Value {
		t := ir.NewInts(shape, nil)
		m := int64(1)<<(bits-1) - 1
		for i := range t.I {
			t.I[i] = rng.Int63n(2*m+1) - m
		}
		return f.Const(ir.Int(bits), t)
	}
	perChannel := func(c int, lo, hi float64) *ir.Value {
		t := ir.NewFloats([]int{1, c, 1, 1}, nil)
		for i := range t.F {
			t.F[i] = lo + rng.Float64()*(hi-lo)
		}
		return f.Const(ir.F32, t)
	}
	q := func(v *ir.Value, scale float64, shape []int) *ir.Value {
		return f.Add(ir.OpQuantize, ir.EncOf(ir.Uint(4), shape...), []*ir.Value{v},
			ir.Attrs{ir.FloatsAttr("scale", []float64{scale}), ir.IntsAttr("zero_point", []int64{0}), ir.IntAttr("qmin", 0), ir.IntAttr("qmax", 15)})
	}
	layer := func(in *ir.Value, cin int) *ir.Value {
		shape := []int{1, 16, 28, 28}
		acc := f.Add(ir.OpConv, ir.EncOf(ir.Int(32), shape...), []*ir.Value{in, weights(4, 16, cin, 3, 3)}, ir.Attrs{ir.IntsAttr("pads", []int64{1, 1, 1, 1})})
		d := f.Add(ir.OpDequantize, ir.EncOf(ir.F32, shape...), []*ir.Value{acc}, ir.Attrs{ir.FloatsAttr("scale", []float64{0.01}), ir.IntsAttr("zero_point", []int64{0})})
		m := f.Add(ir.OpMul, ir.EncOf(ir.F32, shape...), []*ir.Value{d, perChannel(16, 0.5, 1.5)}, nil)
		a := f.Add(ir.OpAdd, ir.EncOf(ir.F32, shape...), []*ir.Value{m, perChannel(16, -0.2, 0.2)}, nil)
		r := f.Add(ir.OpRelu, ir.EncOf(ir.F32, shape...), []*ir.Value{a}, nil)
		return q(r, 0.1, shape)
	}
	h := q(x, 0.1, []int{1, 1, 28, 28})
	h = layer(h, 1)
	h = layer(h, 16)
	p := f.Add(ir.OpSumPool, ir.EncOf(ir.Int(32), 1, 16, 7, 7), []*ir.Value{h}, ir.Attrs{ir.IntsAttr("kernel", []int64{4, 4}), ir.IntsAttr("strides", []int64{4, 4})})
	flat := f.Add(ir.OpReshape, ir.EncOf(ir.Int(32), 1, 784), []*ir.Value{p}, nil)
	g := f.Add(ir.OpGemm, ir.EncOf(ir.Int(32), 1, 10), []*ir.Value{flat, weights(4, 784, 10)}, nil)
	out := f.Add(ir.OpDequantize, ir.EncOf(ir.F32, 1, 10), []*ir.Value{g}, ir.Attrs{ir.FloatsAttr("scale", []float64{0.001}), ir.IntsAttr("zero_point", []int64{0})})
	f.Results = []*ir.Value{out}
	return f
}

func TestBigConvNet(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	orig := bigConvNet(rng)
	if err := ir.Verify(orig); err != nil {
		t.Fatal(err)
	}
	f := orig.Clone()
	if err := Run(f, "default", &Options{RoundingBits: 8}); err != nil {
		t.Fatal(err)
	}
	rep := Analyze(f)
	if rep.MaxTLUBits > 8 || rep.TLUCount != 2*16*28*28 {
		t.Errorf("max_tlu_bits %d, tlu_count %d", rep.MaxTLUBits, rep.TLUCount)
	}
	g := orig.Clone()
	if err := Run(g, "default", nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		in := randomInputs(rng, orig)
		want, err := ir.Run(orig, in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ir.Run(g, in)
		if err != nil {
			t.Fatal(err)
		}
		if !want[0].Equal(got[0]) {
			t.Fatalf("default pipeline changed the result")
		}
	}
}

func BenchmarkDefaultPipelineConvNet(b *testing.B) {
	orig := bigConvNet(rand.New(rand.NewSource(9)))
	for i := 0; i < b.N; i++ {
		if err := Run(orig.Clone(), "default", nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDefaultPipelineConvNetRounded(b *testing.B) {
	orig := bigConvNet(rand.New(rand.NewSource(9)))
	for i := 0; i < b.N; i++ {
		if err := Run(orig.Clone(), "default", &Options{RoundingBits: 6}); err != nil {
			b.Fatal(err)
		}
	}
}

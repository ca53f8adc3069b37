package passes

import (
	"math/rand"
	"testing"

	"github.com/fheir/fheir/ir"
)

// randomNet builds a random network in the frontend's shape: quantized
// input, then layers of integer gemm/conv with integer weights (optional
// input zero point and bias), dequantize, float batchnorm-like per-channel
// affine ops, an activation (sometimes x·act(x)), requantize.
func randomNet(rng *rand.Rand) *ir.Func {
	f := ir.NewFunc("main")
	conv := rng.Intn(2) == 0
	var shape []int
	if conv {
		shape = []int{1, 1 + rng.Intn(2), 4, 4}
	} else {
		shape = []int{1 + rng.Intn(2), 2 + rng.Intn(5)}
	}
	x := f.AddParam("input", ir.EncOf(ir.F32, shape...))
	ints := func(bits int, shape ...int) *ir.Value {
		t := ir.NewInts(shape, nil)
		m := int64(1)<<(bits-1) - 1
		for i := range t.I {
			t.I[i] = rng.Int63n(2*m+1) - m
		}
		return f.Const(ir.Int(bits), t)
	}
	floats := func(shape []int, lo, hi float64) *ir.Value {
		t := ir.NewFloats(shape, nil)
		for i := range t.F {
			t.F[i] = float64(float32(lo + rng.Float64()*(hi-lo)))
		}
		return f.Const(ir.F32, t)
	}
	quant := func(v *ir.Value, shape []int) *ir.Value {
		bits := 2 + rng.Intn(3)
		signed := rng.Intn(2) == 0
		e := ir.Uint(bits)
		if signed {
			e = ir.Int(bits)
		}
		zp := int64(0)
		if !signed && rng.Intn(2) == 0 {
			zp = int64(1) << (bits - 1)
		}
		return f.Add(ir.OpQuantize, ir.EncOf(e, shape...), []*ir.Value{v}, ir.Attrs{
			ir.FloatsAttr("scale", []float64{0.05 + rng.Float64()}), ir.IntsAttr("zero_point", []int64{zp}),
			ir.IntAttr("qmin", e.Min()), ir.IntAttr("qmax", e.Max())})
	}
	acts := []ir.Op{ir.OpRelu, ir.OpSigmoid, ir.OpTanh, ir.OpGelu, ir.OpLeakyRelu, ir.OpHardSwish, ir.OpAbs, ir.OpExp}
	h := quant(x, shape)
	layers := 1 + rng.Intn(3)
	for l := 0; l < layers; l++ {
		in := h
		if zp := in.Args[0]; zp != nil && rng.Intn(2) == 0 {
			in = f.Add(ir.OpSub, ir.EncOf(ir.Int(32), in.Type.Shape...), []*ir.Value{in, ints(3, 1)}, nil)
		}
		var acc *ir.Value
		var out []int
		chAxis := 1
		if conv {
			c := in.Type.Shape[1]
			m := 1 + rng.Intn(3)
			out = []int{1, m, 4, 4}
			args := []*ir.Value{in, ints(2+rng.Intn(3), m, c, 3, 3)}
			if rng.Intn(2) == 0 {
				args = append(args, ints(4, m))
			}
			acc = f.Add(ir.OpConv, ir.EncOf(ir.Int(32), out...), args, ir.Attrs{ir.IntsAttr("pads", []int64{1, 1, 1, 1})})
		} else {
			k := in.Type.Shape[1]
			n := 1 + rng.Intn(5)
			out = []int{in.Type.Shape[0], n}
			acc = f.Add(ir.OpGemm, ir.EncOf(ir.Int(32), out...), []*ir.Value{in, ints(2+rng.Intn(3), k, n)}, nil)
			if rng.Intn(2) == 0 {
				acc = f.Add(ir.OpAdd, ir.EncOf(ir.Int(32), out...), []*ir.Value{acc, ints(5, n)}, nil)
			}
		}
		chShape := make([]int, len(out))
		for i := range chShape {
			chShape[i] = 1
		}
		chShape[chAxis] = out[chAxis]
		v := f.Add(ir.OpDequantize, ir.EncOf(ir.F32, out...), []*ir.Value{acc}, ir.Attrs{ir.FloatsAttr("scale", []float64{0.01 + rng.Float64()*0.1}), ir.IntsAttr("zero_point", []int64{0})})
		if rng.Intn(2) == 0 {
			v = f.Add(ir.OpMul, ir.EncOf(ir.F32, out...), []*ir.Value{v, floats(chShape, 0.25, 2)}, nil)
			v = f.Add(ir.OpAdd, ir.EncOf(ir.F32, out...), []*ir.Value{v, floats(chShape, -0.5, 0.5)}, nil)
		}
		if rng.Intn(4) == 0 { // varies along every axis: per-element tables
			v = f.Add(ir.OpMul, ir.EncOf(ir.F32, out...), []*ir.Value{v, floats(out, 0.5, 1.5)}, nil)
		}
		a := f.Add(acts[rng.Intn(len(acts))], ir.EncOf(ir.F32, out...), []*ir.Value{v}, nil)
		if rng.Intn(3) == 0 {
			a = f.Add(ir.OpMul, ir.EncOf(ir.F32, out...), []*ir.Value{v, a}, nil)
		}
		if l == layers-1 {
			f.Results = []*ir.Value{a}
			return f
		}
		h = quant(a, out)
	}
	panic("unreachable")
}

// TestRandomNetworks: on random frontend-shaped networks every pass and the
// default pipeline keep the interpreter's results, and narrow is sound.
func TestRandomNetworks(t *testing.T) {
	rng := rand.New(rand.NewSource(10))
	n := 60
	if testing.Short() {
		n = 15
	}
	for iter := 0; iter < n; iter++ {
		orig := randomNet(rng)
		if err := ir.Verify(orig); err != nil {
			t.Fatalf("generator: %v\n%s", err, ir.Print(orig))
		}
		for _, pl := range append(Names(), "default") {
			if pl == "round" {
				continue
			}
			f := orig.Clone()
			if err := Run(f, pl, nil); err != nil {
				t.Fatalf("net %d, %s: %v\n%s", iter, pl, err, ir.Print(orig))
			}
			for i := 0; i < 20; i++ {
				in := randomInputs(rng, orig)
				want, err := ir.Run(orig, in)
				if err != nil {
					t.Fatal(err)
				}
				env, err := ir.Eval(f, in)
				if err != nil {
					t.Fatalf("net %d, after %s: %v\n%s", iter, pl, err, ir.Print(f))
				}
				for _, v := range f.Body {
					if v.Range != nil {
						for _, x := range env[v].I {
							if !v.Range.Contains(x) {
								t.Fatalf("net %d, after %s: %s: %d outside its range", iter, pl, v, x)
							}
						}
					}
				}
				if got := env[f.Results[0]]; !want[0].Equal(got) {
					t.Fatalf("net %d, after %s: results differ\nwant %v\ngot  %v\n%s\n%s", iter, pl, want[0], got, ir.Print(orig), ir.Print(f))
				}
			}
		}
	}
}

// TestRandomNetworksCalibratedAndRounded: with calibration the default
// pipeline still gives identical results on the calibration inputs (the
// narrowed ranges hold them), and with rounding it runs and every table
// reads at most the threshold.
func TestRandomNetworksCalibratedAndRounded(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	for iter := 0; iter < 30; iter++ {
		orig := randomNet(rng)
		var calib [][]*ir.Tensor
		for i := 0; i < 10; i++ {
			calib = append(calib, randomInputs(rng, orig))
		}
		f := orig.Clone()
		if err := Run(f, "default", &Options{Calibration: calib}); err != nil {
			t.Fatalf("net %d calibrated: %v", iter, err)
		}
		for _, in := range calib {
			want, _ := ir.Run(orig, in)
			got, err := ir.Run(f, in)
			if err != nil {
				t.Fatalf("net %d calibrated: %v", iter, err)
			}
			if !want[0].Equal(got[0]) {
				t.Fatalf("net %d calibrated: results differ on a calibration input", iter)
			}
		}
		g := orig.Clone()
		if err := Run(g, "default", &Options{RoundingBits: 3, RoundingMethod: "approximate"}); err != nil {
			t.Fatalf("net %d rounded: %v", iter, err)
		}
		for _, v := range g.Body {
			if v.Op == ir.OpTLU && bitsOf(v.Args[0]) > 4 { // approximate: at most one more bit
				t.Errorf("net %d: %s reads %d bits", iter, v, bitsOf(v.Args[0]))
			}
		}
		if _, err := ir.Run(g, randomInputs(rng, orig)); err != nil {
			t.Fatalf("net %d rounded: %v", iter, err)
		}
	}
}

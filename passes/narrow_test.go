package passes

import (
	"bytes"
	"math/rand"
	"strings"
	"testing"

	"github.com/fheir/fheir/ir"
)

// checkWithinRanges runs f on random inputs and fails if a value leaves its
// range fact.
func checkWithinRanges(t *testing.T, f *ir.Func, rng *rand.Rand, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		env, err := ir.Eval(f, randomInputs(rng, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range f.Body {
			if v.Range == nil {
				continue
			}
			for _, x := range env[v].I {
				if !v.Range.Contains(x) {
					t.Fatalf("%s: value %d outside its range [%d,%d]", v, x, v.Range.Lo, v.Range.Hi)
				}
			}
		}
	}
}

// TestNarrowSound: on every handmade network, alone and after the default
// pipeline, random inputs never leave the computed ranges.
func TestNarrowSound(t *testing.T) {
	for _, name := range nets {
		for _, pl := range []string{"narrow", "default"} {
			f := loadNet(t, name)
			if err := Run(f, pl, nil); err != nil {
				t.Fatal(err)
			}
			checkWithinRanges(t, f, rand.New(rand.NewSource(3)), 300)
		}
	}
}

// randomLayer builds a single gemm or conv with random weights in the
// signed wBits range on an input of the given range.
func randomLayer(rng *rand.Rand, conv bool, in ir.Range, wBits int) *ir.Func {
	f := ir.NewFunc("main")
	e := in.Elem()
	w := ir.Int(wBits)
	randW := func(shape ...int) *ir.Tensor {
		t := ir.NewInts(shape, nil)
		for i := range t.I {
			t.I[i] = w.Min() + rng.Int63n(w.Max()-w.Min()+1)
		}
		return t
	}
	var out *ir.Value
	if conv {
		x := f.AddParam("x", ir.EncOf(e, 1, 2, 4, 4))
		r := in
		x.Range = &r
		k := f.Const(w, randW(3, 2, 3, 3))
		b := f.Const(w, randW(3))
		out = f.Add(ir.OpConv, ir.EncOf(ir.Int(32), 1, 3, 4, 4), []*ir.Value{x, k, b}, ir.Attrs{ir.IntsAttr("pads", []int64{1, 1, 1, 1})})
	} else {
		x := f.AddParam("x", ir.EncOf(e, 1, 20))
		r := in
		x.Range = &r
		k := f.Const(w, randW(20, 5))
		b := f.Const(w, randW(5))
		out = f.Add(ir.OpGemm, ir.EncOf(ir.Int(32), 1, 5), []*ir.Value{x, k, b}, nil)
	}
	f.Results = []*ir.Value{out}
	return f
}

// TestNarrowMinimal: for single linear layers the computed range is
// attained: the input that puts hi where a weight is positive and lo where
// it is negative (and the reverse) reaches both ends, so no narrower sound
// range (or type) exists.
func TestNarrowMinimal(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	for iter := 0; iter < 40; iter++ {
		conv := iter%2 == 1
		in := []ir.Range{{Lo: 0, Hi: 7}, {Lo: -8, Hi: 7}, {Lo: -3, Hi: 12}, {Lo: 0, Hi: 1}}[iter%4]
		f := randomLayer(rng, conv, in, 2+iter%5)
		if err := Run(f, "narrow", nil); err != nil {
			t.Fatal(err)
		}
		out := f.Results[0]
		r := *out.Range
		if out.Type.Elem != r.Elem() {
			t.Fatalf("type %s is not the minimal one for %v", out.Type.Elem, r)
		}
		// Worst-case inputs, one per output element and direction.
		x, w := f.Params[0], f.Body[0].ConstValue()
		seenLo, seenHi := false, false
		n := out.Type.Size()
		for o := 0; o < n; o++ {
			for _, up := range []bool{true, false} {
				xin := worstInput(f, x, w, conv, o, up, in)
				res, err := ir.Run(f, []*ir.Tensor{xin})
				if err != nil {
					t.Fatal(err)
				}
				got := res[0].I[o]
				seenHi = seenHi || got == r.Hi
				seenLo = seenLo || got == r.Lo
				if !r.Contains(got) {
					t.Fatalf("worst-case output %d outside %v", got, r)
				}
			}
		}
		if !seenLo || !seenHi {
			t.Errorf("layer %d (conv=%v): range %v not attained (lo %v, hi %v)", iter, conv, r, seenLo, seenHi)
		}
	}
}

// worstInput returns the input maximizing (up) or minimizing output element
// o of the single linear layer f: each input element that o reads goes to
// the end of its range matching its weight's sign.
func worstInput(f *ir.Func, x *ir.Value, w *ir.Tensor, conv bool, o int, up bool, in ir.Range) *ir.Tensor {
	t := ir.NewInts(x.Type.Shape, nil)
	pick := func(weight int64) int64 {
		if (weight > 0) == up {
			return in.Hi
		}
		return in.Lo
	}
	if !conv {
		cols := w.Shape[1]
		for i := range t.I {
			t.I[i] = pick(w.I[i*cols+o])
		}
		return t
	}
	// conv [1,2,4,4] * [3,2,3,3], pads 1: output o = (m, oy, ox).
	m, oy, ox := o/16, (o/4)%4, o%4
	for c := 0; c < 2; c++ {
		for ky := 0; ky < 3; ky++ {
			for kx := 0; kx < 3; kx++ {
				iy, ix := oy-1+ky, ox-1+kx
				if iy < 0 || iy >= 4 || ix < 0 || ix >= 4 {
					continue
				}
				t.I[c*16+iy*4+ix] = pick(w.I[((m*2+c)*3+ky)*3+kx])
			}
		}
	}
	return t
}

// TestNarrowCalibrated: calibration narrows ranges to what the inputs
// produce, within the sound ones; the warning is logged and the report
// marks the layers.
func TestNarrowCalibrated(t *testing.T) {
	sound := loadNet(t, "mlp.fir")
	if err := Run(sound, "narrow", nil); err != nil {
		t.Fatal(err)
	}
	f := loadNet(t, "mlp.fir")
	rng := rand.New(rand.NewSource(5))
	var calib [][]*ir.Tensor
	for i := 0; i < 5; i++ {
		in := randomInputs(rng, f)
		for j := range in[0].F {
			in[0].F[j] *= 0.25 // small inputs: narrower ranges than the worst case
		}
		calib = append(calib, in)
	}
	var log bytes.Buffer
	if err := Run(f, "narrow", &Options{Calibration: calib, Log: &log}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "warning: ranges calibrated on 5 inputs") {
		t.Errorf("no calibration warning in %q", log.String())
	}
	narrower := false
	for i, v := range f.Body {
		s := sound.Body[i]
		if v.Range == nil {
			continue
		}
		if v.Range.Lo < s.Range.Lo || v.Range.Hi > s.Range.Hi {
			t.Errorf("%s: calibrated range outside the sound %v", v, *s.Range)
		}
		narrower = narrower || v.Range.Lo > s.Range.Lo || v.Range.Hi < s.Range.Hi
	}
	if !narrower {
		t.Error("calibration narrowed nothing")
	}
	for _, in := range calib {
		if _, err := ir.Run(f, in); err != nil {
			t.Errorf("calibration input fails after narrowing: %v", err)
		}
	}
	if rep := Analyze(f); !rep.Calibrated {
		t.Error("report does not mark calibrated ranges")
	}
	if rep := Analyze(sound); rep.Calibrated {
		t.Error("report marks sound ranges as calibrated")
	}
}

package rt

import (
	"context"
	"math/rand/v2"
	"testing"
)

// TestKnownZeroBits checks KnownZeroBits on a hand-built circuit against
// hand-computed counts, and its soundness: every element Disable computes
// for random inputs is a multiple of 2^z.
func TestKnownZeroBits(t *testing.T) {
	b := NewBuilder("low_bits")
	q := Quant{Scale: []float64{1}, ZeroPoint: []int64{0}}
	x := b.Input("x", []int{1, 4}, true, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}, QMin: 0, QMax: 15})
	even := b.MatMul("even", x, []int64{2, 4, -6, 8, 10, -2, 4, 12}, 4, 2, []int64{10, -4})
	quad := b.MatMul("quad", x, []int64{4, -8, 12, 4, -4, 16, 8, 4}, 4, 2, nil)
	oneOdd := b.MatMul("one_odd", x, []int64{4, 8, 12, 4, -4, 16, 3, 4}, 4, 2, nil)
	oddBias := b.MatMul("odd_bias", x, []int64{2, 4, -6, 8, 10, -2, 4, 12}, 4, 2, []int64{2, 1})
	by4 := b.Apply("by4", quad, func(v int64) int64 { return 4 * v }, 1, RoundExact)
	oddAfter := b.MatMul("odd_after_lut", by4, []int64{3, -5, 1, 7}, 2, 2, nil)
	evenAfter := b.MatMul("even_after_lut", by4, []int64{6, -10, 2, 14}, 2, 2, []int64{8, 16})
	mix := b.Combine("mix", by4, 2, even, 4)   // min(2+1, 1+2)
	mix2 := b.Combine("mix2", even, 1, by4, 1) // min(1, 2)
	zero := b.Apply("zero", x, func(int64) int64 { return 0 }, 0, RoundExact)
	zeroLin := b.MatMul("zero_lin", zero, []int64{1, 3, 5, 7}, 4, 1, nil)
	pad0 := b.Pad("pad0", even, []int{0, 1}, []int{0, 1}, 0)
	pad3 := b.Pad("pad3", even, []int{0, 1}, []int{0, 1}, 3)
	perCh := b.ApplyPerChannel("per_channel", quad, 1, func(ch int, v int64) int64 { return 4*v + 2*int64(ch) }, 2, RoundApprox)
	want := map[ValueID]int{
		x: 0, even: 1, quad: 2, oneOdd: 0, oddBias: 0, by4: 2, oddAfter: 2, evenAfter: 3,
		mix: 3, mix2: 1, zero: maxZeroBits, zeroLin: maxZeroBits, pad0: 1, pad3: 0, perCh: 1,
	}
	names := map[ValueID]string{}
	for id := range want {
		if id != x {
			names[id] = b.Value(id).Name
			b.Output(names[id], id, q)
		}
	}
	c, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	z := c.KnownZeroBits()
	for id, w := range want {
		if z[id] != w {
			t.Errorf("value %q: %d known zero bits, want %d", c.Values[id].Name, z[id], w)
		}
	}
	rng := rand.New(rand.NewPCG(41, 42))
	ctx := context.Background()
	for range 200 {
		in := randInts(rng, 4, 0, 15)
		out, err := c.Run(ctx, Disable, [][]int64{in}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range c.Outputs {
			for _, v := range out[i] {
				if zb := z[o.Value]; zb >= maxZeroBits && v != 0 || zb < maxZeroBits && v%(int64(1)<<zb) != 0 {
					t.Fatalf("x=%v: %s = %d, not a multiple of 2^%d", in, o.Name, v, zb)
				}
			}
		}
	}
}

// TestRequirementsKnownZeros: an exactly rounded lookup extracts only the
// dropped bits not known to be zero, here after a lookup whose entries are
// multiples of 4 (2 of its 3 dropped bits known zero) and after even
// weights (1 of 2), while odd weights extract every dropped bit.
func TestRequirementsKnownZeros(t *testing.T) {
	build := func(w2 []int64) *Circuit {
		b := NewBuilder("known_zeros")
		x := b.Input("x", []int{1, 4}, true, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}, QMin: 0, QMax: 15})
		h := b.MatMul("fc1", x, []int64{2, -4, 6, 2, -2, 8, 4, 10}, 4, 2, nil) // even: 1 zero bit
		a := b.Apply("act1", h, func(v int64) int64 { return 4 * max(v, 0) }, 2, RoundExact)
		o := b.MatMul("fc2", a, w2, 2, 3, nil)
		y := b.Apply("act2", o, func(v int64) int64 { return v }, 3, RoundExact)
		b.Output("y", y, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}})
		c, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	odd := []int64{3, -1, 5, 7, 1, -3}
	// act1: 2 lookups × (1 + 2−1 extractions); act2: 3 × (1 + 3−2).
	r := build(odd).Requirements()
	if r.TLUs != 5 || r.Bootstraps != 2*2+3*2 || r.ExactExtractions != 1 {
		t.Errorf("requirements %+v: want 5 lookups, 10 bootstraps, 1 extraction", r)
	}
	// One odd weight and odd table entries leave every bit of act1 and
	// all but one of act2 to extract.
	b := NewBuilder("no_zeros")
	x := b.Input("x", []int{1, 4}, true, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}, QMin: 0, QMax: 15})
	h := b.MatMul("fc1", x, []int64{2, -4, 6, 3, -2, 8, 4, 10}, 4, 2, nil) // one odd weight
	a := b.Apply("act1", h, func(v int64) int64 { return 4*max(v, 0) + 1 }, 2, RoundExact)
	o := b.MatMul("fc2", a, []int64{2, -4, 6, 8, 2, -2}, 2, 3, nil) // even weights on odd entries: 1 zero bit
	y := b.Apply("act2", o, func(v int64) int64 { return v }, 3, RoundExact)
	b.Output("y", y, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}})
	c, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	r = c.Requirements()
	if r.Bootstraps != 2*3+3*3 || r.ExactExtractions != 2 {
		t.Errorf("requirements %+v: want 15 bootstraps, 2 extractions", r)
	}
}

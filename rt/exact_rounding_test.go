package rt

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/fheir/fheir/rt/tfhe"
	"github.com/google/go-cmp/cmp"
)

// exactWeights are the rows of exactCircuit's Linear op: 4-bit inputs
// give accumulators in [-30, 135] and [-45, 105] (8 signed bits centred).
var exactWeights = [2][4]int64{{3, -2, 5, 1}, {-3, 4, 2, 1}}

// exactCircuit reads two 8-bit accumulators through an injective 4-bit
// table after dropping 4 bits with exact rounding. With shift > 0 the
// weights are exactWeights·2^shift and the lookup drops 4+shift bits: the
// same rounded values, with shift known zero low bits in the accumulators.
// With wide, a 10-bit accumulator read approximately through a 4-bit
// table widens every message to 10 bits, so the exactly rounded
// accumulators sit 2 bits up (scale 2): zero bits that are not extracted.
func exactCircuit(t testing.TB, shift int, wide bool) *Circuit {
	b := NewBuilder("exact_rounding")
	x := b.Input("x", []int{1, 4}, true, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}, QMin: 0, QMax: 15})
	var w []int64
	for i := range 4 {
		for j := range 2 {
			w = append(w, exactWeights[j][i]<<shift)
		}
	}
	acc := b.MatMul("acc", x, w, 4, 2, nil)
	y := b.Apply("lut", acc, func(v int64) int64 { return 3*v + 1 }, 4+shift, RoundExact)
	b.Output("y", y, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}})
	if wide {
		acc2 := b.MatMul("acc2", x, []int64{10, 12, 14, 18}, 4, 1, nil) // [0, 810]
		y2 := b.Apply("lut2", acc2, func(v int64) int64 { return v }, 6, RoundApprox)
		b.Output("y2", y2, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}})
	}
	c, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func exactAcc(x []int64, j int) int64 {
	var s int64
	for i, v := range x {
		s += exactWeights[j][i] * v
	}
	return s
}

// TestTFHEExactRounding runs exact rounding on the cheapest secure set
// through serialized keys and ciphertexts: execute equals disable bit for
// bit, on accumulators that sit exactly on a rounding boundary (x ≡ 8 mod
// 16, where approximate rounding reads either neighbour) and next to one.
func TestTFHEExactRounding(t *testing.T) { testTFHEExactRounding(t, 0, false) }

// TestTFHEExactRoundingKnownZeros: with even weights the accumulators'
// lowest bit is always zero, so the lookup dropping 5 bits extracts only
// 4 (one bootstrap fewer per lookup, KnownZeroBits) and still rounds every
// accumulator, ties included, exactly as Disable does.
func TestTFHEExactRoundingKnownZeros(t *testing.T) { testTFHEExactRounding(t, 1, false) }

// TestTFHEExactRoundingScaled: the exactly rounded accumulators are stored
// 2 bits up (10-bit messages) and those 2 zero bits are not extracted
// either.
func TestTFHEExactRoundingScaled(t *testing.T) { testTFHEExactRounding(t, 0, true) }

func testTFHEExactRounding(t *testing.T, shift int, wide bool) {
	c := exactCircuit(t, shift, wide)
	c.Scheme = "tfhe"
	info, err := c.SelectParams(SelectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", info)
	req := c.Requirements()
	if info.SecurityBits < 128 || info.PError > tfhe.DefaultPError {
		t.Fatalf("selected %s: security %d, p_error %g", info.Name, info.SecurityBits, info.PError)
	}
	// The lookup reads the rounded value only (about 4 bits), not the
	// 8+shift-bit accumulator, and pays one bootstrap per removed bit
	// that is not known to be zero: 4 per lookup, whatever the shift.
	tlus, boots, msg := 2, 2*(1+4), 8+shift
	if wide {
		tlus, boots, msg = 3, 2*(1+4)+1, 10
		if pl := c.analyze(); pl.scale[c.Ops[0].Out] != 2 || pl.opZero[1] != 2 {
			t.Fatalf("BUG in test: accumulator scale %d, %d zero bits, want 2", pl.scale[c.Ops[0].Out], pl.opZero[1])
		}
	}
	if req.MsgBits < msg || info.PBSBits > 5 || req.ExactExtractions != 4 || req.ExactDropBits < 4+shift || info.Bootstraps != boots || info.TLUs != tlus {
		t.Errorf("requirements %+v, info %+v: want %d-bit values, lookups of at most 5 bits, 4 extractions, %d bootstraps", req, info, msg, boots)
	}
	p, _ := tfheParams(c)
	pbs := time.Duration(p.Cost() * float64(time.Second))
	if d := info.CostPerTLU*time.Duration(info.TLUs) - info.Estimate; d < -time.Duration(info.TLUs) || d > 0 || info.Estimate != pbs*time.Duration(info.Bootstraps) {
		t.Errorf("estimate %v (%v per lookup) for %d bootstraps of %v", info.Estimate, info.CostPerTLU, info.Bootstraps, pbs)
	}
	cl, srv := deploy(t, c)
	// Inputs whose accumulator j has residue r mod 16: ties (8) and their
	// neighbours (7, 9), for both rows, plus the extremes.
	rng := rand.New(rand.NewPCG(31, 32))
	inputs := [][]int64{{0, 15, 0, 0}, {15, 0, 15, 15}}
	for _, want := range []struct{ j, r int64 }{{0, 8}, {1, 8}, {0, 7}, {1, 9}, {0, 8}, {1, 8}} {
		for {
			x := randInts(rng, 4, 0, 15)
			if exactAcc(x, int(want.j))&15 == want.r {
				inputs = append(inputs, x)
				break
			}
		}
	}
	ties := 0
	ctx := context.Background()
	for _, x := range inputs {
		for j := range 2 {
			if exactAcc(x, j)&15 == 8 {
				ties++
			}
		}
		in, err := cl.EncryptQuantized(x)
		if err != nil {
			t.Fatal(err)
		}
		out, err := srv.Run(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := cl.DecryptQuantized(out)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := c.Run(ctx, Disable, [][]int64{x}, nil)
		// round half up of (acc·2^shift)/2^(4+shift) = of acc/16
		ref := []int64{3*((exactAcc(x, 0)+8)>>4) + 1, 3*((exactAcc(x, 1)+8)>>4) + 1}
		if wide {
			// lut2 rounds approximately: near a tie it may read either
			// neighbour.
			a2 := 10*x[0] + 12*x[1] + 14*x[2] + 18*x[3]
			if d := got[1][0] - want[1][0]; want[1][0] != (a2+32)>>6 || d < -1 || d > 1 {
				t.Errorf("x=%v: approximate lookup of %d: execute %d, disable %d", x, a2, got[1][0], want[1][0])
			}
			got, want = got[:1], want[:1]
		}
		if !cmp.Equal(got, want) || !cmp.Equal(want[0], ref) {
			t.Errorf("x=%v (accumulators %d, %d): execute %v, disable %v, reference %v", x, exactAcc(x, 0), exactAcc(x, 1), got, want, ref)
		}
	}
	if ties < 4 {
		t.Fatalf("BUG in test: only %d accumulators on a rounding boundary", ties)
	}
}

// TestSimulateExactUsesParams: Simulate perturbs an exactly rounded lookup
// with the failure probability of the bit extractions and the lookup
// (PFailExact), and inputs on a rounding boundary fail no more often.
func TestSimulateExactUsesParams(t *testing.T) {
	const n = 40000
	f := func(v int64) int64 { return 2*v - 5 }
	c := lookupCircuit(t, n, 2, RoundExact, f)
	c.Scheme, c.MsgBits = "tfhe", c.Requirements().MsgBits
	// A toy set as noisy as needed for a measurable failure rate.
	noisy := toyParams()
	noisy.Name = "toy-noisy-exact-test"
	pf := 0.0
	for e := -40.0; e < -10 && (pf < 0.01 || pf > 0.3); e += 0.25 {
		noisy.GLWEStdDev = math.Exp2(e)
		pf = noisy.WithMsgBits(c.MsgBits).PFailExact(1, c.analyze().opDrop[0])
	}
	if pf < 0.01 || pf > 0.3 {
		t.Fatalf("no toy noise level gives a failure rate in [0.01, 0.3] (last %g)", pf)
	}
	real := tfheCatalog
	defer func() { tfheCatalog = real }()
	tfheCatalog = func() []tfhe.Params { return append(real(), noisy) }
	c.Params = noisy.Name
	x := make([]int64, n)
	for i := range x {
		x[i] = 4 + int64(i)%56 // interior: a perturbed read never clamps
	}
	ctx := context.Background()
	got, err := c.Run(ctx, Simulate, [][]int64{x}, &Options{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	flips, onEdge, edgeFlips := 0, 0, 0
	for i, v := range x {
		if v%4 == 2 {
			onEdge++
		}
		if got[0][i] != f((v+2)>>2) {
			flips++
			if v%4 == 2 {
				edgeFlips++
			}
		}
	}
	checkRate(t, "simulate, exact rounding", flips, n, pf)
	checkRate(t, "simulate, exact rounding on a boundary", edgeFlips, onEdge, pf)
	info, err := c.ParamsInfo()
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(info.PError-pf) > 1e-12 {
		t.Errorf("ParamsInfo: p_error %g, want PFailExact %g", info.PError, pf)
	}
}

// TestSelectExactTooNoisy: exact rounding of an accumulator of huge weights
// needs it correct to the last of its 22 bits, which no set does, while
// approximate rounding of the same circuit fits.
func TestSelectExactTooNoisy(t *testing.T) {
	build := func(r Rounding) *Circuit {
		b := NewBuilder("noisy_exact")
		x := b.Input("x", []int{1, 2}, true, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}, QMin: -8, QMax: 7})
		acc := b.MatMul("acc", x, []int64{100001, -99999}, 2, 1, nil)
		y := b.Apply("relu", acc, func(v int64) int64 { return max(v, 0) }, 18, r)
		b.Output("y", y, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}})
		c, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		c.Scheme = "tfhe"
		return c
	}
	if _, err := build(RoundApprox).SelectParams(SelectOptions{}); err != nil {
		t.Fatalf("approximate rounding: %v", err)
	}
	c := build(RoundExact)
	_, err := c.SelectParams(SelectOptions{})
	if CodeOf(err) != NoCryptoParameters || !strings.Contains(err.Error(), `lookup "relu" rounds exactly`) {
		t.Fatalf("exact rounding: %v, want NoCryptoParameters naming lookup \"relu\"", err)
	}
	if r := c.Requirements(); r.ExactOp != "relu" || r.ExactDropBits < 18 {
		t.Errorf("requirements %+v: want ExactOp relu dropping at least 18 bits", r)
	}
}

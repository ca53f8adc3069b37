package rt

import (
	"context"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// lookupCircuit is one encrypted lookup of f on n elements of range [0, 63]
// dropping d bits with rounding r.
func lookupCircuit(t testing.TB, n, d int, r Rounding, f func(int64) int64) *Circuit {
	b := NewBuilder("lookup")
	x := b.Input("x", []int{n}, true, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}, QMin: 0, QMax: 63})
	y := b.Apply("f", x, f, d, r)
	b.Output("y", y, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}})
	c, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkRate fails unless k successes out of n fit probability p within 5
// standard deviations.
func checkRate(t *testing.T, what string, k, n int, p float64) {
	t.Helper()
	got := float64(k) / float64(n)
	sd := math.Sqrt(p * (1 - p) / float64(n))
	if math.Abs(got-p) > 5*sd+1e-12 {
		t.Errorf("%s: rate %.4f (%d/%d), want %.4f ± %.4f", what, got, k, n, p, 5*sd)
	} else {
		t.Logf("%s: rate %.4f (%d/%d), want %.4f", what, got, k, n, p)
	}
}

func TestSimulateRate(t *testing.T) {
	const n = 40000
	injective := func(v int64) int64 { return 3*v + 1 }
	x := make([]int64, n)
	for i := range x {
		x[i] = 1 + int64(i)%62 // interior: a perturbed read never clamps
	}
	ctx := context.Background()
	for _, p := range []float64{0.05, 0.3} {
		c := lookupCircuit(t, n, 0, RoundExact, injective)
		want, _ := c.Run(ctx, Disable, [][]int64{x}, nil)
		got, err := c.Run(ctx, Simulate, [][]int64{x}, &Options{PError: p, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		diff := 0
		for i := range x {
			if got[0][i] != want[0][i] {
				diff++
				if (got[0][i]-1)%3 != 0 {
					t.Fatalf("perturbed output %d is not a table entry", got[0][i])
				}
			}
		}
		checkRate(t, "exact lookup", diff, n, p)
	}
	// Approximate rounding of 2 bits: inputs on a rounding boundary
	// (x ≡ 2 mod 4) flip half the time, inputs at a multiple of 4 flip with
	// the failure probability, and no read is off by more than one.
	const p = 0.02
	c := lookupCircuit(t, n, 2, RoundApprox, injective)
	got, err := c.Run(ctx, Simulate, [][]int64{x}, &Options{PError: p, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	var onEdge, edgeFlips, onGrid, gridFlips int
	for i, v := range x {
		exact := injective((v + 2) >> 2)
		if d := got[0][i] - exact; d != 0 && d != 3 && d != -3 {
			t.Fatalf("x=%d read %d, exact %d: off by more than one entry", v, got[0][i], exact)
		}
		switch v % 4 {
		case 2:
			onEdge++
			if got[0][i] != exact {
				edgeFlips++
			}
		case 0:
			onGrid++
			if got[0][i] != exact {
				gridFlips++
			}
		}
	}
	checkRate(t, "approximate, on a boundary", edgeFlips, onEdge, 0.5)
	checkRate(t, "approximate, on the grid", gridFlips, onGrid, p)
	// Exact rounding of 2 bits: boundaries are no worse than the rest,
	// every input reads a wrong entry with the failure probability.
	c = lookupCircuit(t, n, 2, RoundExact, injective)
	got, err = c.Run(ctx, Simulate, [][]int64{x}, &Options{PError: p, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	onEdge, edgeFlips, flips := 0, 0, 0
	for i, v := range x {
		if got[0][i] != injective((v+2)>>2) {
			flips++
			if v%4 == 2 {
				edgeFlips++
			}
		}
		if v%4 == 2 {
			onEdge++
		}
	}
	checkRate(t, "exact, on a boundary", edgeFlips, onEdge, p)
	checkRate(t, "exact, all inputs", flips, n, p)
}

func TestSimulateDeterministic(t *testing.T) {
	// Exact rounding: approximate rounding flips inputs that sit on a
	// rounding boundary half the time whatever the noise (as FHE does).
	c := twoLayer(t, RoundExact)
	ctx := context.Background()
	x := [][]int64{{7, 3, 0, 5, 6, 1}}
	a, _ := c.Run(ctx, Simulate, x, &Options{PError: 0.4, Seed: 9})
	b, _ := c.Run(ctx, Simulate, x, &Options{PError: 0.4, Seed: 9})
	if !cmp.Equal(a, b) {
		t.Error("same seed, different results")
	}
	// With a negligible failure probability, Simulate equals Disable.
	want, _ := c.Run(ctx, Disable, x, nil)
	for seed := range uint64(50) {
		got, err := c.Run(ctx, Simulate, x, &Options{PError: 1e-15, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		if !cmp.Equal(got, want) {
			t.Fatalf("seed %d: simulate %v, disable %v", seed, got, want)
		}
	}
	// No parameters and no PError: no perturbation at all.
	got, _ := c.Run(ctx, Simulate, x, &Options{Seed: 3})
	if !cmp.Equal(got, want) {
		t.Errorf("simulate without an error model %v, disable %v", got, want)
	}
}

func TestSigmaForPError(t *testing.T) {
	for _, p := range []float64{1e-9, 1e-3, 0.1, 0.5} {
		s := SigmaForPError(p)
		if got := math.Erfc(0.5 / (s * math.Sqrt2)); math.Abs(got-p)/p > 1e-6 {
			t.Errorf("p=%g: sigma %g gives %g", p, s, got)
		}
	}
	if SigmaForPError(0) != 0 {
		t.Error("p=0 must give no noise")
	}
}

func TestProgress(t *testing.T) {
	c := twoLayer(t, RoundApprox)
	var reports []Progress
	_, err := c.Run(context.Background(), Disable, [][]int64{{1, 2, 3, 4, 5, 6}}, &Options{Progress: func(p Progress) { reports = append(reports, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != len(c.Ops)+1 {
		t.Fatalf("%d reports, want one per op and a final one (%d)", len(reports), len(c.Ops)+1)
	}
	last := reports[len(reports)-1]
	if !last.Done || last.TLUs != 7 || last.TLUsTotal != 7 || last.Op != last.Ops {
		t.Errorf("final report %+v", last)
	}
	if reports[1].OpName != "act1" || reports[1].TLUs != 0 || reports[2].OpName != "fc2" || reports[2].TLUs != 4 {
		t.Errorf("per-op reports: %+v", reports)
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := twoLayer(t, RoundApprox).Run(ctx, Disable, [][]int64{{1, 2, 3, 4, 5, 6}}, nil); err != context.Canceled {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

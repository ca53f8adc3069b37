package passes

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var updateAccumulators = flag.Bool("update-accumulators", false, "rewrite ACCUMULATORS.md with the full study")

// TestAccumulatorTable runs a small study (fast) and checks its shape and
// the properties that must hold: calibration never needs more bits than
// sound analysis, and wider accumulators fit at least as many neurons.
// With -update-accumulators it runs the full study into ACCUMULATORS.md.
func TestAccumulatorTable(t *testing.T) {
	st := AccumulatorStudy{Seed: 1, Outputs: 4, Samples: 20, MaxFanIn: 512}
	if *updateAccumulators {
		st = DefaultAccumulatorStudy
	}
	var b strings.Builder
	if err := WriteAccumulatorTable(&b, st); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Log("\n" + out)
	if n := strings.Count(out, "| 3 | 3 |"); n != 2 {
		t.Errorf("want one (3,3) row per weight distribution, got %d", n)
	}
	res, err := RunAccumulatorStudy(st)
	if err != nil {
		t.Fatal(err)
	}
	for k, r := range res {
		if r.Calibrated < r.Sound {
			t.Errorf("%+v: calibration fits fewer neurons (%d) than sound analysis (%d)", k, r.Calibrated, r.Sound)
		}
		if k.AccBits > 8 {
			prev := res[AccumulatorKey{k.Dist, k.Act, k.Weight, k.AccBits - 2}]
			if r.Sound < prev.Sound {
				t.Errorf("%+v: %d-bit accumulators fit fewer neurons than %d-bit ones", k, k.AccBits, k.AccBits-2)
			}
		}
	}
	// Spot check against a hand computation: with 3-bit activations in
	// [0,7] a single neuron with weight ±3 reaches ±21, 6 bits: every
	// (3,3) layer of fan-in 1 fits 8 bits, and no (5,5) one does
	// (31·15 = 465 > 127).
	if r := res[AccumulatorKey{"uniform", 3, 3, 8}]; r.Sound < 1 {
		t.Errorf("(3,3) at 8 bits: %d", r.Sound)
	}
	if r := res[AccumulatorKey{"uniform", 5, 5, 8}]; r.Sound != 0 {
		t.Errorf("(5,5) at 8 bits: %d", r.Sound)
	}
	if *updateAccumulators {
		head := accumulatorsHead
		if err := os.WriteFile("ACCUMULATORS.md", []byte(head+out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const accumulatorsHead = `# Accumulator width vs. active neurons

Produced by ` + "`go test ./passes -run TestAccumulatorTable -update-accumulators`" + `
(` + "`passes.WriteAccumulatorTable(w, passes.DefaultAccumulatorStudy)`" + `, about 30 s).

The reference page's first table gives, for each (activation, weight) bit pair, a fan-in that
trained models usually fit in the target accumulator. Below is what fheir's own analysis says for
random layers: the ` + "`narrow`" + ` pass's sound range (exact for one layer: the worst-case input
reaches it, see TestNarrowMinimal) and its calibrated range on random inputs (what Concrete ML
measures, which unseen inputs may overflow).

How to read it: sound analysis guarantees no overflow but allows few neurons (a 5-bit activation
times a 5-bit weight, 15·31 = 465, already needs 10 bits for one neuron); calibration on random
inputs allows several times more, because sums of signed weights cancel. Gaussian weights (most
weights small, as after training) fit far more than uniform ones, and with calibration reach or
exceed the reference counts (e.g. (3,3) at 8 bits: 231 vs 80; (6,6) at 14 bits: 122 vs 110);
uniform full-range weights fall short of them ((7,6) at 16 bits: 85 vs 120). The reference counts
come from trained, pruned networks, so neither column is expected to match them exactly.

`

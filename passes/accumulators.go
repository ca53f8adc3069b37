package passes

import (
	"fmt"
	"io"
	"math"
	"math/rand"

	"github.com/fheir/fheir/ir"
)

// AccumulatorStudy holds the settings of WriteAccumulatorTable.
type AccumulatorStudy struct {
	Seed     int64
	Outputs  int // neurons of the dense layer
	Samples  int // calibration inputs
	MaxFanIn int
}

// DefaultAccumulatorStudy is what ACCUMULATORS.md was produced with.
var DefaultAccumulatorStudy = AccumulatorStudy{Seed: 1, Outputs: 8, Samples: 100, MaxFanIn: 4096}

// accumulatorConfigs are the reference page's (activation, weight) bits,
// with the target accumulator width and fan-in it reports.
var accumulatorConfigs = []struct{ act, weight, target, reference int }{
	{3, 3, 8, 80}, {4, 3, 10, 90}, {5, 5, 12, 110}, {6, 6, 14, 110}, {7, 6, 16, 120},
}

var accumulatorTargets = []int{8, 10, 12, 14, 16}

// WriteAccumulatorTable reproduces the first table of Concrete ML's "Using
// Torch" page with fheir's own analysis: for each (activation bits, weight
// bits) pair and each accumulator width, the largest number of active
// neurons (fan-in of a dense layer) whose accumulator fits, under sound
// range analysis (the narrow pass) and under calibration on random inputs
// (narrow with Options.Calibration). It writes Markdown.
//
// The layer is gemm(x, W) with x unsigned act-bit (ReLU outputs, uniform
// random for calibration) and W signed weight-bit with a symmetric range
// (Brevitas' narrow_range weights), drawn two ways: uniform over the range,
// and Gaussian scaled so that the largest |w| of the layer uses the full
// range (what a per-tensor quantizer does to trained weights, most of which
// are small). The fan-in is found by bisection on prefixes of one weight
// matrix, so the sound column is exact for that matrix.
func WriteAccumulatorTable(w io.Writer, st AccumulatorStudy) error {
	res, err := RunAccumulatorStudy(st)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Largest fan-in (active neurons) of a dense layer with %d outputs whose accumulator fits the width,\n", st.Outputs)
	fmt.Fprintf(w, "sound analysis / calibration on %d random inputs (seed %d, fan-in searched up to %d).\n\n", st.Samples, st.Seed, st.MaxFanIn)
	for _, dist := range []string{"uniform", "gaussian"} {
		fmt.Fprintf(w, "### %s weights\n\n", dist)
		fmt.Fprintf(w, "| act bits | weight bits |")
		for _, b := range accumulatorTargets {
			fmt.Fprintf(w, " %d-bit |", b)
		}
		fmt.Fprintf(w, " reference page |\n|---|---|")
		for range accumulatorTargets {
			fmt.Fprintf(w, "---|")
		}
		fmt.Fprintf(w, "---|\n")
		for _, c := range accumulatorConfigs {
			fmt.Fprintf(w, "| %d | %d |", c.act, c.weight)
			for _, b := range accumulatorTargets {
				r := res[AccumulatorKey{dist, c.act, c.weight, b}]
				fmt.Fprintf(w, " %s / %s |", fanIn(r.Sound, st), fanIn(r.Calibrated, st))
			}
			fmt.Fprintf(w, " %d at %d bits |\n", c.reference, c.target)
		}
		fmt.Fprintln(w)
	}
	return nil
}

// AccumulatorKey names one cell of the study: weight distribution
// ("uniform" or "gaussian"), activation and weight bits, accumulator bits.
type AccumulatorKey struct {
	Dist                 string
	Act, Weight, AccBits int
}

// AccumulatorResult is the largest fan-in that fits, both ways.
type AccumulatorResult struct{ Sound, Calibrated int }

// RunAccumulatorStudy computes every cell of WriteAccumulatorTable.
func RunAccumulatorStudy(st AccumulatorStudy) (map[AccumulatorKey]AccumulatorResult, error) {
	res := make(map[AccumulatorKey]AccumulatorResult)
	for _, dist := range []string{"uniform", "gaussian"} {
		for _, c := range accumulatorConfigs {
			rng := rand.New(rand.NewSource(st.Seed))
			wt := studyWeights(rng, dist, c.weight, st.MaxFanIn, st.Outputs)
			xs := studyInputs(rng, c.act, st.Samples, st.MaxFanIn)
			for _, b := range accumulatorTargets {
				sound, err := maxFanIn(wt, xs, c.act, b, false, st)
				if err != nil {
					return nil, err
				}
				cal, err := maxFanIn(wt, xs, c.act, b, true, st)
				if err != nil {
					return nil, err
				}
				res[AccumulatorKey{dist, c.act, c.weight, b}] = AccumulatorResult{sound, cal}
			}
		}
	}
	return res, nil
}

func fanIn(n int, st AccumulatorStudy) string {
	if n >= st.MaxFanIn {
		return fmt.Sprintf("≥%d", st.MaxFanIn)
	}
	return fmt.Sprint(n)
}

// studyWeights returns a [n, outputs] weight matrix.
func studyWeights(rng *rand.Rand, dist string, bits, n, outputs int) *ir.Tensor {
	m := int64(1)<<(bits-1) - 1 // symmetric: [-m, m]
	t := ir.NewInts([]int{n, outputs}, nil)
	if dist == "uniform" {
		for i := range t.I {
			t.I[i] = rng.Int63n(2*m+1) - m
		}
		return t
	}
	g := make([]float64, len(t.I))
	big := 0.0
	for i := range g {
		g[i] = rng.NormFloat64()
		big = math.Max(big, math.Abs(g[i]))
	}
	for i := range g {
		t.I[i] = int64(math.RoundToEven(g[i] / big * float64(m)))
	}
	return t
}

// studyInputs returns samples rows of n unsigned act-bit values.
func studyInputs(rng *rand.Rand, act, samples, n int) *ir.Tensor {
	t := ir.NewInts([]int{samples, n}, nil)
	for i := range t.I {
		t.I[i] = rng.Int63n(int64(1) << act)
	}
	return t
}

// maxFanIn bisects the largest fan-in whose accumulator fits bits.
func maxFanIn(wt, xs *ir.Tensor, act, bits int, calibrated bool, st AccumulatorStudy) (int, error) {
	fits := func(n int) (bool, error) {
		b, err := accumulatorBits(wt, xs, act, n, calibrated)
		return b <= bits, err
	}
	lo, hi := 0, st.MaxFanIn // fits(lo) holds; answer in [lo, hi]
	if ok, err := fits(hi); err != nil || ok {
		return hi, err
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		ok, err := fits(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// accumulatorBits runs narrow on gemm(x[:, :n], W[:n]) and returns the
// accumulator's width.
func accumulatorBits(wt, xs *ir.Tensor, act, n int, calibrated bool) (int, error) {
	outputs := wt.Shape[1]
	samples := xs.Shape[0]
	f := ir.NewFunc("layer")
	in := ir.Range{Lo: 0, Hi: int64(1)<<act - 1}
	x := f.AddParam("x", ir.EncOf(in.Elem(), samples, n))
	x.Range = &in
	w := f.Const(ir.Int(32), ir.NewInts([]int{n, outputs}, wt.I[:n*outputs]))
	acc := f.Add(ir.OpGemm, ir.EncOf(ir.Int(48), samples, outputs), []*ir.Value{x, w}, nil)
	f.Results = []*ir.Value{acc}
	opts := &Options{}
	if calibrated {
		batch := ir.NewInts([]int{samples, n}, nil)
		for s := 0; s < samples; s++ {
			copy(batch.I[s*n:(s+1)*n], xs.I[s*xs.Shape[1]:s*xs.Shape[1]+n])
		}
		opts.Calibration = [][]*ir.Tensor{{batch}}
	}
	if err := Run(f, "narrow", opts); err != nil {
		return 0, err
	}
	return acc.Range.Bits(), nil
}

package passes

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/fheir/fheir/ir"
)

func TestAnalyzeMLP(t *testing.T) {
	f := loadNet(t, "mlp.fir")
	if err := Run(f, "default", nil); err != nil {
		t.Fatal(err)
	}
	rep := Analyze(f)
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + b.String())
	js, _ := json.Marshal(rep)
	t.Log(string(js))
	// One tlu of 2x3 elements reading the first accumulator; the bias add
	// was fused into it.
	if rep.TLUCount != 6 {
		t.Errorf("tlu_count = %d, want 6", rep.TLUCount)
	}
	// Gemm_0 (its bias folded in): Σ max(w·lo, w·hi) + b per column on
	// inputs in [-8,7].
	var g0 *Layer
	for i := range rep.Layers {
		if rep.Layers[i].Loc == "Gemm_0" {
			g0 = &rep.Layers[i]
		}
	}
	if g0 == nil {
		t.Fatal("no Gemm_0 layer")
	}
	want := wantGemmRange([][]int64{{3, -2, 7}, {-8, 1, 0}, {5, 5, -1}, {2, -3, 4}}, []int64{5, -3, 0}, -8, 7)
	if g0.OutputRange != want {
		t.Errorf("Gemm_0 range = %v, want %v", g0.OutputRange, want)
	}
	// max 2-norm of Gemm_0's weight columns: column 0 = sqrt(9+64+25+4).
	if n := math.Sqrt(9 + 64 + 25 + 4); math.Abs(g0.MaxNorm2-n) > 1e-9 {
		t.Errorf("Gemm_0 max norm = %v, want %v", g0.MaxNorm2, n)
	}
	if b := (ir.Range{Lo: want[0], Hi: want[1]}).Bits(); rep.MaxTLUBits != b {
		t.Errorf("max_tlu_bits = %d", rep.MaxTLUBits)
	}
}

// wantGemmRange computes the exact range of x·W over x in [lo,hi]^k by
// brute force over the corners (each output is separable per input).
func wantGemmRange(w [][]int64, bias []int64, lo, hi int64) [2]int64 {
	r := [2]int64{math.MaxInt64, math.MinInt64}
	for j := range w[0] {
		mn, mx := bias[j], bias[j]
		for i := range w {
			mn += min(w[i][j]*lo, w[i][j]*hi)
			mx += max(w[i][j]*lo, w[i][j]*hi)
		}
		r[0], r[1] = min(r[0], mn), max(r[1], mx)
	}
	return r
}

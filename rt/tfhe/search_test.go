package tfhe

import (
	"flag"
	"fmt"
	"math"
	"sort"
	"testing"
)

var searchFlag = flag.Bool("tfhe.search", false, "search the parameter space with the noise and cost models and print the best sets")

// searchBest returns the cheapest set (by Cost) resolving pbsBits at
// failure probability pfail for weight norm norm2.
func searchBest(pbsBits int, norm2, pfail float64, maxKeyBytes float64) (best Params, ok bool) {
	bestCost := math.Inf(1)
	for _, kn := range [][2]int{{1, 512}, {2, 512}, {3, 512}, {4, 512}, {1, 1024}, {2, 1024}, {3, 1024}, {1, 2048}, {2, 2048}, {1, 4096}, {1, 8192}, {1, 16384}, {1, 32768}, {1, 65536}} {
		k, N := kn[0], kn[1]
		if N>>pbsBits < 2 {
			continue
		}
		for n := 500; n <= 1200; n += 6 {
			for g := 1; g <= 3; g++ {
				if n%g != 0 {
					continue
				}
				for l := 1; l <= 3; l++ {
					// the BR base does not change the cost: take the least noisy
					var pb Params
					vb := math.Inf(1)
					for b := 4; b*l <= 56; b++ {
						q := mkParams("s", pbsBits, n, k, N, g, b, l, 1, 1)
						if v := q.VarBootstrap(); v < vb {
							vb, pb = v, q
						}
					}
					if pb.SecurityBits < 128 {
						continue
					}
					for lks := 1; lks <= 15; lks++ {
						bestKS, vk := 0, math.Inf(1)
						for bks := 1; bks <= 8 && bks*lks <= 30; bks++ {
							q := pb
							q.KSBaseLog, q.KSLevels = bks, lks
							if v := q.VarKeySwitch(); v < vk {
								vk, bestKS = v, bks
							}
						}
						if bestKS == 0 {
							continue
						}
						p := pb
						p.KSBaseLog, p.KSLevels = bestKS, lks
						c := p.Cost()
						if c >= bestCost {
							continue
						}
						if float64(p.bskLen())*8+float64(p.kskLen())*4 > maxKeyBytes {
							continue
						}
						if p.PFail(norm2, 0) > pfail {
							continue
						}
						best, bestCost, ok = p, c, true
					}
				}
			}
		}
	}
	return
}

func TestSearchParams(t *testing.T) {
	if !*searchFlag {
		t.Skip("use -tfhe.search")
	}
	seen := map[string]bool{}
	for p := 1; p <= 10; p++ {
		tier := 'a'
		for _, norm := range []float64{1, 16, 256, 4096} {
			best, ok := searchBest(p, norm, math.Exp2(-40), 3e9)
			if !ok {
				t.Logf("p=%d norm=%g: none", p, norm)
				continue
			}
			best.Name = ""
			if seen[best.String()] {
				continue
			}
			seen[best.String()] = true
			t.Logf("p=%d norm=%-5g cost %7.1f ms keys %6.0f MB  %s  maxnorm=%.0f", p, norm, 1e3*best.Cost(),
				(float64(best.bskLen())*8+float64(best.kskLen())*4)/1e6, best, maxNorm(best))
			fmt.Printf("\tmkParams(\"p%d%c\", %d, %d, %d, %d, %d, %d, %d, %d, %d),\n", p, tier, p, best.LWEDim, best.GLWEDim, best.PolyDegree,
				best.GroupSize, best.PBSBaseLog, best.PBSLevels, best.KSBaseLog, best.KSLevels)
			tier++
		}
	}
	_ = sort.Float64s
}

// maxNorm returns the largest weight 2-norm at which p still meets 2^-40.
func maxNorm(p Params) float64 {
	lo, hi := 0.0, 1e7
	for i := 0; i < 60; i++ {
		mid := (lo + hi) / 2
		if p.PFail(mid, 0) <= math.Exp2(-40) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

var tableFlag = flag.Bool("tfhe.table", false, "print the catalog as a markdown table (for PARAMS.md)")

func TestPrintCatalogTable(t *testing.T) {
	if !*tableFlag {
		t.Skip("use -tfhe.table")
	}
	fmt.Println("| set | PBS bits | n | k | N | log2 q | group | BR base^levels | KS base^levels | log2 σ_lwe | log2 σ_glwe | security | log2 p_fail (norm 1) | max norm @2^-40 | model ms/PBS | BSK MB | KSK MB | serialized keys MB | ct KB |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, p := range Catalog() {
		fmt.Printf("| %s | %d | %d | %d | %d | %.1f | %d | 2^%d × %d | 2^%d × %d | %.2f | %.2f | %d | %.1f | %.0f | %.1f | %.0f | %.0f | %.0f | %.1f |\n",
			p.Name, p.PBSBits, p.LWEDim, p.GLWEDim, p.PolyDegree, math.Log2(float64(p.Q)), p.GroupSize,
			p.PBSBaseLog, p.PBSLevels, p.KSBaseLog, p.KSLevels, math.Log2(p.LWEStdDev), math.Log2(p.GLWEStdDev),
			p.SecurityBits, math.Log2(p.PFail(1, 0)), maxNorm(p), 1e3*p.Cost(),
			float64(p.bskLen())*8/1e6, float64(p.kskLen())*4/1e6, float64(p.EvalKeySerializedBytes())/1e6, float64(p.GLWEDim*p.PolyDegree+1)*8/1e3)
	}
}

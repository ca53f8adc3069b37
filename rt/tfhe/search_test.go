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

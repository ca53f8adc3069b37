package tfhe

import (
	"flag"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

type benchEnv struct {
	p   Params
	sk  *SecretKey
	ek  *EvalKey
	ev  *Evaluator
	lut *LUT
}

var benchCache = map[string]*benchEnv{}

func getBenchEnv(b testing.TB, p Params) *benchEnv {
	key := p.String()
	if e, ok := benchCache[key]; ok {
		return e
	}
	sk, err := GenSecretKey(p)
	if err != nil {
		b.Fatal(err)
	}
	ek, err := sk.GenEvalKey()
	if err != nil {
		b.Fatal(err)
	}
	ev, err := NewEvaluator(p, ek)
	if err != nil {
		b.Fatal(err)
	}
	lut, err := p.NewLUT(func(v int64) int64 { return -v - 1 }, p.MsgBits-p.PBSBits)
	if err != nil {
		b.Fatal(err)
	}
	e := &benchEnv{p, sk, ek, ev, lut}
	benchCache[key] = e
	return e
}

func benchParams(b *testing.B, p Params) {
	e := getBenchEnv(b, p)
	ev := e.ev
	b.Logf("%s: cost model %.1f ms, bsk %.1f MB, ksk %.1f MB", p, 1e3*p.Cost(), float64(e.ek.BootstrapKeyBytes())/1e6, float64(e.ek.KeySwitchKeyBytes())/1e6)
	ct := e.sk.Encrypt(1)
	out := e.ev.NewCiphertext()
	b.Run("PBS", func(b *testing.B) {
		loopCPU(b, func() {
			e.ev.Bootstrap(out, ct, e.lut)
		})
	})
	b.Run("ExternalProduct", func(b *testing.B) {
		// one blind-rotation step: GroupSize key bits, one external product
		e.ev.keySwitch(e.ev.small, ct.c)
		e.ev.modSwitch(e.ev.abar, e.ev.small)
		for i := range ev.abar {
			ev.abar[i] |= 1 // no zero exponent: every step does the full work
		}
		loopCPU(b, func() {
			ev.blindRotateSteps(0, e.lut.tv, 0, 1)
		})
	})
	b.Run("KeySwitch", func(b *testing.B) {
		loopCPU(b, func() {
			e.ev.keySwitch(e.ev.small, ct.c)
		})
	})
	b.Run("BlindRotate", func(b *testing.B) {
		e.ev.keySwitch(e.ev.small, ct.c)
		bt := e.ev.modSwitch(e.ev.abar, e.ev.small)
		loopCPU(b, func() {
			e.ev.blindRotate(bt, e.lut.tv)
		})
	})
	if got := e.sk.Decrypt(out); p.MsgBits == p.PBSBits && got != -2 {
		b.Errorf("PBS(1) = %d, want -2", got)
	}
}

// BenchmarkPBS measures one programmable bootstrap (key switch included)
// and its parts per precision on the default (first) catalog set.
// Keys for p=8 take about 2.5 GB.
func BenchmarkPBS(b *testing.B) {
	for _, name := range []string{"p2a", "p4a", "p6a", "p8a"} {
		p, err := ParamsByName(name, int(name[1]-'0'))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("p=%d", p.PBSBits), func(b *testing.B) { benchParams(b, p) })
		delete(benchCache, p.String()) // free the keys
	}
}

// BenchmarkGroupSize compares multi-bit group sizes 2 and 3 on a 4-bit set
// (same n, N, decompositions).
func BenchmarkGroupSize(b *testing.B) {
	for _, g := range []int{2, 3} {
		p := mkParams("g", 4, 750, 1, 2048, g, 24, 1, 2, 7)
		b.Run(fmt.Sprintf("g=%d", g), func(b *testing.B) { benchParams(b, p) })
		delete(benchCache, p.String())
	}
}

func BenchmarkStepParts(b *testing.B) {
	p, _ := ParamsByName("p4a", 4)
	e := getBenchEnv(b, p)
	ev := e.ev
	for i := range ev.acc[1] {
		ev.acc[1][i] = uint64(i) * 12345 % p.Q
	}
	b.Run("NTT", func(b *testing.B) {
		loopCPU(b, func() {
			ev.r.ntt(ev.dig[0], ev.dig[0])
		})
	})
	b.Run("INTT", func(b *testing.B) {
		loopCPU(b, func() {
			ev.r.intt(ev.dig[0], ev.dig[0])
		})
	})
	b.Run("decompose", func(b *testing.B) {
		loopCPU(b, func() {
			ev.decompose()
		})
	})
	b.Run("twiddle3", func(b *testing.B) {
		loopCPU(b, func() {
			for c := 0; c < 3; c++ {
				ev.twiddle(ev.tw[c], uint64(17+c))
			}
		})
	})
	stepLen := 3 * 4 * p.PolyDegree
	b.Run("mulGGSW", func(b *testing.B) {
		loopCPU(b, func() {
			ev.mulGGSW(e.ek.bsk[:stepLen])
		})
	})
}

func BenchmarkKeyGen(b *testing.B) {
	for _, name := range []string{"p2a", "p4a"} {
		p, _ := ParamsByName(name, 4)
		b.Run(name, func(b *testing.B) {
			loopCPU(b, func() {
				sk, _ := GenSecretKey(p)
				if _, err := sk.GenEvalKey(); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkLinear measures dense layers on LWE ciphertexts (p4a, k·N=2048):
// 30×12 with WeightedSum per output and 784×128 with Linear.
func BenchmarkLinear(b *testing.B) {
	p, _ := ParamsByName("p4a", 8)
	e := getBenchEnv(b, p)
	mk := func(n int) []*Ciphertext {
		out := make([]*Ciphertext, n)
		for i := range out {
			out[i] = e.sk.Encrypt(int64(i % 3))
		}
		return out
	}
	for _, sh := range [][2]int{{30, 12}, {784, 128}} {
		nIn, nOut := sh[0], sh[1]
		in, out := mk(nIn), mk(nOut)
		w := make([]int64, nIn*nOut)
		for i := range w {
			w[i] = int64(i%7 - 3)
		}
		b.Run(fmt.Sprintf("WeightedSum/%dx%d", nIn, nOut), func(b *testing.B) {
			loopCPU(b, func() {
				for o := range out {
					e.ev.WeightedSum(out[o], in, w[o*nIn:(o+1)*nIn], 0)
				}
			})
		})
		b.Run(fmt.Sprintf("Linear/%dx%d", nIn, nOut), func(b *testing.B) {
			loopCPU(b, func() {
				e.ev.Linear(out, in, w, nil)
			})
		})
	}
}

// cpuTime returns the CPU time (user+system) consumed by the process. The
// benchmarks report it per operation as cpu-ms/op: on a machine shared with
// other jobs it is a steadier figure than wall-clock ns/op.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loopCPU runs f in a b.Loop and reports the CPU time per operation.
func loopCPU(b *testing.B, f func()) {
	start := cpuTime()
	n := 0
	for b.Loop() {
		f()
		n++
	}
	if n > 0 {
		b.ReportMetric(float64(cpuTime()-start)/float64(n)/1e6, "cpu-ms/op")
	}
}

var benchSets = flag.String("tfhe.bench", "", "comma-separated catalog sets for BenchmarkPBSSets (e.g. p6c,p8b)")

// BenchmarkPBSSets benchmarks the sets named by -tfhe.bench.
func BenchmarkPBSSets(b *testing.B) {
	if *benchSets == "" {
		b.Skip("use -tfhe.bench=p6c,p8b")
	}
	for _, name := range strings.Split(*benchSets, ",") {
		p, err := ParamsByName(name, int(name[1]-'0'))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) { benchParams(b, p) })
		delete(benchCache, p.String())
	}
}

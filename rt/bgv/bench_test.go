package bgv

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the process's user+system CPU time (the machine is
// shared: wall time overstates single-core cost).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLookup measures one w-bit table lookup (a random table on
// [-2^(w-1), 2^(w-1)-1], degree 2^w - 1) on one ciphertext with all N
// slots full, at N=2^14, t=65537 and just the levels the lookup needs
// plus one (a linear layer's rescale). µs/value divides by the slots.
func BenchmarkLookup(b *testing.B) {
	for _, w := range []int{4, 6, 8, 10} {
		levels := w + 1
		if levels > MaxLevels(14, 65537) {
			levels = w
		}
		p := Params{LogN: 14, T: 65537, Levels: levels}
		b.Run(fmt.Sprintf("w=%d/N=2^14/L=%d", w, levels), func(b *testing.B) {
			k := keysFor(b, p)
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			lo, hi := -int64(1)<<(w-1), int64(1)<<(w-1)-1
			tab := randVals(rng, int(hi-lo+1), -30000, 30000)
			poly, err := Interpolate(p.T, lo, hi, func(x int64) int64 { return tab[x-lo] })
			if err != nil {
				b.Fatal(err)
			}
			ct, err := k.sk.Encrypt(randVals(rng, p.Slots(), lo, hi))
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			cpu0 := cpuTime()
			for range b.N {
				if _, err := k.ev.Lookup(ct, poly); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(p.Slots())/1e3, "µs/value")
			b.ReportMetric(p.LookupCost(poly.Degree()).Seconds(), "model-s/op")
		})
	}
}

// BenchmarkWeightedSum measures a 64-term weighted sum with rescale on
// full ciphertexts (one output neuron of a 64-input dense layer for N
// samples).
func BenchmarkWeightedSum(b *testing.B) {
	p := Params{LogN: 14, T: 65537, Levels: 10}
	k := keysFor(b, p)
	rng := rand.New(rand.NewPCG(2, 3))
	cts := make([]*Ciphertext, 64)
	for i := range cts {
		var err error
		if cts[i], err = k.sk.Encrypt(randVals(rng, p.Slots(), -7, 7)); err != nil {
			b.Fatal(err)
		}
	}
	w := randVals(rng, len(cts), -7, 7)
	b.ResetTimer()
	cpu0 := cpuTime()
	for range b.N {
		if _, err := k.ev.WeightedSum(cts, w, 3, true); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(p.LinearCost(len(cts)).Seconds(), "model-s/op")
}

// BenchmarkKeyGen measures secret and relinearization key generation.
func BenchmarkKeyGen(b *testing.B) {
	p := Params{LogN: 14, T: 65537, Levels: 10}
	for range b.N {
		sk, err := GenSecretKey(p)
		if err != nil {
			b.Fatal(err)
		}
		sk.GenEvalKey()
	}
}

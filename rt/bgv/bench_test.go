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
// [-2^(w-1), 2^(w-1)-1], degree 2^w - 1) on one fresh ciphertext with all
// N slots full, at N=2^14 and t=65537, in two settings:
//
//   - own: the smallest set a circuit made of that one lookup gets
//     (Select(w, ·): exactly w levels, the rest of the security budget
//     spent on special primes);
//   - common: every width on the set deep enough for w=10 (10 levels, one
//     special prime), as in a circuit that mixes widths.
//
// cpu-s/op is the process's CPU time per lookup (run with -cpu 1: the
// machine is shared, wall time overstates the single-core cost);
// cpu-µs/value divides it by the slots.
func BenchmarkLookup(b *testing.B) { benchLookups(b, lookupFused) }

// BenchmarkLookupLattigo is BenchmarkLookup with lattigo's own polynomial
// evaluator (the baseline of psEvaluator).
func BenchmarkLookupLattigo(b *testing.B) { benchLookups(b, lookupLattigo) }

func benchLookups(b *testing.B, how int) {
	common := Params{LogN: 14, T: 65537, Levels: 10}
	for _, setting := range []string{"own", "common"} {
		for _, w := range []int{4, 6, 8, 10} {
			p := common
			if setting == "own" {
				var err error
				if p, err = Select(w, 30000); err != nil {
					b.Fatal(err)
				}
			}
			b.Run(fmt.Sprintf("%s/w=%d/%s", setting, w, p.Name()), func(b *testing.B) {
				benchLookup(b, p, w, how)
			})
		}
	}
}

func benchLookup(b *testing.B, p Params, w, how int) {
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
		if _, err := k.ev.lookup(ct, poly, how); err != nil {
			b.Fatal(err)
		}
	}
	cpu := (cpuTime() - cpu0).Seconds() / float64(b.N)
	b.ReportMetric(cpu, "cpu-s/op")
	b.ReportMetric(cpu/float64(p.Slots())*1e6, "cpu-µs/value")
	b.ReportMetric(p.LookupCost(poly.Degree()).Seconds(), "model-s/op")
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

// BenchmarkLookupParity measures an 8-bit lookup on the symmetric domain
// [-127, 127] (degree 254) for a generic table, an even one and an odd one
// plus a constant (the evaluator then skips the powers of the other
// parity), on the common set of BenchmarkLookup.
func BenchmarkLookupParity(b *testing.B) {
	p := Params{LogN: 14, T: 65537, Levels: 10}
	k := keysFor(b, p)
	rng := rand.New(rand.NewPCG(8, 2))
	half := randVals(rng, 128, -30000, 30000)
	gen := randVals(rng, 255, -30000, 30000)
	for _, tc := range []struct {
		name string
		f    func(int64) int64
	}{
		{"generic", func(x int64) int64 { return gen[x+127] }},
		{"even", func(x int64) int64 { return half[max(x, -x)] }},
		{"odd+constant", func(x int64) int64 {
			if x < 0 {
				return 5 - half[-x]
			}
			return 5 + half[x]
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			poly, err := Interpolate(p.T, -127, 127, tc.f)
			if err != nil {
				b.Fatal(err)
			}
			ct, err := k.sk.Encrypt(randVals(rng, p.Slots(), -127, 127))
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
		})
	}
}

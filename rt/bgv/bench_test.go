package bgv

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/tuneinsight/lattigo/v5/he/heint"
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
//   - common: every width on the set a w=10 lookup gets (Select(10, ·):
//     N=2^15 with 10 levels since 2^14 holds 9 under the 2024 security
//     bound), as in a circuit that mixes widths.
//
// cpu-s/op is the process's CPU time per lookup (run with -cpu 1: the
// machine is shared, wall time overstates the single-core cost);
// cpu-µs/value divides it by the slots.
func BenchmarkLookup(b *testing.B) { benchLookups(b, lookupFused) }

// BenchmarkLookupLattigo is BenchmarkLookup with lattigo's own polynomial
// evaluator (the baseline of psEvaluator).
func BenchmarkLookupLattigo(b *testing.B) { benchLookups(b, lookupLattigo) }

func benchLookups(b *testing.B, how int) {
	common, err := Select(10, 30000)
	if err != nil {
		b.Fatal(err)
	}
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
	p := Params{LogN: 14, T: 65537, Levels: 9}
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
	p := Params{LogN: 14, T: 65537, Levels: 9}
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
// parity), on n14-t65537-l9.
func BenchmarkLookupParity(b *testing.B) {
	p := Params{LogN: 14, T: 65537, Levels: 9}
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

// BenchmarkOps measures the operations the cost model prices, at the top
// level of sets across the catalog: one rotation (a key switch), one
// diagonal of a two-key product (encode a plaintext, multiply-add), and a
// degree-63 lookup. -cpu 1 and cpu-s/op (process CPU time), as for
// BenchmarkLookup; model-s/op is the cost model's figure.
func BenchmarkOps(b *testing.B) {
	for _, p := range []Params{{LogN: 14, T: 65537, Levels: 9}, {LogN: 15, T: 65537, Levels: 20}, {LogN: 16, T: 786433, Levels: 38}} {
		sk, err := GenSecretKey(p)
		if err != nil {
			b.Fatal(err)
		}
		l, err := NewLayout(p, 256)
		if err != nil {
			b.Fatal(err)
		}
		l = l.TwoKey()
		ev := NewEvaluator(sk.GenEvalKeyWithRotations(l.twoKeyGaloisElements(sk.hp, []int{l.Stride, l.Stride * l.Giant})))
		ct, err := sk.Encrypt(make([]int64, 16))
		if err != nil {
			b.Fatal(err)
		}
		measure := func(name string, model time.Duration, f func()) {
			b.Run(name+"/"+p.Name(), func(b *testing.B) {
				cpu0 := cpuTime()
				for range b.N {
					f()
				}
				b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
				b.ReportMetric(model.Seconds(), "model-s/op")
			})
		}
		out := heint.NewCiphertext(ev.hp, 1, ct.Level())
		measure("rotation", p.RotationCost(), func() {
			if err := ev.ev.RotateColumns(ct.ct, l.Stride, out); err != nil {
				b.Fatal(err)
			}
		})
		pt := heint.NewPlaintext(ev.hp, ct.Level())
		vals := make([]uint64, p.Slots())
		for i := range vals {
			vals[i] = uint64(i) % p.T
		}
		acc := heint.NewCiphertext(ev.hp, 1, ct.Level())
		measure("diagonal", p.DiagonalCost(), func() {
			pt.Scale = acc.Scale
			if err := ev.ecd.Encode(vals, pt); err != nil {
				b.Fatal(err)
			}
			if err := ev.ev.MulThenAdd(ct.ct, pt, acc); err != nil {
				b.Fatal(err)
			}
		})
		poly, err := Interpolate(p.T, -32, 31, func(x int64) int64 { return x * x % 97 })
		if err != nil {
			b.Fatal(err)
		}
		measure("lookup63", p.LookupCost(63), func() {
			if _, err := ev.Lookup(ct, poly); err != nil {
				b.Fatal(err)
			}
		})
	}
}

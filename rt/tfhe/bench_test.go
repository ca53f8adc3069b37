package tfhe

import (
	"fmt"
	"testing"
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
	lut, err := p.NewLUT(func(v int64) int64 { return -v - 1 }, 0)
	if err != nil {
		b.Fatal(err)
	}
	e := &benchEnv{p, sk, ek, ev, lut}
	benchCache[key] = e
	return e
}

func benchParams(b *testing.B, p Params) {
	e := getBenchEnv(b, p)
	b.Logf("%s: cost model %.1f ms, bsk %.1f MB, ksk %.1f MB", p, 1e3*p.Cost(), float64(e.ek.BootstrapKeyBytes())/1e6, float64(e.ek.KeySwitchKeyBytes())/1e6)
	ct := e.sk.Encrypt(1)
	out := e.ev.NewCiphertext()
	b.Run("PBS", func(b *testing.B) {
		for b.Loop() {
			e.ev.Bootstrap(out, ct, e.lut)
		}
	})
	b.Run("KeySwitch", func(b *testing.B) {
		for b.Loop() {
			e.ev.keySwitch(e.ev.small, ct.c)
		}
	})
	b.Run("BlindRotate", func(b *testing.B) {
		e.ev.keySwitch(e.ev.small, ct.c)
		bt := e.ev.modSwitch(e.ev.abar, e.ev.small)
		for b.Loop() {
			e.ev.blindRotate(bt, e.lut.tv)
		}
	})
	if got := e.sk.Decrypt(out); got != -2 {
		b.Errorf("PBS(1) = %d, want -2", got)
	}
}

func BenchmarkCandidate(b *testing.B) {
	for _, p := range []Params{
		mkParams("p4", 4, 750, 1, 2048, 2, 23, 1, 2, 7),
	} {
		b.Run(fmt.Sprintf("%s", p.Name), func(b *testing.B) { benchParams(b, p) })
	}
}

func BenchmarkStepParts(b *testing.B) {
	p := mkParams("p4", 4, 750, 1, 2048, 2, 23, 1, 2, 7)
	e := getBenchEnv(b, p)
	ev := e.ev
	for i := range ev.acc[1] {
		ev.acc[1][i] = uint64(i) * 12345 % p.Q
	}
	b.Run("NTT", func(b *testing.B) {
		for b.Loop() {
			ev.r.ntt(ev.dig[0], ev.dig[0])
		}
	})
	b.Run("INTT", func(b *testing.B) {
		for b.Loop() {
			ev.r.intt(ev.dig[0], ev.dig[0])
		}
	})
	b.Run("decompose", func(b *testing.B) {
		for b.Loop() {
			ev.decompose()
		}
	})
	b.Run("twiddle3", func(b *testing.B) {
		for b.Loop() {
			for c := 0; c < 3; c++ {
				ev.twiddle(ev.tw[c], uint64(17+c))
			}
		}
	})
	stepLen := 3 * 4 * p.PolyDegree
	b.Run("mulGGSW", func(b *testing.B) {
		for b.Loop() {
			ev.mulGGSW(e.ek.bsk[:stepLen])
		}
	})
}

func BenchmarkKeyGen(b *testing.B) {
	for _, name := range []string{"p2a", "p4a"} {
		p, _ := ParamsByName(name, 4)
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				sk, _ := GenSecretKey(p)
				if _, err := sk.GenEvalKey(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

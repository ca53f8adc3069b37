package tfhe

import (
	"math"
	"math/rand/v2"
	"testing"
)

// glwePhase returns the phase b - Σ a_r·s_r (coefficient domain, mod Q) of
// the evaluator's accumulator.
func glwePhase(ev *Evaluator, sk *SecretKey) []uint64 {
	p := ev.params
	N, k := p.PolyDegree, p.GLWEDim
	rq := ev.r
	Q := rq.Q
	ph := make([]uint64, N)
	ntt := func(x []uint64) []uint64 { y := append([]uint64(nil), x...); rq.ntt(y, y); return y }
	sum := make([]uint64, N)
	for r := 0; r < k; r++ {
		a := ntt(ev.acc[r])
		s := ntt(sk.big[r*N : (r+1)*N])
		for t := range sum {
			sum[t] = rq.bred(sum[t] + rq.mulMod(a[t], s[t]))
		}
	}
	rq.intt(sum, sum)
	for t := range ph {
		ph[t] = rq.bred(ev.acc[k][t] + Q - sum[t])
	}
	return ph
}

// centered returns x - y modulo q as a signed fraction of q.
func centeredQ(x, y, q uint64) float64 {
	d := (x + q - y) % q
	if d > q/2 {
		return -float64(q-d) / float64(q)
	}
	return float64(d) / float64(q)
}

func centered64(x uint64) float64 { return float64(int64(x)) / 0x1p64 }

type noiseStats struct {
	sum, sum2 float64
	n         int
}

func (s *noiseStats) add(x float64) { s.sum += x; s.sum2 += x * x; s.n++ }
func (s *noiseStats) variance() float64 {
	m := s.sum / float64(s.n)
	return s.sum2/float64(s.n) - m*m
}

// measureNoise runs bootstraps and measures the variance of the blind
// rotation output (all N coefficients of the accumulator), the key switch
// and the modulus switch.
func measureNoise(t *testing.T, p Params, boots, ksSamples int) (br, ks, ms noiseStats) {
	sk, err := GenSecretKey(p)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := sk.GenEvalKey()
	if err != nil {
		t.Fatal(err)
	}
	ev, err := NewEvaluator(p, ek)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	N := p.PolyDegree
	Q := p.Q
	half := int64(1) << (p.MsgBits - 1)
	lut, err := p.NewLUT(func(v int64) int64 { return (v*5 + 3) % half }, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]uint64, N)
	twoN := uint64(2 * N)
	for b := 0; b < ksSamples; b++ {
		ct := sk.Encrypt(rng.Int64N(2*half) - half)
		inPhase := phaseLWE(ct.c, sk.big)
		ev.keySwitch(ev.small, ct.c)
		ksPhase := uint64(phaseLWE32(ev.small, sk.small)) << 32
		ks.add(centered64(ksPhase - inPhase))
		ms.add(modSwitchError(ev, sk, ksPhase))
	}
	for b := 0; b < boots; b++ {
		ct := sk.Encrypt(rng.Int64N(2*half) - half)
		inPhase := phaseLWE(ct.c, sk.big)
		ev.keySwitch(ev.small, ct.c)
		ksPhase := uint64(phaseLWE32(ev.small, sk.small)) << 32
		_ = inPhase
		_ = ksPhase
		bt := ev.modSwitch(ev.abar, ev.small)
		phi := switchedPhase(ev, sk, bt)
		ev.blindRotate(bt, lut.tv)
		rotate(want, lut.tv, int((twoN-phi)%twoN), Q)
		got := glwePhase(ev, sk)
		for j := range got {
			br.add(centeredQ(got[j], want[j], Q))
		}
	}
	return
}

func checkRatio(t *testing.T, what string, measured, model float64) {
	t.Helper()
	r := measured / model
	t.Logf("%s: measured variance 2^%.2f, model 2^%.2f (ratio %.2f)", what, math.Log2(measured), math.Log2(model), r)
	if r > 2 || r < 0.5 {
		t.Errorf("%s: measured/model variance = %.2f, want within 2x", what, r)
	}
}

func TestNoiseModelToy(t *testing.T) {
	p := InsecureTestParams(4)
	br, ks, ms := measureNoise(t, p, 20, 10000)
	checkRatio(t, "blind rotation", br.variance(), p.VarBootstrap())
	checkRatio(t, "key switch", ks.variance(), p.VarKeySwitch())
	checkRatio(t, "modulus switch", ms.variance(), p.VarModSwitch())
	if br.n < 10000 || ks.n < 10000 || ms.n < 10000 {
		t.Fatalf("too few samples: %d %d %d", br.n, ks.n, ms.n)
	}
}

// switchedPhase returns the phase (units of 1/2N) of the modulus-switched
// ciphertext held in ev.abar and bt.
func switchedPhase(ev *Evaluator, sk *SecretKey, bt uint64) uint64 {
	twoN := uint64(2 * ev.params.PolyDegree)
	var dot uint64
	for i, a := range ev.abar {
		dot += a * sk.small[i]
	}
	return (bt + twoN*uint64(len(ev.abar)) - dot%twoN) % twoN
}

// modSwitchError switches ev.small and returns the error of the switched
// phase relative to the exact phase ksPhase (as a torus fraction).
func modSwitchError(ev *Evaluator, sk *SecretKey, ksPhase uint64) float64 {
	bt := ev.modSwitch(ev.abar, ev.small)
	phi := switchedPhase(ev, sk, bt)
	twoN := float64(2 * ev.params.PolyDegree)
	d := float64(phi) - float64(ksPhase)/0x1p64*twoN
	d -= math.Round(d/twoN) * twoN
	return d / twoN
}

// TestNoiseModelCatalog checks the model on a real (128-bit) set: >= 10^4
// blind-rotation coefficients, and key switches / modulus switches (fewer:
// a key switch costs milliseconds; 1000 samples estimate a variance within
// about 9%).
func TestNoiseModelCatalog(t *testing.T) {
	p := mustParams(t, "p2a", 2)
	br, ks, ms := measureNoise(t, p, 20, 1000)
	checkRatio(t, "p2a blind rotation", br.variance(), p.VarBootstrap())
	checkRatio(t, "p2a key switch", ks.variance(), p.VarKeySwitch())
	checkRatio(t, "p2a modulus switch", ms.variance(), p.VarModSwitch())
	if br.n < 10000 {
		t.Fatalf("too few samples: %d", br.n)
	}
}

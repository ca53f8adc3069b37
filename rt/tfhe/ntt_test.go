package tfhe

import (
	"math/bits"
	"math/rand/v2"
	"testing"
)

// negacyclic returns a·b mod (X^N+1, q) by schoolbook multiplication.
func negacyclic(a, b []uint64, q uint64) []uint64 {
	N := len(a)
	out := make([]uint64, N)
	for i := range a {
		for j := range b {
			hi, lo := bits.Mul64(a[i], b[j])
			_, p := bits.Div64(hi%q, lo, q)
			k := i + j
			if k >= N {
				out[k-N] = (out[k-N] + q - p) % q
			} else {
				out[k] = (out[k] + p) % q
			}
		}
	}
	return out
}

func TestNTTMatches(t *testing.T) {
	for _, N := range []int{16, 64, 512} {
		rq, err := newRingQ(N, qPrime)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(uint64(N), 1))
		a, b := make([]uint64, N), make([]uint64, N)
		for i := range a {
			a[i], b[i] = rng.Uint64N(qPrime), rng.Uint64N(qPrime)
		}
		want := negacyclic(a, b, qPrime)
		for name, tr := range map[string][2]func(in, out []uint64){
			"lattigo": {rq.ntt, rq.intt},
		} {
			fa, fb := make([]uint64, N), make([]uint64, N)
			tr[0](a, fa)
			tr[0](b, fb)
			for i := range fa {
				fa[i] = rq.mulMod(fa[i], fb[i])
			}
			tr[1](fa, fa)
			for i := range fa {
				if fa[i] != want[i] {
					t.Fatalf("N=%d %s: product coefficient %d = %d, want %d", N, name, i, fa[i], want[i])
				}
			}
		}
		// the monomial table agrees with the transform of X^e
		for _, e := range []int{0, 1, 5, N - 1, N, 2*N - 1} {
			x := make([]uint64, N)
			if e < N {
				x[e] = 1
			} else {
				x[e-N] = qPrime - 1
			}
			rq.ntt(x, x)
			for j := range x {
				if got := rq.mulMod(rq.powM[(uint64(rq.expo[j])*uint64(e))%uint64(2*N)], 1); got != rq.mulMod(x[j], rq.mform(1)) {
					t.Fatalf("N=%d: NTT(X^%d) slot %d mismatch", N, e, j)
				}
			}
		}
	}
}

package tfhe

import (
	crand "crypto/rand"
	"math"
	"math/rand/v2"
)

// prng is the randomness of key generation and encryption: ChaCha8 (a
// cryptographically strong generator, see math/rand/v2) seeded from the
// operating system.
type prng struct {
	r *rand.Rand
}

func newPRNG() (*prng, error) {
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		return nil, err
	}
	return &prng{r: rand.New(rand.NewChaCha8(seed))}, nil
}

func (p *prng) uint64() uint64 { return p.r.Uint64() }

// bit returns a uniform bit.
func (p *prng) bit() uint64 { return p.r.Uint64() >> 63 }

// uniformMod returns a uniform value in [0, q).
func (p *prng) uniformMod(q uint64) uint64 { return p.r.Uint64N(q) }

// gaussian returns a rounded sample of N(0, sigma^2) as a signed integer
// (sigma in absolute units).
func (p *prng) gaussian(sigma float64) int64 {
	return int64(math.Round(p.r.NormFloat64() * sigma))
}

// expandMask fills dst with the public uniform words derived from seed
// (ChaCha8 stream): the mask of a compact fresh ciphertext.
func expandMask(dst []uint64, seed *[32]byte) {
	c := rand.NewChaCha8(*seed)
	for i := range dst {
		dst[i] = c.Uint64()
	}
}

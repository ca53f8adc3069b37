package tfhe

import (
	crand "crypto/rand"
	"math"
	"math/bits"
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

// Domains of the public mask streams of an evaluation key.
const (
	maskDomainBSK = 1
	maskDomainKSK = 2
)

// maskStream is the public uniform stream (ChaCha8) of the masks of a
// seeded evaluation key.
type maskStream struct {
	c     *rand.ChaCha8
	q     uint64
	shift uint
}

func newMaskStream(seed *[32]byte, domain byte, q uint64) *maskStream {
	s := *seed
	s[31] ^= domain
	m := &maskStream{c: rand.NewChaCha8(s), q: q}
	if q > 0 {
		m.shift = uint(bits.LeadingZeros64(q))
	}
	return m
}

// fillQ fills dst with uniform values modulo q (rejection sampling on the
// top bits, so the stream is fixed by the seed alone).
func (m *maskStream) fillQ(dst []uint64) {
	for i := range dst {
		for {
			v := m.c.Uint64() >> m.shift
			if v < m.q {
				dst[i] = v
				break
			}
		}
	}
}

// fill32 fills dst with uniform 32-bit words.
func (m *maskStream) fill32(dst []uint32) {
	for i := range dst {
		dst[i] = uint32(m.c.Uint64())
	}
}

package tfhe

import "encoding/binary"

// validate checks the structural consistency of p (not its security).
func (p Params) validate() error {
	switch {
	case p.PolyDegree < 16 || p.PolyDegree > 1<<16 || p.PolyDegree&(p.PolyDegree-1) != 0:
		return errorf(CodeBadArgument, "params %s: PolyDegree %d is not a power of two in [16, 65536]", p.Name, p.PolyDegree)
	case p.GLWEDim < 1 || p.GLWEDim > 8 || p.LWEDim < 1 || p.LWEDim > 4096:
		return errorf(CodeBadArgument, "params %s: bad dimensions k=%d n=%d", p.Name, p.GLWEDim, p.LWEDim)
	case p.GroupSize < 1 || p.GroupSize > 4 || p.LWEDim%p.GroupSize != 0:
		return errorf(CodeBadArgument, "params %s: GroupSize %d must be in 1..4 and divide n=%d", p.Name, p.GroupSize, p.LWEDim)
	case p.PBSLevels < 1 || p.PBSBaseLog < 1 || p.PBSLevels*p.PBSBaseLog > 60:
		return errorf(CodeBadArgument, "params %s: bad PBS decomposition %dx%d", p.Name, p.PBSBaseLog, p.PBSLevels)
	case p.KSLevels < 1 || p.KSBaseLog < 1 || p.KSLevels*p.KSBaseLog > 30:
		return errorf(CodeBadArgument, "params %s: bad KS decomposition %dx%d", p.Name, p.KSBaseLog, p.KSLevels)
	case p.Q < 1<<20 || p.Q >= 1<<60 || (p.Q-1)%uint64(2*p.PolyDegree) != 0:
		return errorf(CodeBadArgument, "params %s: Q=%d is not an NTT prime below 2^60 for N=%d", p.Name, p.Q, p.PolyDegree)
	case p.MsgBits < 1 || p.MsgBits > MaxMsgBits || p.PBSBits < 1:
		return errorf(CodeBadArgument, "params %s: MsgBits=%d PBSBits=%d out of range", p.Name, p.MsgBits, p.PBSBits)
	case !(p.LWEStdDev > 0 && p.LWEStdDev < 1) || !(p.GLWEStdDev > 0 && p.GLWEStdDev < 1):
		return errorf(CodeBadArgument, "params %s: noise deviations out of range", p.Name)
	}
	return nil
}

// delta is the scale of one plaintext unit modulo 2^64.
func (p Params) delta() uint64 { return uint64(1) << (63 - p.MsgBits) }

// GenSecretKey samples a fresh secret key for p from the operating
// system's entropy.
func GenSecretKey(p Params) (*SecretKey, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	rng, err := newPRNG()
	if err != nil {
		return nil, err
	}
	sk := &SecretKey{params: p, rng: rng,
		small: make([]uint64, p.LWEDim), big: make([]uint64, p.GLWEDim*p.PolyDegree)}
	for i := range sk.small {
		sk.small[i] = rng.bit()
	}
	for i := range sk.big {
		sk.big[i] = rng.bit()
	}
	return sk, nil
}

// prng returns the key's generator (sk.mu must be held).
func (sk *SecretKey) prng() *prng {
	if sk.rng == nil {
		r, err := newPRNG()
		if err != nil {
			panic("BUG: no system entropy: " + err.Error())
		}
		sk.rng = r
	}
	return sk.rng
}

// encryptLWE writes into out (len(key)+1 words) an LWE encryption modulo
// 2^64 of the torus value msg under key with noise sigma (absolute).
func encryptLWE(out, key []uint64, msg uint64, sigma float64, rng *prng) {
	n := len(key)
	var dot uint64
	for i := 0; i < n; i++ {
		a := rng.uint64()
		out[i] = a
		dot += a & -key[i] // key bits are 0/1
	}
	out[n] = dot + msg + uint64(rng.gaussian(sigma))
}

// phaseLWE returns b - <a, key> modulo 2^64.
func phaseLWE(c, key []uint64) uint64 {
	n := len(key)
	c = c[:n+1]
	var dot uint64
	for i := 0; i < n; i++ {
		dot += c[i] & -key[i]
	}
	return c[n] - dot
}

// Encrypt encrypts the signed integer m, which must lie in
// [-2^(MsgBits-1), 2^(MsgBits-1)) (other values wrap modulo 2^MsgBits
// into the padding bit and break lookups).
func (sk *SecretKey) Encrypt(m int64) *Ciphertext {
	p := sk.params
	ct := p.NewCiphertext()
	seed := new([32]byte)
	sk.mu.Lock()
	rng := sk.prng()
	for i := 0; i < 32; i += 8 {
		binary.LittleEndian.PutUint64(seed[i:], rng.uint64())
	}
	noise := rng.gaussian(p.GLWEStdDev * 0x1p64)
	sk.mu.Unlock()
	key := sk.big
	expandMask(ct.c[:len(key)], seed)
	var dot uint64
	for i, a := range ct.c[:len(key)] {
		dot += a & -key[i]
	}
	ct.c[len(key)] = dot + uint64(m)*p.delta() + uint64(noise)
	ct.seed = seed
	return ct
}

// Decrypt decrypts ct to a signed integer in [-2^MsgBits, 2^MsgBits)
// (the padding bit included, so that overflows are visible). A ciphertext
// of another parameter set or key decrypts to garbage, never panics.
func (sk *SecretKey) Decrypt(ct *Ciphertext) int64 {
	p := sk.params
	if ct == nil || len(ct.c) == 0 {
		return 0
	}
	key := sk.big
	if len(ct.c) < len(key)+1 {
		key = key[:len(ct.c)-1]
	}
	ph := phaseLWE(ct.c[:len(key)+1], key)
	d := p.delta()
	v := (ph + d/2) / d // in [0, 2^(MsgBits+1)]
	w := uint(p.MsgBits + 1)
	return int64(v<<(64-w)) >> (64 - w) // sign-extend MsgBits+1 bits
}

// GenEvalKey generates the evaluation key (bootstrapping and key-switching
// keys) for sk.
func (sk *SecretKey) GenEvalKey() (*EvalKey, error) {
	p := sk.params
	if err := p.validate(); err != nil {
		return nil, err
	}
	rq, err := newRingQ(p.PolyDegree, p.Q)
	if err != nil {
		return nil, err
	}
	sk.mu.Lock()
	defer sk.mu.Unlock()
	rng := sk.prng()
	ek := &EvalKey{params: p, seeded: true}
	for i := 0; i < 32; i += 8 {
		binary.LittleEndian.PutUint64(ek.seed[i:], rng.uint64())
	}
	ek.bsk = genBSK(p, rq, sk.small, sk.big, rng, &ek.seed)
	ek.ksk = genKSK(p, sk.small, sk.big, rng, &ek.seed)
	return ek, nil
}

// bskLen returns the number of words of the bootstrapping key.
func (p Params) bskLen() int {
	k1 := p.GLWEDim + 1
	combos := 1<<p.GroupSize - 1
	return p.LWEDim / p.GroupSize * combos * k1 * p.PBSLevels * k1 * p.PolyDegree
}

func (p Params) kskLen() int {
	return p.GLWEDim * p.PolyDegree * p.KSLevels * (p.LWEDim + 1)
}

// gadgetQ returns round(Q / 2^(baseLog·(j+1))), the j-th gadget value in
// the Q scale.
func gadgetQ(q uint64, baseLog, j int) uint64 {
	s := uint(baseLog * (j + 1))
	if s >= 64 {
		return 0
	}
	return (q + (uint64(1)<<s)/2) >> s
}

// genBSK generates the bootstrapping key. The masks come from the public
// stream of seed (see expandMasks), so that a serialized key needs only
// the bodies; the message of row (r, j) goes into the body:
// phase = μ·g_j·(-s_r) for r < k and μ·g_j for r = k.
func genBSK(p Params, rq *ringQ, small, big []uint64, rng *prng, seed *[32]byte) []uint64 {
	N, k, l, g := p.PolyDegree, p.GLWEDim, p.PBSLevels, p.GroupSize
	k1 := k + 1
	Q := rq.Q
	// GLWE key in NTT form.
	sNTT := make([][]uint64, k)
	for r := range sNTT {
		sNTT[r] = make([]uint64, N)
		copy(sNTT[r], big[r*N:(r+1)*N])
		rq.ntt(sNTT[r], sNTT[r])
	}
	sigma := p.GLWEStdDev * float64(Q)
	e := make([]uint64, N)
	bsk := make([]uint64, p.bskLen())
	combos := 1<<g - 1
	masks := newMaskStream(seed, maskDomainBSK, Q)
	pos := 0
	for step := 0; step < p.LWEDim/g; step++ {
		for c := 1; c <= combos; c++ {
			mu := uint64(1)
			for t := 0; t < g; t++ {
				bit := small[step*g+t]
				if c>>t&1 == 1 {
					mu &= bit
				} else {
					mu &= 1 - bit
				}
			}
			for row := 0; row < k1*l; row++ {
				r, j := row/l, row%l
				glwe := bsk[pos : pos+k1*N]
				pos += k1 * N
				body := glwe[k*N:]
				for col := 0; col < k; col++ {
					a := glwe[col*N : (col+1)*N]
					masks.fillQ(a)
					for t := range body {
						body[t] = rq.bred(body[t] + rq.mulMod(a[t], sNTT[col][t]))
					}
				}
				for t := range e {
					x := rng.gaussian(sigma)
					if x < 0 {
						e[t] = Q - uint64(-x)%Q
					} else {
						e[t] = uint64(x) % Q
					}
				}
				rq.ntt(e, e)
				for t := range body {
					body[t] = rq.bred(body[t] + e[t])
				}
				if mu == 1 {
					gj := gadgetQ(Q, p.PBSBaseLog, j) % Q
					if r == k {
						for t := range body {
							body[t] = rq.bred(body[t] + gj)
						}
					} else {
						for t := range body {
							body[t] = rq.bred(body[t] + Q - rq.mulMod(gj, sNTT[r][t]))
						}
					}
				}
				for t := range glwe {
					glwe[t] = rq.mform(glwe[t])
				}
			}
		}
	}
	if pos != len(bsk) {
		panic("BUG: bootstrapping key size")
	}
	return bsk
}

// genKSK encrypts the big key under the small key modulo 2^32: the key
// switch only has to keep the precision the modulus switch to 2N needs.
func genKSK(p Params, small, big []uint64, rng *prng, seed *[32]byte) []uint32 {
	n := p.LWEDim
	ksk := make([]uint32, p.kskLen())
	sigma := p.LWEStdDev * 0x1p32
	masks := newMaskStream(seed, maskDomainKSK, 0)
	for i, s := range big {
		for j := 0; j < p.KSLevels; j++ {
			sh := uint(32 - p.KSBaseLog*(j+1))
			out := ksk[(i*p.KSLevels+j)*(n+1) : (i*p.KSLevels+j+1)*(n+1)]
			var dot uint32
			masks.fill32(out[:n])
			for t := 0; t < n; t++ {
				dot += out[t] & -uint32(small[t])
			}
			out[n] = dot + uint32(s)<<sh + uint32(rng.gaussian(sigma))
		}
	}
	return ksk
}

// phaseLWE32 returns b - <a, key> modulo 2^32.
func phaseLWE32(c []uint32, key []uint64) uint32 {
	n := len(key)
	var dot uint32
	for i := 0; i < n; i++ {
		dot += c[i] & -uint32(key[i])
	}
	return c[n] - dot
}

// EvalKeyBytes returns the in-memory sizes of the bootstrapping key and of
// the key-switching key an EvalKey for p holds (the serialized key adds a
// header of about 100 bytes).
func (p Params) EvalKeyBytes() (bsk, ksk int64) {
	return 8 * int64(p.bskLen()), 4 * int64(p.kskLen())
}

// CiphertextBytes returns the in-memory size of one ciphertext for p (the
// serialized form adds 31 bytes).
func (p Params) CiphertextBytes() int64 { return 8 * int64(p.GLWEDim*p.PolyDegree+1) }

// expandMasks regenerates the masks of a seeded evaluation key (the
// bodies must already be in place).
func (ek *EvalKey) expandMasks() error {
	p := ek.params
	rq, err := newRingQ(p.PolyDegree, p.Q)
	if err != nil {
		return err
	}
	N, k := p.PolyDegree, p.GLWEDim
	k1 := k + 1
	masks := newMaskStream(&ek.seed, maskDomainBSK, p.Q)
	for pos := 0; pos < len(ek.bsk); pos += k1 * N {
		a := ek.bsk[pos : pos+k*N]
		masks.fillQ(a)
		for t, v := range a {
			a[t] = rq.mform(v)
		}
	}
	n := p.LWEDim
	kmasks := newMaskStream(&ek.seed, maskDomainKSK, 0)
	for pos := 0; pos < len(ek.ksk); pos += n + 1 {
		kmasks.fill32(ek.ksk[pos : pos+n])
	}
	return nil
}

// EvalKeySerializedBytes returns the size of a generated evaluation key
// for p as written by MarshalBinary (seeded masks: bodies only).
func (p Params) EvalKeySerializedBytes() int64 {
	return 8*int64(p.bskLen()/(p.GLWEDim+1)) + 4*int64(p.kskLen()/(p.LWEDim+1)) + 200
}

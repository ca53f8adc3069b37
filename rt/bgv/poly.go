package bgv

// Poly is a table lookup as a polynomial over Z_t: the unique polynomial
// of degree ≤ Hi-Lo that takes the value f(x) at every integer x of the
// domain [Lo, Hi] (inputs and outputs as residues mod t, centred). It is
// read-only once built and may be shared by evaluators.
type Poly struct {
	T      uint64
	Lo, Hi int64
	// Coeffs are the monomial coefficients in x, lowest degree first,
	// reduced mod T.
	Coeffs []uint64
}

// MaxDomain bounds the domain of an interpolated lookup (interpolation
// costs O(size²) multiplications mod t).
const MaxDomain = 1 << 16

// Mod returns x mod t in [0, t).
func Mod(x int64, t uint64) uint64 {
	r := x % int64(t)
	if r < 0 {
		r += int64(t)
	}
	return uint64(r)
}

// Centre returns the residue r mod t as an integer in (-t/2, t/2].
func Centre(r, t uint64) int64 {
	if r > t/2 {
		return int64(r) - int64(t)
	}
	return int64(r)
}

func powMod(a, e, m uint64) uint64 {
	r := uint64(1)
	a %= m
	for ; e > 0; e >>= 1 {
		if e&1 == 1 {
			r = r * a % m
		}
		a = a * a % m
	}
	return r
}

// Interpolate returns the polynomial over Z_t through (x, f(x)) for every
// integer x in [lo, hi]. The domain must have at most MaxDomain points and
// fewer than t (distinct residues); t must be a prime of at most
// MaxPlaintextBits bits.
func Interpolate(t uint64, lo, hi int64, f func(int64) int64) (*Poly, error) {
	if hi < lo || hi-lo >= MaxDomain || uint64(hi-lo) >= t-1 {
		return nil, errorf(CodeBadArgument, "lookup domain [%d,%d]: want 1 to min(%d, t-1=%d) points", lo, hi, MaxDomain, t-1)
	}
	if t < 3 || t>>MaxPlaintextBits != 0 {
		return nil, errorf(CodeBadArgument, "plaintext modulus %d: want an odd prime below 2^%d", t, MaxPlaintextBits)
	}
	d := int(hi - lo)
	// Newton forward differences on the nodes lo, lo+1, ..., hi:
	// p(x) = Σ_k Δ^k y_0 / k! · Π_{j<k} (x - lo - j).
	diff := make([]uint64, d+1)
	for j := range diff {
		diff[j] = Mod(f(lo+int64(j)), t)
	}
	a := make([]uint64, d+1)
	a[0] = diff[0]
	for k := 1; k <= d; k++ {
		for j := 0; j <= d-k; j++ {
			diff[j] = (diff[j+1] + t - diff[j]) % t
		}
		a[k] = diff[0]
	}
	fact := uint64(1)
	for k := 1; k <= d; k++ {
		fact = fact * uint64(k) % t
		a[k] = a[k] * powMod(fact, t-2, t) % t
	}
	// Horner on the Newton form: P ← P·(x - x_k) + a_k, k = d-1 .. 0.
	c := make([]uint64, d+1)
	c[0] = a[d]
	deg := 0
	for k := d - 1; k >= 0; k-- {
		nx := t - Mod(lo+int64(k), t) // -x_k mod t
		if nx == t {
			nx = 0
		}
		// c(x)·(x + nx): shift up and add nx·c.
		c[deg+1] = c[deg]
		for i := deg; i >= 1; i-- {
			c[i] = (c[i-1] + nx*c[i]) % t
		}
		c[0] = nx * c[0] % t
		c[0] = (c[0] + a[k]) % t
		deg++
	}
	return &Poly{T: t, Lo: lo, Hi: hi, Coeffs: c}, nil
}

// Degree returns the polynomial's degree bound (Hi - Lo).
func (p *Poly) Degree() int { return len(p.Coeffs) - 1 }

// Depth returns the levels evaluating p costs.
func (p *Poly) Depth() int { return PolyDepth(p.Degree()) }

// Eval evaluates p at x in the clear (Horner mod t), centred.
func (p *Poly) Eval(x int64) int64 {
	xm := Mod(x, p.T)
	var y uint64
	for k := len(p.Coeffs) - 1; k >= 0; k-- {
		y = (y*xm + p.Coeffs[k]) % p.T
	}
	return Centre(y, p.T)
}

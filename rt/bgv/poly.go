package bgv

import (
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"slices"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he"
	"github.com/tuneinsight/lattigo/v5/he/heint"
	"github.com/tuneinsight/lattigo/v5/ring"
	"github.com/tuneinsight/lattigo/v5/schemes/bgv"
)

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

// psEvaluator is the polynomial evaluator Lookup uses: lattigo's
// baby-step giant-step algorithm (its power basis, its Paterson–Stockmeyer
// decomposition and its level and scale plan, so the depth stays
// PolyDepth) with the baby steps — the plaintext-scalar inner products
// Σ c_k·x^k that take a quarter of a high-degree lookup in lattigo —
// replaced by one pass per modulus that accumulates the products of
// coefficients with small scalars in 64-bit integers and reduces once.
type psEvaluator struct {
	*bgv.Evaluator
	hp heint.Parameters
	// acc is the accumulator row (N words), reused across baby steps.
	acc []uint64
	// perTerm forces lattigo's per-term baby steps (tests).
	perTerm bool
}

// evaluate returns p(x) at scale 1, p.Depth() levels below x. A table
// whose interpolant has a lower degree than the domain size (leading
// coefficients zero) is evaluated at its true degree, in fewer levels,
// and the result dropped to the level the plan expects; a table that is an
// even or odd function on a symmetric domain skips the powers of the other
// parity.
func (e *psEvaluator) evaluate(x *rlwe.Ciphertext, p *Poly) (*rlwe.Ciphertext, error) {
	want := x.Level() - p.Depth()
	c := p.Coeffs
	for len(c) > 1 && c[len(c)-1] == 0 {
		c = c[:len(c)-1]
	}
	var res *rlwe.Ciphertext
	if len(c) == 1 {
		res = rlwe.NewCiphertext(e.hp, 1, want)
		*res.MetaData = *x.MetaData
		res.Scale = e.hp.DefaultScale()
		if err := e.Add(res, new(big.Int).SetUint64(c[0]), res); err != nil {
			return nil, err
		}
		return res, nil
	}
	// lattigo's flags say which parities of powers occur (both: any). The
	// constant is added at the end, so that an odd function plus a
	// constant counts as odd.
	c0 := c[0]
	c = slices.Clone(c)
	c[0] = 0
	hpoly := heint.NewPolynomial(c)
	hpoly.IsOdd, hpoly.IsEven = false, false
	for k, v := range c {
		if v != 0 {
			if k%2 == 0 {
				hpoly.IsEven = true
			} else {
				hpoly.IsOdd = true
			}
		}
	}
	pe := heint.PolynomialEvaluator{EvaluatorForPolynomial: e, Parameters: e.hp}
	res, err := pe.Evaluate(x, hpoly, e.hp.DefaultScale())
	if err != nil {
		return nil, err
	}
	if res.Level() < want {
		panic(fmt.Sprintf("BUG: a degree-%d polynomial used %d levels, planned %d", len(c)-1, x.Level()-res.Level(), p.Depth()))
	}
	e.DropLevel(res, res.Level()-want)
	if c0 != 0 {
		if err := e.Add(res, new(big.Int).SetUint64(c0), res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// EvaluatePatersonStockmeyerPolynomialVector implements
// he.EvaluatorForPolynomial: the baby steps with babyStep, then lattigo's
// giant steps (pairwise a + b·x^(2^i), relinearizing b only when it has
// degree 2).
func (e *psEvaluator) EvaluatePatersonStockmeyerPolynomialVector(poly he.PatersonStockmeyerPolynomialVector, pb he.PowerBasis) (*rlwe.Ciphertext, error) {
	if len(poly.Value) != 1 || poly.Mapping != nil {
		cg := &heint.CoefficientGetter{Values: make([]uint64, pb.Value[1].Slots())}
		return he.EvaluatePatersonStockmeyerPolynomialVector[uint64](e, poly, cg, pb)
	}
	leaves := poly.Value[0].Value
	steps := make([]*he.BabyStep, len(leaves))
	for i, leaf := range leaves {
		ct, err := e.babyStep(leaf, pb)
		if err != nil {
			return nil, err
		}
		// lattigo's giant steps take the leaves highest degree first.
		steps[len(leaves)-1-i] = &he.BabyStep{Degree: leaf.Degree(), Value: ct}
	}
	for len(steps) > 1 {
		plan := make([]int, len(steps))
		for i := 0; i < len(steps); i++ {
			if i == len(steps)-1 {
				plan[i] = 2
			} else if steps[i].Degree == steps[i+1].Degree {
				plan[i] = 1
				i++
			}
		}
		for i := 0; i < len(steps); i++ {
			if err := he.EvaluateGianStep(i, plan, steps, e, pb); err != nil {
				return nil, err
			}
		}
		steps = slices.DeleteFunc(steps, func(s *he.BabyStep) bool { return s == nil })
	}
	res := steps[0].Value
	if res.Degree() == 2 {
		if err := e.Relinearize(res, res); err != nil {
			return nil, err
		}
	}
	if err := e.Rescale(res, res); err != nil {
		return nil, err
	}
	return res, nil
}

// babyStep returns Σ_k c_k·x^k for a leaf of the decomposition, at the
// leaf's level and scale. x^k has its own scale s_k, so the scalar is
// c_k·scale/s_k mod t, centred; c·v ≡ |c|·(q − v) mod q when c < 0, so
// every product is |c|·v' with |c| ≤ t/2 and v' ≤ q, and as many of them
// as fit in 64 bits are summed before one Barrett reduction. Moduli q
// where (t/2)·q does not fit in 64 bits take a Montgomery multiply-add per
// term, as lattigo does.
func (e *psEvaluator) babyStep(leaf he.Polynomial, pb he.PowerBasis) (*rlwe.Ciphertext, error) {
	t := e.hp.PlaintextModulus()
	level, scale := leaf.Level, leaf.Scale
	coeff := func(k int) uint64 {
		if c := leaf.Coeffs[k]; c != nil {
			return c.Uint64() % t
		}
		return 0
	}
	x1 := pb.Value[1]
	if leaf.Degree() == 0 {
		res := rlwe.NewCiphertext(e.hp, 1, level)
		*res.MetaData = *x1.MetaData
		res.Scale = scale
		return res, e.Add(res, new(big.Int).SetUint64(coeff(0)), res)
	}
	deg := 1
	type term struct {
		x   *rlwe.Ciphertext
		mag uint64 // |c|
		neg bool
	}
	var terms []term
	for k := 1; k <= leaf.Degree(); k++ {
		c := coeff(k)
		if c == 0 {
			continue
		}
		xk, ok := pb.Value[k]
		if !ok {
			return nil, fmt.Errorf("baby step: x^%d missing from the power basis", k)
		}
		deg = max(deg, xk.Degree())
		// c·scale/s_k mod t.
		if xk.Scale.Cmp(scale) != 0 {
			r := new(big.Int).ModInverse(new(big.Int).SetUint64(xk.Scale.Uint64()), new(big.Int).SetUint64(t))
			r.Mul(r, new(big.Int).SetUint64(scale.Uint64()))
			r.Mul(r, new(big.Int).SetUint64(c))
			c = r.Mod(r, new(big.Int).SetUint64(t)).Uint64()
		}
		if c > t/2 {
			terms = append(terms, term{xk, t - c, true})
		} else {
			terms = append(terms, term{xk, c, false})
		}
	}
	res := rlwe.NewCiphertext(e.hp, deg, level)
	*res.MetaData = *x1.MetaData
	res.Scale = scale
	ringQ := e.hp.RingQ()
	n := e.hp.N()
	if len(e.acc) != n {
		e.acc = make([]uint64, n)
	}
	acc := e.acc
	for r := 0; r <= level; r++ {
		sub := ringQ.SubRings[r]
		q := sub.Modulus
		hi, most := bits.Mul64(t/2, q)
		// After a reduction acc < q; `batch` more terms keep it in 64 bits.
		batch := uint64(0)
		if hi == 0 {
			batch = (math.MaxUint64 - q) / most
		}
		if e.perTerm {
			return e.babyStepSlow(leaf, pb)
		}
		if batch == 0 {
			// (t/2)·q does not fit in 64 bits: a Montgomery
			// multiply-add per term, as lattigo does.
			for j := 0; j <= deg; j++ {
				out := res.Value[j].Coeffs[r][:n]
				for _, tm := range terms {
					if j > tm.x.Degree() {
						continue
					}
					c := tm.mag
					if tm.neg {
						c = q - c
					}
					sub.MulScalarMontgomeryThenAdd(tm.x.Value[j].Coeffs[r][:n], ring.MForm(c, q, sub.BRedConstant), out)
				}
			}
			continue
		}
		for j := 0; j <= deg; j++ {
			clear(acc)
			var pending uint64
			for _, tm := range terms {
				if j > tm.x.Degree() {
					continue
				}
				if pending == batch {
					for i := range acc {
						acc[i] = ring.BRedAdd(acc[i], q, sub.BRedConstant)
					}
					pending = 0
				}
				v := tm.x.Value[j].Coeffs[r][:n]
				m := tm.mag
				if tm.neg {
					for i := range acc {
						acc[i] += m * (q - v[i])
					}
				} else {
					for i := range acc {
						acc[i] += m * v[i]
					}
				}
				pending++
			}
			out := res.Value[j].Coeffs[r][:n]
			for i := range out {
				out[i] = ring.BRedAdd(acc[i], q, sub.BRedConstant)
			}
		}
	}
	if c0 := coeff(0); c0 != 0 {
		if err := e.Add(res, new(big.Int).SetUint64(c0), res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// babyStepSlow is babyStep term by term with lattigo's MulThenAdd.
func (e *psEvaluator) babyStepSlow(leaf he.Polynomial, pb he.PowerBasis) (*rlwe.Ciphertext, error) {
	pv := he.PolynomialVector{Value: []he.Polynomial{leaf}}
	cg := &heint.CoefficientGetter{Values: make([]uint64, pb.Value[1].Slots())}
	return he.EvaluatePolynomialVectorFromPowerBasis[uint64](e, leaf.Level, pv, cg, pb, leaf.Scale)
}

// Polynomial evaluators of lookup (lattigo's is kept to compare with).
const (
	lookupFused = iota
	lookupPerTerm
	lookupLattigo
)

// lookup evaluates p on ct (checked by Lookup) with the given evaluator.
func (e *Evaluator) lookup(ct *Ciphertext, p *Poly, how int) (*Ciphertext, error) {
	var res *rlwe.Ciphertext
	var err error
	switch how {
	case lookupFused, lookupPerTerm:
		pe := &psEvaluator{Evaluator: &e.ev.Evaluator, hp: e.hp, perTerm: how == lookupPerTerm}
		res, err = pe.evaluate(ct.ct, p)
	case lookupLattigo:
		res, err = e.pe.Evaluate(ct.ct, heint.NewPolynomial(p.Coeffs), e.hp.DefaultScale())
	default:
		panic("BUG: unknown polynomial evaluator")
	}
	if err != nil {
		return nil, fmt.Errorf("polynomial evaluation: %w", err)
	}
	if res.Scale.Cmp(e.hp.DefaultScale()) != 0 {
		panic("BUG: polynomial evaluation left scale " + res.Scale.Value.String())
	}
	return &Ciphertext{p: e.p, ct: res}, nil
}

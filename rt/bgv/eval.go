package bgv

import (
	"fmt"
	"math"
	"math/big"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/heint"
)

// Ciphertext is a BGV ciphertext of degree 1 holding one residue mod t
// per slot, with scale 1 (every operation of this package restores it).
// It is never modified after creation and may be shared.
type Ciphertext struct {
	p  Params
	ct *rlwe.Ciphertext
}

// Level returns the levels ct has left.
func (ct *Ciphertext) Level() int { return ct.ct.Level() }

// Params returns ct's parameters.
func (ct *Ciphertext) Params() Params { return ct.p }

// MarshalBinary serializes ct.
func (ct *Ciphertext) MarshalBinary() ([]byte, error) {
	b, err := ct.ct.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("marshalling a ciphertext: %w", err)
	}
	return frame(kindCiphertext, ct.p, b), nil
}

// UnmarshalCiphertext decodes Ciphertext.MarshalBinary's bytes and checks
// that they are a well-formed ciphertext of p: CodeParamsMismatch for
// another set, CodeCorruptData for damaged or malformed bytes.
func UnmarshalCiphertext(p Params, data []byte) (*Ciphertext, error) {
	q, body, err := unframe(kindCiphertext, data)
	if err != nil {
		return nil, err
	}
	if q != p {
		return nil, errorf(CodeParamsMismatch, "ciphertext for %s, want %s", q.Name(), p.Name())
	}
	hp, err := p.Lattigo()
	if err != nil {
		return nil, err
	}
	ct := new(rlwe.Ciphertext)
	if err := safeUnmarshal(ct.UnmarshalBinary, body); err != nil {
		return nil, errorf(CodeCorruptData, "ciphertext: %v", err)
	}
	if err := checkCiphertext(hp, ct); err != nil {
		return nil, err
	}
	return &Ciphertext{p: p, ct: ct}, nil
}

// checkCiphertext validates what the evaluator relies on.
func checkCiphertext(hp heint.Parameters, ct *rlwe.Ciphertext) error {
	if ct.MetaData == nil || ct.Degree() != 1 || ct.Level() > hp.MaxLevel() || ct.Level() < 0 || !ct.IsNTT || !ct.IsBatched {
		return errorf(CodeCorruptData, "ciphertext: not a degree-1 NTT ciphertext of these parameters")
	}
	if ct.Scale.Cmp(hp.DefaultScale()) != 0 {
		return errorf(CodeCorruptData, "ciphertext: scale %v, want 1", ct.Scale.Uint64())
	}
	q := hp.Q()
	for _, poly := range ct.Value {
		if poly.N() != hp.N() || len(poly.Coeffs) != ct.Level()+1 {
			return errorf(CodeCorruptData, "ciphertext: polynomial shape does not match the parameters")
		}
		for i, row := range poly.Coeffs {
			for _, c := range row {
				if c >= q[i] {
					return errorf(CodeCorruptData, "ciphertext: coefficient %d ≥ modulus %d", c, q[i])
				}
			}
		}
	}
	return nil
}

// Evaluator runs the homomorphic operations of batch-major circuits. It
// owns scratch buffers and is NOT safe for concurrent use: make one per
// goroutine with ShallowCopy.
type Evaluator struct {
	p    Params
	hp   heint.Parameters
	keys *rlwe.MemEvaluationKeySet
	ev   *heint.Evaluator
	pe   *heint.PolynomialEvaluator
	ecd  *heint.Encoder
	baby babyChain // two-key products: the last input's baby steps
	// helpers share two-key products' diagonals (SetHelpers).
	helpers []*Evaluator
}

// NewEvaluator returns an evaluator using ek.
func NewEvaluator(ek *EvalKey) *Evaluator {
	keys := rlwe.NewMemEvaluationKeySet(ek.rlk, ek.gks...)
	ev := heint.NewEvaluator(ek.hp, keys)
	return &Evaluator{p: ek.p, hp: ek.hp, keys: keys, ev: ev, pe: heint.NewPolynomialEvaluator(ek.hp, ev, false), ecd: heint.NewEncoder(ek.hp)}
}

// ShallowCopy returns an evaluator sharing the keys but with its own
// buffers, for use in another goroutine.
func (e *Evaluator) ShallowCopy() *Evaluator {
	ev := e.ev.ShallowCopy()
	return &Evaluator{p: e.p, hp: e.hp, keys: e.keys, ev: ev, pe: heint.NewPolynomialEvaluator(e.hp, ev, false), ecd: e.ecd.ShallowCopy()}
}

// Params returns the evaluator's parameters.
func (e *Evaluator) Params() Params { return e.p }

// Trivial returns a noiseless encryption of values (slots beyond them
// zero) at the top level.
func (e *Evaluator) Trivial(values []int64) (*Ciphertext, error) {
	if len(values) > e.p.Slots() {
		return nil, errorf(CodeBadArgument, "%d values for %d slots", len(values), e.p.Slots())
	}
	pt := encodeTop(e.hp, e.ecd, values)
	ct := heint.NewCiphertext(e.hp, 1, e.hp.MaxLevel())
	ct.Value[0].CopyLvl(ct.Level(), pt.Value)
	*ct.MetaData = *pt.MetaData
	return &Ciphertext{p: e.p, ct: ct}, nil
}

// Fill returns a noiseless encryption of v in every slot at the top level.
func (e *Evaluator) Fill(v int64) *Ciphertext {
	ct := heint.NewCiphertext(e.hp, 1, e.hp.MaxLevel())
	if err := e.ev.Add(ct, new(big.Int).SetInt64(v), ct); err != nil {
		panic("BUG: adding a constant: " + err.Error())
	}
	return &Ciphertext{p: e.p, ct: ct}
}

// WeightedSum returns bias + Σ w[i]·cts[i] slot-wise, at the lowest level
// of its terms. With rescale it divides by that level's modulus (one level
// less, noise back to the rescale floor), folding the modulus into the
// weights so the result keeps scale 1; without, the noise grows by the
// weights' 1-norm. Without terms it returns the trivial encryption of bias.
func (e *Evaluator) WeightedSum(cts []*Ciphertext, w []int64, bias int64, rescale bool) (*Ciphertext, error) {
	if len(cts) != len(w) {
		return nil, errorf(CodeBadArgument, "%d ciphertexts, %d weights", len(cts), len(w))
	}
	if len(cts) == 0 {
		return e.Fill(bias), nil
	}
	level := e.hp.MaxLevel()
	for _, c := range cts {
		if c.p != e.p {
			return nil, errorf(CodeParamsMismatch, "ciphertext for %s, evaluator for %s", c.p.Name(), e.p.Name())
		}
		level = min(level, c.Level())
	}
	if rescale && level == 0 {
		return nil, errorf(CodeBadArgument, "no level left to rescale a weighted sum")
	}
	acc := heint.NewCiphertext(e.hp, 1, level)
	acc.Scale = e.hp.DefaultScale()
	if rescale {
		// MulThenAdd multiplies each weight by acc.Scale/ct.Scale = q_level.
		acc.Scale = e.hp.NewScale(e.hp.Q()[level])
	}
	for i, c := range cts {
		if w[i] == 0 {
			continue
		}
		if err := e.ev.MulThenAdd(c.ct, w[i], acc); err != nil {
			return nil, fmt.Errorf("weighted sum: %w", err)
		}
	}
	if bias != 0 {
		if err := e.ev.Add(acc, new(big.Int).SetInt64(bias), acc); err != nil {
			return nil, fmt.Errorf("weighted sum bias: %w", err)
		}
	}
	if rescale {
		if err := e.ev.Rescale(acc, acc); err != nil {
			return nil, fmt.Errorf("weighted sum rescale: %w", err)
		}
	}
	if acc.Scale.Cmp(e.hp.DefaultScale()) != 0 {
		panic("BUG: weighted sum left scale " + acc.Scale.Value.String())
	}
	return &Ciphertext{p: e.p, ct: acc}, nil
}

// Lookup evaluates p slot-wise on ct with lattigo's baby-step giant-step
// algorithm (with our baby steps, see psEvaluator), leaving the result
// p.Depth() levels below ct. Slots holding a residue outside p's domain
// get an unspecified value.
func (e *Evaluator) Lookup(ct *Ciphertext, p *Poly) (*Ciphertext, error) {
	if ct.p != e.p {
		return nil, errorf(CodeParamsMismatch, "ciphertext for %s, evaluator for %s", ct.p.Name(), e.p.Name())
	}
	if p.T != e.p.T {
		return nil, errorf(CodeParamsMismatch, "polynomial mod %d, parameters mod %d", p.T, e.p.T)
	}
	if p.Depth() > ct.Level() {
		return nil, errorf(CodeBadArgument, "lookup of degree %d needs %d levels, the ciphertext has %d", p.Degree(), p.Depth(), ct.Level())
	}
	if p.Degree() == 0 {
		out := heint.NewCiphertext(e.hp, 1, ct.Level())
		if err := e.ev.Add(out, new(big.Int).SetUint64(p.Coeffs[0]), out); err != nil {
			return nil, fmt.Errorf("constant lookup: %w", err)
		}
		return &Ciphertext{p: e.p, ct: out}, nil
	}
	return e.lookup(ct, p, lookupFused)
}

// NoiseBits returns log2 of the largest |m + t·e| over ct's coefficients
// (the decrypted phase before reduction mod t) and log2 of ct's current
// modulus Q_l: decryption is exact while the first stays below the second
// minus one. Only the secret key holder can measure it (tests, tuning).
func (sk *SecretKey) NoiseBits(ct *Ciphertext) (noise, logQ float64) {
	pt := heint.NewPlaintext(sk.hp, ct.Level())
	sk.dec.Decrypt(ct.ct, pt)
	rq := sk.hp.RingQ().AtLevel(ct.Level())
	// lattigo's BGV keeps plaintexts multiplied by t^-1 mod Q.
	rq.MulScalar(pt.Value, sk.p.T, pt.Value)
	if pt.IsNTT {
		rq.INTT(pt.Value, pt.Value)
	}
	co := make([]*big.Int, sk.hp.N())
	for i := range co {
		co[i] = new(big.Int)
	}
	rq.PolyToBigintCentered(pt.Value, 1, co)
	_, _, noise = rlwe.NormStats(co)
	for i := 0; i <= ct.Level(); i++ {
		logQ += math.Log2(float64(sk.hp.Q()[i]))
	}
	return noise, logQ
}

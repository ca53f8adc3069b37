package bgv

import (
	"fmt"
	"slices"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/heint"
	"github.com/tuneinsight/lattigo/v5/ring"
)

// Vector-major packing: the N slots form 2 rows of N/2 (BGV's slot
// matrix; rotations turn each row on its own). A Layout interleaves
// Stride samples in each row: element j of sample q sits in slot
// (q / Stride)·N/2 + j·Stride + q mod Stride, so one ciphertext carries
// 2·Stride samples of a vector of up to N/(2·Stride) elements.
// Matrix-vector products use the diagonal method with baby-step giant-step
// rotations by multiples of Stride (lattigo's LinearTransformation,
// hoisted), costing one level and one Galois key per rotation used;
// lookups evaluate one polynomial per slot group (per channel) with
// lattigo's PolynomialVector.

// RowSlots returns the slots of one row: the longest vector-major vector.
func (p Params) RowSlots() int { return p.Slots() / 2 }

// Layout is a vector-major slot layout (see above). With Giant > 0,
// products use two rotation keys only (see TwoKey).
type Layout struct {
	P      Params
	Stride int
	Giant  int
}

// NewLayout returns the layout of p that interleaves the most samples
// (Stride a power of two) for vectors of up to maxLen elements.
func NewLayout(p Params, maxLen int) (Layout, error) {
	if maxLen < 1 || maxLen > p.RowSlots() {
		return Layout{}, errorf(CodeBadArgument, "vectors of %d elements, rows hold %d", maxLen, p.RowSlots())
	}
	s := 1
	for 2*s*maxLen <= p.RowSlots() {
		s *= 2
	}
	return Layout{P: p, Stride: s}, nil
}

// Samples returns how many samples one ciphertext carries.
func (l Layout) Samples() int { return 2 * l.Stride }

// MaxLen returns the longest vector the layout holds.
func (l Layout) MaxLen() int { return l.P.RowSlots() / l.Stride }

// slot returns the slot of element j of sample q.
func (l Layout) slot(q, j int) int {
	return q/l.Stride*l.P.RowSlots() + j*l.Stride + q%l.Stride
}

// Entry is a non-zero matrix entry: out[Row] += W·in[Col].
type Entry struct {
	Row, Col int32
	W        int64
}

// logBSGSRatio balances baby and giant steps (lattigo's default choice).
const logBSGSRatio = 1

// DiagonalIndices returns the diagonal indices (rotations) of a product by
// a matrix with the given entries: entry (i, j) lies on diagonal
// (j - i)·Stride mod N/2. Their number sets a product's cost.
func (l Layout) DiagonalIndices(entries []Entry) []int {
	slots := l.P.RowSlots()
	seen := map[int]bool{}
	var idx []int
	for _, e := range entries {
		if e.W == 0 {
			continue
		}
		k := ((int(e.Col)-int(e.Row))*l.Stride%slots + slots) % slots
		if !seen[k] {
			seen[k] = true
			idx = append(idx, k)
		}
	}
	slices.Sort(idx)
	return idx
}

func (p Params) ltParams(diags []int, level int, scale rlwe.Scale) heint.LinearTransformationParameters {
	return heint.LinearTransformationParameters{
		DiagonalsIndexList:       diags,
		Level:                    level,
		Scale:                    scale,
		LogDimensions:            ring.Dimensions{Rows: 1, Cols: p.LogN - 1},
		LogBabyStepGianStepRatio: logBSGSRatio,
	}
}

// MatVecGaloisElements returns the Galois elements (rotation keys) a
// product by a matrix with these entries needs.
func (l Layout) MatVecGaloisElements(entries []Entry) ([]uint64, error) {
	hp, err := l.P.Lattigo()
	if err != nil {
		return nil, err
	}
	d := l.DiagonalIndices(entries)
	if len(d) == 0 {
		return nil, nil
	}
	if l.Giant > 0 {
		return l.twoKeyGaloisElements(hp, d), nil
	}
	return heint.GaloisElementsForLinearTransformation(hp, l.P.ltParams(d, hp.MaxLevel(), hp.DefaultScale())), nil
}

// GenEvalKeyWithRotations derives the relinearization key and the Galois
// keys of galEls (duplicates ignored).
func (sk *SecretKey) GenEvalKeyWithRotations(galEls []uint64) *EvalKey {
	ek := sk.GenEvalKey()
	galEls = slices.Clone(galEls)
	slices.Sort(galEls)
	galEls = slices.Compact(galEls)
	if len(galEls) > 0 {
		ek.gks = heint.NewKeyGenerator(sk.hp).GenGaloisKeysNew(galEls, sk.sk)
	}
	return ek
}

// MatVec is an encoded matrix for vector-major products at one level. It
// is read-only and may be shared by evaluators.
type MatVec struct {
	p      Params
	l      Layout
	nOut   int
	level  int
	lt     heint.LinearTransformation
	galEls []uint64
	two    *twoKeyMat // Layout.Giant > 0
}

// EncodeMatVec encodes the nOut×nIn matrix with the given entries (nIn,
// nOut ≤ l.MaxLen()) for products at the given level in layout l. Its
// diagonals carry the scale q_level, so the rescale after the product
// returns to scale 1.
func (e *Evaluator) EncodeMatVec(l Layout, nOut, nIn int, entries []Entry, level int) (*MatVec, error) {
	slots := e.p.RowSlots()
	if l.P != e.p || nOut > l.MaxLen() || nIn > l.MaxLen() || nOut < 0 || nIn < 0 {
		return nil, errorf(CodeBadArgument, "matrix %d×%d, the layout holds %d elements per vector", nOut, nIn, l.MaxLen())
	}
	if level < 1 || level > e.hp.MaxLevel() {
		return nil, errorf(CodeBadArgument, "matrix at level %d, want 1..%d", level, e.hp.MaxLevel())
	}
	diags := map[int][]int64{}
	for _, en := range entries {
		if int(en.Row) >= nOut || int(en.Col) >= nIn || en.Row < 0 || en.Col < 0 {
			return nil, errorf(CodeBadArgument, "entry (%d,%d) outside %d×%d", en.Row, en.Col, nOut, nIn)
		}
		if en.W == 0 {
			continue
		}
		k := ((int(en.Col)-int(en.Row))*l.Stride%slots + slots) % slots
		d := diags[k]
		if d == nil {
			d = make([]int64, e.p.Slots())
			diags[k] = d
		}
		for q := range l.Samples() {
			d[l.slot(q, int(en.Row))] += en.W
		}
	}
	m := &MatVec{p: e.p, l: l, nOut: nOut, level: level}
	if len(diags) == 0 {
		return m, nil
	}
	if l.Giant > 0 {
		m.two = e.encodeTwoKey(l, diags)
		m.galEls = l.twoKeyGaloisElements(e.hp, l.DiagonalIndices(entries))
		return m, nil
	}
	idx := l.DiagonalIndices(entries)
	t := int64(e.p.T)
	enc := make(heint.Diagonals[int64], len(diags))
	for k, d := range diags {
		for i := range d {
			d[i] %= t
		}
		enc[k] = d
	}
	lp := e.p.ltParams(idx, level, e.hp.NewScale(e.hp.Q()[level]))
	m.lt = heint.NewLinearTransformation(e.hp, lp)
	if err := heint.EncodeLinearTransformation[int64](e.ecd, enc, m.lt); err != nil {
		return nil, fmt.Errorf("encoding a matrix: %w", err)
	}
	m.galEls = heint.GaloisElementsForLinearTransformation(e.hp, lp)
	return m, nil
}

// MatVecSum returns Σ_i mats[i]·cts[i] + bias (bias[j] added to slot j of
// every row), rescaled once: one level below the matrices' level, which
// the inputs must reach (they are dropped to it).
func (e *Evaluator) MatVecSum(cts []*Ciphertext, mats []*MatVec, bias []int64) (*Ciphertext, error) {
	if len(cts) != len(mats) || len(cts) == 0 {
		return nil, errorf(CodeBadArgument, "%d ciphertexts, %d matrices", len(cts), len(mats))
	}
	level := mats[0].level
	nOut := mats[0].nOut
	l := mats[0].l
	for i, m := range mats {
		if m.level != level || m.nOut != nOut || m.l != l || m.p != e.p || cts[i].p != e.p {
			return nil, errorf(CodeBadArgument, "matrices of one sum must share level, output size and parameters")
		}
		if cts[i].Level() < level {
			return nil, errorf(CodeBadArgument, "input at level %d below the matrix level %d", cts[i].Level(), level)
		}
		for _, g := range m.galEls {
			if _, err := e.keys.GetGaloisKey(g); err != nil {
				return nil, errorf(CodeParamsMismatch, "the evaluation keys lack the rotation with Galois element %d", g)
			}
		}
	}
	if l.Giant > 0 {
		return e.twoKeySum(cts, mats, bias)
	}
	acc := heint.NewCiphertext(e.hp, 1, level)
	acc.Scale = e.hp.NewScale(e.hp.Q()[level])
	lte := heint.NewLinearTransformationEvaluator(e.ev)
	tmp := heint.NewCiphertext(e.hp, 1, level)
	for i, m := range mats {
		if m.lt.Vec == nil {
			continue
		}
		in := cts[i].ct
		if in.Level() > level {
			in = in.CopyNew()
			e.ev.DropLevel(in, in.Level()-level)
		}
		if err := lte.Evaluate(in, m.lt, tmp); err != nil {
			return nil, fmt.Errorf("matrix-vector product: %w", err)
		}
		if err := e.ev.Add(acc, tmp, acc); err != nil {
			return nil, fmt.Errorf("matrix-vector sum: %w", err)
		}
	}
	return e.finishProduct(acc, l, nOut, bias)
}

// finishProduct adds bias (element j of every sample) to a product at
// scale q_level and rescales it to scale 1.
func (e *Evaluator) finishProduct(acc *rlwe.Ciphertext, l Layout, nOut int, bias []int64) (*Ciphertext, error) {
	if len(bias) > nOut {
		return nil, errorf(CodeBadArgument, "%d biases for %d outputs", len(bias), nOut)
	}
	if err := e.addBias(acc, l, bias); err != nil {
		return nil, err
	}
	if err := e.ev.Rescale(acc, acc); err != nil {
		return nil, fmt.Errorf("rescale after a matrix product: %w", err)
	}
	if acc.Scale.Cmp(e.hp.DefaultScale()) != 0 {
		panic("BUG: matrix product left scale " + acc.Scale.Value.String())
	}
	return &Ciphertext{p: e.p, ct: acc}, nil
}

// SlotSum returns Σ_i w[i]·cts[i] + bias (bias[j] added to element j of
// every sample of layout l) slot by slot, without rescaling: no level is
// used and the noise grows by the weights' 1-norm (see WeightedSum).
func (e *Evaluator) SlotSum(l Layout, cts []*Ciphertext, w []int64, bias []int64) (*Ciphertext, error) {
	if l.P != e.p || len(bias) > l.MaxLen() {
		return nil, errorf(CodeBadArgument, "%d biases for vectors of %d", len(bias), l.MaxLen())
	}
	out, err := e.WeightedSum(cts, w, 0, false)
	if err != nil {
		return nil, err
	}
	if err := e.addBias(out.ct, l, bias); err != nil {
		return nil, err
	}
	return out, nil
}

// addBias adds bias[j] to element j of every sample of layout l (nothing
// for a nil bias).
func (e *Evaluator) addBias(ct *rlwe.Ciphertext, l Layout, bias []int64) error {
	if bias == nil {
		return nil
	}
	b := make([]uint64, e.p.Slots())
	for q := range l.Samples() {
		for j, v := range bias {
			b[l.slot(q, j)] = Mod(v, e.p.T)
		}
	}
	pt := heint.NewPlaintext(e.hp, ct.Level())
	pt.Scale = ct.Scale
	if err := e.ecd.Encode(b, pt); err != nil {
		panic("BUG: encoding a bias vector: " + err.Error())
	}
	if err := e.ev.Add(ct, pt, ct); err != nil {
		return fmt.Errorf("adding the bias: %w", err)
	}
	return nil
}

// LookupSlots evaluates polys[groups[j]] on element j of every sample of
// layout l, for j < len(groups); other slots get 0 (with a single
// polynomial: its value). All polynomials share the degree of polys[0].
func (e *Evaluator) LookupSlots(l Layout, ct *Ciphertext, polys []*Poly, groups []int32) (*Ciphertext, error) {
	if len(polys) == 1 {
		// One polynomial everywhere (slots beyond the groups get garbage).
		return e.Lookup(ct, polys[0])
	}
	if len(groups) > l.MaxLen() || len(polys) == 0 || l.P != e.p {
		return nil, errorf(CodeBadArgument, "%d slot groups for vectors of %d, %d polynomials", len(groups), l.MaxLen(), len(polys))
	}
	deg := polys[0].Degree()
	coeffs := make([][]uint64, len(polys))
	for i, p := range polys {
		if p.Degree() != deg || p.T != e.p.T {
			return nil, errorf(CodeBadArgument, "slot polynomials of different degrees or moduli")
		}
		coeffs[i] = p.Coeffs
	}
	if polys[0].Depth() > ct.Level() {
		return nil, errorf(CodeBadArgument, "lookup of degree %d needs %d levels, the ciphertext has %d", deg, polys[0].Depth(), ct.Level())
	}
	mapping := map[int][]int{}
	for j, g := range groups {
		if g < 0 || int(g) >= len(polys) {
			return nil, errorf(CodeBadArgument, "slot %d selects polynomial %d of %d", j, g, len(polys))
		}
		for q := range l.Samples() {
			mapping[int(g)] = append(mapping[int(g)], l.slot(q, j))
		}
	}
	if deg == 0 {
		// A constant per slot group: a plaintext added to ct·0.
		v := make([]int64, e.p.Slots())
		for j, g := range groups {
			for q := range l.Samples() {
				v[l.slot(q, j)] = Centre(polys[g].Coeffs[0], e.p.T)
			}
		}
		out := heint.NewCiphertext(e.hp, 1, ct.Level())
		pt := encodeTop(e.hp, e.ecd, v)
		if err := e.ev.Add(out, pt, out); err != nil {
			return nil, fmt.Errorf("constant lookup: %w", err)
		}
		return &Ciphertext{p: e.p, ct: out}, nil
	}
	pv, err := heint.NewPolynomialVector(coeffs, mapping)
	if err != nil {
		return nil, fmt.Errorf("slot polynomials: %w", err)
	}
	res, err := e.pe.Evaluate(ct.ct, pv, e.hp.DefaultScale())
	if err != nil {
		return nil, fmt.Errorf("polynomial evaluation: %w", err)
	}
	if res.Scale.Cmp(e.hp.DefaultScale()) != 0 {
		panic("BUG: polynomial evaluation left scale " + res.Scale.Value.String())
	}
	return &Ciphertext{p: e.p, ct: res}, nil
}

// EncryptVectors encrypts up to l.Samples() samples in layout l.
func (sk *SecretKey) EncryptVectors(l Layout, samples [][]int64) (*Ciphertext, error) {
	v, err := l.toSlots(samples)
	if err != nil {
		return nil, err
	}
	return sk.Encrypt(v)
}

// TrivialVectors is EncryptVectors without noise (for clear values).
func (e *Evaluator) TrivialVectors(l Layout, samples [][]int64) (*Ciphertext, error) {
	v, err := l.toSlots(samples)
	if err != nil {
		return nil, err
	}
	return e.Trivial(v)
}

func (l Layout) toSlots(samples [][]int64) ([]int64, error) {
	if len(samples) > l.Samples() {
		return nil, errorf(CodeBadArgument, "%d samples, a ciphertext holds %d", len(samples), l.Samples())
	}
	v := make([]int64, l.P.Slots())
	for q, s := range samples {
		if len(s) > l.MaxLen() {
			return nil, errorf(CodeBadArgument, "vector of %d values, the layout holds %d", len(s), l.MaxLen())
		}
		for j, x := range s {
			v[l.slot(q, j)] = x
		}
	}
	return v, nil
}

// DecryptVectors returns elements [0, n) of the first samples samples.
func (sk *SecretKey) DecryptVectors(l Layout, ct *Ciphertext, n, samples int) ([][]int64, error) {
	if n > l.MaxLen() || samples > l.Samples() || samples < 1 || n < 0 || l.P != sk.p {
		return nil, errorf(CodeBadArgument, "%d values of %d samples in a layout of %d×%d", n, samples, l.Samples(), l.MaxLen())
	}
	all, err := sk.Decrypt(ct, sk.p.Slots())
	if err != nil {
		return nil, err
	}
	out := make([][]int64, samples)
	for q := range out {
		out[q] = make([]int64, n)
		for j := range out[q] {
			out[q][j] = all[l.slot(q, j)]
		}
	}
	return out, nil
}

package bgv

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/tuneinsight/lattigo/v5/core/rlwe"
	"github.com/tuneinsight/lattigo/v5/he/heint"
)

// Two-key products. lattigo's LinearTransformation needs one Galois key
// per distinct baby and giant step of every matrix; a convolution over a
// few hundred elements at N=2^16 uses ~30 of them, 450 MiB each with 38
// levels. A layout with Giant > 0 instead rotates only by 1 element
// (baby steps, chained: x, rot(x,1), rot(x,2), ...) and by Giant
// elements (giant steps, by Horner's rule: Σ_g rot(inner_g, g·Giant) =
// inner_0 + rot(inner_1 + rot(inner_2 + ..., Giant), Giant)), so a whole
// circuit needs two rotation keys. The price is sequential rotations
// instead of lattigo's hoisted ones: up to Giant−1 + MaxLen/Giant − 1 key
// switches per product. Diagonal k = g·Giant + b is stored rotated by
// −g·Giant, so that inner_g = Σ_b diag'_{g,b} ⊙ rot(x, b).

// TwoKey returns l with two-key products (Giant = the power of two
// nearest above √MaxLen, which balances baby and giant steps).
func (l Layout) TwoKey() Layout {
	g := 1
	for g*g < l.MaxLen() {
		g *= 2
	}
	l.Giant = g
	return l
}

// twoKeyGaloisElements returns the Galois elements a two-key product over
// the given diagonals (slot units, as DiagonalIndices returns) uses.
func (l Layout) twoKeyGaloisElements(hp heint.Parameters, diags []int) []uint64 {
	baby, giant := false, false
	for _, k := range diags {
		e := k / l.Stride
		baby = baby || e%l.Giant != 0
		giant = giant || e >= l.Giant
	}
	var out []uint64
	if baby {
		out = append(out, hp.GaloisElement(l.Stride))
	}
	if giant {
		out = append(out, hp.GaloisElement(l.Stride*l.Giant))
	}
	return out
}

// twoKeyMat holds a matrix's pre-rotated diagonals (slot values mod T),
// grouped by baby step; they are encoded at product time, which keeps
// the resident size at 8 bytes per slot per diagonal.
type twoKeyMat struct {
	byBaby [][]twoKeyDiag // index: baby step b
	giants int            // 1 + the largest giant step used
}

type twoKeyDiag struct {
	g    int
	vals []uint64
}

// encodeTwoKey lays out diags (slot-unit diagonal index → per-slot
// weights, as EncodeMatVec builds them) for two-key products.
func (e *Evaluator) encodeTwoKey(l Layout, diags map[int][]int64) *twoKeyMat {
	row := e.p.RowSlots()
	m := &twoKeyMat{byBaby: make([][]twoKeyDiag, l.Giant)}
	for k, d := range diags {
		el := k / l.Stride
		g, b := el/l.Giant, el%l.Giant
		shift := g * l.Giant * l.Stride // rotate right by g·Giant elements
		vals := make([]uint64, len(d))
		for s, w := range d {
			base, pos := s/row*row, s%row
			vals[base+(pos+shift)%row] = Mod(w, e.p.T)
		}
		m.byBaby[b] = append(m.byBaby[b], twoKeyDiag{g: g, vals: vals})
		m.giants = max(m.giants, g+1)
	}
	return m
}

// twoKeySum is MatVecSum for two-key layouts.
func (e *Evaluator) twoKeySum(cts []*Ciphertext, mats []*MatVec, bias []int64) (*Ciphertext, error) {
	level, l := mats[0].level, mats[0].l
	scale := e.hp.NewScale(e.hp.Q()[level])
	giants := 0
	for _, m := range mats {
		if m.two != nil {
			giants = max(giants, m.two.giants)
		}
	}
	inner := make([]*rlwe.Ciphertext, giants)
	pt := heint.NewPlaintext(e.hp, level)
	for i, m := range mats {
		if m.two == nil {
			continue
		}
		last := 0
		for b, ds := range m.two.byBaby {
			if len(ds) > 0 {
				last = b
			}
		}
		for b := 0; b <= last; b++ {
			if len(m.two.byBaby[b]) == 0 {
				continue
			}
			x, err := e.babyStep(cts[i], level, l, b)
			if err != nil {
				return nil, err
			}
			for _, d := range m.two.byBaby[b] {
				if inner[d.g] == nil {
					inner[d.g] = heint.NewCiphertext(e.hp, 1, level)
					inner[d.g].Scale = scale
				}
			}
			// Diagonals of different giant steps write different
			// accumulators: worker w takes the giant steps g ≡ w mod W.
			workers := append([]*Evaluator{e}, e.helpers...)
			errs := make([]error, len(workers))
			var wg sync.WaitGroup
			for w, ev := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					wpt := pt
					if w > 0 {
						wpt = heint.NewPlaintext(ev.hp, level)
					}
					for _, d := range m.two.byBaby[b] {
						if d.g%len(workers) != w {
							continue
						}
						wpt.Scale = scale
						if err := ev.ecd.Encode(d.vals, wpt); err != nil {
							panic("BUG: encoding a diagonal: " + err.Error())
						}
						if err := ev.ev.MulThenAdd(x, wpt, inner[d.g]); err != nil {
							errs[w] = fmt.Errorf("diagonal product: %w", err)
							return
						}
					}
				}()
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				return nil, err
			}
		}
	}
	var acc *rlwe.Ciphertext
	for g := giants - 1; g >= 0; g-- {
		if acc != nil {
			next := heint.NewCiphertext(e.hp, 1, level)
			if err := e.ev.RotateColumns(acc, l.Stride*l.Giant, next); err != nil {
				return nil, fmt.Errorf("giant-step rotation: %w", err)
			}
			acc = next
		}
		switch {
		case inner[g] == nil:
		case acc == nil:
			acc = inner[g]
		default:
			if err := e.ev.Add(acc, inner[g], acc); err != nil {
				return nil, fmt.Errorf("giant-step sum: %w", err)
			}
		}
		inner[g] = nil
	}
	if acc == nil {
		acc = heint.NewCiphertext(e.hp, 1, level)
		acc.Scale = scale
	}
	return e.finishProduct(acc, l, mats[0].nOut, bias)
}

// babyChain holds rot(x, b) for b = 0, 1, ... of one input x at one level:
// consecutive products reading the same ciphertext (MaxPool's window
// gathers all read the preceding activation) share its rotations.
type babyChain struct {
	src   *Ciphertext
	level int
	steps []*rlwe.Ciphertext
}

// babyStep returns x rotated by b elements at the given level, extending
// (or, for another input, restarting) the evaluator's chain.
func (e *Evaluator) babyStep(x *Ciphertext, level int, l Layout, b int) (*rlwe.Ciphertext, error) {
	c := &e.baby
	if c.src != x || c.level != level {
		ct := x.ct
		if ct.Level() > level {
			ct = ct.CopyNew()
			e.ev.DropLevel(ct, ct.Level()-level)
		}
		*c = babyChain{src: x, level: level, steps: []*rlwe.Ciphertext{ct}}
	}
	for len(c.steps) <= b {
		next := heint.NewCiphertext(e.hp, 1, level)
		if err := e.ev.RotateColumns(c.steps[len(c.steps)-1], l.Stride, next); err != nil {
			return nil, fmt.Errorf("baby-step rotation: %w", err)
		}
		c.steps = append(c.steps, next)
	}
	return c.steps[b], nil
}

// SetHelpers gives two-key products evaluators (ShallowCopy) to share
// their diagonal products with, one goroutine each; nil for none.
func (e *Evaluator) SetHelpers(helpers []*Evaluator) { e.helpers = helpers }

// ReleaseBabySteps drops the cached rotations of the last two-key
// product's input (they may take gigabytes at N=2^16).
func (e *Evaluator) ReleaseBabySteps() { e.baby = babyChain{} }

// twoKeySwitches returns the key switches of a two-key product over the
// given diagonals (slot units): the baby-step chain and the Horner steps.
func (l Layout) twoKeySwitches(diags []int) int {
	lastB, lastG := 0, 0
	for _, k := range diags {
		e := k / l.Stride
		lastB, lastG = max(lastB, e%l.Giant), max(lastG, e/l.Giant)
	}
	return lastB + lastG
}

// KeySwitches returns the rotations (key switches) a product over the
// given diagonals costs in layout l: lattigo's hoisted baby-step
// giant-step (about 2√d) or the two-key chains.
func (l Layout) KeySwitches(diags []int) int {
	if len(diags) == 0 {
		return 0
	}
	if l.Giant > 0 {
		return l.twoKeySwitches(diags)
	}
	return int(2 * math.Sqrt(float64(len(diags))))
}

// SpecialPrimes returns the number of key-switching (special) primes of p.
func (p Params) SpecialPrimes() int {
	_, pl := p.moduli()
	return len(pl)
}

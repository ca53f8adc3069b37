package passes

import (
	"math"

	"github.com/fheir/fheir/ir"
)

// roundPass applies rounding_threshold_bits n (Options.RoundingBits or the
// pass option bits=N) to table lookups. Before each tlu whose encrypted input
// x needs more than n bits, it inserts r = round(x) {bits=k, method} with the
// smallest k such that r's range fits n bits, and rebuilds the table for r:
//
//	new_table[c][j - lo_r] = old_table[c][clip(j·2^k, lo_x, hi_x) - lo_old]
//
// for every j in r's range [lo_r, hi_r], where [lo_x, hi_x] is x's range.
// That is Concrete ML's semantics: round the accumulator, then apply the
// function to the rounded value scaled back (clipped to the values the
// accumulator can take, so the table is never read outside its domain).
// Tables reading the same x share one round.
//
// Whatever the threshold, a tlu whose encrypted input is still wider than
// MaxTLUBits is an AccumulatorTooWide error naming the input's layer.
func roundPass(s *state) error {
	f := s.f
	n, method, err := s.rounding()
	if err != nil {
		return err
	}
	rounds := make(map[*ir.Value]*ir.Value)
	changed := false
	for _, t := range f.Body {
		if t.Op != ir.OpTLU || !t.Args[0].Type.Secret {
			continue
		}
		x := t.Args[0]
		if n <= 0 || bitsOf(x) <= n || x.Op == ir.OpRound {
			continue
		}
		dom := rangeOf(x)
		k, rdom := roundPlan(dom, n, method)
		if k == 0 {
			continue
		}
		r, ok := rounds[x]
		if !ok {
			rr := rdom
			r = newValue(ir.OpRound, x.Type.WithElem(rr.Elem()), []*ir.Value{x},
				ir.Attrs{ir.IntAttr("bits", int64(k)), ir.StrAttr("method", method)}, x.Loc)
			r.Range = &rr
			rounds[x] = r
			f.Body = append(f.Body, r)
		}
		rebuildRounded(t, dom, rdom, k)
		t.Args[0] = r
		changed = true
	}
	if changed {
		topoSort(f)
	}
	var errs ir.ErrorList
	for _, t := range f.Body {
		switch {
		case t.Op == ir.OpTLU && t.Args[0].Type.Secret:
			if b := bitsOf(t.Args[0]); b > s.maxTLUBits() {
				errs = append(errs, tooWide(t.Args[0], b, s.maxTLUBits()))
			}
		case tluBased(t):
			// An encrypted max or product is computed with lookups on
			// sums and differences of its operands.
			in := ir.Range{Lo: math.MaxInt64, Hi: math.MinInt64}
			for _, a := range t.Args {
				if a.Type.Secret && !a.Type.Elem.Float {
					in = in.Union(rangeOf(a))
				}
			}
			if in.Lo > in.Hi {
				continue
			}
			if _, b := tluCost(t, in); b > s.maxTLUBits() {
				errs = append(errs, errAt(t, ir.AccumulatorTooWide, "%s of encrypted values looks up %d-bit differences, max %d: lower n_bits", t.Op, b, s.maxTLUBits()))
			}
		}
	}
	return errs.Err()
}

// roundPlan returns the number of bits k to drop from a value of range dom
// so that the rounded range fits n bits, and that range. When no k below
// dom's width gets there (the approximate method's slack can prevent it on
// tiny thresholds), it returns the k giving the narrowest range; it returns
// 0 and dom when dom is at most one bit wide.
func roundPlan(dom ir.Range, n int, method string) (int, ir.Range) {
	slack := int64(0)
	if method == "approximate" {
		slack = 1
	}
	w := dom.Bits()
	bestK, best := 0, dom
	for k := max(w-n, 1); k < w; k++ {
		r := roundRange(dom, int64(k), slack)
		if r.Bits() <= n {
			return k, r
		}
		if r.Bits() < best.Bits() {
			bestK, best = k, r
		}
	}
	return bestK, best
}

// rebuildRounded rewrites tlu t's table to read round(x, k) (see roundPass).
func rebuildRounded(t *ir.Value, dom, rdom ir.Range, k int) {
	a := t.Attrs.Get("table")
	old := a.Tensor
	lo := t.Int("lo", 0)
	n := old.Shape[len(old.Shape)-1]
	C := old.Len() / n
	m := int(rdom.Hi - rdom.Lo + 1)
	shape := []int{m}
	if len(old.Shape) == 2 {
		shape = []int{C, m}
	}
	nt := ir.NewInts(shape, nil)
	for c := 0; c < C; c++ {
		for j := 0; j < m; j++ {
			x := min(max((rdom.Lo+int64(j))<<k, dom.Lo), dom.Hi)
			i := min(max(x-lo, 0), int64(n-1))
			nt.I[c*m+j] = old.I[c*n+int(i)]
		}
	}
	t.SetAttr(ir.IntAttr("lo", rdom.Lo))
	t.SetAttr(ir.TensorAttrOf("table", a.Elem, nt))
}

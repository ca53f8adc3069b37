package passes

import (
	"fmt"
	"math"
	"slices"

	"github.com/fheir/fheir/ir"
)

// fuseTLU collapses every maximal element-wise region that depends on a
// single encrypted integer value x (its source) into table lookups on x.
//
// A value belongs to x's region when it is an element-wise op (the op
// table's Univariate ops, tlu and cast) with x's shape whose encrypted
// operands all belong to the region (or are x) and whose clear operands are
// constants. Each integer region value used outside the region (or
// returned) is a root and becomes one tlu on x whose table is computed by
// running the region with ir's interpreter on every value of x's domain: its
// range fact, else its sound range from the analysis.
//
// Tables are per channel (tlu axis attribute, table [C,n]) when the region's
// constants or per-channel quantizers vary along exactly one axis. When they
// vary along several, every element gets its own row: the tlu reads x
// reshaped to one axis (axis 0) and its result is reshaped back. A root whose table is
// x itself disappears; one whose table is a·x+b (per channel) becomes a mul
// and an add, which cost no bootstrap. Equal tables are equal attributes, so
// cse shares them.
//
// When Options.RoundingBits (or the pass option bits=N) is set and x is
// wider, the table reads round(x) instead, built as the round pass defines
// (see roundPass), so that no table wider than needed is ever built. A
// table that would still read more than MaxTLUBits is an AccumulatorTooWide
// error naming x's layer.
func fuseTLU(s *state) error {
	f := s.f
	roundBits, method, err := s.rounding()
	if err != nil {
		return err
	}
	src := make(map[*ir.Value]*ir.Value)
	members := make(map[*ir.Value][]*ir.Value)
	var sources []*ir.Value
	for _, v := range f.Body {
		x := regionSource(v, src)
		if x == nil {
			continue
		}
		src[v] = x
		if len(members[x]) == 0 {
			sources = append(sources, x)
		}
		members[x] = append(members[x], v)
	}
	var env map[*ir.Value]*interval
	uses := f.Uses()
	isResult := make(map[*ir.Value]bool)
	for _, r := range f.Results {
		isResult[r] = true
	}
	var errs ir.ErrorList
	changed := false
	for _, x := range sources {
		region := members[x]
		in := make(map[*ir.Value]bool)
		for _, m := range region {
			in[m] = true
		}
		// A float value used outside the region (a final dequantize, say)
		// is not replaced by a table: it stays, and so do the float values
		// it is computed from. The integer values it reads become exits.
		stays := make(map[*ir.Value]bool)
		for again := true; again; {
			again = false
			for _, m := range region {
				if stays[m] || !m.Type.Elem.Float {
					continue
				}
				s := isResult[m]
				for _, u := range uses[m] {
					s = s || !in[u] || stays[u]
				}
				if s {
					stays[m], again = true, true
				}
			}
		}
		var roots, replaced []*ir.Value
		for _, m := range region {
			if stays[m] {
				continue
			}
			replaced = append(replaced, m)
			if m.Type.Elem.Float {
				continue
			}
			outside := isResult[m]
			for _, u := range uses[m] {
				outside = outside || !in[u] || stays[u]
			}
			if outside && !(m.Op == ir.OpTLU && m.Args[0] == x) {
				roots = append(roots, m)
			}
		}
		if len(roots) == 0 || !worthFusing(replaced) {
			continue
		}
		axis, ok := regionAxis(x, region)
		if !ok {
			axis = perElement
		}
		dom := rangeOf(x)
		if x.Range == nil {
			if env == nil {
				env = analyzeRanges(f)
			}
			dom = env[x].union()
		}
		fz := &fusion{x: x, region: region, roots: roots, axis: axis, dom: dom}
		// Affine roots need no table, hence no rounding: find them on the
		// exact tables when the domain is small enough to enumerate.
		lin := make([]*affineMap, len(roots))
		tables := 0
		if (dom.Hi-dom.Lo+1)*int64(fz.channels()) <= maxExactTable {
			if err := fz.build(); err != nil {
				return err
			}
			for ri, t := range fz.tables {
				t = collapseRows(t)
				if a, b, ok := affine(t, dom.Lo); ok {
					lin[ri] = &affineMap{a, b}
				} else {
					tables++
				}
			}
		} else {
			tables = len(roots)
		}
		if tables > 0 && roundBits > 0 && dom.Bits() > roundBits {
			fz.k, fz.rdom = roundPlan(dom, roundBits, method)
			fz.tables = nil
		}
		if width := fz.inputRange().Bits(); tables > 0 && width > s.maxTLUBits() {
			errs = append(errs, tooWide(x, width, s.maxTLUBits()))
			continue
		}
		if fz.tables == nil && tables > 0 {
			if err := fz.build(); err != nil {
				return err
			}
		}
		fz.apply(f, lin, method, s.maxTLUBits())
		changed = true
	}
	if changed {
		topoSort(f)
		removeDead(f)
	}
	return errs.Err()
}

// tooWide is the AccumulatorTooWide error for a table reading x.
func tooWide(x *ir.Value, bits, maxBits int) *ir.Error {
	what := fmt.Sprintf("v%d", x.ID)
	if x.Loc != "" {
		what = "the accumulator of " + x.Loc
	}
	return errAt(x, ir.AccumulatorTooWide, "table lookup on %s would read %d bits, max %d: lower n_bits or set rounding_threshold_bits", what, bits, maxBits)
}

// fusable reports whether v may be part of a region.
func fusable(v *ir.Value) bool {
	info := v.Op.Info()
	return v.Type.Secret && (info.Univariate || v.Op == ir.OpTLU || v.Op == ir.OpCast)
}

// regionSource returns the source of v's region, or nil when v starts none.
func regionSource(v *ir.Value, src map[*ir.Value]*ir.Value) *ir.Value {
	if !fusable(v) {
		return nil
	}
	var x *ir.Value
	for _, a := range v.Args {
		if !a.Type.Secret {
			if !isConst(a) {
				return nil
			}
			continue
		}
		if !ir.SameShape(a.Type.Shape, v.Type.Shape) {
			return nil
		}
		s := src[a]
		if s == nil {
			s = a
		}
		if x != nil && s != x {
			return nil
		}
		x = s
	}
	if x == nil || x.Type.Elem.Float {
		return nil
	}
	return x
}

// worthFusing reports whether a region does more than integer affine
// arithmetic (which is cheap and stays as it is).
func worthFusing(region []*ir.Value) bool {
	for _, m := range region {
		switch m.Op {
		case ir.OpAdd, ir.OpSub, ir.OpMul, ir.OpNeg:
			if !m.Type.Elem.Float {
				continue
			}
		}
		return true
	}
	return false
}

// regionAxis returns the one axis of x's shape along which the region's
// constants and per-channel quantizers vary (-1 for none), or false when
// they vary along several.
func regionAxis(x *ir.Value, region []*ir.Value) (int, bool) {
	rank := len(x.Type.Shape)
	vary := make(map[int]bool)
	for _, m := range region {
		for _, a := range m.Args {
			if c := a.ConstValue(); c != nil && !a.Type.Secret {
				off := rank - len(c.Shape)
				for d := range c.Shape {
					if c.Shape[d] > 1 && variesAlong(c, d) {
						vary[d+off] = true
					}
				}
			}
		}
		ax := int(m.Int("axis", -1))
		if ax < 0 {
			continue
		}
		switch m.Op {
		case ir.OpQuantize, ir.OpDequantize:
			if !allSameF(m.Floats("scale")) || !allSameI(m.Ints("zero_point", nil)) {
				vary[ax] = true
			}
		case ir.OpTLU:
			t := m.TensorAttr("table")
			n := t.Shape[1]
			for c := 1; c < t.Shape[0]; c++ {
				if !slices.Equal(t.I[:n], t.I[c*n:(c+1)*n]) {
					vary[ax] = true
				}
			}
		}
	}
	switch len(vary) {
	case 0:
		return -1, true
	case 1:
		for a := range vary {
			return a, true
		}
	}
	return 0, false
}

func variesAlong(c *ir.Tensor, d int) bool {
	st := ir.Strides(c.Shape)
	for i := 0; i < c.Len(); i++ {
		j := i - ((i/st[d])%c.Shape[d])*st[d]
		if c.At(i) != c.At(j) && !(math.IsNaN(c.At(i)) && math.IsNaN(c.At(j))) {
			return true
		}
	}
	return false
}

func allSameF(xs []float64) bool {
	for _, x := range xs {
		if x != xs[0] {
			return false
		}
	}
	return true
}

func allSameI(xs []int64) bool {
	for _, x := range xs {
		if x != xs[0] {
			return false
		}
	}
	return true
}

// fusion is one region being turned into tables.
type fusion struct {
	x      *ir.Value
	region []*ir.Value
	roots  []*ir.Value
	axis   int      // channel axis of x, or -1
	dom    ir.Range // x's domain
	k      int      // bits dropped by rounding (0: none)
	rdom   ir.Range // domain of round(x) when k > 0
	tables []*ir.Tensor
}

// perElement is fusion.axis for regions whose constants vary along several
// axes: every element gets its own table row (the tlu reads x flattened,
// with axis 0).
const perElement = -2

func (fz *fusion) channels() int {
	if fz.axis == perElement {
		return fz.x.Type.Size()
	}
	if fz.axis < 0 {
		return 1
	}
	return fz.x.Type.Shape[fz.axis]
}

// inputRange is the domain the tables read: x's, or round(x)'s.
func (fz *fusion) inputRange() ir.Range {
	if fz.k > 0 {
		return fz.rdom
	}
	return fz.dom
}

// build computes the tables of the roots (see run).
func (fz *fusion) build() error {
	out, err := fz.run()
	if err != nil {
		return fmt.Errorf("fuse-tlu: computing the table of the region on v%d: %w", fz.x.ID, err)
	}
	in := fz.inputRange()
	n := int(in.Hi - in.Lo + 1)
	C := fz.channels()
	for ri, o := range out {
		e := fz.roots[ri].Type.Elem
		t := ir.NewInts([]int{C, n}, nil)
		for i := 0; i < n; i++ {
			for c := 0; c < C; c++ {
				t.I[c*n+i] = min(max(o.I[i*C+c], e.Min()), e.Max())
			}
		}
		fz.tables = append(fz.tables, t)
	}
	return nil
}

// run evaluates the region on every input value, for every channel at
// once: the probe function's parameter has shape [n, C] (row i holds input
// value lo+i) and the region's constants are reduced to [1, C] (or [1, 1]).
// It returns one [n, C] tensor per root.
func (fz *fusion) run() ([]*ir.Tensor, error) {
	in := fz.inputRange()
	n := int(in.Hi - in.Lo + 1)
	C := fz.channels()
	probe := ir.NewFunc("table")
	p := probe.AddParam("", ir.EncOf(ir.Int(64), n, C))
	copies := map[*ir.Value]*ir.Value{fz.x: p}
	shape := []int{n, C}
	for _, m := range fz.region {
		w := &ir.Value{ID: -1, Op: m.Op, Type: m.Type, Attrs: append(ir.Attrs(nil), m.Attrs...)}
		w.Type.Shape = shape
		if !w.Type.Elem.Float {
			w.Type.Elem = ir.Int(64)
		}
		for _, a := range m.Args {
			c, ok := copies[a]
			if !ok {
				c = fz.reduceConst(a)
				copies[a] = c
				probe.Body = append(probe.Body, c)
			}
			w.Args = append(w.Args, c)
		}
		fz.reduceAxisAttrs(w)
		copies[m] = w
		probe.Body = append(probe.Body, w)
	}
	for _, r := range fz.roots {
		probe.Results = append(probe.Results, copies[r])
	}
	// Evaluate in chunks of rows to bound memory on wide domains.
	rows := max(1, (1<<18)/C)
	outs := make([]*ir.Tensor, len(fz.roots))
	for i := range outs {
		outs[i] = ir.NewInts(shape, nil)
	}
	for start := 0; start < n; start += rows {
		end := min(n, start+rows)
		x := ir.NewInts([]int{end - start, C}, nil)
		for i := start; i < end; i++ {
			v := fz.probeInput(in.Lo + int64(i))
			for c := 0; c < C; c++ {
				x.I[(i-start)*C+c] = v
			}
		}
		p.Type.Shape = x.Shape
		for _, w := range probe.Body {
			if w.Op != ir.OpConst {
				w.Type.Shape = x.Shape
			}
		}
		res, err := ir.Run(probe, []*ir.Tensor{x})
		if err != nil {
			return nil, err
		}
		for r, o := range res {
			if o.Float {
				if !outs[r].Float {
					outs[r] = ir.NewFloats(shape, nil)
				}
				copy(outs[r].F[start*C:], o.F)
			} else {
				copy(outs[r].I[start*C:], o.I)
			}
		}
	}
	return outs, nil
}

// probeInput maps a table index value to the x it stands for: itself, or
// with rounding clip(j·2^k) into x's domain.
func (fz *fusion) probeInput(j int64) int64 {
	if fz.k == 0 {
		return j
	}
	return min(max(j<<fz.k, fz.dom.Lo), fz.dom.Hi)
}

// reduceConst returns constant a, broadcast to x's rank, reduced to shape
// [1, C]: index 0 along every axis but the channel axis.
func (fz *fusion) reduceConst(a *ir.Value) *ir.Value {
	c := a.ConstValue()
	rank := len(fz.x.Type.Shape)
	off := rank - len(c.Shape)
	C := fz.channels()
	var out *ir.Tensor
	if c.Float {
		out = ir.NewFloats([]int{1, C}, nil)
	} else {
		out = ir.NewInts([]int{1, C}, nil)
	}
	st := ir.Strides(c.Shape)
	var idx []int
	if fz.axis == perElement {
		idx = broadcastIndex(c.Shape, fz.x.Type.Shape)
	}
	for ch := 0; ch < C; ch++ {
		j := 0
		if idx != nil {
			j = idx[ch]
		}
		if d := fz.axis - off; fz.axis >= 0 && d >= 0 && c.Shape[d] > 1 {
			j = ch * st[d]
		}
		if c.Float {
			out.F[ch] = c.F[j]
		} else {
			out.I[ch] = c.I[j]
		}
	}
	e := a.Type.Elem
	if !e.Float {
		e = ir.Int(64)
	}
	return newConst(e, out)
}

// reduceAxisAttrs rewrites a probe copy's axis attributes: the channel axis
// becomes axis 1; any other axis does not vary, so channel 0's parameters
// apply everywhere.
func (fz *fusion) reduceAxisAttrs(w *ir.Value) {
	ax := int(w.Int("axis", -1))
	if ax < 0 || (w.Op != ir.OpQuantize && w.Op != ir.OpDequantize && w.Op != ir.OpTLU) {
		return
	}
	if ax == fz.axis {
		w.SetAttr(ir.IntAttr("axis", 1))
		return
	}
	if fz.axis == perElement {
		// Expand per-channel parameters to one per element.
		ch := channels(fz.x.Type.Shape, ax)
		w.SetAttr(ir.IntAttr("axis", 1))
		switch w.Op {
		case ir.OpQuantize, ir.OpDequantize:
			s, z := w.Floats("scale"), w.Ints("zero_point", nil)
			es, ez := make([]float64, len(ch)), make([]int64, len(ch))
			for k, c := range ch {
				es[k], ez[k] = s[c], z[c]
			}
			w.SetAttr(ir.FloatsAttr("scale", es))
			w.SetAttr(ir.IntsAttr("zero_point", ez))
		case ir.OpTLU:
			a := w.Attrs.Get("table")
			n := a.Tensor.Shape[1]
			t := ir.NewInts([]int{len(ch), n}, nil)
			for k, c := range ch {
				copy(t.I[k*n:(k+1)*n], a.Tensor.I[c*n:(c+1)*n])
			}
			w.SetAttr(ir.TensorAttrOf("table", a.Elem, t))
		}
		return
	}
	w.SetAttr(ir.IntAttr("axis", -1))
	switch w.Op {
	case ir.OpQuantize, ir.OpDequantize:
		w.SetAttr(ir.FloatsAttr("scale", w.Floats("scale")[:1]))
		w.SetAttr(ir.IntsAttr("zero_point", w.Ints("zero_point", nil)[:1]))
	case ir.OpTLU:
		a := w.Attrs.Get("table")
		t := a.Tensor
		n := t.Shape[1]
		w.SetAttr(ir.TensorAttrOf("table", a.Elem, ir.NewInts([]int{n}, t.I[:n])))
	}
}

// maxExactTable bounds the unrounded tables fuse-tlu builds to find affine
// regions (input values times channels).
const maxExactTable = 1 << 22

// affineMap is a root that computes a[c]·x + b[c] (per channel, or one
// entry for all).
type affineMap struct{ a, b []int64 }

// collapseRows returns a [C,n] table as [n] when all rows are equal.
func collapseRows(t *ir.Tensor) *ir.Tensor {
	n := t.Shape[1]
	if t.Shape[0] == 1 || rowsEqual(t) {
		return ir.NewInts([]int{n}, t.I[:n])
	}
	return t
}

// apply replaces each root by x, by an affine map of x (lin[i] set), or by
// a tlu.
func (fz *fusion) apply(f *ir.Func, lin []*affineMap, method string, maxBits int) {
	x := fz.x
	in := fz.inputRange()
	exact := func() *ir.Value {
		if x.Range == nil {
			r := fz.dom
			x.Range = &r
		}
		if int(x.Type.Elem.Bits) > maxBits {
			x.Type.Elem = fz.dom.Elem()
		}
		return x
	}
	var read *ir.Value
	input := func() *ir.Value {
		if read != nil {
			return read
		}
		if x.Range == nil {
			r := fz.dom
			x.Range = &r
		}
		read = x
		if fz.k > 0 {
			rr := fz.rdom
			read = newValue(ir.OpRound, x.Type.WithElem(rr.Elem()), []*ir.Value{x},
				ir.Attrs{ir.IntAttr("bits", int64(fz.k)), ir.StrAttr("method", method)}, x.Loc)
			read.Range = &rr
			f.Body = append(f.Body, read)
		} else if int(x.Type.Elem.Bits) > maxBits {
			x.Type.Elem = fz.dom.Elem()
		}
		return read
	}
	for ri, root := range fz.roots {
		if lin[ri] != nil {
			f.ReplaceAll(root, fz.affineOps(f, exact(), root, lin[ri].a, lin[ri].b))
			continue
		}
		t := collapseRows(fz.tables[ri])
		C := 1
		if len(t.Shape) == 2 {
			C = t.Shape[0]
		}
		attrs := ir.Attrs{ir.IntAttr("lo", in.Lo)}
		axis := fz.axis
		if C > 1 && axis == perElement {
			axis = 0
		}
		if C > 1 {
			attrs = append(attrs, ir.IntAttr("axis", int64(axis)))
		}
		attrs = append(attrs, ir.TensorAttrOf("table", tensorRange(t.I).Elem(), t))
		loc := root.Loc
		if loc == "" {
			loc = x.Loc
		}
		if C > 1 && fz.axis == perElement {
			// tlu(reshape(x, [size])) with one row per element, reshaped back.
			size := []int{x.Type.Size()}
			src := input()
			flat := newValue(ir.OpReshape, src.Type.WithShape(size), []*ir.Value{src}, nil, loc)
			if src.Range != nil {
				r := *src.Range
				flat.Range = &r
			}
			tlu := newValue(ir.OpTLU, root.Type.WithShape([]int{size[0]}), []*ir.Value{flat}, attrs, loc)
			back := newValue(ir.OpReshape, root.Type.WithShape(append([]int(nil), root.Type.Shape...)), []*ir.Value{tlu}, nil, loc)
			f.Body = append(f.Body, flat, tlu, back)
			f.ReplaceAll(root, back)
			continue
		}
		tlu := newValue(ir.OpTLU, root.Type, []*ir.Value{input()}, attrs, loc)
		f.Body = append(f.Body, tlu)
		f.ReplaceAll(root, tlu)
	}
}

func rowsEqual(t *ir.Tensor) bool {
	n := t.Shape[1]
	for c := 1; c < t.Shape[0]; c++ {
		if !slices.Equal(t.I[:n], t.I[c*n:(c+1)*n]) {
			return false
		}
	}
	return true
}

// affine reports whether every row c of table t (rank 1 or [C,n], first
// entry at input lo) is a[c]·x + b[c].
func affine(t *ir.Tensor, lo int64) (a, b []int64, ok bool) {
	n := t.Shape[len(t.Shape)-1]
	C := t.Len() / n
	a, b = make([]int64, C), make([]int64, C)
	for c := 0; c < C; c++ {
		row := t.I[c*n : (c+1)*n]
		if n > 1 {
			a[c] = row[1] - row[0]
		}
		b[c] = row[0] - a[c]*lo
		for i, y := range row {
			if y != a[c]*(lo+int64(i))+b[c] {
				return nil, nil, false
			}
		}
	}
	return a, b, true
}

// affineOps builds a·x + b (per channel) for root; a is left out when all
// ones and b when all zeros. It returns x itself for the identity.
func (fz *fusion) affineOps(f *ir.Func, x, root *ir.Value, a, b []int64) *ir.Value {
	shape := make([]int, 0)
	if fz.axis == perElement && len(a) > 1 {
		shape = append(shape, fz.x.Type.Shape...)
	} else if len(a) > 1 {
		shape = make([]int, len(fz.x.Type.Shape))
		for i := range shape {
			shape[i] = 1
		}
		shape[fz.axis] = len(a)
	}
	y := x
	r := fz.dom
	if !allSameI(a) || a[0] != 1 {
		c := intConst(ir.NewInts(shape, append([]int64(nil), a...)))
		rr := ir.Range{Lo: math.MaxInt64, Hi: math.MinInt64}
		for _, w := range a {
			rr = rr.Union(r.Scale(w))
		}
		r = rr
		y = newValue(ir.OpMul, x.Type.WithElem(r.Elem()), []*ir.Value{y, c}, nil, root.Loc)
		f.Body = append(f.Body, c, y)
	}
	if !allSameI(b) || b[0] != 0 {
		c := intConst(ir.NewInts(shape, append([]int64(nil), b...)))
		r = r.Add(tensorRange(b))
		y = newValue(ir.OpAdd, x.Type.WithElem(r.Elem()), []*ir.Value{y, c}, nil, root.Loc)
		f.Body = append(f.Body, c, y)
	}
	return y
}

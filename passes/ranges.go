package passes

import (
	"math"

	"github.com/fheir/fheir/ir"
)

// interval holds a per-element range of an integer value: lo[i] <= x[i] <=
// hi[i] for every input the analysis covers. Per-element bounds make linear
// ops exact: each output sums max(w·lo, w·hi) over its own taps (padding and
// per-channel biases included), as the narrow pass promises.
type interval struct {
	lo, hi *ir.Tensor
}

// union returns the range covering every element.
func (iv *interval) union() ir.Range {
	if iv.lo.Len() == 0 {
		return ir.Range{}
	}
	r := ir.Range{Lo: math.MaxInt64, Hi: math.MinInt64}
	for i := range iv.lo.I {
		r.Lo = min(r.Lo, iv.lo.I[i])
		r.Hi = max(r.Hi, iv.hi.I[i])
	}
	return r
}

func fill(shape []int, x int64) *ir.Tensor {
	t := ir.NewInts(shape, nil)
	for i := range t.I {
		t.I[i] = x
	}
	return t
}

func uniform(shape []int, r ir.Range) *interval {
	return &interval{fill(shape, r.Lo), fill(shape, r.Hi)}
}

// analyzeRanges computes a sound per-element interval for every integer
// value of f. Parameters use their range fact or type; every other value is
// computed from its operands (facts on non-parameters are ignored) and
// intersected with its declared type, since the interpreter rejects any
// input that makes a value leave its type.
//
// For the same reason a value read by a table lookup is limited to the
// table's domain [lo, lo+n-1]: the lookup rejects anything else.
func analyzeRanges(f *ir.Func) map[*ir.Value]*interval {
	limit := make(map[*ir.Value]ir.Range)
	for _, v := range f.Body {
		if v.Op == ir.OpTLU {
			x := v.Args[0]
			lo := v.Int("lo", 0)
			t := v.TensorAttr("table")
			r := ir.Range{Lo: lo, Hi: lo + int64(t.Shape[len(t.Shape)-1]) - 1}
			if old, ok := limit[x]; ok {
				r = r.Intersect(old)
			}
			limit[x] = r
		}
	}
	bound := func(v *ir.Value) ir.Range {
		r := v.Type.Elem.Range()
		if l, ok := limit[v]; ok && l.Lo <= l.Hi {
			r = r.Intersect(l)
		}
		return r
	}
	env := make(map[*ir.Value]*interval)
	for _, p := range f.Params {
		if !p.Type.Elem.Float {
			iv := uniform(p.Type.Shape, rangeOf(p))
			clampInterval(iv, bound(p))
			env[p] = iv
		}
	}
	for _, v := range f.Body {
		if v.Type.Elem.Float {
			continue
		}
		iv := transfer(v, env)
		if iv == nil {
			iv = uniform(v.Type.Shape, v.Type.Elem.Range())
		}
		clampInterval(iv, bound(v))
		env[v] = iv
	}
	return env
}

func clampInterval(iv *interval, r ir.Range) {
	for i := range iv.lo.I {
		iv.lo.I[i] = min(max(iv.lo.I[i], r.Lo), r.Hi)
		iv.hi.I[i] = max(min(iv.hi.I[i], r.Hi), r.Lo)
	}
}

// transfer computes v's interval, or nil when only its type is known.
func transfer(v *ir.Value, env map[*ir.Value]*interval) *interval {
	if c := v.ConstValue(); c != nil && v.Op == ir.OpConst {
		return &interval{c, c}
	}
	args := make([]*interval, len(v.Args))
	for i, a := range v.Args {
		args[i] = env[a]
		if args[i] == nil && !a.Type.Elem.Float {
			return nil
		}
	}
	shape := v.Type.Shape
	switch v.Op {
	case ir.OpQuantize:
		return uniform(shape, ir.Range{Lo: v.Int("qmin", 0), Hi: v.Int("qmax", 0)})
	case ir.OpRound:
		k := v.Int("bits", 1)
		slack := int64(0)
		if v.Str("method", "exact") == "approximate" {
			slack = 1
		}
		out := &interval{ir.NewInts(shape, nil), ir.NewInts(shape, nil)}
		for i := range out.lo.I {
			r := roundRange(ir.Range{Lo: args[0].lo.I[i], Hi: args[0].hi.I[i]}, k, slack)
			out.lo.I[i], out.hi.I[i] = r.Lo, r.Hi
		}
		return out
	case ir.OpTLU:
		return tluInterval(v, args[0])
	case ir.OpCast:
		if args[0] != nil {
			return args[0]
		}
		return nil
	case ir.OpNeg:
		return &interval{negate(args[0].hi), negate(args[0].lo)}
	case ir.OpAbs:
		out := &interval{ir.NewInts(shape, nil), ir.NewInts(shape, nil)}
		for i := range out.lo.I {
			l, h := args[0].lo.I[i], args[0].hi.I[i]
			switch {
			case l >= 0:
				out.lo.I[i], out.hi.I[i] = l, h
			case h <= 0:
				out.lo.I[i], out.hi.I[i] = -h, -l
			default:
				out.lo.I[i], out.hi.I[i] = 0, max(-l, h)
			}
		}
		return out
	case ir.OpRelu, ir.OpClip, ir.OpSign, ir.OpSumPool, ir.OpMaxPool, ir.OpReduceSum, ir.OpReduceMax, ir.OpConcat,
		ir.OpMin, ir.OpMax:
		// Non-decreasing in every operand.
		return monotone(v, args)
	case ir.OpNot, ir.OpAnd, ir.OpOr, ir.OpXor, ir.OpLess, ir.OpLessEq, ir.OpGreater, ir.OpGreaterEq, ir.OpEqual:
		return uniform(shape, ir.Range{Lo: 0, Hi: 1})
	case ir.OpAdd, ir.OpSub, ir.OpMul:
		return arith(v, args[0], args[1])
	case ir.OpWhere:
		a, b := broadcastTo(args[1], shape), broadcastTo(args[2], shape)
		out := &interval{ir.NewInts(shape, nil), ir.NewInts(shape, nil)}
		for i := range out.lo.I {
			out.lo.I[i] = min(a.lo.I[i], b.lo.I[i])
			out.hi.I[i] = max(a.hi.I[i], b.hi.I[i])
		}
		return out
	case ir.OpGemm, ir.OpMatMul, ir.OpConv:
		return contraction(v, args)
	case ir.OpReshape, ir.OpTranspose, ir.OpSlice, ir.OpPad, ir.OpBroadcast, ir.OpGather:
		src := ir.ShapeMap(v, v.Args[0].Type.Shape, shape)
		pad := int64(v.Float("value", 0))
		out := &interval{ir.NewInts(shape, nil), ir.NewInts(shape, nil)}
		for i, j := range src {
			if j < 0 {
				out.lo.I[i], out.hi.I[i] = pad, pad
			} else {
				out.lo.I[i], out.hi.I[i] = args[0].lo.I[j], args[0].hi.I[j]
			}
		}
		return out
	}
	return nil
}

// roundRange is the range of round(x, k) for x in r; slack widens it for
// the approximate method, which may be off by one.
func roundRange(r ir.Range, k, slack int64) ir.Range {
	h := int64(1) << (k - 1)
	return ir.Range{Lo: (r.Lo+h)>>k - slack, Hi: (r.Hi+h)>>k + slack}
}

func negate(t *ir.Tensor) *ir.Tensor {
	out := ir.NewInts(t.Shape, nil)
	for i, x := range t.I {
		out.I[i] = -x
	}
	return out
}

func broadcastTo(iv *interval, shape []int) *interval {
	if ir.SameShape(iv.lo.Shape, shape) {
		return iv
	}
	idx := broadcastIndex(iv.lo.Shape, shape)
	out := &interval{ir.NewInts(shape, nil), ir.NewInts(shape, nil)}
	for i, j := range idx {
		out.lo.I[i], out.hi.I[i] = iv.lo.I[j], iv.hi.I[j]
	}
	return out
}

func monotone(v *ir.Value, args []*interval) *interval {
	los := make([]*ir.Tensor, len(args))
	his := make([]*ir.Tensor, len(args))
	for i, a := range args {
		los[i], his[i] = a.lo, a.hi
	}
	lo, err1 := evalOp(v, los, true)
	hi, err2 := evalOp(v, his, true)
	if err1 != nil || err2 != nil {
		return nil
	}
	return &interval{lo, hi}
}

func arith(v *ir.Value, a, b *interval) *interval {
	shape := v.Type.Shape
	a, b = broadcastTo(a, shape), broadcastTo(b, shape)
	out := &interval{ir.NewInts(shape, nil), ir.NewInts(shape, nil)}
	for i := range out.lo.I {
		x := ir.Range{Lo: a.lo.I[i], Hi: a.hi.I[i]}
		y := ir.Range{Lo: b.lo.I[i], Hi: b.hi.I[i]}
		var r ir.Range
		switch v.Op {
		case ir.OpAdd:
			r = x.Add(y)
		case ir.OpSub:
			r = x.Add(y.Neg())
		default:
			r = x.Mul(y)
		}
		out.lo.I[i], out.hi.I[i] = r.Lo, r.Hi
	}
	return out
}

// tluInterval gives each element the smallest and largest table entry over
// the part of its row that its input interval reaches.
func tluInterval(v *ir.Value, x *interval) *interval {
	t := v.TensorAttr("table")
	lo := v.Int("lo", 0)
	n := int64(t.Shape[len(t.Shape)-1])
	ch := channels(v.Args[0].Type.Shape, int(v.Int("axis", -1)))
	shape := v.Type.Shape
	out := &interval{ir.NewInts(shape, nil), ir.NewInts(shape, nil)}
	type key struct {
		c      int
		lo, hi int64
	}
	cache := make(map[key]ir.Range)
	for i := range out.lo.I {
		k := key{ch[i], max(x.lo.I[i]-lo, 0), min(x.hi.I[i]-lo, n-1)}
		r, ok := cache[k]
		if !ok {
			row := t.I[int64(k.c)*n : int64(k.c+1)*n]
			r = ir.Range{Lo: math.MaxInt64, Hi: math.MinInt64}
			for j := k.lo; j <= k.hi; j++ {
				r.Lo, r.Hi = min(r.Lo, row[j]), max(r.Hi, row[j])
			}
			if k.lo > k.hi { // input outside the table: only the row bounds are sound
				r = tensorRange(row)
			}
			cache[k] = r
		}
		out.lo.I[i], out.hi.I[i] = r.Lo, r.Hi
	}
	return out
}

func tensorRange(xs []int64) ir.Range {
	if len(xs) == 0 {
		return ir.Range{}
	}
	r := ir.Range{Lo: xs[0], Hi: xs[0]}
	for _, x := range xs {
		r.Lo, r.Hi = min(r.Lo, x), max(r.Hi, x)
	}
	return r
}

// channels returns, for each flat index of shape, its index along axis (0
// when axis < 0).
func channels(shape []int, axis int) []int {
	ch := make([]int, ir.ShapeSize(shape))
	if axis < 0 || axis >= len(shape) {
		return ch
	}
	st := ir.Strides(shape)
	for k := range ch {
		ch[k] = (k / st[axis]) % shape[axis]
	}
	return ch
}

// contraction bounds gemm, matmul and conv. With clear weights W it is exact
// per output: hi = f(hi_x, W⁺) + f(lo_x, W⁻) (plus the bias's hi), lo
// symmetric, where W⁺ and W⁻ are W's positive and negative parts — the sum of
// max(w·lo, w·hi) over each output's taps. With two encrypted operands it
// falls back to ±f(|x|max, |y|max).
func contraction(v *ir.Value, args []*interval) *interval {
	wi := -1
	switch {
	case isConst(v.Args[1]) && !isConst(v.Args[0]):
		wi = 1
	case isConst(v.Args[0]) && !isConst(v.Args[1]):
		wi = 0
	}
	var biasLo, biasHi, zeroBias *ir.Tensor
	if len(args) == 3 {
		biasLo, biasHi = args[2].lo, args[2].hi
		zeroBias = ir.NewInts(biasLo.Shape, nil)
	}
	call := func(x, w, b *ir.Tensor, xi int) *ir.Tensor {
		in := make([]*ir.Tensor, len(args))
		in[xi], in[1-xi] = x, w
		if len(args) == 3 {
			in[2] = b
		}
		out, err := evalOp(v, in, true)
		if err != nil {
			panic("BUG: evaluating bounds of " + v.Op.String() + ": " + err.Error())
		}
		return out
	}
	if wi < 0 {
		ma, mb := absMax(args[0]), absMax(args[1])
		var nb *ir.Tensor
		if biasLo != nil {
			nb = negate(biasLo)
		}
		return &interval{negate(call(ma, mb, nb, 0)), call(ma, mb, biasHi, 0)}
	}
	xi := 1 - wi
	w := args[wi].lo
	wp, wn := ir.NewInts(w.Shape, nil), ir.NewInts(w.Shape, nil)
	for i, x := range w.I {
		if x > 0 {
			wp.I[i] = x
		} else {
			wn.I[i] = x
		}
	}
	x := args[xi]
	hi := add(call(x.hi, wp, biasHi, xi), call(x.lo, wn, zeroBias, xi))
	lo := add(call(x.lo, wp, biasLo, xi), call(x.hi, wn, zeroBias, xi))
	return &interval{lo, hi}
}

func absMax(iv *interval) *ir.Tensor {
	out := ir.NewInts(iv.lo.Shape, nil)
	for i := range out.I {
		out.I[i] = max(abs(iv.lo.I[i]), abs(iv.hi.I[i]))
	}
	return out
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func add(a, b *ir.Tensor) *ir.Tensor {
	out := ir.NewInts(a.Shape, nil)
	for i := range out.I {
		out.I[i] = a.I[i] + b.I[i]
	}
	return out
}

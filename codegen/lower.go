package codegen

import (
	"fmt"
	"math"
	"slices"

	"github.com/fheir/fheir/ir"
	"github.com/fheir/fheir/rt"
)

// Lower turns an integer-only function (the output of the default pass
// pipeline) into a runtime circuit:
//
//   - a float parameter whose uses are quantize ops becomes an input with
//     that quantization; an integer parameter an input with scale 1;
//   - a dequantize returned by the function becomes an output's
//     dequantization; an integer result an output with scale 1; float
//     add/sub/mul/div/neg with constants after a result's last dequantize
//     (the float bias a QAT export leaves after its last layer) become the
//     output's clear post-processing, returned in posts (one per output)
//     for the client to apply after decryption;
//   - gemm, matmul, conv, sumpool, reduce_sum, add, sub, neg, mul by a
//     constant and every shape op become Linear ops (shape ops are gathers
//     with weight 1, a constant pad value becomes a bias);
//   - round followed by tlu becomes one TLU that drops the rounded bits; a
//     round used otherwise becomes a TLU of the identity;
//   - maxpool, max/min and the products of two encrypted tensors (mul,
//     matmul, gemm) use the runtime's lookup-based constructions;
//   - other integer element-wise ops of one non-constant operand (relu,
//     abs, clip, comparisons with a scalar...) become a TLU of the op.
//
// Ops whose operands are all constants are folded. Value ranges come from
// the IR's range facts (or the types) intersected with the runtime's own
// interval arithmetic. Anything else is an error naming the node:
// EncryptedFloat for float computation left between the inputs and the
// outputs, UnsupportedOp for an op or operand pattern without a lowering.
// f is not modified.
func Lower(f *ir.Func) (*rt.Circuit, []Post, error) {
	f = f.Clone()
	f.Renumber()
	l := &lowerer{
		f:      f,
		b:      rt.NewBuilder(f.Name),
		vals:   make(map[*ir.Value]rt.ValueID),
		consts: make(map[*ir.Value]*ir.Tensor),
		rounds: make(map[*ir.Value]roundInfo),
		failed: make(map[*ir.Value]bool),
		uses:   f.Uses(),
		result: make(map[*ir.Value]bool),
		chains: make(map[*ir.Value][]*ir.Value),
		post:   make(map[*ir.Value]bool),
	}
	for _, r := range f.Results {
		l.result[r] = true
		if ch := postChain(r); len(ch) > 1 {
			l.chains[r] = ch
			for _, x := range ch {
				l.post[x] = true
			}
		}
	}
	l.inputs()
	for _, v := range f.Body {
		if l.b.Err() != nil {
			break
		}
		l.value(v)
	}
	if l.b.Err() == nil {
		l.outputs()
	}
	if len(l.errs) > 0 {
		return nil, nil, l.errs.Err()
	}
	c, err := l.b.Build()
	if err != nil {
		e := &ir.Error{Code: InvalidCircuit, Msg: "lowered circuit is invalid: " + err.Error()}
		if l.last != nil {
			e = nodeErr(l.last, InvalidCircuit, "lowered circuit is invalid: %v", err)
		}
		return nil, nil, e
	}
	return c, l.posts, nil
}

// roundInfo describes a round op that is folded into the lookups using it.
type roundInfo struct {
	src    rt.ValueID
	bits   int
	method rt.Rounding
}

type lowerer struct {
	f      *ir.Func
	b      *rt.Builder
	vals   map[*ir.Value]rt.ValueID // values that exist in the circuit
	consts map[*ir.Value]*ir.Tensor // constants, given or folded
	rounds map[*ir.Value]roundInfo  // round ops, for fusion into tlu
	failed map[*ir.Value]bool       // values not lowered (an error was reported)
	uses   map[*ir.Value][]*ir.Value
	result map[*ir.Value]bool
	chains map[*ir.Value][]*ir.Value // result → its post-processing chain
	post   map[*ir.Value]bool        // values of post-processing chains
	posts  []Post                    // per output
	errs   ir.ErrorList
	last   *ir.Value // value being lowered, for builder errors
}

func (l *lowerer) errorf(v *ir.Value, code ir.Code, format string, args ...any) {
	l.errs = append(l.errs, nodeErr(v, code, format, args...))
	l.failed[v] = true
}

// name is the name of v's ops in the circuit: its source location, or its
// SSA name.
func name(v *ir.Value) string {
	if v.Loc != "" {
		return v.Loc
	}
	return fmt.Sprintf("v%d", v.ID)
}

// irRange returns v's range fact, or its type's range.
func irRange(v *ir.Value) ir.Range {
	if v.Range != nil {
		return *v.Range
	}
	return v.Type.Elem.Range()
}

func quantOf(v *ir.Value) rt.Quant {
	q := rt.Quant{Scale: slices.Clone(v.Floats("scale")), ZeroPoint: slices.Clone(v.Ints("zero_point", nil)), Axis: int(v.Int("axis", -1))}
	if v.Op == ir.OpQuantize {
		q.QMin, q.QMax = v.Int("qmin", 0), v.Int("qmax", 0)
	}
	return q
}

func sameQuant(a, b *ir.Value) bool {
	qa, qb := quantOf(a), quantOf(b)
	return slices.Equal(qa.Scale, qb.Scale) && slices.Equal(qa.ZeroPoint, qb.ZeroPoint) &&
		qa.Axis == qb.Axis && qa.QMin == qb.QMin && qa.QMax == qb.QMax && a.Type.Equal(b.Type)
}

// inputs declares one circuit input per parameter, in order.
func (l *lowerer) inputs() {
	for i, p := range l.f.Params {
		nm := p.Loc
		if nm == "" {
			nm = fmt.Sprintf("x%d", i)
		}
		if !p.Type.Elem.Float {
			r := irRange(p)
			id := l.b.Input(nm, p.Type.Shape, p.Type.Secret, rt.Quant{Scale: []float64{1}, ZeroPoint: []int64{0}, Axis: -1, QMin: r.Lo, QMax: r.Hi})
			l.vals[p] = id
			continue
		}
		var q *ir.Value
		for _, u := range l.uses[p] {
			if u.Op != ir.OpQuantize {
				continue // reported when u is lowered
			}
			if q == nil {
				q = u
				l.vals[u] = l.b.Input(nm, p.Type.Shape, p.Type.Secret, quantOf(u))
				continue
			}
			if !sameQuant(q, u) {
				l.errorf(u, UnsupportedOp, "input %q is quantized twice with different parameters (first by v%d)", nm, q.ID)
				continue
			}
			l.vals[u] = l.vals[q]
		}
		if q == nil {
			l.errs = append(l.errs, &ir.Error{Pos: p.Pos, Loc: p.Loc, Code: EncryptedFloat,
				Msg: fmt.Sprintf("float input %q is not quantized (no quantize op uses it)", nm)})
			l.failed[p] = true
		}
	}
}

// outputs declares one circuit output per result.
func (l *lowerer) outputs() {
	for i, r := range l.f.Results {
		nm := r.Loc
		if nm == "" {
			nm = fmt.Sprintf("y%d", i)
		}
		var post Post
		if ch := l.chains[r]; ch != nil {
			p, err := postOf(ch)
			if err != nil {
				l.errorf(r, ir.BadConstant, "post-processing: %v", err)
				continue
			}
			post, r = p, ch[len(ch)-1]
		}
		l.posts = append(l.posts, post)
		switch {
		case l.failed[r]:
		case r.Op == ir.OpDequantize && !l.failed[r.Args[0]]:
			a := r.Args[0]
			id, ok := l.vals[a]
			if !ok {
				l.errorf(r, UnsupportedOp, "result %d is computed from constants only", i)
				continue
			}
			l.b.Output(nm, id, quantOf(r))
		case r.Type.Elem.Float:
			l.errorf(r, EncryptedFloat, "result %d is a float computed by %s, want a dequantize of an integer value", i, r.Op)
		default:
			id, ok := l.vals[r]
			if !ok {
				l.errorf(r, UnsupportedOp, "result %d is computed from constants only", i)
				continue
			}
			l.b.Output(nm, id, rt.Quant{Scale: []float64{1}, ZeroPoint: []int64{0}, Axis: -1})
		}
	}
}

// constOf returns the constant tensor of v, or nil.
func (l *lowerer) constOf(v *ir.Value) *ir.Tensor { return l.consts[v] }

func (l *lowerer) value(v *ir.Value) {
	l.last = v
	if v.Op == ir.OpConst {
		if c := v.ConstValue(); c != nil {
			l.consts[v] = c
		}
		return
	}
	if _, ok := l.vals[v]; ok || l.failed[v] || l.post[v] {
		return // a quantize of a parameter (already an input), reported, or client-side post-processing
	}
	for _, a := range v.Args {
		if l.failed[a] {
			l.failed[v] = true // the cause is already reported
			return
		}
	}
	allConst := len(v.Args) > 0
	for _, a := range v.Args {
		allConst = allConst && l.constOf(a) != nil
	}
	if allConst {
		l.fold(v)
		return
	}
	switch {
	case v.Op == ir.OpDequantize:
		if l.onlyResult(v) {
			return // becomes an output's dequantization
		}
		l.errorf(v, EncryptedFloat, "dequantize is used by other ops than return: float computation on encrypted data")
		return
	case v.Op == ir.OpQuantize:
		l.errorf(v, EncryptedFloat, "quantize of a value that is not a function input: float computation on encrypted data")
		return
	case v.Type.Elem.Float:
		l.errorf(v, EncryptedFloat, "float %s on encrypted data (the passes left it unquantized)", v.Op)
		return
	}
	for _, a := range v.Args {
		if a.Type.Elem.Float {
			l.errorf(v, EncryptedFloat, "float operand %s of %s", a.Type, v.Op)
			return
		}
	}
	id, ok := l.lower(v)
	if !ok {
		return
	}
	if id < 0 {
		if l.b.Err() != nil {
			l.errorf(v, InvalidCircuit, "%v", l.b.Err())
		}
		return
	}
	got := l.b.Value(id)
	if !ir.SameShape(got.Shape, v.Type.Shape) {
		if ir.ShapeSize(got.Shape) != v.Type.Size() {
			panic(fmt.Sprintf("BUG: lowering of v%d (%s) has shape %v, want %v", v.ID, v.Op, got.Shape, v.Type.Shape))
		}
		id = l.b.Reshape(name(v), id, v.Type.Shape)
	}
	l.vals[v] = id
	if v.Op != ir.OpTLU && v.Op != ir.OpRound {
		l.narrow(v, id)
	}
}

// onlyResult reports whether v is used by return only.
func (l *lowerer) onlyResult(v *ir.Value) bool { return len(l.uses[v]) == 0 && l.result[v] }

// narrow intersects the builder's interval range of id with v's IR range.
func (l *lowerer) narrow(v *ir.Value, id rt.ValueID) {
	got := l.b.Value(id)
	r := irRange(v)
	lo, hi := max(got.Min, r.Lo), min(got.Max, r.Hi)
	if lo > hi {
		l.errorf(v, InvalidCircuit, "range [%d,%d] of the IR and [%d,%d] of the circuit are disjoint", r.Lo, r.Hi, got.Min, got.Max)
		return
	}
	l.b.SetRange(id, lo, hi)
}

// fold evaluates an op whose operands are all constants.
func (l *lowerer) fold(v *ir.Value) {
	g := ir.NewFunc("fold")
	args := make([]*ir.Value, len(v.Args))
	for i, a := range v.Args {
		args[i] = g.Const(a.Type.Elem, l.constOf(a))
	}
	r := g.Add(v.Op, ir.Type{Elem: v.Type.Elem, Shape: v.Type.Shape}, args, v.Attrs)
	g.Results = []*ir.Value{r}
	out, err := ir.Run(g, nil)
	if err != nil {
		l.errorf(v, UnsupportedOp, "folding constant %s: %v", v.Op, err)
		return
	}
	l.consts[v] = out[0]
}

// dyn returns the circuit value of a non-constant operand.
func (l *lowerer) dyn(v *ir.Value) rt.ValueID {
	id, ok := l.vals[v]
	if !ok {
		panic(fmt.Sprintf("BUG: v%d (%s) has no circuit value", v.ID, v.Op))
	}
	return id
}

// lower emits the ops of v and returns its value; ok is false when an
// error was reported.
func (l *lowerer) lower(v *ir.Value) (rt.ValueID, bool) {
	b, nm := l.b, name(v)
	switch v.Op {
	case ir.OpCast:
		return l.dyn(v.Args[0]), true
	case ir.OpRound:
		return l.round(v)
	case ir.OpTLU:
		return l.tlu(v)
	case ir.OpNeg:
		return b.Neg(nm, l.dyn(v.Args[0])), true
	case ir.OpAdd, ir.OpSub, ir.OpMul:
		return l.arith(v)
	case ir.OpMax, ir.OpMin:
		if l.constOf(v.Args[0]) == nil && l.constOf(v.Args[1]) == nil {
			a, c := l.dyn(v.Args[0]), l.dyn(v.Args[1])
			if v.Op == ir.OpMax {
				return b.Max(nm, a, c), true
			}
			// min(a, c) = −max(−a, −c)
			m := b.Max(nm+".max", b.Neg(nm+".neg_a", a), b.Neg(nm+".neg_b", c))
			return b.Neg(nm, m), true
		}
	case ir.OpGemm, ir.OpMatMul:
		return l.contraction(v)
	case ir.OpConv:
		return l.conv(v)
	case ir.OpSumPool, ir.OpMaxPool:
		return l.pool(v)
	case ir.OpReduceSum:
		in := v.Args[0].Type.Shape
		axes := normAxes(v.Ints("axes", nil), len(in))
		return b.ReduceSum(nm, l.dyn(v.Args[0]), axes, v.Int("keepdims", 1) != 0), true
	case ir.OpReshape, ir.OpTranspose, ir.OpSlice, ir.OpPad, ir.OpBroadcast, ir.OpGather:
		idx := ir.ShapeMap(v, v.Args[0].Type.Shape, v.Type.Shape)
		src := make([]int32, len(idx))
		for i, j := range idx {
			src[i] = int32(j)
		}
		return b.Gather(nm, []rt.ValueID{l.dyn(v.Args[0])}, v.Type.Shape, src, int64(v.Float("value", 0))), true
	case ir.OpConcat:
		return l.concat(v)
	}
	switch v.Op.Info().Class {
	case ir.ClassUnary, ir.ClassBinary, ir.ClassCompare, ir.ClassTernary:
		return l.univariate(v)
	}
	l.errorf(v, UnsupportedOp, "%s has no lowering to the runtime's linear and lookup ops", v.Op)
	return -1, false
}

func normAxes(axes []int64, rank int) []int {
	if axes == nil {
		out := make([]int, rank)
		for i := range out {
			out[i] = i
		}
		return out
	}
	out := make([]int, len(axes))
	for i, a := range axes {
		if a < 0 {
			a += int64(rank)
		}
		out[i] = int(a)
	}
	return out
}

// arith lowers add, sub and mul.
func (l *lowerer) arith(v *ir.Value) (rt.ValueID, bool) {
	b, nm := l.b, name(v)
	x, y := v.Args[0], v.Args[1]
	cx, cy := l.constOf(x), l.constOf(y)
	if cx == nil && cy == nil {
		a, c := l.dyn(x), l.dyn(y)
		switch v.Op {
		case ir.OpAdd:
			return b.Add(nm, a, c), true
		case ir.OpSub:
			return b.Sub(nm, a, c), true
		default:
			return b.Mul(nm, a, c), true
		}
	}
	// One constant operand k: an affine map of the other.
	d, k, kFirst := x, cy, false
	if cx != nil {
		d, k, kFirst = y, cx, true
	}
	n := k.Len()
	mul, add := make([]int64, n), make([]int64, n)
	for i, c := range k.I {
		switch {
		case v.Op == ir.OpAdd:
			mul[i], add[i] = 1, c
		case v.Op == ir.OpSub && kFirst: // c − x
			mul[i], add[i] = -1, c
		case v.Op == ir.OpSub: // x − c
			mul[i], add[i] = 1, -c
		default:
			mul[i] = c
		}
	}
	return b.Affine(nm, l.dyn(d), mul, add, k.Shape), true
}

// univariate lowers an element-wise op with one non-constant operand and
// scalar constants as a table of the op over the operand's range.
func (l *lowerer) univariate(v *ir.Value) (rt.ValueID, bool) {
	di := -1
	for i, a := range v.Args {
		c := l.constOf(a)
		switch {
		case c == nil && di >= 0:
			l.errorf(v, UnsupportedOp, "%s of two non-constant operands has no lowering (the passes should fuse it into a table)", v.Op)
			return -1, false
		case c == nil:
			di = i
		case c.Len() != 1:
			l.errorf(v, UnsupportedOp, "%s with a non-scalar constant operand %v has no lowering (the passes should fuse it into a table)", v.Op, c.Shape)
			return -1, false
		}
	}
	arg := v.Args[di]
	if !ir.SameShape(arg.Type.Shape, v.Type.Shape) {
		l.errorf(v, UnsupportedOp, "%s broadcasts %v to %v", v.Op, arg.Type.Shape, v.Type.Shape)
		return -1, false
	}
	x := l.dyn(arg)
	lo, hi := l.b.Domain(x, 0)
	if hi-lo >= 1<<16 {
		l.errorf(v, AccumulatorTooWide, "%s reads a domain [%d,%d] of more than 2^16 values", v.Op, lo, hi)
		return -1, false
	}
	n := int(hi - lo + 1)
	g := ir.NewFunc("table")
	p := g.AddParam("x", ir.TensorOf(arg.Type.Elem, n))
	args := make([]*ir.Value, len(v.Args))
	for i, a := range v.Args {
		if i == di {
			args[i] = p
		} else {
			args[i] = g.Const(a.Type.Elem, ir.NewInts([]int{}, []int64{l.constOf(a).Int(0)}))
		}
	}
	r := g.Add(v.Op, ir.TensorOf(v.Type.Elem, n), args, v.Attrs)
	g.Results = []*ir.Value{r}
	dom := make([]int64, n)
	for i := range dom {
		dom[i] = lo + int64(i)
	}
	out, err := ir.Run(g, []*ir.Tensor{ir.NewInts([]int{n}, dom)})
	if err != nil {
		l.errorf(v, UnsupportedOp, "tabulating %s over [%d,%d]: %v", v.Op, lo, hi, err)
		return -1, false
	}
	return l.b.TLU(name(v), x, [][]int64{out[0].I}, nil, lo, 0, rt.RoundExact), true
}

// round lowers a round op: used by table lookups only, it is folded into
// them; otherwise it is also a lookup of the identity.
func (l *lowerer) round(v *ir.Value) (rt.ValueID, bool) {
	bits := int(v.Int("bits", 1))
	method := rt.RoundExact
	if v.Str("method", "exact") == "approximate" {
		method = rt.RoundApprox
	}
	x := l.dyn(v.Args[0])
	// The round's range fact bounds its input: r(x) in [lo, hi] means x in
	// [lo·2^k − 2^(k−1), hi·2^k + 2^(k−1) − 1].
	if r := irRange(v); bits < 62 {
		xv := l.b.Value(x)
		half := int64(1) << (bits - 1)
		lo, hi := max(xv.Min, satShl(r.Lo, bits)-half), min(xv.Max, satShl(r.Hi, bits)+half-1)
		if lo <= hi {
			l.b.SetRange(x, lo, hi)
		}
	}
	l.rounds[v] = roundInfo{src: x, bits: bits, method: method}
	needed := l.result[v]
	for _, u := range l.uses[v] {
		needed = needed || u.Op != ir.OpTLU
	}
	if !needed {
		return -1, false
	}
	return l.b.Apply(name(v), x, func(r int64) int64 { return r }, bits, method), true
}

// tlu lowers a table lookup, fused with a round that feeds it.
func (l *lowerer) tlu(v *ir.Value) (rt.ValueID, bool) {
	a := v.Args[0]
	var x rt.ValueID
	drop, method := 0, rt.RoundExact
	if ri, ok := l.rounds[a]; ok {
		x, drop, method = ri.src, ri.bits, ri.method
	} else {
		x = l.dyn(a)
	}
	t := v.TensorAttr("table")
	lo := v.Int("lo", 0)
	n := t.Shape[len(t.Shape)-1]
	dlo, dhi := l.b.Domain(x, drop)
	if dhi-dlo >= 1<<24 {
		l.errorf(v, AccumulatorTooWide, "the circuit's input range [%d,%d] is too wide for a table", dlo, dhi)
		return -1, false
	}
	// Keep the reachable part of the tables. Where the circuit's interval
	// arithmetic is looser than the IR's range facts, the entries beyond
	// the table repeat its edges (those inputs do not occur).
	rows := len(t.I) / n
	tables := make([][]int64, rows)
	for c := range tables {
		tab := make([]int64, dhi-dlo+1)
		for i := range tab {
			j := min(max(dlo+int64(i)-lo, 0), int64(n)-1)
			tab[i] = t.I[c*n+int(j)]
		}
		tables[c] = tab
	}
	var tableOf []int32
	if axis := int(v.Int("axis", -1)); axis >= 0 {
		shape := v.Type.Shape
		st := ir.Strides(shape)
		tableOf = make([]int32, ir.ShapeSize(shape))
		for j := range tableOf {
			tableOf[j] = int32(j / st[axis] % shape[axis])
		}
	}
	return l.b.TLU(name(v), x, tables, tableOf, dlo, drop, method), true
}

// concat lowers a concatenation whose operands may mix circuit values and
// constants (constants become biases).
func (l *lowerer) concat(v *ir.Value) (rt.ValueID, bool) {
	shape := v.Type.Shape
	axis := int(v.Int("axis", 0))
	if axis < 0 {
		axis += len(shape)
	}
	outer := ir.ShapeSize(shape[:axis])
	inner := ir.ShapeSize(shape[axis+1:])
	var ins []rt.ValueID
	base := make([]int, len(v.Args)) // offset of each dynamic operand in the concatenated input
	off := 0
	for i, a := range v.Args {
		if l.constOf(a) == nil {
			ins = append(ins, l.dyn(a))
			base[i] = off
			off += a.Type.Size()
		}
	}
	size := ir.ShapeSize(shape)
	rowPtr := make([]int32, 1, size+1)
	var src []int32
	var w []int64
	bias := make([]int64, 0, size)
	for o := 0; o < outer; o++ {
		for i, a := range v.Args {
			span := a.Type.Shape[axis] * inner
			c := l.constOf(a)
			for k := 0; k < span; k++ {
				j := o*span + k
				if c != nil {
					bias = append(bias, c.I[j])
				} else {
					src = append(src, int32(base[i]+j))
					w = append(w, 1)
					bias = append(bias, 0)
				}
				rowPtr = append(rowPtr, int32(len(src)))
			}
		}
	}
	return l.b.Linear(name(v), ins, shape, rowPtr, src, w, bias), true
}

// satShl returns x·2^k, saturating at the int64 bounds.
func satShl(x int64, k int) int64 {
	switch {
	case x > math.MaxInt64>>k:
		return math.MaxInt64
	case x < math.MinInt64>>k:
		return math.MinInt64
	}
	return x << k
}

package quant

import (
	"math"
	"strings"

	"github.com/fheir/fheir/ir"
)

// LowerQAT rewrites f, a float function holding fake quantization
// (quantize → dequantize pairs), in place into fheir's integer IR: every
// encrypted parameter (every parameter, when none is declared encrypted)
// is a float input followed by its quantizer,
// every mixing op reads integers, and only univariate float regions
// (dequantize → element-wise ops → quantize) and float ops after the last
// dequantize of a result remain. See the package documentation for the
// rewrite rules. Errors name the ONNX node and carry the codes of this
// package (MissingQuantizer, UnquantizedWeight, UnsupportedQuantization)
// or ir's BadConstant; several are reported at once.
func LowerQAT(f *ir.Func) error {
	l := newLowering(f)
	l.markSecret()
	if err := l.foldClear(true); err != nil {
		return err
	}
	l.forward()
	if len(l.errs) > 0 {
		return l.errs.Err()
	}
	if err := l.foldClear(false); err != nil {
		return err
	}
	removeDead(f)
	l.checkFloatRegions()
	if len(l.errs) > 0 {
		return l.errs.Err()
	}
	f.Renumber()
	return ir.Verify(f)
}

// HasQuantizers reports whether f holds a quantize op, i.e. whether it is
// a QAT graph.
func HasQuantizers(f *ir.Func) bool {
	for _, v := range f.Body {
		if v.Op == ir.OpQuantize {
			return true
		}
	}
	return false
}

type lowering struct {
	f     *ir.Func
	users map[*ir.Value][]*ir.Value // of the body before forward
	body  []*ir.Value               // the body being built by forward
	rng   map[*ir.Value]ir.Range
	root  map[*ir.Value]*ir.Value
	errs  ir.ErrorList
}

func newLowering(f *ir.Func) *lowering {
	return &lowering{f: f, rng: make(map[*ir.Value]ir.Range), root: make(map[*ir.Value]*ir.Value)}
}

// markSecret propagates secrecy from the parameters: a value is encrypted
// iff one of its operands is. Parameters keep their declared secrecy
// (frontend/onnx makes inputs encrypted unless told otherwise), except that
// a function without any encrypted parameter gets all of them encrypted: a
// float graph written with tensor<...> inputs means "the model's inputs".
func (l *lowering) markSecret() {
	any := false
	for _, p := range l.f.Params {
		any = any || p.Type.Secret
	}
	for _, p := range l.f.Params {
		p.Type.Secret = p.Type.Secret || !any
	}
	for _, v := range l.f.Body {
		s := false
		for _, a := range v.Args {
			s = s || a.Type.Secret
		}
		v.Type.Secret = s && v.Op != ir.OpConst
	}
}

// foldClear replaces every clear op on constants by its constant value,
// computed with ir's interpreter. With keepDequant, dequantize ops on
// constants stay: they carry the scales of quantized weights.
func (l *lowering) foldClear(keepDequant bool) error {
	repl := make(map[*ir.Value]*ir.Value)
	for _, v := range l.f.Body {
		for i, a := range v.Args {
			if r, ok := repl[a]; ok {
				v.Args[i] = r
			}
		}
		if v.Op == ir.OpConst || v.Type.Secret || len(v.Args) == 0 || keepDequant && v.Op == ir.OpDequantize {
			continue
		}
		args := make([]*ir.Tensor, len(v.Args))
		elems := make([]ir.Elem, len(v.Args))
		ok := true
		for i, a := range v.Args {
			args[i], elems[i] = a.ConstValue(), a.Type.Elem
			ok = ok && args[i] != nil
		}
		if !ok {
			continue
		}
		t, err := evalOp(v.Op, v.Attrs, v.Type, args, elems)
		if err != nil {
			return errAt(v, ir.BadConstant, "folding a clear op: %v", err)
		}
		v.Op, v.Args = ir.OpConst, nil
		v.Attrs = ir.Attrs{ir.TensorAttrOf("value", v.Type.Elem, t)}
		v.Type.Secret = false
	}
	for i, r := range l.f.Results {
		if w, ok := repl[r]; ok {
			l.f.Results[i] = w
		}
	}
	return nil
}

// forward visits the body in order; visit returns each value's
// replacement, emitting new values before it.
func (l *lowering) forward() {
	old := l.f.Body
	l.users = l.f.Uses()
	l.body = make([]*ir.Value, 0, len(old))
	repl := make(map[*ir.Value]*ir.Value)
	for _, v := range old {
		for i, a := range v.Args {
			if r, ok := repl[a]; ok {
				v.Args[i] = r
			}
		}
		w := l.visit(v)
		if w == nil || w == v {
			l.body = append(l.body, v)
			continue
		}
		repl[v] = w
	}
	for i, r := range l.f.Results {
		if w, ok := repl[r]; ok {
			l.f.Results[i] = w
		}
	}
	l.f.Body = l.body
}

// visit returns the replacement of v (v itself when unchanged, nil after
// recording an error).
func (l *lowering) visit(v *ir.Value) *ir.Value {
	switch {
	case v.Op == ir.OpClip && !v.Type.Elem.Float && v.Args[0].Op == ir.OpQuantize:
		return l.mergeClip(v)
	case v.Op == ir.OpQuantize:
		return l.hoistQuantize(v)
	case !v.Type.Secret || !v.Type.Elem.Float:
		return v
	case isTransparent(v.Op):
		if w := l.sink(v); w != v || !isPermutation(v.Op) || l.feedsQuantizersOnly(v) {
			return w // a quantizer below will hoist over v
		}
		if w := l.pushThrough(v, 0); w != nil {
			return w
		}
		return v
	case isMixing(v.Op):
		return l.lowerMixing(v)
	}
	if !isUnivariateOp(v.Op) {
		return v // checked by checkFloatRegions
	}
	if v.Op == ir.OpMul || v.Op == ir.OpDiv {
		if w := l.foldScale(v); w != nil {
			return w
		}
	}
	secret := 0
	for _, a := range v.Args {
		if a.Type.Secret {
			secret++
		}
	}
	if secret < 2 || l.rootOf(v) != v {
		return v // univariate: fuse-tlu's business
	}
	switch v.Op {
	case ir.OpAdd, ir.OpSub:
		return l.lowerAddSub(v)
	case ir.OpMul:
		return l.lowerMul(v)
	}
	var from []string
	for _, a := range v.Args {
		if a.Type.Secret {
			from = append(from, describe(a))
		}
	}
	l.errs = append(l.errs, errAt(v, UnsupportedQuantization, "%s of encrypted tensors computed from different quantized values (%s) is not supported; only add, sub, mul and concat combine them", v.Op, strings.Join(from, ", ")))
	return nil
}

// rootOf returns the value that v is an element-wise function of: the
// integer read by a dequantize, or the first value up v's operands that is
// a parameter, a quantizer, a non-element-wise op (a mixing op, a pooling)
// or an element-wise op of several different roots. Two encrypted operands
// with the same root make a univariate op (one table for fuse-tlu),
// different roots a mixing one.
func (l *lowering) rootOf(v *ir.Value) *ir.Value {
	if r, ok := l.root[v]; ok {
		return r
	}
	r := v
	switch {
	case v.Op == ir.OpDequantize:
		// A region reads one integer: the dequantized value itself.
		r = v.Args[0]
	case v.Op == ir.OpQuantize:
		// A quantizer's output is a new integer, the input of later regions.
	case v.Type.Secret && isElementwise(v.Op):
		var common *ir.Value
		for _, a := range v.Args {
			if !a.Type.Secret {
				continue
			}
			ra := l.rootOf(a)
			if common == nil {
				common = ra
			} else if common != ra {
				common = nil
				break
			}
		}
		if common != nil && ir.SameShape(common.Type.Shape, v.Type.Shape) {
			r = common
		}
	}
	l.root[v] = r
	return r
}

// rangeOf returns the known range of an integer value.
func (l *lowering) rangeOf(v *ir.Value) ir.Range {
	if r, ok := l.rng[v]; ok {
		return r
	}
	if v.Range != nil {
		return *v.Range
	}
	switch v.Op {
	case ir.OpQuantize:
		return ir.Range{Lo: v.Int("qmin", 0), Hi: v.Int("qmax", 0)}
	case ir.OpConst:
		if t := v.ConstValue(); t != nil && !t.Float {
			return tensorRange(t)
		}
	}
	return v.Type.Elem.Range()
}

// emit appends a new value to the body being built.
func (l *lowering) emit(op ir.Op, t ir.Type, args []*ir.Value, attrs ir.Attrs, loc string) *ir.Value {
	v := &ir.Value{ID: -1, Op: op, Type: t, Args: args, Attrs: attrs, Loc: loc}
	l.body = append(l.body, v)
	return v
}

// emitInt appends an integer op whose result lies in r; its type is the
// narrowest holding r, encrypted iff an operand is.
func (l *lowering) emitInt(op ir.Op, shape []int, args []*ir.Value, attrs ir.Attrs, loc string, r ir.Range) *ir.Value {
	secret := false
	for _, a := range args {
		secret = secret || a.Type.Secret
	}
	v := l.emit(op, ir.Type{Elem: elemFor(r), Shape: shape, Secret: secret}, args, attrs, loc)
	l.rng[v] = r
	return v
}

// emitDequant appends dequantize(q) with float element type fe.
func (l *lowering) emitDequant(q *ir.Value, scale []float64, zp []int64, axis int, fe ir.Elem, loc string) *ir.Value {
	if axis >= 0 && len(scale) == 1 {
		axis = -1
	}
	t := ir.Type{Elem: fe, Shape: q.Type.Shape, Secret: q.Type.Secret}
	return l.emit(ir.OpDequantize, t, []*ir.Value{q}, quantAttrs(scale, zp, axis, false, 0, 0), loc)
}

// emitQuant appends quantize(x) to [qmin, qmax].
func (l *lowering) emitQuant(x *ir.Value, scale []float64, zp []int64, axis int, qmin, qmax int64, loc string) *ir.Value {
	r := ir.Range{Lo: qmin, Hi: qmax}
	t := ir.Type{Elem: elemFor(r), Shape: x.Type.Shape, Secret: x.Type.Secret}
	v := l.emit(ir.OpQuantize, t, []*ir.Value{x}, quantAttrs(scale, zp, axis, true, qmin, qmax), loc)
	l.rng[v] = r
	return v
}

// constInt appends an integer constant of the narrowest type.
func (l *lowering) constInt(t *ir.Tensor) *ir.Value {
	r := tensorRange(t)
	e := elemFor(r)
	v := l.emit(ir.OpConst, ir.TensorOf(e, t.Shape...), nil, ir.Attrs{ir.TensorAttrOf("value", e, t)}, "")
	l.rng[v] = r
	return v
}

// subZP returns q − zero point (q itself when the zero points are 0).
func (l *lowering) subZP(qi qinfo, loc string) *ir.Value {
	zlo, zhi := int64(math.MaxInt64), int64(math.MinInt64)
	for _, z := range qi.zp {
		zlo, zhi = min(zlo, z), max(zhi, z)
	}
	if zlo == 0 && zhi == 0 {
		return qi.q
	}
	var zt *ir.Tensor
	if qi.axis < 0 {
		zt = ir.NewInts([]int{}, []int64{qi.zp[0]})
	} else {
		zt = ir.NewInts(channelShape(len(qi.q.Type.Shape), qi.axis, len(qi.zp)), append([]int64{}, qi.zp...))
	}
	z := l.constInt(zt)
	r := l.rangeOf(qi.q)
	return l.emitInt(ir.OpSub, qi.q.Type.Shape, []*ir.Value{qi.q, z}, nil, loc, ir.Range{Lo: r.Lo - zhi, Hi: r.Hi - zlo})
}

// rescale returns an integer value with zero point 0 and scale s that
// approximates the float value x = dequantize(qi): exactly q − zp when qi
// already has scale s, otherwise a requantization (a dequantize → quantize
// region that fuse-tlu turns into a table; it rounds to the nearest
// multiple of s).
func (l *lowering) rescale(x *ir.Value, qi qinfo, s float64, loc string) *ir.Value {
	if qi.axis < 0 && qi.scale[0] == s {
		return l.subZP(qi, loc)
	}
	r := l.rangeOf(qi.q)
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for c := range qi.scale {
		a := int64(roundHalfEven(float64(r.Lo-qi.zp[c]) * qi.scale[c] / s))
		b := int64(roundHalfEven(float64(r.Hi-qi.zp[c]) * qi.scale[c] / s))
		lo, hi = min(lo, a, b), max(hi, a, b)
	}
	// One step of slack on each side: the interpreter rounds the float
	// dequantized value, which may land on the other side of a tie.
	return l.emitQuant(x, []float64{s}, []int64{0}, -1, lo-1, hi+1, loc)
}

// mergeClip folds an integer clip of a quantize (QCDQ's Clip) into the
// quantize's bounds.
func (l *lowering) mergeClip(v *ir.Value) *ir.Value {
	q := v.Args[0]
	lo, hi := q.Int("qmin", 0), q.Int("qmax", 0)
	if m := v.Float("min", math.Inf(-1)); m > float64(lo) {
		lo = int64(math.Ceil(m))
	}
	if m := v.Float("max", math.Inf(1)); m < float64(hi) {
		hi = int64(math.Floor(m))
	}
	if lo > hi {
		l.errs = append(l.errs, errAt(v, UnsupportedQuantization, "clip bounds [%v,%v] leave no value of the quantizer's range [%d,%d]", v.Float("min", 0), v.Float("max", 0), q.Int("qmin", 0), q.Int("qmax", 0)))
		return nil
	}
	return l.emitQuant(q.Args[0], q.Floats("scale"), q.Ints("zero_point", nil), int(q.Int("axis", -1)), lo, hi, q.Loc)
}

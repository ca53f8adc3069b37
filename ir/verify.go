package ir

import "fmt"

// MaxTLUBits is the widest integer a table lookup on encrypted data may read.
const MaxTLUBits = 16

// Verify checks f against the op table: operand counts, attributes, element
// kinds, shapes, bit widths, range facts and secrecy. It returns an
// ErrorList naming each bad value's position (when parsed) or source node.
func Verify(f *Func) error {
	vr := &verifier{f: f, defined: make(map[*Value]bool)}
	vr.run()
	return vr.errs.Err()
}

type verifier struct {
	f       *Func
	defined map[*Value]bool
	errs    ErrorList
}

func (vr *verifier) errorf(v *Value, code Code, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if v.Pos.Line == 0 && v.ID >= 0 {
		msg = fmt.Sprintf("v%d (%s): %s", v.ID, v.Op, msg)
	}
	vr.errs = append(vr.errs, &Error{Pos: v.Pos, Loc: v.Loc, Code: code, Msg: msg})
}

func (vr *verifier) run() {
	f := vr.f
	for _, p := range f.Params {
		if p.Op != OpParam {
			vr.errorf(p, BadOrder, "parameter has op %s", p.Op)
		}
		vr.checkType(p)
		vr.defined[p] = true
	}
	for _, v := range f.Body {
		vr.value(v)
		vr.defined[v] = true
	}
	if len(f.Results) == 0 {
		vr.errs = append(vr.errs, &Error{Pos: f.Pos, Code: BadOperandCount, Msg: fmt.Sprintf("function %s returns nothing", f.Name)})
	}
	for _, r := range f.Results {
		if !vr.defined[r] {
			vr.errs = append(vr.errs, &Error{Pos: f.Pos, Code: UndefinedValue, Msg: "result is not defined in the function"})
		}
	}
}

func (vr *verifier) checkType(v *Value) bool {
	e := v.Type.Elem
	if e.Float && e.Bits != 32 && e.Bits != 64 || !e.Float && (e.Bits < 1 || e.Bits > 64) {
		vr.errorf(v, BadBitWidth, "bad element type %s", e)
		return false
	}
	for _, d := range v.Type.Shape {
		if d < 0 {
			vr.errorf(v, ShapeMismatch, "negative dimension in %s", v.Type)
			return false
		}
	}
	if v.Range != nil {
		if e.Float {
			vr.errorf(v, RangeViolation, "float value has a range fact")
		} else if v.Range.Lo > v.Range.Hi || v.Range.Lo < e.Min() || v.Range.Hi > e.Max() {
			vr.errorf(v, RangeViolation, "range [%d,%d] does not fit %s", v.Range.Lo, v.Range.Hi, e)
		}
	}
	return true
}

func (vr *verifier) value(v *Value) {
	info := v.Op.Info()
	if v.Op == OpInvalid || v.Op == OpParam || v.Op >= numOps {
		vr.errorf(v, UnknownOp, "bad op %d in body", v.Op)
		return
	}
	if !vr.checkType(v) {
		return
	}
	// Operands.
	switch {
	case info.NArgs >= 0 && len(v.Args) != info.NArgs:
		vr.errorf(v, BadOperandCount, "%s takes %d operands, got %d", v.Op, info.NArgs, len(v.Args))
		return
	case info.NArgs < 0 && len(v.Args) < info.MinArgs:
		vr.errorf(v, BadOperandCount, "%s takes at least %d operands, got %d", v.Op, info.MinArgs, len(v.Args))
		return
	}
	for i, a := range v.Args {
		if a == nil || !vr.defined[a] {
			vr.errorf(v, UndefinedValue, "operand %d is not defined before use", i)
			return
		}
	}
	// Attributes.
	ok := true
	for _, a := range v.Attrs {
		var spec *AttrSpec
		for i := range info.Attrs {
			if info.Attrs[i].Name == a.Name {
				spec = &info.Attrs[i]
			}
		}
		if v.Op == OpConst && a.Name == "value" {
			continue
		}
		if spec == nil {
			vr.errorf(v, BadAttribute, "%s has no attribute %q", v.Op, a.Name)
			ok = false
		} else if spec.Kind != a.Kind {
			vr.errorf(v, BadAttribute, "attribute %q has the wrong kind", a.Name)
			ok = false
		}
	}
	for _, s := range info.Attrs {
		if !s.Optional && v.Attrs.Get(s.Name) == nil {
			vr.errorf(v, BadAttribute, "%s needs attribute %q", v.Op, s.Name)
			ok = false
		}
	}
	if !ok {
		return
	}
	// Secrecy: a result is encrypted iff an operand is.
	secret := false
	for _, a := range v.Args {
		secret = secret || a.Type.Secret
	}
	if v.Op == OpConst {
		if v.Type.Secret {
			vr.errorf(v, SecrecyViolation, "a constant cannot be encrypted")
		}
		t := v.ConstValue()
		if t == nil || t.Float != v.Type.Elem.Float || t.Len() != v.Type.Size() {
			vr.errorf(v, BadConstant, "constant data does not match %s", v.Type)
		} else if !t.Float {
			for _, x := range t.I {
				if x < v.Type.Elem.Min() || x > v.Type.Elem.Max() {
					vr.errorf(v, BadConstant, "constant %d does not fit %s", x, v.Type.Elem)
					break
				}
			}
		}
		return
	}
	if secret != v.Type.Secret {
		if secret {
			vr.errorf(v, SecrecyViolation, "result of %s on encrypted operands must be enc<...>, got %s", v.Op, v.Type)
		} else {
			vr.errorf(v, SecrecyViolation, "result of %s on clear operands must be tensor<...>, got %s", v.Op, v.Type)
		}
	}
	// Element kinds.
	if !vr.elems(v) {
		return
	}
	// Shape.
	shape, err := InferShape(v)
	if err != nil {
		vr.errorf(v, ShapeMismatch, "%v", err)
		return
	}
	if !SameShape(shape, v.Type.Shape) {
		vr.errorf(v, ShapeMismatch, "result shape is %v, want %v", v.Type.Shape, shape)
		return
	}
	vr.opRules(v)
}

func (vr *verifier) elems(v *Value) bool {
	info := v.Op.Info()
	re := v.Type.Elem
	for i, a := range v.Args {
		ae := a.Type.Elem
		switch {
		case info.FloatOnly && !ae.Float:
			vr.errorf(v, TypeMismatch, "%s operand %d must be float, got %s", v.Op, i, ae)
			return false
		case info.IntOnly && ae.Float:
			vr.errorf(v, TypeMismatch, "%s operand %d must be an integer, got %s", v.Op, i, ae)
			return false
		}
	}
	switch v.Op {
	case OpQuantize:
		if !v.Args[0].Type.Elem.Float || re.Float {
			vr.errorf(v, TypeMismatch, "quantize maps float to integer, got %s to %s", v.Args[0].Type.Elem, re)
			return false
		}
		return true
	case OpDequantize:
		if v.Args[0].Type.Elem.Float || !re.Float {
			vr.errorf(v, TypeMismatch, "dequantize maps integer to float, got %s to %s", v.Args[0].Type.Elem, re)
			return false
		}
		return true
	case OpCast, OpConst, OpTLU, OpRound:
		if re.Float && v.Op != OpCast && v.Op != OpConst {
			vr.errorf(v, TypeMismatch, "%s result must be an integer, got %s", v.Op, re)
			return false
		}
		return true
	case OpWhere:
		if v.Args[1].Type.Elem.Float != re.Float || v.Args[2].Type.Elem.Float != re.Float {
			vr.errorf(v, TypeMismatch, "where branches and result must all be float or all integer")
			return false
		}
		return true
	}
	if info.Class == ClassCompare {
		if v.Args[0].Type.Elem.Float != v.Args[1].Type.Elem.Float {
			vr.errorf(v, TypeMismatch, "%s operands must both be float or both integer", v.Op)
			return false
		}
		return true
	}
	for i, a := range v.Args {
		if i == 1 && v.Op == OpPow {
			continue
		}
		if a.Type.Elem.Float != re.Float {
			vr.errorf(v, TypeMismatch, "%s mixes float and integer: operand %d is %s, result %s", v.Op, i, a.Type.Elem, re)
			return false
		}
	}
	return true
}

func (vr *verifier) opRules(v *Value) {
	switch v.Op {
	case OpQuantize, OpDequantize:
		s, z := v.Floats("scale"), v.Ints("zero_point", nil)
		axis := v.Int("axis", -1)
		n := 1
		if axis >= 0 {
			if int(axis) >= len(v.Type.Shape) {
				vr.errorf(v, BadAttribute, "axis %d out of range for %s", axis, v.Type)
				return
			}
			n = v.Type.Shape[axis]
		}
		if len(s) != n || len(z) != n {
			vr.errorf(v, BadAttribute, "%s needs %d scales and zero points, got %d and %d", v.Op, n, len(s), len(z))
			return
		}
		for _, x := range s {
			if !(x > 0) {
				vr.errorf(v, BadAttribute, "scale %v must be positive", x)
				return
			}
		}
		if v.Op == OpQuantize {
			lo, hi := v.Int("qmin", 0), v.Int("qmax", 0)
			e := v.Type.Elem
			if lo > hi || lo < e.Min() || hi > e.Max() {
				vr.errorf(v, BadAttribute, "[qmin,qmax] = [%d,%d] does not fit %s", lo, hi, e)
			}
		}
	case OpRound:
		k := v.Int("bits", 0)
		in := v.Args[0].Type.Elem
		if k < 1 || k >= int64(in.Bits) {
			vr.errorf(v, BadAttribute, "round drops %d bits of a %s, want 1..%d", k, in, in.Bits-1)
		}
		if m := v.Str("method", "exact"); m != "exact" && m != "approximate" {
			vr.errorf(v, BadAttribute, "round method %q: want exact or approximate", m)
		}
	case OpTLU:
		vr.tlu(v)
	}
}

func (vr *verifier) tlu(v *Value) {
	in := v.Args[0]
	if in.Type.Secret && int(in.Type.Elem.Bits) > MaxTLUBits {
		vr.errorf(v, AccumulatorTooWide, "table lookup reads a %d-bit encrypted integer, max %d: lower n_bits or set rounding_threshold_bits", in.Type.Elem.Bits, MaxTLUBits)
		return
	}
	t := v.TensorAttr("table")
	if t.Float {
		vr.errorf(v, BadAttribute, "tlu table must hold integers")
		return
	}
	axis := v.Int("axis", -1)
	var n int
	switch {
	case axis < 0 && len(t.Shape) == 1:
		n = t.Shape[0]
	case axis >= 0 && len(t.Shape) == 2:
		if int(axis) >= len(in.Type.Shape) || in.Type.Shape[axis] != t.Shape[0] {
			vr.errorf(v, BadAttribute, "per-channel table has %d rows, want the size of axis %d of %v", t.Shape[0], axis, in.Type.Shape)
			return
		}
		n = t.Shape[1]
	default:
		vr.errorf(v, BadAttribute, "tlu table shape %v: want [n] (axis=-1) or [C,n] (axis>=0)", t.Shape)
		return
	}
	dom := in.Type.Elem.Range()
	if in.Range != nil {
		dom = *in.Range
	}
	lo := v.Int("lo", 0)
	if dom.Lo < lo || dom.Hi > lo+int64(n)-1 {
		vr.errorf(v, BadAttribute, "table covers [%d,%d], input may be in [%d,%d]", lo, lo+int64(n)-1, dom.Lo, dom.Hi)
		return
	}
	e := v.Type.Elem
	for _, x := range t.I {
		if x < e.Min() || x > e.Max() {
			vr.errorf(v, BadAttribute, "table entry %d does not fit result type %s", x, e)
			return
		}
	}
}

package ir

import (
	"fmt"
	"math"
)

// Run interprets f on the given inputs (one tensor per parameter, float for
// float parameters, integer for integer ones) and returns the results. It is
// the semantic reference for every pass and for the runtime's clear mode.
// Integer results are checked against their types: a value that does not fit
// its declared width is an error (RangeViolation) naming the value, so an
// unsound narrowing is caught rather than silently wrapped.
func Run(f *Func, inputs []*Tensor) ([]*Tensor, error) {
	env, err := Eval(f, inputs)
	if err != nil {
		return nil, err
	}
	out := make([]*Tensor, len(f.Results))
	for i, r := range f.Results {
		out[i] = env[r]
	}
	return out, nil
}

// Eval is Run returning the tensor of every value.
func Eval(f *Func, inputs []*Tensor) (map[*Value]*Tensor, error) {
	if len(inputs) != len(f.Params) {
		return nil, fmt.Errorf("function %s takes %d inputs, got %d", f.Name, len(f.Params), len(inputs))
	}
	env := make(map[*Value]*Tensor, len(f.Params)+len(f.Body))
	for i, p := range f.Params {
		in := inputs[i]
		if in == nil || !SameShape(in.Shape, p.Type.Shape) || in.Len() != p.Type.Size() {
			return nil, fmt.Errorf("input %d (%s): got shape %v, want %v", i, p.Loc, shapeOf(in), p.Type.Shape)
		}
		switch {
		case p.Type.Elem.Float && !in.Float:
			in = NewFloats(in.Shape, in.Floats())
		case !p.Type.Elem.Float && in.Float:
			return nil, fmt.Errorf("input %d (%s): got floats, want integers of type %s", i, p.Loc, p.Type)
		}
		if err := checkFits(p, in); err != nil {
			return nil, err
		}
		env[p] = in
	}
	for _, v := range f.Body {
		args := make([]*Tensor, len(v.Args))
		for i, a := range v.Args {
			args[i] = env[a]
			if args[i] == nil {
				return nil, valueErr(v, UndefinedValue, "operand %d has no value", i)
			}
		}
		t, err := evalValue(v, args)
		if err != nil {
			return nil, err
		}
		if err := checkFits(v, t); err != nil {
			return nil, err
		}
		env[v] = t
	}
	return env, nil
}

func shapeOf(t *Tensor) []int {
	if t == nil {
		return nil
	}
	return t.Shape
}

func valueErr(v *Value, code Code, format string, args ...any) *Error {
	return &Error{Pos: v.Pos, Loc: v.Loc, Code: code, Msg: fmt.Sprintf("v%d (%s): ", v.ID, v.Op) + fmt.Sprintf(format, args...)}
}

func checkFits(v *Value, t *Tensor) error {
	if t.Float {
		return nil
	}
	e := v.Type.Elem
	lo, hi := e.Min(), e.Max()
	for i, x := range t.I {
		if x < lo || x > hi {
			return valueErr(v, RangeViolation, "element %d = %d does not fit %s", i, x, e)
		}
	}
	return nil
}

func evalValue(v *Value, args []*Tensor) (*Tensor, error) {
	shape, err := InferShape(v)
	if err != nil {
		return nil, valueErr(v, ShapeMismatch, "%v", err)
	}
	float := v.Type.Elem.Float
	var t *Tensor
	switch info := v.Op.Info(); info.Class {
	case ClassSpecial:
		if c := v.ConstValue(); c != nil {
			return c, nil
		}
		return nil, valueErr(v, BadConstant, "constant without data")
	case ClassUnary:
		t = evalUnary(v, args[0], float)
	case ClassBinary, ClassCompare:
		t, err = evalBinary(v, args[0], args[1], shape, float)
	case ClassTernary:
		t = evalWhere(args, shape, float)
	case ClassQuant:
		t, err = evalQuant(v, args[0])
	case ClassLinear:
		t, err = evalLinear(v, args, shape, float)
	case ClassShape:
		t, err = evalShape(v, args, shape)
	}
	if err != nil {
		return nil, err
	}
	if float && v.Type.Elem.Bits == 32 {
		for i, x := range t.F {
			t.F[i] = float64(float32(x))
		}
	}
	return t, nil
}

func unaryFloat(v *Value) func(float64) float64 {
	switch v.Op {
	case OpNeg:
		return func(x float64) float64 { return -x }
	case OpAbs:
		return math.Abs
	case OpSign:
		return func(x float64) float64 {
			switch {
			case x > 0:
				return 1
			case x < 0:
				return -1
			}
			return x
		}
	case OpRelu:
		return func(x float64) float64 { return math.Max(x, 0) }
	case OpClip:
		lo, hi := v.Float("min", math.Inf(-1)), v.Float("max", math.Inf(1))
		return func(x float64) float64 { return math.Min(math.Max(x, lo), hi) }
	case OpFloor:
		return math.Floor
	case OpCeil:
		return math.Ceil
	case OpFRound:
		return math.RoundToEven
	case OpNot:
		return func(x float64) float64 { return b2f(x == 0) }
	case OpSigmoid:
		return sigmoid
	case OpTanh:
		return math.Tanh
	case OpExp:
		return math.Exp
	case OpLog:
		return math.Log
	case OpSqrt:
		return math.Sqrt
	case OpReciprocal:
		return func(x float64) float64 { return 1 / x }
	case OpErf:
		return math.Erf
	case OpGelu:
		if v.Str("approximate", "none") == "tanh" {
			return func(x float64) float64 {
				return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
			}
		}
		return func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }
	case OpElu:
		a := v.Float("alpha", 1)
		return func(x float64) float64 {
			if x > 0 {
				return x
			}
			return a * (math.Exp(x) - 1)
		}
	case OpCelu:
		a := v.Float("alpha", 1)
		return func(x float64) float64 { return math.Max(0, x) + math.Min(0, a*(math.Exp(x/a)-1)) }
	case OpSelu:
		a, g := v.Float("alpha", 1.67326319217681884765625), v.Float("gamma", 1.05070102214813232421875)
		return func(x float64) float64 {
			if x > 0 {
				return g * x
			}
			return g * a * (math.Exp(x) - 1)
		}
	case OpLeakyRelu:
		a := v.Float("alpha", 0.01)
		return func(x float64) float64 {
			if x >= 0 {
				return x
			}
			return a * x
		}
	case OpHardSigmoid:
		a, b := v.Float("alpha", 0.2), v.Float("beta", 0.5)
		return func(x float64) float64 { return math.Max(0, math.Min(1, a*x+b)) }
	case OpHardSwish:
		return func(x float64) float64 { return x * math.Max(0, math.Min(1, x/6+0.5)) }
	case OpSoftplus:
		return softplus
	case OpSoftsign:
		return func(x float64) float64 { return x / (1 + math.Abs(x)) }
	case OpMish:
		return func(x float64) float64 { return x * math.Tanh(softplus(x)) }
	case OpSilu:
		return func(x float64) float64 { return x * sigmoid(x) }
	case OpLogSigmoid:
		return func(x float64) float64 { return -softplus(-x) }
	case OpTanhShrink:
		return func(x float64) float64 { return x - math.Tanh(x) }
	case OpShrink:
		l, b := v.Float("lambd", 0.5), v.Float("bias", 0)
		return func(x float64) float64 {
			switch {
			case x < -l:
				return x + b
			case x > l:
				return x - b
			}
			return 0
		}
	case OpThreshold:
		th, val := v.Float("threshold", 0), v.Float("value", 0)
		return func(x float64) float64 {
			if x > th {
				return x
			}
			return val
		}
	}
	panic("BUG: no unary rule for " + v.Op.String())
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func softplus(x float64) float64 {
	if x > 30 {
		return x
	}
	return math.Log1p(math.Exp(x))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func evalUnary(v *Value, x *Tensor, float bool) *Tensor {
	fn := unaryFloat(v)
	if float {
		out := NewFloats(x.Shape, nil)
		for i, a := range x.F {
			out.F[i] = fn(a)
		}
		return out
	}
	// Integer unary ops (neg, abs, sign, relu, clip, not) are exact on int64
	// values below 2^53, which every fheir integer is.
	out := NewInts(x.Shape, nil)
	for i, a := range x.I {
		out.I[i] = int64(fn(float64(a)))
	}
	return out
}

func evalBinary(v *Value, a, b *Tensor, shape []int, float bool) (*Tensor, error) {
	ia, ib := broadcastIndex(a.Shape, shape), broadcastIndex(b.Shape, shape)
	n := ShapeSize(shape)
	if float || a.Float || b.Float {
		fn := binaryFloat(v.Op)
		res := make([]float64, n)
		for k := range res {
			res[k] = fn(a.At(ia[k]), b.At(ib[k]))
		}
		if float {
			return NewFloats(shape, res), nil
		}
		out := NewInts(shape, nil)
		for k, x := range res {
			out.I[k] = int64(x)
		}
		return out, nil
	}
	out := NewInts(shape, nil)
	for k := range out.I {
		x, y := a.I[ia[k]], b.I[ib[k]]
		var r int64
		switch v.Op {
		case OpAdd:
			r = x + y
		case OpSub:
			r = x - y
		case OpMul:
			r = x * y
		case OpDiv:
			if y == 0 {
				return nil, valueErr(v, RangeViolation, "integer division by zero")
			}
			r = x / y
		case OpMod:
			if y == 0 {
				return nil, valueErr(v, RangeViolation, "integer modulo by zero")
			}
			r = x % y
			if r != 0 && (r < 0) != (y < 0) {
				r += y
			}
		case OpMin:
			r = min(x, y)
		case OpMax:
			r = max(x, y)
		default:
			r = int64(binaryFloat(v.Op)(float64(x), float64(y)))
		}
		out.I[k] = r
	}
	return out, nil
}

func binaryFloat(op Op) func(x, y float64) float64 {
	switch op {
	case OpAdd:
		return func(x, y float64) float64 { return x + y }
	case OpSub:
		return func(x, y float64) float64 { return x - y }
	case OpMul:
		return func(x, y float64) float64 { return x * y }
	case OpDiv:
		return func(x, y float64) float64 { return x / y }
	case OpMin:
		return func(x, y float64) float64 {
			if x != x || y != y {
				return math.NaN()
			}
			return math.Min(x, y)
		}
	case OpMax:
		return func(x, y float64) float64 {
			if x != x || y != y {
				return math.NaN()
			}
			return math.Max(x, y)
		}
	case OpPow:
		return math.Pow
	case OpMod:
		return math.Mod
	case OpAnd:
		return func(x, y float64) float64 { return b2f(x != 0 && y != 0) }
	case OpOr:
		return func(x, y float64) float64 { return b2f(x != 0 || y != 0) }
	case OpXor:
		return func(x, y float64) float64 { return b2f((x != 0) != (y != 0)) }
	case OpLess:
		return func(x, y float64) float64 { return b2f(x < y) }
	case OpLessEq:
		return func(x, y float64) float64 { return b2f(x <= y) }
	case OpGreater:
		return func(x, y float64) float64 { return b2f(x > y) }
	case OpGreaterEq:
		return func(x, y float64) float64 { return b2f(x >= y) }
	case OpEqual:
		return func(x, y float64) float64 { return b2f(x == y) }
	}
	panic("BUG: no binary rule for " + op.String())
}

func evalWhere(args []*Tensor, shape []int, float bool) *Tensor {
	ic, ia, ib := broadcastIndex(args[0].Shape, shape), broadcastIndex(args[1].Shape, shape), broadcastIndex(args[2].Shape, shape)
	n := ShapeSize(shape)
	if float {
		out := NewFloats(shape, nil)
		for k := 0; k < n; k++ {
			if args[0].At(ic[k]) != 0 {
				out.F[k] = args[1].At(ia[k])
			} else {
				out.F[k] = args[2].At(ib[k])
			}
		}
		return out
	}
	out := NewInts(shape, nil)
	for k := 0; k < n; k++ {
		if args[0].At(ic[k]) != 0 {
			out.I[k] = args[1].I[ia[k]]
		} else {
			out.I[k] = args[2].I[ib[k]]
		}
	}
	return out
}

// channelOf returns, for each flat index of shape, its index along axis.
func channelOf(shape []int, axis int) []int {
	n := ShapeSize(shape)
	ch := make([]int, n)
	if axis < 0 {
		return ch
	}
	st := Strides(shape)
	for k := range ch {
		ch[k] = (k / st[axis]) % shape[axis]
	}
	return ch
}

func evalQuant(v *Value, x *Tensor) (*Tensor, error) {
	switch v.Op {
	case OpQuantize:
		s, z := v.Floats("scale"), v.Ints("zero_point", nil)
		ch := channelOf(x.Shape, int(v.Int("axis", -1)))
		lo, hi := v.Int("qmin", 0), v.Int("qmax", 0)
		out := NewInts(x.Shape, nil)
		for k, a := range x.F {
			q := math.RoundToEven(a/s[ch[k]]) + float64(z[ch[k]])
			switch {
			case q != q:
				return nil, valueErr(v, RangeViolation, "quantize of NaN at element %d", k)
			case q < float64(lo):
				q = float64(lo)
			case q > float64(hi):
				q = float64(hi)
			}
			out.I[k] = int64(q)
		}
		return out, nil
	case OpDequantize:
		s, z := v.Floats("scale"), v.Ints("zero_point", nil)
		ch := channelOf(x.Shape, int(v.Int("axis", -1)))
		out := NewFloats(x.Shape, nil)
		for k, a := range x.I {
			out.F[k] = float64(a-z[ch[k]]) * s[ch[k]]
		}
		return out, nil
	case OpRound:
		k := uint(v.Int("bits", 1))
		out := NewInts(x.Shape, nil)
		for i, a := range x.I {
			out.I[i] = (a + 1<<(k-1)) >> k
		}
		return out, nil
	case OpTLU:
		t := v.TensorAttr("table")
		lo := v.Int("lo", 0)
		axis := int(v.Int("axis", -1))
		n := t.Shape[len(t.Shape)-1]
		ch := channelOf(x.Shape, axis)
		out := NewInts(x.Shape, nil)
		for i, a := range x.I {
			j := a - lo
			if j < 0 || j >= int64(n) {
				return nil, valueErr(v, RangeViolation, "input %d at element %d is outside the table's domain [%d,%d]", a, i, lo, lo+int64(n)-1)
			}
			out.I[i] = t.I[ch[i]*n+int(j)]
		}
		return out, nil
	case OpCast:
		if v.Type.Elem.Float {
			return NewFloats(x.Shape, append([]float64{}, x.Floats()...)), nil
		}
		out := NewInts(x.Shape, nil)
		for i := range out.I {
			if x.Float {
				f := math.Trunc(x.F[i])
				if f != f || f < -(1<<62) || f > 1<<62 {
					return nil, valueErr(v, RangeViolation, "cast of %v to %s", x.F[i], v.Type.Elem)
				}
				out.I[i] = int64(f)
			} else {
				out.I[i] = x.I[i]
			}
		}
		return out, nil
	}
	panic("BUG: no quant rule for " + v.Op.String())
}

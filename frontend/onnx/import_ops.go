package onnx

import (
	"math"

	"github.com/fheir/fheir/ir"
)

// lowerFunc lowers one node; in holds the node's inputs (zero val for an
// omitted optional one); the result has one val per node output.
type lowerFunc func(b *importer, n *Node, in []val) ([]val, error)

var lowerers map[string]lowerFunc

func init() {
	lowerers = map[string]lowerFunc{
		"Identity": lowerIdentity, "Dropout": lowerIdentity,

		"Abs": unop(ir.OpAbs), "Neg": unop(ir.OpNeg), "Sign": unop(ir.OpSign),
		"Relu": unop(ir.OpRelu), "Floor": unop(ir.OpFloor), "Ceil": unop(ir.OpCeil),
		"Round": unop(ir.OpFRound), "Not": unop(ir.OpNot), "Sigmoid": unop(ir.OpSigmoid),
		"Tanh": unop(ir.OpTanh), "Exp": unop(ir.OpExp), "Log": unop(ir.OpLog),
		"Sqrt": unop(ir.OpSqrt), "Reciprocal": unop(ir.OpReciprocal), "Erf": unop(ir.OpErf),
		"Softplus": unop(ir.OpSoftplus), "Softsign": unop(ir.OpSoftsign),
		"HardSwish": unop(ir.OpHardSwish), "Mish": unop(ir.OpMish),
		"Elu":         unop(ir.OpElu, fattr{"alpha", "alpha", 1}),
		"Celu":        unop(ir.OpCelu, fattr{"alpha", "alpha", 1}),
		"Selu":        unop(ir.OpSelu, fattr{"alpha", "alpha", 1.67326319217681884765625}, fattr{"gamma", "gamma", 1.05070102214813232421875}),
		"LeakyRelu":   unop(ir.OpLeakyRelu, fattr{"alpha", "alpha", 0.01}),
		"HardSigmoid": unop(ir.OpHardSigmoid, fattr{"alpha", "alpha", 0.2}, fattr{"beta", "beta", 0.5}),
		"Shrink":      unop(ir.OpShrink, fattr{"lambd", "lambd", 0.5}, fattr{"bias", "bias", 0}),
		"ThresholdedRelu": func(b *importer, n *Node, in []val) ([]val, error) {
			alpha := n.Float("alpha", 1)
			v, err := b.emit(ir.OpThreshold, in[0].v.Type.Elem, nil, []*ir.Value{in[0].v},
				ir.FloatAttr("threshold", f32Round(alpha)), ir.FloatAttr("value", 0))
			return one(v, in[0].dt), err
		},
		"Gelu": func(b *importer, n *Node, in []val) ([]val, error) {
			approx := n.Str("approximate", "none")
			if approx != "none" && approx != "tanh" {
				return nil, errorf(BadNode, "approximate %q: want none or tanh", approx)
			}
			v, err := b.emit(ir.OpGelu, in[0].v.Type.Elem, nil, []*ir.Value{in[0].v}, ir.StrAttr("approximate", approx))
			return one(v, in[0].dt), err
		},
		"Clip":  lowerClip,
		"PRelu": lowerPRelu,

		"Add": binop(ir.OpAdd, false), "Sub": binop(ir.OpSub, false), "Mul": binop(ir.OpMul, false),
		"Div": binop(ir.OpDiv, false), "Pow": lowerPow, "Mod": lowerMod,
		"And": binop(ir.OpAnd, true), "Or": binop(ir.OpOr, true), "Xor": binop(ir.OpXor, true),
		"Less": binop(ir.OpLess, true), "LessOrEqual": binop(ir.OpLessEq, true),
		"Greater": binop(ir.OpGreater, true), "GreaterOrEqual": binop(ir.OpGreaterEq, true),
		"Equal": binop(ir.OpEqual, true),
		"Max":   variadic(ir.OpMax), "Min": variadic(ir.OpMin), "Sum": variadic(ir.OpAdd), "Mean": lowerMean,
		"Where": lowerWhere,

		"MatMul": lowerMatMul, "Gemm": lowerGemm, "Conv": lowerConv, "ConvTranspose": lowerConvTranspose,
		"AveragePool": lowerAveragePool, "MaxPool": lowerMaxPool,
		"GlobalAveragePool": lowerGlobalPool(ir.OpReduceMean), "GlobalMaxPool": lowerGlobalPool(ir.OpReduceMax),
		"BatchNormalization": lowerBatchNorm, "LayerNormalization": lowerLayerNorm,
		"InstanceNormalization": lowerInstanceNorm, "GroupNormalization": lowerGroupNorm,
		"ReduceSum": lowerReduce(ir.OpReduceSum, 13), "ReduceMean": lowerReduce(ir.OpReduceMean, 18),
		"ReduceMax": lowerReduce(ir.OpReduceMax, 18), "ReduceMin": lowerReduce(ir.OpReduceMax, 18),
		"ReduceSumSquare": lowerReduce(ir.OpReduceSum, 18),
		"Softmax":         lowerSoftmax, "LogSoftmax": lowerSoftmax,

		"Reshape": lowerReshape, "Flatten": lowerFlatten, "Squeeze": lowerSqueeze, "Unsqueeze": lowerUnsqueeze,
		"Transpose": lowerTranspose, "Concat": lowerConcat, "Slice": lowerSlice, "Pad": lowerPad,
		"MatMulInteger": lowerMatMulInteger, "ConvInteger": lowerConvInteger, "LRN": lowerLRN,
		"Resize": lowerResize, "Upsample": lowerResize,
		"ScatterND": lowerScatterND, "ScatterElements": lowerScatterElements,
		"GatherElements": lowerGatherElements, "GatherND": lowerGatherND,
		"Expand": lowerExpand, "Tile": lowerTile, "Gather": lowerGather, "Split": lowerSplit,
		"DepthToSpace": lowerDepthToSpace, "SpaceToDepth": lowerSpaceToDepth,

		"Cast": lowerCast, "CastLike": lowerCast,
		"Constant": lowerConstant, "ConstantOfShape": lowerConstantOfShape,
		"Shape": lowerShape, "Size": lowerSize, "Range": lowerRange,

		"QuantizeLinear": lowerQuantizeLinear, "DequantizeLinear": lowerDequantizeLinear,
		"If":    lowerIf,
		"Quant": lowerQuant, "IntQuant": lowerQuant, "Trunc": lowerTrunc, "BipolarQuant": lowerBipolarQuant,
	}
}

func one(v *ir.Value, dt DType) []val {
	if v == nil {
		return nil
	}
	return []val{{v, dt}}
}

func need(n *Node, in []val, k int) error {
	for i := 0; i < k; i++ {
		if i >= len(in) || in[i].v == nil {
			return errorf(BadNode, "got %d inputs, want at least %d", len(n.Inputs), k)
		}
	}
	return nil
}

func lowerIdentity(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 1); err != nil {
		return nil, err
	}
	if n.OpType == "Dropout" && len(n.Outputs) > 1 && n.Outputs[1] != "" {
		return nil, errorf(UnsupportedOp, "unsupported op: Dropout mask output")
	}
	return in[:1], nil
}

// fattr copies float attribute onnx (default def) to IR attribute name.
type fattr struct {
	onnx, name string
	def        float64
}

func unop(op ir.Op, attrs ...fattr) lowerFunc {
	return func(b *importer, n *Node, in []val) ([]val, error) {
		if err := need(n, in, 1); err != nil {
			return nil, err
		}
		var as []ir.Attr
		for _, a := range attrs {
			// ONNX float attributes are float32.
			as = append(as, ir.FloatAttr(a.name, f32Round(n.Float(a.onnx, a.def))))
		}
		x := in[0]
		if op.Info().FloatOnly && !x.v.Type.Elem.Float {
			return nil, errorf(UnsupportedOp, "unsupported op on %v input", x.dt)
		}
		v, err := b.emit(op, x.v.Type.Elem, nil, []*ir.Value{x.v}, as...)
		return one(v, x.dt), err
	}
}

func binop(op ir.Op, boolResult bool) lowerFunc {
	return func(b *importer, n *Node, in []val) ([]val, error) {
		if err := need(n, in, 2); err != nil {
			return nil, err
		}
		if in[0].v.Type.Elem.Float != in[1].v.Type.Elem.Float {
			return nil, errorf(BadNode, "operands are %v and %v", in[0].dt, in[1].dt)
		}
		e, dt := in[0].v.Type.Elem, in[0].dt
		if boolResult {
			e, dt = ir.Uint(1), Bool
		}
		v, err := b.emit(op, e, nil, []*ir.Value{in[0].v, in[1].v})
		return one(v, dt), err
	}
}

func variadic(op ir.Op) lowerFunc {
	return func(b *importer, n *Node, in []val) ([]val, error) {
		if err := need(n, in, 1); err != nil {
			return nil, err
		}
		acc := in[0]
		for _, x := range in[1:] {
			v, err := b.emit(op, acc.v.Type.Elem, nil, []*ir.Value{acc.v, x.v})
			if err != nil {
				return nil, err
			}
			acc = val{v, acc.dt}
		}
		return []val{acc}, nil
	}
}

func lowerMean(b *importer, n *Node, in []val) ([]val, error) {
	s, err := variadic(ir.OpAdd)(b, n, in)
	if err != nil || len(in) == 1 {
		return s, err
	}
	x := s[0].v
	v, err := b.emit(ir.OpDiv, x.Type.Elem, nil, []*ir.Value{x, b.scalarLike(x, float64(len(in)))})
	return one(v, s[0].dt), err
}

func lowerPow(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 2); err != nil {
		return nil, err
	}
	x, y := in[0].v, in[1].v
	toF := func(v *ir.Value, e ir.Elem) (*ir.Value, error) {
		if v.Type.Elem == e {
			return v, nil
		}
		return b.emit(ir.OpCast, e, append([]int{}, v.Type.Shape...), []*ir.Value{v})
	}
	// Integer powers are computed in float64, exact below 2^53, and
	// truncated back like ONNX's reference.
	fe := x.Type.Elem
	if !fe.Float {
		fe = ir.F64
	}
	xf, err := toF(x, fe)
	if err != nil {
		return nil, err
	}
	yf, err := toF(y, fe)
	if err != nil {
		return nil, err
	}
	v, err := b.emit(ir.OpPow, fe, nil, []*ir.Value{xf, yf})
	if err == nil && !x.Type.Elem.Float {
		v, err = b.emit(ir.OpCast, x.Type.Elem, append([]int{}, v.Type.Shape...), []*ir.Value{v})
	}
	return one(v, in[0].dt), err
}

func lowerMod(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 2); err != nil {
		return nil, err
	}
	fmod := n.Int("fmod", 0)
	if in[0].v.Type.Elem.Float != (fmod == 1) {
		return nil, errorf(UnsupportedOp, "unsupported op: Mod with fmod=%d on %v", fmod, in[0].dt)
	}
	v, err := b.emit(ir.OpMod, in[0].v.Type.Elem, nil, []*ir.Value{in[0].v, in[1].v})
	return one(v, in[0].dt), err
}

func lowerWhere(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 3); err != nil {
		return nil, err
	}
	v, err := b.emit(ir.OpWhere, in[1].v.Type.Elem, nil, []*ir.Value{in[0].v, in[1].v, in[2].v})
	return one(v, in[1].dt), err
}

func lowerClip(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	lo, hi := math.Inf(-1), math.Inf(1)
	if b.m.Opset("") < 11 {
		lo, hi = n.Float("min", -math.MaxFloat32), n.Float("max", math.MaxFloat32)
	} else {
		// Bounds are inputs; constant ones become attributes, others min/max ops.
		v := x.v
		for i, op := range []ir.Op{ir.OpMax, ir.OpMin} {
			bv, ok, err := b.input(n, i+1)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			if c := constOf(bv); c != nil && c.Len() == 1 {
				if i == 0 {
					lo = c.At(0)
				} else {
					hi = c.At(0)
				}
				continue
			}
			if v, err = b.emit(op, v.Type.Elem, nil, []*ir.Value{v, bv.v}); err != nil {
				return nil, err
			}
		}
		x = val{v, x.dt}
	}
	var as []ir.Attr
	if !math.IsInf(lo, -1) {
		as = append(as, ir.FloatAttr("min", lo))
	}
	if !math.IsInf(hi, 1) {
		as = append(as, ir.FloatAttr("max", hi))
	}
	if len(as) == 0 {
		return []val{x}, nil
	}
	v, err := b.emit(ir.OpClip, x.v.Type.Elem, nil, []*ir.Value{x.v}, as...)
	return one(v, x.dt), err
}

func lowerPRelu(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 2); err != nil {
		return nil, err
	}
	x, slope := in[0].v, in[1].v
	neg, err := b.emit(ir.OpLess, ir.Uint(1), nil, []*ir.Value{x, b.scalarLike(x, 0)})
	if err != nil {
		return nil, err
	}
	m, err := b.emit(ir.OpMul, x.Type.Elem, nil, []*ir.Value{x, slope})
	if err != nil {
		return nil, err
	}
	v, err := b.emit(ir.OpWhere, x.Type.Elem, nil, []*ir.Value{neg, m, x})
	return one(v, in[0].dt), err
}

func lowerMatMul(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 2); err != nil {
		return nil, err
	}
	v, err := b.emit(ir.OpMatMul, in[0].v.Type.Elem, nil, []*ir.Value{in[0].v, in[1].v})
	return one(v, in[0].dt), err
}

func lowerGemm(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 2); err != nil {
		return nil, err
	}
	alpha, beta := f32Round(n.Float("alpha", 1)), f32Round(n.Float("beta", 1))
	ta, tb := n.Int("transA", 0), n.Int("transB", 0)
	x := in[0].v
	e := x.Type.Elem
	args := []*ir.Value{x, in[1].v}
	var c *ir.Value
	if len(in) > 2 && in[2].v != nil && beta != 0 {
		c = in[2].v
		if beta != 1 {
			var err error
			if c, err = b.emit(ir.OpMul, e, nil, []*ir.Value{c, b.scalarLike(c, beta)}); err != nil {
				return nil, err
			}
		}
		if alpha == 1 {
			args = append(args, c)
		}
	}
	v, err := b.emit(ir.OpGemm, e, nil, args, ir.IntAttr("trans_a", ta), ir.IntAttr("trans_b", tb))
	if err != nil {
		return nil, err
	}
	if alpha != 1 {
		if v, err = b.emit(ir.OpMul, e, nil, []*ir.Value{v, b.scalarLike(v, alpha)}); err != nil {
			return nil, err
		}
		if c != nil {
			if v, err = b.emit(ir.OpAdd, e, nil, []*ir.Value{v, c}); err != nil {
				return nil, err
			}
		}
	}
	return one(v, in[0].dt), nil
}

// windowAttrs reads kernel/strides/dilations/pads of a conv or pool node
// with spatial input shape sp, resolving auto_pad.
func windowAttrs(n *Node, sp []int, kernel []int64) (strides, dil, pads []int64, err error) {
	ns := len(sp)
	ones := func() []int64 {
		s := make([]int64, ns)
		for i := range s {
			s[i] = 1
		}
		return s
	}
	strides = n.Ints("strides", ones())
	dil = n.Ints("dilations", ones())
	pads = n.Ints("pads", make([]int64, 2*ns))
	if len(strides) != ns || len(dil) != ns || len(pads) != 2*ns || len(kernel) != ns {
		return nil, nil, nil, errorf(BadNode, "strides %v, dilations %v, pads %v or kernel %v do not fit %d spatial dimensions", strides, dil, pads, kernel, ns)
	}
	switch ap := n.Str("auto_pad", "NOTSET"); ap {
	case "NOTSET":
	case "VALID":
		pads = make([]int64, 2*ns)
	case "SAME_UPPER", "SAME_LOWER":
		pads = make([]int64, 2*ns)
		for i := 0; i < ns; i++ {
			s := strides[i]
			out := (int64(sp[i]) + s - 1) / s
			total := max(0, (out-1)*s+(kernel[i]-1)*dil[i]+1-int64(sp[i]))
			lo := total / 2
			if ap == "SAME_LOWER" {
				lo = total - total/2
			}
			pads[i], pads[i+ns] = lo, total-lo
		}
	default:
		return nil, nil, nil, errorf(BadNode, "auto_pad %q: want NOTSET, VALID, SAME_UPPER or SAME_LOWER", ap)
	}
	return strides, dil, pads, nil
}

func lowerConv(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 2); err != nil {
		return nil, err
	}
	x, w := in[0].v, in[1].v
	if len(x.Type.Shape) < 3 || len(w.Type.Shape) != len(x.Type.Shape) {
		return nil, errorf(BadNode, "input %v and weight %v: want N-d tensors of equal rank >= 3", x.Type.Shape, w.Type.Shape)
	}
	var kernel []int64
	for _, d := range w.Type.Shape[2:] {
		kernel = append(kernel, int64(d))
	}
	st, dl, pd, err := windowAttrs(n, x.Type.Shape[2:], kernel)
	if err != nil {
		return nil, err
	}
	args := []*ir.Value{x, w}
	if len(in) > 2 && in[2].v != nil {
		args = append(args, in[2].v)
	}
	v, err := b.emit(ir.OpConv, x.Type.Elem, nil, args, ir.IntsAttr("strides", st), ir.IntsAttr("pads", pd),
		ir.IntsAttr("dilations", dl), ir.IntAttr("group", n.Int("group", 1)))
	return one(v, in[0].dt), err
}

func poolAttrs(n *Node, x *ir.Value) (k, st, dl, pd []int64, err error) {
	k = n.Ints("kernel_shape", nil)
	if len(x.Type.Shape) < 3 || len(k) != len(x.Type.Shape)-2 {
		return nil, nil, nil, nil, errorf(BadNode, "kernel_shape %v does not fit input %v", k, x.Type.Shape)
	}
	st, dl, pd, err = windowAttrs(n, x.Type.Shape[2:], k)
	return
}

func lowerMaxPool(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 1); err != nil {
		return nil, err
	}
	if len(n.Outputs) > 1 && n.Outputs[1] != "" {
		return nil, errorf(UnsupportedOp, "unsupported op: MaxPool Indices output")
	}
	x := in[0].v
	k, st, dl, pd, err := poolAttrs(n, x)
	if err != nil {
		return nil, err
	}
	v, err := b.emit(ir.OpMaxPool, x.Type.Elem, nil, []*ir.Value{x}, ir.IntsAttr("kernel", k), ir.IntsAttr("strides", st),
		ir.IntsAttr("pads", pd), ir.IntsAttr("dilations", dl), ir.IntAttr("ceil_mode", n.Int("ceil_mode", 0)))
	return one(v, in[0].dt), err
}

func lowerAveragePool(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 1); err != nil {
		return nil, err
	}
	x := in[0].v
	k, st, dl, pd, err := poolAttrs(n, x)
	if err != nil {
		return nil, err
	}
	ceil := n.Int("ceil_mode", 0)
	dilated := false
	for _, d := range dl {
		dilated = dilated || d != 1
	}
	var sum *ir.Value
	if !dilated {
		sum, err = b.emit(ir.OpSumPool, x.Type.Elem, nil, []*ir.Value{x}, ir.IntsAttr("kernel", k),
			ir.IntsAttr("strides", st), ir.IntsAttr("pads", pd), ir.IntAttr("ceil_mode", ceil))
	} else {
		// A dilated window sum is a depthwise convolution with ones. The
		// extra windows of ceil_mode read zeros padded at the end.
		ns := len(k)
		cp := append([]int64{}, pd...)
		if ceil != 0 {
			for i := 0; i < ns; i++ {
				in := int64(x.Type.Shape[i+2])
				ext := dl[i]*(k[i]-1) + 1
				num := in + pd[i] + pd[i+ns] - ext
				if num < 0 {
					continue
				}
				out := (num+st[i]-1)/st[i] + 1
				if (out-1)*st[i] >= in+pd[i] { // the last window must start inside
					out--
				}
				cp[i+ns] += max(0, (out-1)*st[i]+ext-(in+pd[i]+pd[i+ns]))
			}
		}
		c := x.Type.Shape[1]
		ws := []int{c, 1}
		for _, d := range k {
			ws = append(ws, int(d))
		}
		w := b.constF(x.Type.Elem, ws, fill(ir.ShapeSize(ws), 1)...)
		sum, err = b.emit(ir.OpConv, x.Type.Elem, nil, []*ir.Value{x, w}, ir.IntsAttr("strides", st),
			ir.IntsAttr("pads", cp), ir.IntsAttr("dilations", dl), ir.IntAttr("group", int64(c)))
	}
	if err != nil {
		return nil, err
	}
	// The divisor of each window: how many of its taps fall on the input
	// (count_include_pad=0) or on the input and its explicit padding (=1).
	outSp := sum.Type.Shape[2:]
	inSp := x.Type.Shape[2:]
	ns := len(outSp)
	withPad := n.Int("count_include_pad", 0) != 0
	perAxis := make([][]float64, ns)
	for a := 0; a < ns; a++ {
		lo, hi := int64(0), int64(inSp[a])
		if withPad {
			lo, hi = -pd[a], int64(inSp[a])+pd[a+ns]
		}
		for o := 0; o < outSp[a]; o++ {
			start := int64(o)*st[a] - pd[a]
			c := 0.0
			for j := int64(0); j < k[a]; j++ {
				if p := start + j*dl[a]; p >= lo && p < hi {
					c++
				}
			}
			perAxis[a] = append(perAxis[a], c)
		}
	}
	cs := append([]int{1, 1}, outSp...)
	cnt := make([]float64, ir.ShapeSize(cs))
	strides := ir.Strides(outSp)
	for i := range cnt {
		c := 1.0
		for a := 0; a < ns; a++ {
			c *= perAxis[a][i/strides[a]%outSp[a]]
		}
		cnt[i] = c
	}
	v, err := b.emit(ir.OpDiv, x.Type.Elem, nil, []*ir.Value{sum, b.constF(x.Type.Elem, cs, cnt...)})
	return one(v, in[0].dt), err
}

func fill(n int, x float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = x
	}
	return s
}

func lowerGlobalPool(op ir.Op) lowerFunc {
	return func(b *importer, n *Node, in []val) ([]val, error) {
		if err := need(n, in, 1); err != nil {
			return nil, err
		}
		x := in[0].v
		var axes []int64
		for i := 2; i < len(x.Type.Shape); i++ {
			axes = append(axes, int64(i))
		}
		v, err := b.emit(op, x.Type.Elem, nil, []*ir.Value{x}, ir.IntsAttr("axes", axes), ir.IntAttr("keepdims", 1))
		return one(v, in[0].dt), err
	}
}

// channelShape returns [C, 1, ..., 1] for broadcasting a per-channel
// vector against an NC... tensor of the given rank.
func channelShape(c, rank int) []int {
	s := []int{c}
	for i := 2; i < rank; i++ {
		s = append(s, 1)
	}
	return s
}

func (b *importer) reshape(x *ir.Value, shape []int) (*ir.Value, error) {
	if ir.SameShape(x.Type.Shape, shape) {
		return x, nil
	}
	return b.emit(ir.OpReshape, x.Type.Elem, append([]int{}, shape...), []*ir.Value{x})
}

func lowerBatchNorm(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 5); err != nil {
		return nil, err
	}
	if n.Int("training_mode", 0) != 0 || (len(n.Outputs) > 1 && n.Outputs[1] != "") {
		return nil, errorf(UnsupportedOp, "unsupported op: BatchNormalization in training mode")
	}
	x := in[0].v
	e := x.Type.Elem
	if len(x.Type.Shape) < 2 {
		return nil, errorf(BadNode, "input has shape %v, want N x C x ...", x.Type.Shape)
	}
	cs := channelShape(x.Type.Shape[1], len(x.Type.Shape))
	p := make([]*ir.Value, 4)
	for i := range p {
		var err error
		if p[i], err = b.reshape(in[i+1].v, cs); err != nil {
			return nil, err
		}
	}
	eps := f32Round(n.Float("epsilon", 1e-5))
	// y = (x - mean) / sqrt(var + eps) * scale + bias = x*a + (bias - mean*a)
	ve, err := b.emit(ir.OpAdd, e, nil, []*ir.Value{p[3], b.constF(e, []int{}, eps)})
	if err != nil {
		return nil, err
	}
	sd, err := b.emit(ir.OpSqrt, e, nil, []*ir.Value{ve})
	if err != nil {
		return nil, err
	}
	a, err := b.emit(ir.OpDiv, e, nil, []*ir.Value{p[0], sd})
	if err != nil {
		return nil, err
	}
	d, err := b.emit(ir.OpSub, e, nil, []*ir.Value{x, p[2]})
	if err != nil {
		return nil, err
	}
	y, err := b.emit(ir.OpMul, e, nil, []*ir.Value{d, a})
	if err != nil {
		return nil, err
	}
	y, err = b.emit(ir.OpAdd, e, nil, []*ir.Value{y, p[1]})
	return one(y, in[0].dt), err
}

// normalize returns (x - mean(x)) / sqrt(var(x) + eps) over axes, and the
// mean and 1/sqrt(var+eps) with kept dimensions.
func (b *importer) normalize(x *ir.Value, axes []int64, eps float64) (y, mean, inv *ir.Value, err error) {
	e := x.Type.Elem
	ax := []ir.Attr{ir.IntsAttr("axes", axes), ir.IntAttr("keepdims", 1)}
	if mean, err = b.emit(ir.OpReduceMean, e, nil, []*ir.Value{x}, ax...); err != nil {
		return
	}
	d, err := b.emit(ir.OpSub, e, nil, []*ir.Value{x, mean})
	if err != nil {
		return
	}
	sq, err := b.emit(ir.OpMul, e, nil, []*ir.Value{d, d})
	if err != nil {
		return
	}
	vr, err := b.emit(ir.OpReduceMean, e, nil, []*ir.Value{sq}, ax...)
	if err != nil {
		return
	}
	ve, err := b.emit(ir.OpAdd, e, nil, []*ir.Value{vr, b.constF(e, []int{}, eps)})
	if err != nil {
		return
	}
	sd, err := b.emit(ir.OpSqrt, e, nil, []*ir.Value{ve})
	if err != nil {
		return
	}
	if inv, err = b.emit(ir.OpReciprocal, e, nil, []*ir.Value{sd}); err != nil {
		return
	}
	y, err = b.emit(ir.OpMul, e, nil, []*ir.Value{d, inv})
	return
}

func lowerLayerNorm(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 2); err != nil {
		return nil, err
	}
	x := in[0].v
	r := len(x.Type.Shape)
	axis, err := normAxis(n.Int("axis", -1), r)
	if err != nil {
		return nil, err
	}
	var axes []int64
	for i := axis; i < r; i++ {
		axes = append(axes, int64(i))
	}
	y, mean, inv, err := b.normalize(x, axes, f32Round(n.Float("epsilon", 1e-5)))
	if err != nil {
		return nil, err
	}
	if y, err = b.emit(ir.OpMul, x.Type.Elem, nil, []*ir.Value{y, in[1].v}); err != nil {
		return nil, err
	}
	if len(in) > 2 && in[2].v != nil {
		if y, err = b.emit(ir.OpAdd, x.Type.Elem, nil, []*ir.Value{y, in[2].v}); err != nil {
			return nil, err
		}
	}
	return []val{{y, in[0].dt}, {mean, in[0].dt}, {inv, in[0].dt}}, nil
}

func lowerInstanceNorm(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 3); err != nil {
		return nil, err
	}
	x := in[0].v
	r := len(x.Type.Shape)
	if r < 3 {
		return nil, errorf(BadNode, "input has shape %v, want N x C x D1 x ...", x.Type.Shape)
	}
	var axes []int64
	for i := 2; i < r; i++ {
		axes = append(axes, int64(i))
	}
	y, _, _, err := b.normalize(x, axes, f32Round(n.Float("epsilon", 1e-5)))
	if err != nil {
		return nil, err
	}
	cs := channelShape(x.Type.Shape[1], r)
	sc, err := b.reshape(in[1].v, cs)
	if err != nil {
		return nil, err
	}
	bi, err := b.reshape(in[2].v, cs)
	if err != nil {
		return nil, err
	}
	if y, err = b.emit(ir.OpMul, x.Type.Elem, nil, []*ir.Value{y, sc}); err != nil {
		return nil, err
	}
	y, err = b.emit(ir.OpAdd, x.Type.Elem, nil, []*ir.Value{y, bi})
	return one(y, in[0].dt), err
}

func normAxis(a int64, rank int) (int, error) {
	if a < 0 {
		a += int64(rank)
	}
	if a < 0 || a >= int64(max(rank, 1)) {
		return 0, errorf(BadNode, "axis %d out of range for rank %d", a, rank)
	}
	return int(a), nil
}

// axesInput reads the axes of a reduction or squeeze: attribute before
// opset inputFrom, input 1 from it on.
func (b *importer) axesInput(n *Node, inputFrom int64) ([]int64, bool, error) {
	if b.m.Opset("") < inputFrom {
		a := n.Ints("axes", nil)
		return a, a != nil, nil
	}
	return b.constInts(n, 1)
}

func lowerReduce(op ir.Op, axesInputFrom int64) lowerFunc {
	return func(b *importer, n *Node, in []val) ([]val, error) {
		if err := need(n, in, 1); err != nil {
			return nil, err
		}
		x := in[0].v
		axes, ok, err := b.axesInput(n, axesInputFrom)
		if err != nil {
			return nil, err
		}
		if ok && len(axes) == 0 && n.Int("noop_with_empty_axes", 0) != 0 {
			return in[:1], nil
		}
		attrs := []ir.Attr{ir.IntAttr("keepdims", n.Int("keepdims", 1))}
		if ok && len(axes) > 0 {
			attrs = append(attrs, ir.IntsAttr("axes", axes))
		}
		e := x.Type.Elem
		switch n.OpType {
		case "ReduceMin":
			if x, err = b.emit(ir.OpNeg, e, nil, []*ir.Value{x}); err != nil {
				return nil, err
			}
		case "ReduceSumSquare":
			if x, err = b.emit(ir.OpMul, e, nil, []*ir.Value{x, x}); err != nil {
				return nil, err
			}
		}
		v, err := b.emit(op, e, nil, []*ir.Value{x}, attrs...)
		if err == nil && n.OpType == "ReduceMin" {
			v, err = b.emit(ir.OpNeg, e, nil, []*ir.Value{v})
		}
		return one(v, in[0].dt), err
	}
}

func lowerSoftmax(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 1); err != nil {
		return nil, err
	}
	x := in[0].v
	shape := x.Type.Shape
	v, axis := x, n.Int("axis", -1)
	if b.m.Opset("") < 13 {
		// Before opset 13 the input is coerced to 2-d at axis (default 1).
		a, err := normAxis(n.Int("axis", 1), len(shape))
		if err != nil {
			return nil, err
		}
		if v, err = b.reshape(x, []int{ir.ShapeSize(shape[:a]), ir.ShapeSize(shape[a:])}); err != nil {
			return nil, err
		}
		axis = 1
	}
	var err error
	if n.OpType == "LogSoftmax" {
		v, err = b.logSoftmax(v, axis)
	} else {
		v, err = b.emit(ir.OpSoftmax, x.Type.Elem, nil, []*ir.Value{v}, ir.IntAttr("axis", axis))
	}
	if err == nil {
		v, err = b.reshape(v, shape)
	}
	return one(v, in[0].dt), err
}

// logSoftmax computes (x − max) − log Σ exp(x − max) along axis, which
// stays finite where log(softmax(x)) would underflow to −inf.
func (b *importer) logSoftmax(x *ir.Value, axis int64) (*ir.Value, error) {
	e := x.Type.Elem
	ax := []ir.Attr{ir.IntsAttr("axes", []int64{axis}), ir.IntAttr("keepdims", 1)}
	m, err := b.emit(ir.OpReduceMax, e, nil, []*ir.Value{x}, ax...)
	if err != nil {
		return nil, err
	}
	d, err := b.emit(ir.OpSub, e, nil, []*ir.Value{x, m})
	if err != nil {
		return nil, err
	}
	ex, err := b.emit(ir.OpExp, e, nil, []*ir.Value{d})
	if err != nil {
		return nil, err
	}
	s, err := b.emit(ir.OpReduceSum, e, nil, []*ir.Value{ex}, ax...)
	if err != nil {
		return nil, err
	}
	l, err := b.emit(ir.OpLog, e, nil, []*ir.Value{s})
	if err != nil {
		return nil, err
	}
	return b.emit(ir.OpSub, e, nil, []*ir.Value{d, l})
}

// lowerGroupNorm normalizes each group of C/G channels of each sample;
// scale and bias are per group before opset 21 and per channel from it.
func lowerGroupNorm(b *importer, n *Node, in []val) ([]val, error) {
	if err := need(n, in, 3); err != nil {
		return nil, err
	}
	x := in[0].v
	xs := x.Type.Shape
	g := int(n.Int("num_groups", 0))
	if len(xs) < 3 || g < 1 || xs[1]%g != 0 {
		return nil, errorf(BadNode, "num_groups %d does not divide the channels of %v", g, xs)
	}
	c := xs[1]
	grouped := []int{xs[0], g, c / g * ir.ShapeSize(xs[2:])}
	v, err := b.reshape(x, grouped)
	if err != nil {
		return nil, err
	}
	if v, _, _, err = b.normalize(v, []int64{2}, f32Round(n.Float("epsilon", 1e-5))); err != nil {
		return nil, err
	}
	e := x.Type.Elem
	sc, bi := in[1].v, in[2].v
	perGroup := b.m.Opset("") < 21
	if perGroup {
		if sc, err = b.reshape(sc, []int{g, 1}); err == nil {
			bi, err = b.reshape(bi, []int{g, 1})
		}
	} else {
		if v, err = b.reshape(v, xs); err == nil {
			if sc, err = b.reshape(sc, channelShape(c, len(xs))); err == nil {
				bi, err = b.reshape(bi, channelShape(c, len(xs)))
			}
		}
	}
	if err != nil {
		return nil, err
	}
	if v, err = b.emit(ir.OpMul, e, nil, []*ir.Value{v, sc}); err != nil {
		return nil, err
	}
	if v, err = b.emit(ir.OpAdd, e, nil, []*ir.Value{v, bi}); err != nil {
		return nil, err
	}
	v, err = b.reshape(v, xs)
	return one(v, in[0].dt), err
}

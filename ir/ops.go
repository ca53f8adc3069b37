package ir

// Op identifies an operation. Every op is declared once in opTable; the
// printer, parser, verifier and interpreter all read that table.
type Op uint8

// AttrKind is the kind of an attribute value.
type AttrKind uint8

// Attribute kinds. Example printed forms: 3, 0.5, [1, 2], [0.5, 0.25], "exact",
// <2x16xi64>[...].
const (
	AttrInt AttrKind = iota + 1
	AttrFloat
	AttrInts
	AttrFloats
	AttrString
	AttrTensor
)

// AttrSpec declares one attribute of an op. Optional attributes take Default
// (for scalar kinds) when absent.
type AttrSpec struct {
	Name     string
	Kind     AttrKind
	Optional bool
}

// OpClass groups ops that the verifier and interpreter treat alike.
type OpClass uint8

// Op classes.
const (
	ClassSpecial OpClass = iota // param, const
	ClassUnary                  // element-wise, one operand, same shape
	ClassBinary                 // element-wise, two operands, numpy broadcasting
	ClassCompare                // like ClassBinary, result is 0/1
	ClassTernary                // where
	ClassLinear                 // matmul, gemm, conv, pooling, reductions
	ClassShape                  // pure data movement
	ClassQuant                  // quantize, dequantize, round, tlu, cast
)

// OpInfo describes an op: its printed mnemonic, operand count, attributes,
// class and meaning.
type OpInfo struct {
	Name      string
	NArgs     int // exact operand count, or -1 for variadic (at least MinArgs)
	MinArgs   int
	Attrs     []AttrSpec
	Class     OpClass
	FloatOnly bool // operands and result must be float
	IntOnly   bool // operands and result must be integers
	// Univariate marks element-wise ops of one encrypted operand (other
	// operands clear constants) that fuse-tlu may absorb into a table.
	Univariate bool
	// Linear marks ops that are linear in their encrypted operand(s).
	Linear bool
	Doc    string
}

// Ops. The comment gives the semantics; Doc in the table repeats it for -help.
const (
	OpInvalid Op = iota
	OpParam      // function parameter (printed in the signature)
	OpConst      // v = const <T> [...]: a dense constant

	OpQuantize   // clamp(roundHalfEven(x/scale) + zp, qmin, qmax), float -> int
	OpDequantize // (x - zp) * scale, int -> float
	OpRound      // drop `bits` LSBs: (x + 2^(bits-1)) >> bits, exact or approximate
	OpTLU        // table[c][x - lo], c = channel along axis (or 0)
	OpCast       // convert element type (float -> int truncates toward zero)

	// Element-wise unary.
	OpNeg
	OpAbs
	OpSign
	OpRelu
	OpClip
	OpFloor
	OpCeil
	OpFRound // round half to even, on floats
	OpNot
	OpSigmoid
	OpTanh
	OpExp
	OpLog
	OpSqrt
	OpReciprocal
	OpErf
	OpGelu
	OpElu
	OpCelu
	OpSelu
	OpLeakyRelu
	OpHardSigmoid
	OpHardSwish
	OpSoftplus
	OpSoftsign
	OpMish
	OpSilu
	OpLogSigmoid
	OpTanhShrink
	OpShrink
	OpThreshold

	// Element-wise binary with broadcasting.
	OpAdd
	OpSub
	OpMul
	OpDiv
	OpMin
	OpMax
	OpPow
	OpMod
	OpAnd
	OpOr
	OpXor
	OpLess
	OpLessEq
	OpGreater
	OpGreaterEq
	OpEqual
	OpWhere

	// Contractions, pooling, reductions.
	OpMatMul
	OpGemm
	OpConv
	OpSumPool
	OpMaxPool
	OpReduceSum
	OpReduceMean
	OpReduceMax
	OpSoftmax

	// Shape ops.
	OpReshape
	OpTranspose
	OpConcat
	OpSlice
	OpPad
	OpBroadcast
	OpGather

	numOps
)

var opTable = [numOps]OpInfo{
	OpParam: {Name: "param", NArgs: 0, Class: ClassSpecial, Doc: "a function parameter"},
	OpConst: {Name: "const", NArgs: 0, Class: ClassSpecial, Doc: "a dense constant, printed in full"},

	OpQuantize: {Name: "quantize", NArgs: 1, Class: ClassQuant, Univariate: true,
		Attrs: []AttrSpec{{"scale", AttrFloats, false}, {"zero_point", AttrInts, false}, {"axis", AttrInt, true}, {"qmin", AttrInt, false}, {"qmax", AttrInt, false}},
		Doc:   "float to integer: clamp(roundHalfEven(x/scale)+zero_point, qmin, qmax); per-tensor (axis=-1) or per-channel"},
	OpDequantize: {Name: "dequantize", NArgs: 1, Class: ClassQuant, Univariate: true,
		Attrs: []AttrSpec{{"scale", AttrFloats, false}, {"zero_point", AttrInts, false}, {"axis", AttrInt, true}},
		Doc:   "integer to float: (x-zero_point)*scale"},
	OpRound: {Name: "round", NArgs: 1, Class: ClassQuant, IntOnly: true,
		Attrs: []AttrSpec{{"bits", AttrInt, false}, {"method", AttrString, true}},
		Doc:   "drop the `bits` least significant bits, rounding to nearest: (x + 2^(bits-1)) >> bits; method exact (default) or approximate (the backend may be off by one)"},
	OpTLU: {Name: "tlu", NArgs: 1, Class: ClassQuant, IntOnly: true,
		Attrs: []AttrSpec{{"lo", AttrInt, false}, {"axis", AttrInt, true}, {"table", AttrTensor, false}},
		Doc:   "table lookup: table[c][x-lo] where c is x's index along axis (table has shape [C,n]) or 0 (table has shape [n])"},
	OpCast: {Name: "cast", NArgs: 1, Class: ClassQuant, Doc: "convert to the result element type; float to int truncates toward zero"},

	OpNeg:         {Name: "neg", NArgs: 1, Class: ClassUnary, Univariate: true, Linear: true, Doc: "-x"},
	OpAbs:         {Name: "abs", NArgs: 1, Class: ClassUnary, Univariate: true, Doc: "|x|"},
	OpSign:        {Name: "sign", NArgs: 1, Class: ClassUnary, Univariate: true, Doc: "-1, 0 or 1"},
	OpRelu:        {Name: "relu", NArgs: 1, Class: ClassUnary, Univariate: true, Doc: "max(x, 0)"},
	OpClip:        {Name: "clip", NArgs: 1, Class: ClassUnary, Univariate: true, Attrs: []AttrSpec{{"min", AttrFloat, true}, {"max", AttrFloat, true}}, Doc: "min(max(x, min), max)"},
	OpFloor:       {Name: "floor", NArgs: 1, Class: ClassUnary, Univariate: true, FloatOnly: true, Doc: "floor(x)"},
	OpCeil:        {Name: "ceil", NArgs: 1, Class: ClassUnary, Univariate: true, FloatOnly: true, Doc: "ceil(x)"},
	OpFRound:      {Name: "fround", NArgs: 1, Class: ClassUnary, Univariate: true, FloatOnly: true, Doc: "round half to even"},
	OpNot:         {Name: "not", NArgs: 1, Class: ClassUnary, Univariate: true, Doc: "1 if x == 0 else 0"},
	OpSigmoid:     {Name: "sigmoid", NArgs: 1, Class: ClassUnary, Univariate: true, FloatOnly: true, Doc: "1/(1+exp(-x))"},
	OpTanh:        {Name: "tanh", NArgs: 1, Class: ClassUnary, Univariate: true, FloatOnly: true, Doc: "tanh(x)"},
	OpExp:         {Name: "exp", NArgs: 1, Class: ClassUnary, Univariate: true, FloatOnly: true, Doc: "exp(x)"},
	OpLog:         {Name: "log", NArgs: 1, Class: ClassUnary, Univariate: true, FloatOnly: true, Doc: "natural logarithm"},
	OpSqrt:        {Name: "sqrt", NArgs: 1, Class: ClassUnary, Univariate: true, FloatOnly: true, Doc: "square root"},
	OpReciprocal:  {Name: "reciprocal", NArgs: 1, Class: ClassUnary, Univariate: true, FloatOnly: true, Doc: "1/x"},
	OpErf:         {Name: "erf", NArgs: 1, Class: ClassUnary, Univariate: true, FloatOnly: true, Doc: "the error function"},
	OpGelu:        {Name: "gelu", NArgs: 1, Class: ClassUnary, Univariate: true, FloatOnly: true, Attrs: []AttrSpec{{"approximate", AttrString, true}}, Doc: "x*Phi(x); approximate=\"tanh\" uses the tanh formula"},
	OpElu:         {Name: "elu", NArgs: 1, Class: ClassUnary, Univariate: true, FloatOnly: true, Attrs: []AttrSpec{{"alpha", AttrFloat, true}}, Doc: "x if x>0 else alpha*(exp(x)-1)"},
	OpCelu:        {Name: "celu", NArgs: 1, Class: ClassUnary, Univariate: true, FloatOnly: true, Attrs: []AttrSpec{{"alpha", AttrFloat, true}}, Doc: "max(0,x)+min(0,alpha*(exp(x/alpha)-1))"},
	OpSelu:        {Name: "selu", NArgs: 1, Class: ClassUnary, Univariate: true, FloatOnly: true, Attrs: []AttrSpec{{"alpha", AttrFloat, true}, {"gamma", AttrFloat, true}}, Doc: "gamma*(x if x>0 else alpha*(exp(x)-1))"},
	OpLeakyRelu:   {Name: "leakyrelu", NArgs: 1, Class: ClassUnary, Univariate: true, FloatOnly: true, Attrs: []AttrSpec{{"alpha", AttrFloat, true}}, Doc: "x if x>=0 else alpha*x"},
	OpHardSigmoid: {Name: "hardsigmoid", NArgs: 1, Class: ClassUnary, Univariate: true, FloatOnly: true, Attrs: []AttrSpec{{"alpha", AttrFloat, true}, {"beta", AttrFloat, true}}, Doc: "max(0, min(1, alpha*x+beta))"},
	OpHardSwish:   {Name: "hardswish", NArgs: 1, Class: ClassUnary, Univariate: true, FloatOnly: true, Doc: "x*max(0, min(1, x/6+1/2))"},
	OpSoftplus:    {Name: "softplus", NArgs: 1, Class: ClassUnary, Univariate: true, FloatOnly: true, Doc: "log(1+exp(x))"},
	OpSoftsign:    {Name: "softsign", NArgs: 1, Class: ClassUnary, Univariate: true, FloatOnly: true, Doc: "x/(1+|x|)"},
	OpMish:        {Name: "mish", NArgs: 1, Class: ClassUnary, Univariate: true, FloatOnly: true, Doc: "x*tanh(softplus(x))"},
	OpSilu:        {Name: "silu", NArgs: 1, Class: ClassUnary, Univariate: true, FloatOnly: true, Doc: "x*sigmoid(x)"},
	OpLogSigmoid:  {Name: "logsigmoid", NArgs: 1, Class: ClassUnary, Univariate: true, FloatOnly: true, Doc: "log(sigmoid(x))"},
	OpTanhShrink:  {Name: "tanhshrink", NArgs: 1, Class: ClassUnary, Univariate: true, FloatOnly: true, Doc: "x-tanh(x)"},
	OpShrink:      {Name: "shrink", NArgs: 1, Class: ClassUnary, Univariate: true, FloatOnly: true, Attrs: []AttrSpec{{"lambd", AttrFloat, true}, {"bias", AttrFloat, true}}, Doc: "x+bias if x<-lambd, x-bias if x>lambd, else 0"},
	OpThreshold:   {Name: "threshold", NArgs: 1, Class: ClassUnary, Univariate: true, FloatOnly: true, Attrs: []AttrSpec{{"threshold", AttrFloat, false}, {"value", AttrFloat, false}}, Doc: "x if x>threshold else value"},

	OpAdd:       {Name: "add", NArgs: 2, Class: ClassBinary, Univariate: true, Linear: true, Doc: "x+y"},
	OpSub:       {Name: "sub", NArgs: 2, Class: ClassBinary, Univariate: true, Linear: true, Doc: "x-y"},
	OpMul:       {Name: "mul", NArgs: 2, Class: ClassBinary, Univariate: true, Linear: true, Doc: "x*y (linear when one side is clear)"},
	OpDiv:       {Name: "div", NArgs: 2, Class: ClassBinary, Univariate: true, Doc: "x/y (integers truncate toward zero)"},
	OpMin:       {Name: "min", NArgs: 2, Class: ClassBinary, Univariate: true, Doc: "min(x, y)"},
	OpMax:       {Name: "max", NArgs: 2, Class: ClassBinary, Univariate: true, Doc: "max(x, y)"},
	OpPow:       {Name: "pow", NArgs: 2, Class: ClassBinary, Univariate: true, FloatOnly: true, Doc: "x**y"},
	OpMod:       {Name: "mod", NArgs: 2, Class: ClassBinary, Univariate: true, Doc: "x mod y, sign of the divisor (floats: fmod, sign of the dividend)"},
	OpAnd:       {Name: "and", NArgs: 2, Class: ClassCompare, Univariate: true, Doc: "1 if x!=0 and y!=0"},
	OpOr:        {Name: "or", NArgs: 2, Class: ClassCompare, Univariate: true, Doc: "1 if x!=0 or y!=0"},
	OpXor:       {Name: "xor", NArgs: 2, Class: ClassCompare, Univariate: true, Doc: "1 if exactly one of x, y is non-zero"},
	OpLess:      {Name: "less", NArgs: 2, Class: ClassCompare, Univariate: true, Doc: "1 if x<y"},
	OpLessEq:    {Name: "less_equal", NArgs: 2, Class: ClassCompare, Univariate: true, Doc: "1 if x<=y"},
	OpGreater:   {Name: "greater", NArgs: 2, Class: ClassCompare, Univariate: true, Doc: "1 if x>y"},
	OpGreaterEq: {Name: "greater_equal", NArgs: 2, Class: ClassCompare, Univariate: true, Doc: "1 if x>=y"},
	OpEqual:     {Name: "equal", NArgs: 2, Class: ClassCompare, Univariate: true, Doc: "1 if x==y"},
	OpWhere:     {Name: "where", NArgs: 3, Class: ClassTernary, Univariate: true, Doc: "y if c!=0 else z (operands c, y, z broadcast)"},

	OpMatMul: {Name: "matmul", NArgs: 2, Class: ClassLinear, Linear: true, Doc: "numpy matmul (batched, 1-d operands promoted)"},
	OpGemm: {Name: "gemm", NArgs: -1, MinArgs: 2, Class: ClassLinear, Linear: true,
		Attrs: []AttrSpec{{"trans_a", AttrInt, true}, {"trans_b", AttrInt, true}},
		Doc:   "op(A)·op(B) [+ C], 2-d; op transposes when trans_a/trans_b is 1"},
	OpConv: {Name: "conv", NArgs: -1, MinArgs: 2, Class: ClassLinear, Linear: true,
		Attrs: []AttrSpec{{"strides", AttrInts, true}, {"pads", AttrInts, true}, {"dilations", AttrInts, true}, {"group", AttrInt, true}},
		Doc:   "N-d convolution (ONNX Conv, NC... layout): x, w [, bias]; pads = begins then ends"},
	OpSumPool: {Name: "sumpool", NArgs: 1, Class: ClassLinear, Linear: true,
		Attrs: []AttrSpec{{"kernel", AttrInts, false}, {"strides", AttrInts, true}, {"pads", AttrInts, true}, {"ceil_mode", AttrInt, true}},
		Doc:   "sum over each window (zero padding); average pooling is sumpool then a scale"},
	OpMaxPool: {Name: "maxpool", NArgs: 1, Class: ClassLinear,
		Attrs: []AttrSpec{{"kernel", AttrInts, false}, {"strides", AttrInts, true}, {"pads", AttrInts, true}, {"dilations", AttrInts, true}, {"ceil_mode", AttrInt, true}},
		Doc:   "max over each window (padding ignored)"},
	OpReduceSum:  {Name: "reduce_sum", NArgs: 1, Class: ClassLinear, Linear: true, Attrs: []AttrSpec{{"axes", AttrInts, true}, {"keepdims", AttrInt, true}}, Doc: "sum over axes (all when absent)"},
	OpReduceMean: {Name: "reduce_mean", NArgs: 1, Class: ClassLinear, FloatOnly: true, Attrs: []AttrSpec{{"axes", AttrInts, true}, {"keepdims", AttrInt, true}}, Doc: "mean over axes (all when absent)"},
	OpReduceMax:  {Name: "reduce_max", NArgs: 1, Class: ClassLinear, Attrs: []AttrSpec{{"axes", AttrInts, true}, {"keepdims", AttrInt, true}}, Doc: "max over axes (all when absent)"},
	OpSoftmax:    {Name: "softmax", NArgs: 1, Class: ClassLinear, FloatOnly: true, Attrs: []AttrSpec{{"axis", AttrInt, true}}, Doc: "softmax along axis (clear output side only)"},

	OpReshape:   {Name: "reshape", NArgs: 1, Class: ClassShape, Linear: true, Doc: "same elements, the result type's shape (also squeeze, unsqueeze, flatten)"},
	OpTranspose: {Name: "transpose", NArgs: 1, Class: ClassShape, Linear: true, Attrs: []AttrSpec{{"perm", AttrInts, false}}, Doc: "permute axes"},
	OpConcat:    {Name: "concat", NArgs: -1, MinArgs: 1, Class: ClassShape, Linear: true, Attrs: []AttrSpec{{"axis", AttrInt, false}}, Doc: "concatenate along axis"},
	OpSlice: {Name: "slice", NArgs: 1, Class: ClassShape, Linear: true,
		Attrs: []AttrSpec{{"starts", AttrInts, false}, {"ends", AttrInts, false}, {"axes", AttrInts, false}, {"steps", AttrInts, false}},
		Doc:   "strided slice, normalized bounds (0 <= start; end may be -1 with a negative step)"},
	OpPad: {Name: "pad", NArgs: 1, Class: ClassShape, Linear: true,
		Attrs: []AttrSpec{{"pads", AttrInts, false}, {"value", AttrFloat, true}, {"mode", AttrString, true}},
		Doc:   "pad with begins then ends per axis; mode constant (default), reflect or edge"},
	OpBroadcast: {Name: "broadcast", NArgs: 1, Class: ClassShape, Linear: true, Doc: "numpy broadcast to the result shape (ONNX Expand)"},
	OpGather: {Name: "gather", NArgs: 1, Class: ClassShape, Linear: true,
		Attrs: []AttrSpec{{"axis", AttrInt, false}, {"indices", AttrTensor, false}},
		Doc:   "take constant indices along axis (ONNX Gather with constant indices)"},
}

// Info returns the table entry of op.
func (op Op) Info() *OpInfo {
	if op >= numOps {
		return &opTable[OpInvalid]
	}
	return &opTable[op]
}

// String returns the printed mnemonic of op.
func (op Op) String() string {
	if n := op.Info().Name; n != "" {
		return n
	}
	return "invalid"
}

var opByName = func() map[string]Op {
	m := make(map[string]Op)
	for op := Op(1); op < numOps; op++ {
		if opTable[op].Name == "" {
			panic("BUG: op without a name in opTable")
		}
		if _, dup := m[opTable[op].Name]; dup {
			panic("BUG: duplicate op name " + opTable[op].Name)
		}
		m[opTable[op].Name] = op
	}
	return m
}()

// LookupOp returns the op with the given mnemonic.
func LookupOp(name string) (Op, bool) {
	op, ok := opByName[name]
	return op, ok
}

// AllOps returns every op except param, in table order.
func AllOps() []Op {
	var ops []Op
	for op := OpConst; op < numOps; op++ {
		ops = append(ops, op)
	}
	return ops
}

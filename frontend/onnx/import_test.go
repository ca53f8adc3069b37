package onnx

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/fheir/fheir/frontend/onnx/onnxpb"
	"github.com/fheir/fheir/ir"
)

// graphModel builds a one-input model (x: float32 of shape xs) with the
// given nodes, initializers and output y (rank ys).
type graphModel struct {
	opset int64
	xs    []int
	nodes []*onnxpb.NodeProto
	inits []*onnxpb.TensorProto
	outs  []string
}

func (g graphModel) parse(t *testing.T) *Model {
	t.Helper()
	dims := make([]any, len(g.xs))
	for i, d := range g.xs {
		dims[i] = d
	}
	outs := g.outs
	if outs == nil {
		outs = []string{"y"}
	}
	gp := &onnxpb.GraphProto{
		Name:        "g",
		Input:       []*onnxpb.ValueInfoProto{vi("x", tensorType(Float32, dims...))},
		Node:        g.nodes,
		Initializer: g.inits,
	}
	for _, o := range outs {
		// No shape: rank unknown.
		gp.Output = append(gp.Output, vi(o, &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: int32(Float32)}}}))
	}
	mp := &onnxpb.ModelProto{
		IrVersion:   8,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: g.opset}, {Domain: "qonnx.custom_op.general", Version: 2}},
		Graph:       gp,
	}
	m, err := Parse("m.onnx", marshal(t, mp))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func node(op, name string, in, out []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: op, Name: name, Input: in, Output: out, Attribute: attrs}
}

func aInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INT, I: v}
}

func aInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INTS, Ints: v}
}

func aFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_FLOAT, F: v}
}

func fTensor(name string, dims []int64, v ...float32) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: name, DataType: int32(Float32), Dims: dims, FloatData: v}
}

func iTensor(name string, dims []int64, v ...int64) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: name, DataType: int32(Int64), Dims: dims, Int64Data: v}
}

// run imports m and runs it on x.
func run(t *testing.T, m *Model, x []float64) []*ir.Tensor {
	t.Helper()
	f, err := m.ImportFloat(ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := ir.Run(f, []*ir.Tensor{ir.NewFloats(f.Params[0].Type.Shape, x)})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestUnsupportedListsAllNodes(t *testing.T) {
	m := graphModel{opset: 19, xs: []int{1, 4}, nodes: []*onnxpb.NodeProto{
		node("Relu", "r", []string{"x"}, []string{"a"}),
		node("Hardmax", "hm", []string{"a"}, []string{"b"}),
		node("Relu", "r2", []string{"b"}, []string{"c"}), // downstream of an error: not reported
		node("LpNormalization", "", []string{"x"}, []string{"d"}),
		node("Add", "add", []string{"c", "d"}, []string{"y"}),
		{OpType: "Frob", Domain: "com.example", Name: "custom", Input: []string{"x"}, Output: []string{"e"}},
	}}.parse(t)
	_, err := m.ImportFloat(ImportOptions{})
	l, ok := err.(ErrorList)
	if !ok {
		t.Fatalf("got %T %v, want an ErrorList", err, err)
	}
	var lines []string
	for _, e := range l {
		if e.Code != UnsupportedOp {
			t.Errorf("code %s, want UnsupportedOp: %v", e.Code, e)
		}
		lines = append(lines, e.Error())
	}
	want := []string{
		`m.onnx: node "hm" (Hardmax): unsupported op`,
		`m.onnx: node 3 (LpNormalization): unsupported op`,
		`m.onnx: node "custom" (Frob, com.example): unsupported op`,
	}
	if len(lines) != 4 || !reflect.DeepEqual(lines[:3], want) ||
		!strings.HasPrefix(lines[3], "m.onnx: unsupported ops: Frob, Hardmax, LpNormalization; supported: Abs, Add, And, AveragePool,") {
		t.Errorf("got\n%s", strings.Join(lines, "\n"))
	}
}

// Brevitas' Quant: y = (clip(round_half_even(x/s + zp), lo, hi) - zp) * s,
// values worked out by hand.
func TestQuantSemantics(t *testing.T) {
	x := []float64{-1.3, 0.26, 0.74, 5, 0.25, 0.75}
	cases := []struct {
		signed, narrow int64
		bits, zp       float32
		want           []float64
	}{
		// lo=-3, hi=3 (narrow): q = [-3, 1, 1, 3, 0, 2]
		{1, 1, 3, 0, []float64{-1.5, 0.5, 0.5, 1.5, 0, 1}},
		// lo=-4, hi=3: q = [-3, 1, 1, 3, 0, 2]
		{1, 0, 3, 0, []float64{-1.5, 0.5, 0.5, 1.5, 0, 1}},
		// unsigned 2 bits, zp=1: q = clip(round(x/s)+1, 0, 3) = [0, 2, 2, 3, 1, 3]
		{0, 0, 2, 1, []float64{-0.5, 0.5, 0.5, 1, 0, 1}},
		// unsigned narrow 2 bits: hi=2: q = clip(round(x/s), 0, 2) = [0, 1, 1, 2, 0, 2]
		{0, 1, 2, 0, []float64{0, 0.5, 0.5, 1, 0, 1}},
	}
	for _, c := range cases {
		m := graphModel{opset: 14, xs: []int{1, 6},
			nodes: []*onnxpb.NodeProto{{OpType: "Quant", Domain: "qonnx.custom_op.general", Name: "q",
				Input: []string{"x", "s", "z", "b"}, Output: []string{"y"},
				Attribute: []*onnxpb.AttributeProto{aInt("signed", c.signed), aInt("narrow", c.narrow),
					{Name: "rounding_mode", Type: onnxpb.AttributeProto_STRING, S: []byte("ROUND")}}}},
			inits: []*onnxpb.TensorProto{fTensor("s", nil, 0.5), fTensor("z", nil, c.zp), fTensor("b", nil, c.bits)},
		}.parse(t)
		got := run(t, m, append([]float64{}, x...))[0].F
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("signed=%d narrow=%d bits=%v zp=%v: got %v, want %v", c.signed, c.narrow, c.bits, c.zp, got, c.want)
		}
	}
}

// A per-channel weight quantizer (scale of shape [C,1]) folds into the
// dequantized weights; an unsupported rounding mode names the node.
func TestQuantPerChannelAndErrors(t *testing.T) {
	m := graphModel{opset: 14, xs: []int{1, 2},
		nodes: []*onnxpb.NodeProto{
			{OpType: "Quant", Domain: "qonnx.custom_op.general", Name: "wq", Input: []string{"w", "s", "z", "b"}, Output: []string{"wd"}},
			node("MatMul", "mm", []string{"x", "wd"}, []string{"y"}),
		},
		inits: []*onnxpb.TensorProto{
			fTensor("w", []int64{2, 2}, 0.3, -0.9, 2.0, 0.26),
			fTensor("s", []int64{2, 1}, 0.5, 0.25), fTensor("z", nil, 0), fTensor("b", nil, 2),
		},
	}.parse(t)
	// Row 0 (s=0.5, [-2,1]): [0.3,-0.9] -> [0.5,-1.0]; row 1 (s=0.25): [2.0,0.26] -> [0.25,0.25].
	got := run(t, m, []float64{1, 10})[0].F
	want := []float64{0.5*1 + 0.25*10, -1*1 + 0.25*10}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	m.Graph.Nodes[0].Attrs["rounding_mode"] = &Attr{Name: "rounding_mode", Kind: AttrString, S: "STOCHASTIC"}
	_, err := m.ImportFloat(ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), `m.onnx: node "wq" (Quant, qonnx.custom_op.general): unsupported op: rounding_mode "STOCHASTIC"`) {
		t.Errorf("got %v", err)
	}
}

// Attributes that became inputs: Clip (opset 11), Squeeze/Unsqueeze and
// ReduceSum axes (13), ReduceMean axes (18), Pad (11).
func TestOpsetAttributeMigration(t *testing.T) {
	x := []float64{-3, -1, 0.5, 2, 4, 6}
	old := graphModel{opset: 9, xs: []int{1, 2, 3}, nodes: []*onnxpb.NodeProto{
		node("Clip", "c", []string{"x"}, []string{"a"}, aFloat("min", -2), aFloat("max", 5)),
		node("Squeeze", "s", []string{"a"}, []string{"b"}, aInts("axes", 0)),
		node("ReduceSum", "r", []string{"b"}, []string{"c"}, aInts("axes", 1), aInt("keepdims", 0)),
		node("Pad", "p", []string{"c"}, []string{"y"}, aInts("pads", 1, 0), aFloat("value", 7)),
	}}.parse(t)
	nw := graphModel{opset: 18, xs: []int{1, 2, 3}, nodes: []*onnxpb.NodeProto{
		node("Clip", "c", []string{"x", "lo", "hi"}, []string{"a"}),
		node("Squeeze", "s", []string{"a", "ax0"}, []string{"b"}),
		node("ReduceSum", "r", []string{"b", "ax1"}, []string{"c"}, aInt("keepdims", 0)),
		node("Pad", "p", []string{"c", "pads", "val"}, []string{"y"}),
	}, inits: []*onnxpb.TensorProto{
		fTensor("lo", nil, -2), fTensor("hi", nil, 5), iTensor("ax0", []int64{1}, 0), iTensor("ax1", []int64{1}, 1),
		iTensor("pads", []int64{2}, 1, 0), fTensor("val", nil, 7),
	}}.parse(t)
	// clip -> [-2 -1 .5; 2 4 5]; sums over axis 1 -> [-2.5, 11]; pad 1 before with 7.
	want := []float64{7, -2.5, 11}
	for _, m := range []*Model{old, nw} {
		if got := run(t, m, append([]float64{}, x...))[0].F; !reflect.DeepEqual(got, want) {
			t.Errorf("opset %d: got %v, want %v", m.Opset(""), got, want)
		}
	}
}

// torch exports GELU as x * 0.5 * (1 + erf(x / sqrt(2))), with its
// constants as Constant nodes.
func TestErfGeluPattern(t *testing.T) {
	cst := func(name string, v float32) *onnxpb.NodeProto {
		return node("Constant", "", nil, []string{name}, &onnxpb.AttributeProto{Name: "value", Type: onnxpb.AttributeProto_TENSOR, T: fTensor("", nil, v)})
	}
	m := graphModel{opset: 14, xs: []int{1, 5}, nodes: []*onnxpb.NodeProto{
		cst("sqrt2", float32(math.Sqrt2)), cst("one", 1), cst("half", 0.5),
		node("Div", "", []string{"x", "sqrt2"}, []string{"d"}),
		node("Erf", "", []string{"d"}, []string{"e"}),
		node("Add", "", []string{"e", "one"}, []string{"a"}),
		node("Mul", "", []string{"x", "a"}, []string{"m"}),
		node("Mul", "", []string{"m", "half"}, []string{"y"}),
	}}.parse(t)
	x := []float64{-2, -0.5, 0, 0.7, 3}
	got := run(t, m, append([]float64{}, x...))[0].F
	for i, v := range x {
		want := 0.5 * v * (1 + math.Erf(v/math.Sqrt2))
		if math.Abs(got[i]-want) > 1e-6 {
			t.Errorf("gelu(%v) = %v, want %v", v, got[i], want)
		}
	}
}

// A Shape -> Gather -> Unsqueeze -> Concat chain computing a Reshape target
// folds away: the IR holds only the reshape.
func TestShapeChainFolds(t *testing.T) {
	m := graphModel{opset: 13, xs: []int{2, 3, 4}, nodes: []*onnxpb.NodeProto{
		node("Shape", "", []string{"x"}, []string{"s"}),
		node("Gather", "", []string{"s", "i0"}, []string{"g"}, aInt("axis", 0)),
		node("Unsqueeze", "", []string{"g", "ax"}, []string{"u"}),
		node("Concat", "", []string{"u", "minus1"}, []string{"shape"}, aInt("axis", 0)),
		node("Reshape", "rs", []string{"x", "shape"}, []string{"y"}),
	}, inits: []*onnxpb.TensorProto{iTensor("i0", nil, 0), iTensor("ax", []int64{1}, 0), iTensor("minus1", []int64{1}, -1)}}.parse(t)
	f, err := m.ImportFloat(ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Body) != 1 || f.Body[0].Op != ir.OpReshape || !reflect.DeepEqual(f.Body[0].Type.Shape, []int{2, 12}) {
		t.Errorf("got\n%s", ir.Print(f))
	}
}

func TestImportErrorsNameTheNode(t *testing.T) {
	m := graphModel{opset: 13, xs: []int{2, 3}, nodes: []*onnxpb.NodeProto{
		node("Reshape", "rs", []string{"x", "shape"}, []string{"y"}),
	}, inits: []*onnxpb.TensorProto{iTensor("shape", []int64{1}, 5)}}.parse(t)
	_, err := m.ImportFloat(ImportOptions{})
	if !hasCode(err, BadNode) || !strings.Contains(err.Error(), `m.onnx: node "rs" (Reshape): cannot reshape [2 3] (6 elements) to [5]`) {
		t.Errorf("got %v", err)
	}
	m = graphModel{opset: 13, xs: []int{2, 3}, nodes: []*onnxpb.NodeProto{
		node("Reshape", "rs", []string{"x", "x"}, []string{"y"}),
	}}.parse(t)
	if _, err := m.ImportFloat(ImportOptions{}); !hasCode(err, NonConstantInput) {
		t.Errorf("dynamic shape: got %v", err)
	}
}

func TestSymbolicBatch(t *testing.T) {
	mp := testModel()
	mp.Graph.Node = []*onnxpb.NodeProto{node("Relu", "r", []string{"x"}, []string{"y"})}
	mp.Graph.Output[0] = vi("y", tensorType(Float32, "batch", 3))
	m, err := Parse("m.onnx", marshal(t, mp))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		opts ImportOptions
		want string
	}{
		{ImportOptions{}, "enc<1x3xf32>"},
		{ImportOptions{DimSizes: map[string]int{"batch": 5}}, "enc<5x3xf32>"},
		{ImportOptions{DefaultDim: 2, ClearInputs: map[string]bool{"x": true}}, "tensor<2x3xf32>"},
	} {
		f, err := m.ImportFloat(c.opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Params[0].Type.String(); got != c.want {
			t.Errorf("%+v: param type %s, want %s", c.opts, got, c.want)
		}
	}
}

func TestOutputIsInitializer(t *testing.T) {
	m := graphModel{opset: 13, xs: []int{2}, outs: []string{"y", "w"}, nodes: []*onnxpb.NodeProto{
		node("Relu", "r", []string{"x"}, []string{"y"}),
	}, inits: []*onnxpb.TensorProto{fTensor("w", []int64{2}, 1.5, -2)}}.parse(t)
	out := run(t, m, []float64{-1, 3})
	if !reflect.DeepEqual(out[0].F, []float64{0, 3}) || !reflect.DeepEqual(out[1].F, []float64{1.5, -2}) {
		t.Errorf("got %v %v", out[0].F, out[1].F)
	}
}

func TestLogSoftmaxLargeLogits(t *testing.T) {
	m := graphModel{opset: 13, xs: []int{1, 3}, nodes: []*onnxpb.NodeProto{
		node("LogSoftmax", "ls", []string{"x"}, []string{"y"}, aInt("axis", 1)),
	}}.parse(t)
	got := run(t, m, []float64{0, 200, 100})[0].F
	// log softmax = x - 200 - log(1 + e^-100 + e^-200) ≈ x - 200.
	want := []float64{-200, 0, -100}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-4 {
			t.Errorf("got %v, want %v", got, want)
			break
		}
	}
}

func TestDeclaredOutputShapeChecked(t *testing.T) {
	mp := testModel()
	mp.Graph.Node = []*onnxpb.NodeProto{node("Relu", "r", []string{"x"}, []string{"y"})}
	mp.Graph.Output[0] = vi("y", tensorType(Float32, "batch", 7))
	m, err := Parse("m.onnx", marshal(t, mp))
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.ImportFloat(ImportOptions{})
	if !hasCode(err, BadNode) || !strings.Contains(err.Error(), `m.onnx: output "y": imported with shape [1 3], the model declares y: float32[batch=1 x 7]`) {
		t.Errorf("got %v", err)
	}
}

func aStr(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_STRING, S: []byte(v)}
}

// The rounding-mode table of QONNX's IntQuant documentation.
func TestQuantRoundingModes(t *testing.T) {
	x := []float64{5.5, 2.5, 1.6, 1.1, -1.1, -1.6, -2.5, -5.5}
	table := map[string][]float64{
		"ROUND":     {6, 2, 2, 1, -1, -2, -2, -6},
		"CEIL":      {6, 3, 2, 2, -1, -1, -2, -5},
		"FLOOR":     {5, 2, 1, 1, -2, -2, -3, -6},
		"UP":        {6, 3, 2, 2, -2, -2, -3, -6},
		"DOWN":      {5, 2, 1, 1, -1, -1, -2, -5},
		"HALF_UP":   {6, 3, 2, 1, -1, -2, -3, -6},
		"half_down": {5, 2, 2, 1, -1, -2, -2, -5},
	}
	for mode, want := range table {
		m := graphModel{opset: 14, xs: []int{1, 8},
			nodes: []*onnxpb.NodeProto{{OpType: "IntQuant", Domain: "qonnx.custom_op.general", Name: "q",
				Input: []string{"x", "s", "z", "b"}, Output: []string{"y"}, Attribute: []*onnxpb.AttributeProto{aStr("rounding_mode", mode)}}},
			inits: []*onnxpb.TensorProto{fTensor("s", nil, 1), fTensor("z", nil, 0), fTensor("b", nil, 8)},
		}.parse(t)
		if got := run(t, m, append([]float64{}, x...))[0].F; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v, want %v", mode, got, want)
		}
	}
}

func TestTruncAndBipolar(t *testing.T) {
	// t = 2^round(log2(2/0.5)) = 4; round(x/0.5) = [26 -14 200]; /4 = [6.5 -3.5 50];
	// clip to 4-bit signed [-8, 7]; floor -> [6 -4 7]; times 2.
	m := graphModel{opset: 14, xs: []int{3},
		nodes: []*onnxpb.NodeProto{{OpType: "Trunc", Domain: "qonnx.custom_op.general", Name: "tr",
			Input: []string{"x", "s", "z", "ib", "os", "ob"}, Output: []string{"y"}}},
		inits: []*onnxpb.TensorProto{fTensor("s", nil, 0.5), fTensor("z", nil, 0), fTensor("ib", nil, 16), fTensor("os", nil, 2), fTensor("ob", nil, 4)},
	}.parse(t)
	if got := run(t, m, []float64{13, -7, 100})[0].F; !reflect.DeepEqual(got, []float64{12, -8, 14}) {
		t.Errorf("Trunc: got %v", got)
	}
	m = graphModel{opset: 14, xs: []int{3},
		nodes: []*onnxpb.NodeProto{{OpType: "BipolarQuant", Domain: "qonnx.custom_op.general", Name: "bq",
			Input: []string{"x", "s"}, Output: []string{"y"}}},
		inits: []*onnxpb.TensorProto{fTensor("s", nil, 0.5)},
	}.parse(t)
	if got := run(t, m, []float64{-0.1, 0, 2})[0].F; !reflect.DeepEqual(got, []float64{-0.5, 0.5, 0.5}) {
		t.Errorf("BipolarQuant: got %v", got)
	}
}

func TestIfWithConstantCondition(t *testing.T) {
	branch := func(name string, op string) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_GRAPH, G: &onnxpb.GraphProto{
			Name:        name,
			Node:        []*onnxpb.NodeProto{node(op, name+"_op", []string{"x", "k"}, []string{name + "_out"})},
			Initializer: []*onnxpb.TensorProto{fTensor("k", nil, 10)},
			Output:      []*onnxpb.ValueInfoProto{vi(name+"_out", tensorType(Float32))},
		}}
	}
	for _, c := range []struct {
		cond bool
		want []float64
	}{{true, []float64{11, 12}}, {false, []float64{-9, -8}}} {
		cond := &onnxpb.TensorProto{Name: "c", DataType: int32(Bool), Int32Data: []int32{0}}
		if c.cond {
			cond.Int32Data[0] = 1
		}
		m := graphModel{opset: 13, xs: []int{2}, nodes: []*onnxpb.NodeProto{
			node("If", "if", []string{"c"}, []string{"y"}, branch("then_branch", "Add"), branch("else_branch", "Sub")),
		}, inits: []*onnxpb.TensorProto{cond}}.parse(t)
		if got := run(t, m, []float64{1, 2})[0].F; !reflect.DeepEqual(got, c.want) {
			t.Errorf("cond %v: got %v, want %v", c.cond, got, c.want)
		}
	}
	m := graphModel{opset: 13, xs: []int{2}, nodes: []*onnxpb.NodeProto{
		node("Greater", "g", []string{"x", "zero"}, []string{"c"}),
		node("If", "if", []string{"c"}, []string{"y"}, branch("then_branch", "Add"), branch("else_branch", "Sub")),
	}, inits: []*onnxpb.TensorProto{fTensor("zero", nil, 0)}}.parse(t)
	if _, err := m.ImportFloat(ImportOptions{}); !hasCode(err, NonConstantInput) || !strings.Contains(err.Error(), `node "if" (If): condition "c" must be a constant`) {
		t.Errorf("data-dependent If: got %v", err)
	}
}

// A model-local function (as torch's exporter writes with
// export_modules_as_functions) is inlined, with attribute references.
func TestFunctionInlining(t *testing.T) {
	m := graphModel{opset: 18, xs: []int{3}, nodes: []*onnxpb.NodeProto{
		{OpType: "ScaledLeaky", Domain: "local", Name: "call1", Input: []string{"x"}, Output: []string{"a"},
			Attribute: []*onnxpb.AttributeProto{aFloat("slope", 0.5)}},
		{OpType: "ScaledLeaky", Domain: "local", Name: "call2", Input: []string{"a"}, Output: []string{"y"}},
	}}
	fn := &onnxpb.FunctionProto{
		Name: "ScaledLeaky", Domain: "local", Input: []string{"in"}, Output: []string{"out"},
		Attribute:      []string{"slope"},
		AttributeProto: []*onnxpb.AttributeProto{aFloat("two", 2)}, // not referenced: harmless
		Node: []*onnxpb.NodeProto{
			{OpType: "LeakyRelu", Input: []string{"in"}, Output: []string{"t"},
				Attribute: []*onnxpb.AttributeProto{{Name: "alpha", Type: onnxpb.AttributeProto_FLOAT, RefAttrName: "slope"}}},
			{OpType: "Add", Input: []string{"t", "t"}, Output: []string{"out"}},
		},
	}
	mp := m.parse(t).Proto
	mp.Functions = append(mp.Functions, fn)
	mp.OpsetImport = append(mp.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: "local", Version: 1})
	model, err := Parse("m.onnx", marshal(t, mp))
	if err != nil {
		t.Fatal(err)
	}
	// call1: 2*leaky(x, 0.5); call2: 2*leaky(a, 0.01 default).
	got := run(t, model, []float64{-4, 0, 3})[0].F
	want := []float64{2 * 0.01 * (2 * 0.5 * -4), 0, 12}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-6 {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

// GroupNormalization against numbers worked out by hand: two groups of one
// channel of two elements each, normalized to ±1 (epsilon 0).
func TestGroupNorm(t *testing.T) {
	for _, opset := range []int64{18, 21} {
		m := graphModel{opset: opset, xs: []int{1, 2, 2}, nodes: []*onnxpb.NodeProto{
			node("GroupNormalization", "gn", []string{"x", "s", "b"}, []string{"y"}, aInt("num_groups", 2), aFloat("epsilon", 0)),
		}, inits: []*onnxpb.TensorProto{fTensor("s", []int64{2}, 2, 3), fTensor("b", []int64{2}, 1, -1)}}.parse(t)
		got := run(t, m, []float64{1, 3, 10, 4})[0].F
		// group 0: [1 3] -> [-1 1] -> *2+1 = [-1 3]; group 1: [10 4] -> [1 -1] -> *3-1 = [2 -4].
		want := []float64{-1, 3, 2, -4}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("opset %d: got %v, want %v", opset, got, want)
		}
	}
}

// Scatter values worked out by hand.
func TestScatter(t *testing.T) {
	// x is 2x3; ScatterND writes row 1 with [7 8 9] and element (0,2) with 5.
	m := graphModel{opset: 16, xs: []int{2, 3}, nodes: []*onnxpb.NodeProto{
		node("ScatterND", "row", []string{"x", "i1", "u1"}, []string{"a"}),
		node("ScatterND", "elt", []string{"a", "i2", "u2"}, []string{"b"}),
		node("ScatterElements", "se", []string{"b", "i3", "u3"}, []string{"y"}, aInt("axis", 1)),
	}, inits: []*onnxpb.TensorProto{
		iTensor("i1", []int64{1, 1}, 1), fTensor("u1", []int64{1, 3}, 7, 8, 9),
		iTensor("i2", []int64{1, 2}, 0, -1), fTensor("u2", []int64{1}, 5),
		// ScatterElements along axis 1: row 0 col 0 <- -1, row 1 col 2 <- -2.
		iTensor("i3", []int64{2, 1}, 0, 2), fTensor("u3", []int64{2, 1}, -1, -2),
	}}.parse(t)
	got := run(t, m, []float64{1, 2, 3, 4, 5, 6})[0].F
	want := []float64{-1, 2, 5, 7, 8, -2}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

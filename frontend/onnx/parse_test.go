package onnx

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fheir/fheir/frontend/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

func tensorType(dt DType, dims ...any) *onnxpb.TypeProto {
	sh := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		switch d := d.(type) {
		case int:
			sh.Dim = append(sh.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
		case string:
			sh.Dim = append(sh.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d}})
		}
	}
	return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: int32(dt), Shape: sh}}}
}

func vi(name string, typ *onnxpb.TypeProto) *onnxpb.ValueInfoProto {
	return &onnxpb.ValueInfoProto{Name: name, Type: typ}
}

// testModel is a small Brevitas-like graph: Quant(x, s, z, b) -> Gemm with
// an omitted optional input -> y, with a symbolic batch dimension.
func testModel() *onnxpb.ModelProto {
	return &onnxpb.ModelProto{
		IrVersion: 8,
		OpsetImport: []*onnxpb.OperatorSetIdProto{
			{Domain: "", Version: 13}, {Domain: "qonnx.custom_op.general", Version: 2}, {Domain: "onnx.brevitas", Version: 1},
		},
		Graph: &onnxpb.GraphProto{
			Name: "g",
			Initializer: []*onnxpb.TensorProto{
				{Name: "s", DataType: int32(Float32), FloatData: []float32{0.25}},
				{Name: "z", DataType: int32(Int8), Int32Data: []int32{-3}},
				{Name: "b", DataType: int32(Float64), DoubleData: []float64{4}},
				{Name: "w", DataType: int32(Int8), Dims: []int64{3, 2}, RawData: []byte{1, 0xff, 2, 0xfe, 0x7f, 0x80}},
			},
			Input: []*onnxpb.ValueInfoProto{
				vi("x", tensorType(Float32, "batch", 3)),
				vi("w", tensorType(Int8, 3, 2)), // an initializer listed as input: a constant
			},
			Output: []*onnxpb.ValueInfoProto{vi("y", tensorType(Float32, "batch", 2))},
			Node: []*onnxpb.NodeProto{
				{Name: "q", OpType: "Quant", Domain: "qonnx.custom_op.general", Input: []string{"x", "s", "z", "b"}, Output: []string{"xq"},
					Attribute: []*onnxpb.AttributeProto{
						{Name: "signed", Type: onnxpb.AttributeProto_INT, I: 1},
						{Name: "rounding_mode", Type: onnxpb.AttributeProto_STRING, S: []byte("ROUND")},
					}},
				{Name: "Gemm_3", OpType: "Gemm", Domain: "ai.onnx", Input: []string{"xq", "w", ""}, Output: []string{"y"},
					Attribute: []*onnxpb.AttributeProto{
						{Name: "alpha", Type: onnxpb.AttributeProto_FLOAT, F: 0.5},
						{Name: "perm", Type: onnxpb.AttributeProto_INTS, Ints: []int64{1, 0}},
						{Name: "value", Type: onnxpb.AttributeProto_TENSOR, T: &onnxpb.TensorProto{DataType: int32(Bool), Dims: []int64{2}, Int32Data: []int32{1, 0}}},
						{Name: "body", Type: onnxpb.AttributeProto_GRAPH, G: &onnxpb.GraphProto{}},
					}},
			},
		},
	}
}

func marshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseSynthetic(t *testing.T) {
	m, err := Parse("m.onnx", marshal(t, testModel()))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"": 13, "qonnx.custom_op.general": 2, "onnx.brevitas": 1}
	if !reflect.DeepEqual(m.Opsets, want) || m.Opset("ai.onnx") != 13 || m.Opset("onnx.brevitas") != 1 {
		t.Errorf("opsets %v", m.Opsets)
	}
	g := m.Graph
	if len(g.Inputs) != 1 || g.Inputs[0].String() != "x: float32[batch x 3]" {
		t.Errorf("inputs %v", g.Inputs)
	}
	w := g.Initializers["w"]
	if w.DType != Int8 || !reflect.DeepEqual(w.Shape, []int{3, 2}) || !reflect.DeepEqual(w.I, []int64{1, -1, 2, -2, 127, -128}) || w.F != nil {
		t.Errorf("w = %v %v", w, w.I)
	}
	if z := g.Initializers["z"]; len(z.Shape) != 0 || z.Len() != 1 || z.I[0] != -3 {
		t.Errorf("z = %v %v", z, z.I)
	}
	if b := g.Initializers["b"]; b.F[0] != 4 || b.DType != Float64 {
		t.Errorf("b = %v", b)
	}
	q, gemm := g.Nodes[0], g.Nodes[1]
	if q.Domain != "qonnx.custom_op.general" || q.Int("signed", 0) != 1 || q.Int("narrow", 7) != 7 || q.Str("rounding_mode", "") != "ROUND" || q.Err() != nil {
		t.Errorf("quant attributes: %v", q.Err())
	}
	if gemm.Domain != "" || len(gemm.Inputs) != 3 || gemm.Input(2) != "" || gemm.Input(5) != "" {
		t.Errorf("gemm inputs %q domain %q", gemm.Inputs, gemm.Domain)
	}
	if gemm.Float("alpha", 1) != 0.5 || gemm.Float("beta", 1) != 1 || !reflect.DeepEqual(gemm.Ints("perm", nil), []int64{1, 0}) {
		t.Errorf("gemm float/ints attributes")
	}
	if v := gemm.Tensor("value"); v == nil || v.DType != Bool || !reflect.DeepEqual(v.I, []int64{1, 0}) {
		t.Errorf("tensor attribute %v", v)
	}
	if gemm.Err() != nil {
		t.Errorf("unexpected attribute error %v", gemm.Err())
	}
	if !gemm.HasSubgraph() || q.HasSubgraph() {
		t.Errorf("HasSubgraph")
	}
	if got := gemm.Int("alpha", 9); got != 9 {
		t.Errorf("Int on a float attribute: got %d, want the default", got)
	}
	if err := gemm.Err(); err == nil || err.Error() != `m.onnx: node "Gemm_3" (Gemm): attribute "alpha" is float, want int` || !hasCode(err, BadAttribute) {
		t.Errorf("got error %v", err)
	}
	gemm.err = nil
	gemm.Ints("body", nil)
	if err := gemm.Err(); !hasCode(err, UnsupportedSubgraph) || !strings.Contains(err.Error(), `node "Gemm_3" (Gemm): attribute "body" holds a subgraph`) {
		t.Errorf("graph attribute: got %v", err)
	}
	if got := q.String(); got != `node "q" (Quant, qonnx.custom_op.general)` {
		t.Errorf("String: %s", got)
	}
}

func TestExternalData(t *testing.T) {
	dir := t.TempDir()
	raw := make([]byte, 16+12)
	for i, v := range []float32{1.5, -2, 3.25} {
		binary.LittleEndian.PutUint32(raw[16+4*i:], math.Float32bits(v))
	}
	if err := os.WriteFile(filepath.Join(dir, "weights.bin"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	mp := testModel()
	ext := func(kv ...string) *onnxpb.TensorProto {
		tp := &onnxpb.TensorProto{Name: "e", DataType: int32(Float32), Dims: []int64{3}, DataLocation: onnxpb.TensorProto_EXTERNAL}
		for i := 0; i < len(kv); i += 2 {
			tp.ExternalData = append(tp.ExternalData, &onnxpb.StringStringEntryProto{Key: kv[i], Value: kv[i+1]})
		}
		return tp
	}
	mp.Graph.Initializer = append(mp.Graph.Initializer, ext("location", "weights.bin", "offset", "16", "length", "12"))
	path := filepath.Join(dir, "model.onnx")
	if err := os.WriteFile(path, marshal(t, mp), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if e := m.Graph.Initializers["e"]; !reflect.DeepEqual(e.F, []float64{1.5, -2, 3.25}) {
		t.Errorf("external tensor = %v", e.F)
	}
	for _, c := range []struct {
		kv   []string
		want string
	}{
		{[]string{"location", "weights.bin", "offset", "20", "length", "12"}, "beyond its size"},
		{[]string{"location", "weights.bin", "offset", "0"}, "got 28 bytes, want 12"},
		{[]string{"location", "../weights.bin"}, "outside the model directory"},
		{[]string{"location", "/etc/passwd"}, "outside the model directory"},
		{[]string{"location", "missing.bin"}, "no such file"},
		{[]string{"location", "weights.bin", "offset", "x"}, `bad external data offset "x"`},
		{nil, "without location"},
	} {
		mp := testModel()
		mp.Graph.Initializer = append(mp.Graph.Initializer, ext(c.kv...))
		_, err := Parse(path, marshal(t, mp))
		if err == nil || !hasCode(err, BadExternalData) || !strings.Contains(err.Error(), c.want) ||
			!strings.HasPrefix(err.Error(), path+`: initializer "e": `) {
			t.Errorf("%v: got %v, want BadExternalData %q", c.kv, err, c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		edit func(m *onnxpb.ModelProto)
		code Code
		msg  string
	}{
		{"count", func(m *onnxpb.ModelProto) { m.Graph.Initializer[3].Dims = []int64{4, 2} },
			MalformedTensor, `m.onnx: initializer "w": raw_data has 6 bytes, want 8 for 8 int8 elements`},
		{"typed count", func(m *onnxpb.ModelProto) { m.Graph.Initializer[0].Dims = []int64{2} },
			MalformedTensor, `m.onnx: initializer "s": has 1 elements, want 2 from its dims`},
		{"negative dim", func(m *onnxpb.ModelProto) { m.Graph.Initializer[0].Dims = []int64{-1} },
			MalformedTensor, `m.onnx: initializer "s": negative dimension -1`},
		{"huge", func(m *onnxpb.ModelProto) { m.Graph.Initializer[0].Dims = []int64{1 << 20, 1 << 20, 1 << 20} },
			MalformedTensor, `m.onnx: initializer "s": more than 2147483648 elements`},
		{"string", func(m *onnxpb.ModelProto) { m.Graph.Initializer[0].DataType = int32(String) },
			UnsupportedDType, `m.onnx: initializer "s": unsupported data type string`},
		{"float8", func(m *onnxpb.ModelProto) { m.Graph.Initializer[0].DataType = 17 },
			UnsupportedDType, `m.onnx: initializer "s": unsupported data type float8e4m3fn`},
		{"duplicate init", func(m *onnxpb.ModelProto) { m.Graph.Initializer[1].Name = "s" },
			DuplicateName, `m.onnx: initializer "s": defined twice`},
		{"undefined", func(m *onnxpb.ModelProto) { m.Graph.Node[1].Input[0] = "nope" },
			UndefinedValue, `m.onnx: node "Gemm_3" (Gemm): input "nope" is not defined by an earlier node, an input or an initializer`},
		{"order", func(m *onnxpb.ModelProto) { n := m.Graph.Node; n[0], n[1] = n[1], n[0] },
			UndefinedValue, `m.onnx: node "Gemm_3" (Gemm): input "xq" is not defined`},
		{"unnamed node", func(m *onnxpb.ModelProto) { m.Graph.Node[1].Name = ""; m.Graph.Node[1].Output[0] = "x" },
			DuplicateName, `m.onnx: node 1 (Gemm): output "x" is already defined by input "x"`},
		{"output", func(m *onnxpb.ModelProto) { m.Graph.Output[0].Name = "zz" },
			UndefinedValue, `m.onnx: output "zz": not defined`},
		{"bad attr tensor", func(m *onnxpb.ModelProto) { m.Graph.Node[1].Attribute[2].T.Dims = []int64{3} },
			BadAttribute, `m.onnx: node "Gemm_3" (Gemm): attribute "value": int32_data has 2 entries, want 3`},
		{"no graph", func(m *onnxpb.ModelProto) { m.Graph = nil },
			MalformedModel, `m.onnx: not an ONNX model: no graph`},
	}
	for _, c := range cases {
		mp := testModel()
		c.edit(mp)
		_, err := Parse("m.onnx", marshal(t, mp))
		if err == nil || !hasCode(err, c.code) || !strings.HasPrefix(err.Error(), c.msg) {
			t.Errorf("%s: got %v, want %s %q", c.name, err, c.code, c.msg)
		}
	}
}

func TestErrorList(t *testing.T) {
	var l ErrorList
	if l.Err() != nil {
		t.Error("empty list is an error")
	}
	for i := 0; i < 12; i++ {
		l = append(l, &Error{File: "f", Code: BadNode, Msg: "m"})
	}
	lines := strings.Split(l.Err().Error(), "\n")
	if len(lines) != 11 || lines[10] != "(and 2 more errors)" || lines[0] != "f: m" {
		t.Errorf("got %q", lines)
	}
}

func TestTypedFields(t *testing.T) {
	cases := []struct {
		tp   *onnxpb.TensorProto
		want []float64
	}{
		{&onnxpb.TensorProto{DataType: int32(Uint8), Dims: []int64{2}, Int32Data: []int32{255, 7}}, []float64{255, 7}},
		{&onnxpb.TensorProto{DataType: int32(Int16), Dims: []int64{2}, Int32Data: []int32{-300, 7}}, []float64{-300, 7}},
		{&onnxpb.TensorProto{DataType: int32(Uint16), Dims: []int64{1}, Int32Data: []int32{65535}}, []float64{65535}},
		{&onnxpb.TensorProto{DataType: int32(Int64), Dims: []int64{2}, Int64Data: []int64{-1 << 40, 3}}, []float64{-1 << 40, 3}},
		{&onnxpb.TensorProto{DataType: int32(Uint32), Dims: []int64{1}, Uint64Data: []uint64{1<<32 - 1}}, []float64{1<<32 - 1}},
		{&onnxpb.TensorProto{DataType: int32(Uint64), Dims: []int64{1}, Uint64Data: []uint64{1 << 40}}, []float64{1 << 40}},
		{&onnxpb.TensorProto{DataType: int32(Float16), Dims: []int64{2}, Int32Data: []int32{0x3c00, 0xc000}}, []float64{1, -2}},
		{&onnxpb.TensorProto{DataType: int32(BFloat16), Dims: []int64{2}, Int32Data: []int32{0x3f80, 0xc040}}, []float64{1, -3}},
		{&onnxpb.TensorProto{DataType: int32(BFloat16), Dims: []int64{1}, RawData: []byte{0x80, 0x3f}}, []float64{1}},
		{&onnxpb.TensorProto{DataType: int32(Uint4), Dims: []int64{3}, Int32Data: []int32{0xf1, 0x02}}, []float64{1, 15, 2}},
		{&onnxpb.TensorProto{DataType: int32(Int4), Dims: []int64{3}, RawData: []byte{0x8f, 0x07}}, []float64{-1, -8, 7}},
		{&onnxpb.TensorProto{DataType: int32(Uint2), Dims: []int64{5}, RawData: []byte{0b11100100, 0b10}}, []float64{0, 1, 2, 3, 2}},
		{&onnxpb.TensorProto{DataType: int32(Bool), Dims: []int64{3}, RawData: []byte{1, 0, 1}}, []float64{1, 0, 1}},
		{&onnxpb.TensorProto{DataType: int32(Float64), Dims: []int64{1}, RawData: binary.LittleEndian.AppendUint64(nil, math.Float64bits(-0.125))}, []float64{-0.125}},
		{&onnxpb.TensorProto{DataType: int32(Int32), Dims: []int64{0, 4}}, []float64{}},
	}
	for _, c := range cases {
		tn, err := ParseTensor("t.pb", marshal(t, c.tp))
		if err != nil {
			t.Errorf("%v: %v", DType(c.tp.DataType), err)
			continue
		}
		if got := tn.Floats(); !reflect.DeepEqual(got, c.want) || tn.DType.IsFloat() != (tn.F != nil) {
			t.Errorf("%v: got %v, want %v", tn, got, c.want)
		}
	}
}

// FuzzParse checks that no input makes Parse or ParseTensor panic. The seed
// corpus holds every fixture model, the synthetic model and truncations.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(fixtures, "*.onnx"))
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
			f.Add(data[:len(data)/2])
		}
	}
	data := marshal(f, testModel())
	f.Add(data)
	f.Add(data[:len(data)-3])
	f.Add([]byte{})
	f.Add([]byte("\x08\x07not a model"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse("fuzz.onnx", data)
		if err == nil && m.Graph == nil {
			t.Fatal("nil graph without error")
		}
		if err == nil {
			for _, n := range m.Graph.Nodes {
				for _, a := range n.AttrNames() {
					n.Int(a, 0)
					n.Float(a, 0)
					n.Tensor(a)
				}
			}
			m.FixDims(nil, 1)
		}
		_, _ = ParseTensor("fuzz.pb", data)
	})
}

func TestTruncated(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(fixtures, "qat_convnet_digits.qonnx.op14.onnx"))
	if err != nil {
		t.Skip(err)
	}
	fails := 0
	for n := 0; n < len(data); n += 1 + n/50 {
		if _, err := Parse("cut.onnx", data[:n]); err != nil {
			fails++
			if !strings.HasPrefix(err.Error(), "cut.onnx: ") {
				t.Errorf("error does not name the file: %v", err)
			}
		}
	}
	if fails == 0 {
		t.Error("no truncation gave an error")
	}
}

// FuzzImport checks that ImportFloat on any parseable model returns a
// function or an error, never panics. Seeds: the fixtures and test models.
func FuzzImport(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(fixtures, "*.onnx"))
	more, _ := filepath.Glob(filepath.Join(conformance, "onnx-node", "test_[a-c]*", "model.onnx"))
	for _, s := range append(seeds, more...) {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Add(marshal(f, testModel()))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse("fuzz.onnx", data)
		if err != nil {
			return
		}
		m.ImportFloat(ImportOptions{})
	})
}

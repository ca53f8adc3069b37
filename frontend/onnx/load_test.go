package onnx

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/fheir/fheir/frontend/onnx/onnxpb"
)

const (
	fixtures    = "../../../shared/fixtures"
	conformance = "../../../shared/conformance"
)

func globOrSkip(t testing.TB, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skipf("no files match %s", pattern)
	}
	return files
}

// Expected facts below were read with the onnx Python package (onnx.load,
// numpy_helper.to_array), not with this package.
func TestLoadFixtures(t *testing.T) {
	type want struct {
		opsets    map[string]int64
		nodes     int
		inits     int
		input     string
		inShape   string
		outShape  string
		init0     string
		init0Shp  []int
		init0Vals []float64
	}
	cases := map[string]want{
		"float_mlp_wine.torch.op14.onnx": {map[string]int64{"": 14}, 10, 4, "x", "x: float32[1 x 12]", "y: float32[1 x 2]",
			"fc1.weight", []int{16, 12}, []float64{-0.5484444499015808, 0.13425016403198242}},
		"qat_convnet_digits.qcdq.op14.onnx": {map[string]int64{"": 14}, 16, 20, "x.1", "x.1: float32[1 x 1 x 8 x 8]", "41: float32[1 x 10]",
			"c1.bias", []int{4}, []float64{-0.30615711212158203, 0.36296340823173523}},
		"qat_convnet_digits.qonnx.op14.onnx": {map[string]int64{"": 14, "qonnx.custom_op.general": 2}, 10, 15, "inp.1", "inp.1: float32[1 x 1 x 8 x 8]", "30: float32[Gemm30_dim_0 x Gemm30_dim_1]",
			"c1.bias", []int{4}, []float64{-0.30615711212158203, 0.36296340823173523}},
		"qat_simplenet_wine.qcdq.op14.onnx": {map[string]int64{"": 14}, 20, 16, "x.1", "x.1: float32[1 x 12]", "42: float32[1 x 2]",
			"fc1.bias", []int{30}, []float64{0.049730084836483, -0.4346964359283447}},
		"qat_simplenet_wine.qonnx.op14.onnx": {map[string]int64{"": 14, "qonnx.custom_op.general": 2}, 11, 14, "inp.1", "inp.1: float32[1 x 12]", "31: float32[Gemm31_dim_0 x Gemm31_dim_1]",
			"fc1.bias", []int{30}, []float64{0.049730084836483, -0.4346964359283447}},
	}
	files := globOrSkip(t, filepath.Join(fixtures, "*.onnx"))
	if len(files) != len(cases) {
		t.Errorf("got %d fixture models, want %d", len(files), len(cases))
	}
	for _, f := range files {
		w, ok := cases[filepath.Base(f)]
		if !ok {
			t.Errorf("%s: no expectations", f)
			continue
		}
		m, err := Load(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		g := m.Graph
		if !reflect.DeepEqual(m.Opsets, w.opsets) {
			t.Errorf("%s: opsets %v, want %v", f, m.Opsets, w.opsets)
		}
		if len(g.Nodes) != w.nodes || len(g.Initializers) != w.inits || len(g.InitOrder) != w.inits {
			t.Errorf("%s: %d nodes %d initializers, want %d and %d", f, len(g.Nodes), len(g.Initializers), w.nodes, w.inits)
		}
		// Initializers listed as graph inputs are constants, not inputs.
		if len(g.Inputs) != 1 || g.Inputs[0].String() != w.inShape {
			t.Errorf("%s: inputs %v, want [%s]", f, g.Inputs, w.inShape)
		}
		if len(g.Outputs) != 1 || g.Outputs[0].String() != w.outShape {
			t.Errorf("%s: outputs %v, want [%s]", f, g.Outputs, w.outShape)
		}
		t0 := g.Initializers[g.InitOrder[0]]
		if g.InitOrder[0] != w.init0 || t0.DType != Float32 || !reflect.DeepEqual(t0.Shape, w.init0Shp) ||
			t0.F[0] != w.init0Vals[0] || t0.F[1] != w.init0Vals[1] {
			t.Errorf("%s: first initializer %s %v %v..., want %s %v %v", f, g.InitOrder[0], t0, t0.F[:2], w.init0, w.init0Shp, w.init0Vals)
		}
		for _, n := range g.Nodes {
			if n.OpType == "Quant" && (n.Domain != "qonnx.custom_op.general" || len(n.Inputs) != 4) {
				t.Errorf("%s: %v has %d inputs", f, n, len(n.Inputs))
			}
		}
	}
}

func TestFixDims(t *testing.T) {
	m, err := Load(filepath.Join(fixtures, "qat_simplenet_wine.qonnx.op14.onnx"))
	if err != nil {
		t.Skip(err)
	}
	out := m.Graph.Outputs[0]
	if _, err := out.Shape(); err == nil || !hasCode(err, UnknownDim) {
		t.Errorf("Shape before FixDims: got %v, want an UnknownDim error", err)
	}
	if err := m.FixDims(map[string]int{"Gemm31_dim_0": 7}, 1); err != nil {
		t.Fatal(err)
	}
	s, err := out.Shape()
	if err != nil || !reflect.DeepEqual(s, []int{7, 1}) {
		t.Errorf("Shape after FixDims: got %v, %v; want [7 1]", s, err)
	}
	if got := out.String(); got != "31: float32[Gemm31_dim_0=7 x Gemm31_dim_1=1]" {
		t.Errorf("String: got %q", got)
	}
	if err := m.FixDims(map[string]int{"b": 0}, 1); !hasCode(err, BadDimSize) {
		t.Errorf("FixDims(b=0): got %v, want BadDimSize", err)
	}
}

func hasCode(err error, c Code) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Code == c
	}
	var l ErrorList
	if errors.As(err, &l) {
		for _, e := range l {
			if e.Code == c {
				return true
			}
		}
	}
	return false
}

// TestLoadConformance loads every conformance model and every test data
// tensor of a tensor-typed graph input or output, and checks that each
// tensor's element count and type agree with the graph's declaration.
func TestLoadConformance(t *testing.T) {
	models := globOrSkip(t, filepath.Join(conformance, "*", "*", "model.onnx"))
	var nModels, nTensors, nNonTensor int
	for _, f := range models {
		m, err := Load(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		nModels++
		dir := filepath.Dir(f)
		sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
		for _, set := range sets {
			for _, io := range []struct {
				prefix string
				vis    []*ValueInfo
			}{{"input", m.Graph.Inputs}, {"output", m.Graph.Outputs}} {
				files, _ := filepath.Glob(filepath.Join(set, io.prefix+"_*.pb"))
				for i, pb := range files {
					pb = filepath.Join(set, io.prefix+"_"+strconv.Itoa(i)+".pb")
					if i >= len(io.vis) {
						t.Errorf("%s: more test files than graph %ss", pb, io.prefix)
						break
					}
					vi := io.vis[i]
					if vi.Kind != KindTensor {
						nNonTensor++
						continue
					}
					tn, err := LoadTensor(pb)
					if err != nil {
						t.Errorf("%v", err)
						continue
					}
					nTensors++
					n := 1
					for _, d := range tn.Shape {
						n *= d
					}
					if tn.Len() != n || tn.DType != vi.DType || (tn.F == nil) == (tn.I == nil) {
						t.Errorf("%s: %v with %d elements, graph says %v", pb, tn, tn.Len(), vi)
					}
					if vi.HasShape && len(vi.Dims) != len(tn.Shape) {
						t.Errorf("%s: rank %d, graph says %v", pb, len(tn.Shape), vi)
					}
				}
			}
		}
	}
	t.Logf("loaded %d conformance models, %d test tensors (%d non-tensor values skipped)", nModels, nTensors, nNonTensor)
	if nModels < 600 || nTensors < 1700 {
		t.Errorf("loaded %d models and %d tensors; the conformance set has 617 models and more than 1700 tensors", nModels, nTensors)
	}
}

// Values from onnx.numpy_helper.to_array on the same files.
func TestDecodeConformanceTensors(t *testing.T) {
	cases := []struct {
		file  string
		dtype DType
		shape []int
		first []float64
	}{
		{"test_abs/test_data_set_0/input_0.pb", Float32, []int{3, 4, 5}, []float64{1.764052391052246, 0.40015721321105957, 0.978738009929657, 2.2408931255340576, 1.8675580024719238}},
		{"test_cast_FLOAT_to_FLOAT16/test_data_set_0/output_0.pb", Float16, []int{3, 4}, []float64{0.47900390625, 0.480224609375, 0.499755859375, 0.8193359375, 0.47021484375}},
		{"test_cast_FLOAT_to_INT4/test_data_set_0/output_0.pb", Int4, []int{5, 5}, []float64{7, -8, -7, -6, -5}},
		{"test_cast_FLOAT_to_FLOAT4E2M1/test_data_set_0/output_0.pb", Float4E2M1, []int{3, 5}, []float64{0.5, 0, 1, -4, -6}},
		{"test_cast_FLOAT_to_INT2/test_data_set_0/output_0.pb", Int2, []int{7, 1}, []float64{1, -2, -1, 0, 1}},
	}
	for _, c := range cases {
		path := filepath.Join(conformance, "onnx-node", c.file)
		if _, err := os.Stat(path); err != nil {
			t.Skip(err)
		}
		tn, err := LoadTensor(path)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if tn.DType != c.dtype || !reflect.DeepEqual(tn.Shape, c.shape) {
			t.Errorf("%s: got %v, want %v%v", c.file, tn, c.dtype, c.shape)
			continue
		}
		for i, w := range c.first {
			if got := tn.At(i); got != w {
				t.Errorf("%s: element %d = %v, want %v", c.file, i, got, w)
			}
		}
	}
}

func TestHalf(t *testing.T) {
	for bits, want := range map[uint16]float64{
		0x3c00: 1, 0xc000: -2, 0x7bff: 65504, 0x0001: math.Ldexp(1, -24), 0x3555: 0.333251953125,
		0x7c00: math.Inf(1), 0xfc00: math.Inf(-1), 0x8000: 0,
	} {
		if got := halfToFloat(bits); got != want {
			t.Errorf("halfToFloat(%#04x) = %v, want %v", bits, got, want)
		}
	}
	if !math.IsNaN(halfToFloat(0x7e00)) {
		t.Errorf("halfToFloat(0x7e00) is not NaN")
	}
}

func TestFixDimsTwice(t *testing.T) {
	mp := testModel()
	mp.Graph.Input[0] = vi("x", tensorType(Float32, "batch", 3))
	mp.Graph.Input[0].Type.GetTensorType().Shape.Dim = append(mp.Graph.Input[0].Type.GetTensorType().Shape.Dim, &onnxpb.TensorShapeProto_Dimension{})
	m, err := Parse("m.onnx", marshal(t, mp))
	if err != nil {
		t.Fatal(err)
	}
	x := m.Graph.Inputs[0]
	for _, c := range []struct {
		sizes map[string]int
		def   int
		want  []int
	}{{nil, 1, []int{1, 3, 1}}, {map[string]int{"batch": 8}, 2, []int{8, 3, 2}}, {nil, 1, []int{1, 3, 1}}} {
		if err := m.FixDims(c.sizes, c.def); err != nil {
			t.Fatal(err)
		}
		if s, err := x.Shape(); err != nil || !reflect.DeepEqual(s, c.want) {
			t.Errorf("FixDims(%v, %d): shape %v, %v; want %v", c.sizes, c.def, s, err, c.want)
		}
	}
}

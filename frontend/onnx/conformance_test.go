package onnx

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/fheir/fheir/ir"
)

// toIR converts a decoded ONNX tensor to an interpreter input.
func toIR(t *Tensor) *ir.Tensor {
	if t.F != nil {
		return ir.NewFloats(t.Shape, append([]float64{}, t.F...))
	}
	return ir.NewInts(t.Shape, append([]int64{}, t.I...))
}

// closeTo compares got with the reference want: integers exactly, floats
// within float32 tolerance (relative 1e-3 and absolute 1e-5, the ONNX
// backend test defaults loosened for float32 accumulation order; float16
// and bfloat16 references are compared at their own precision).
func closeTo(got *ir.Tensor, want *Tensor) error {
	if !ir.SameShape(got.Shape, want.Shape) {
		return fmt.Errorf("shape %v, want %v", got.Shape, want.Shape)
	}
	rtol, atol := 1e-3, 1e-5
	switch want.DType {
	case Float16:
		rtol, atol = 4e-3, 1e-3
	case BFloat16:
		rtol, atol = 2e-2, 1e-2
	}
	bad, first := 0, ""
	for i := 0; i < want.Len(); i++ {
		g, w := got.At(i), want.At(i)
		ok := g == w || (math.IsNaN(g) && math.IsNaN(w))
		if !ok && want.F != nil && !math.IsInf(w, 0) {
			ok = math.Abs(g-w) <= atol+rtol*math.Abs(w)
		}
		if !ok {
			if bad == 0 {
				first = fmt.Sprintf("element %d = %v, want %v", i, g, w)
			}
			bad++
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d elements differ; %s", bad, want.Len(), first)
	}
	return nil
}

func isUnsupported(err error) bool {
	var l ErrorList
	if errors.As(err, &l) {
		for _, e := range l {
			if !isUnsupported(e) {
				return false
			}
		}
		return true
	}
	var e *Error
	if errors.As(err, &e) {
		switch e.Code {
		case UnsupportedOp, UnsupportedDType, UnsupportedType, UnsupportedSubgraph, NonConstantInput:
			return true
		}
	}
	return false
}

// runCase imports one conformance model and runs every test data set.
// It returns whether the case is unsupported, with the reason.
func runCase(t *testing.T, dir string) (unsupported string, err error) {
	m, err := Load(filepath.Join(dir, "model.onnx"))
	if err != nil {
		return "", err
	}
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	for _, set := range sets {
		var inputs []*ir.Tensor
		shapes := map[string][]int{}
		for i, in := range m.Graph.Inputs {
			if in.Kind != KindTensor {
				return fmt.Sprintf("input of %v type", in.Kind), nil
			}
			tn, err := LoadTensor(filepath.Join(set, "input_"+strconv.Itoa(i)+".pb"))
			if err != nil {
				return "", err
			}
			shapes[in.Name] = tn.Shape
			inputs = append(inputs, toIR(tn))
		}
		for _, out := range m.Graph.Outputs {
			if out.Kind != KindTensor {
				return fmt.Sprintf("output of %v type", out.Kind), nil
			}
		}
		f, err := m.ImportFloat(ImportOptions{InputShapes: shapes})
		if hasCode(err, NonConstantInput) {
			// Shape-like inputs (shapes, axes, pads, indices) that ONNX
			// tests feed at run time are compile-time constants for fheir:
			// bind all inputs but the first (the data) to this data set's values.
			consts := map[string]*Tensor{}
			var rest []*ir.Tensor
			for i, in := range m.Graph.Inputs {
				if i > 0 || in.DType == Int64 || in.DType == Int32 || len(inputs[i].Shape) == 0 {
					consts[in.Name], _ = LoadTensor(filepath.Join(set, "input_"+strconv.Itoa(i)+".pb"))
				} else {
					rest = append(rest, inputs[i])
				}
			}
			inputs = rest
			f, err = m.ImportFloat(ImportOptions{InputShapes: shapes, Constants: consts})
		}
		if err != nil {
			if isUnsupported(err) {
				return unsupportedReason(err), nil
			}
			return "", err
		}
		got, err := ir.Run(f, inputs)
		if err != nil {
			return "", fmt.Errorf("%s: interpreter: %v", set, err)
		}
		for i := range m.Graph.Outputs {
			want, err := LoadTensor(filepath.Join(set, "output_"+strconv.Itoa(i)+".pb"))
			if err != nil {
				return "", err
			}
			if err := closeTo(got[i], want); err != nil {
				return "", fmt.Errorf("%s: output %d: %v", set, i, err)
			}
		}
	}
	return "", nil
}

func unsupportedReason(err error) string {
	var l ErrorList
	if errors.As(err, &l) && len(l) > 0 {
		err = l[0]
	}
	var e *Error
	if errors.As(err, &e) {
		w := e.Where
		if i := strings.Index(w, "("); i >= 0 {
			w = w[i:]
		}
		return w + " " + e.Msg
	}
	return err.Error()
}

// TestConformance imports every ONNX conformance case, runs it in the IR
// interpreter and compares with the reference outputs. Cases whose ops are
// unsupported must fail with an Unsupported* error; any other failure fails
// the test.
func TestConformance(t *testing.T) {
	dirs := globOrSkip(t, filepath.Join(conformance, "*", "*"))
	var passed, failed int
	reasons := map[string]int{}
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "model.onnx")); err != nil {
			continue
		}
		name := filepath.Base(filepath.Dir(dir)) + "/" + filepath.Base(dir)
		uns, err := runCase(t, dir)
		switch {
		case err != nil:
			failed++
			t.Errorf("%s: %v", name, err)
		case uns != "":
			reasons[uns]++
			if testing.Verbose() {
				t.Logf("%s: unsupported: %s", name, uns)
			}
		default:
			passed++
		}
	}
	nuns := 0
	keys := make([]string, 0, len(reasons))
	for k, c := range reasons {
		keys = append(keys, k)
		nuns += c
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("unsupported x%d: %s", reasons[k], k)
	}
	fmt.Printf("conformance: %d passed, %d unsupported, %d failed\n", passed, nuns, failed)
}

package npy

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const fixtures = "../../../shared/fixtures"

// Shapes and first values below were read with numpy.load, not this package.
func TestReadFixtures(t *testing.T) {
	cases := map[string]struct {
		descr string
		shape []int
		first []float64
	}{
		"float_mlp_wine.input.npy":      {"<f4", []int{39, 12}, []float64{-1.0369013547897339, -1.1125162839889526, -0.18027301132678986}},
		"float_mlp_wine.label.npy":      {"<i8", []int{39}, []float64{1, 0, 1}},
		"float_mlp_wine.output.npy":     {"<f4", []int{39, 2}, []float64{-4.47726583480835, 5.411799430847168, 6.666827201843262}},
		"qat_convnet_digits.calib.npy":  {"<f4", []int{100, 1, 8, 8}, []float64{0, 0, 0}},
		"qat_convnet_digits.input.npy":  {"<f4", []int{60, 1, 8, 8}, []float64{0, 0.125, 1}},
		"qat_convnet_digits.label.npy":  {"<i8", []int{60}, []float64{3, 9, 8}},
		"qat_convnet_digits.output.npy": {"<f4", []int{60, 10}, []float64{-10.286508560180664, -5.585144996643066, -2.7514166831970215}},
		"qat_simplenet_wine.calib.npy":  {"<f4", []int{91, 12}, []float64{-0.7983078956604004, -0.6829307675361633, 0.5897502303123474}},
		"qat_simplenet_wine.input.npy":  {"<f4", []int{39, 12}, []float64{-1.0369013547897339, -1.1125162839889526, -0.18027301132678986}},
		"qat_simplenet_wine.label.npy":  {"<i8", []int{39}, []float64{1, 0, 1}},
		"qat_simplenet_wine.output.npy": {"<f4", []int{39, 2}, []float64{-8.459806442260742, 7.771637916564941, 5.033503532409668}},
	}
	files, _ := filepath.Glob(filepath.Join(fixtures, "*.npy"))
	if len(files) == 0 {
		t.Skip("no fixtures")
	}
	for _, f := range files {
		w, ok := cases[filepath.Base(f)]
		if !ok {
			t.Errorf("%s: no expectations", f)
			continue
		}
		a, err := ReadFile(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if a.Descr != w.descr || !reflect.DeepEqual(a.Shape, w.shape) || !reflect.DeepEqual(a.Floats()[:3], w.first) {
			t.Errorf("%s: got %s %v %v, want %s %v %v", f, a.Descr, a.Shape, a.Floats()[:3], w.descr, w.shape, w.first)
		}
		// Round trip through our writer gives back the same bytes' meaning.
		var buf bytes.Buffer
		if err := Write(&buf, a); err != nil {
			t.Fatal(err)
		}
		b, err := Parse("rt.npy", buf.Bytes())
		if err != nil || !reflect.DeepEqual(a, b) {
			t.Errorf("%s: round trip differs: %v", f, err)
		}
		// numpy pads headers so data starts at a multiple of 64; so do we.
		orig, _ := os.ReadFile(f)
		if !bytes.Equal(orig, buf.Bytes()) {
			t.Errorf("%s: rewritten file differs from numpy's", f)
		}
	}
}

// The files in testdata were written by numpy (testdata/gen.py).
func TestReadNumpyFiles(t *testing.T) {
	cases := []struct {
		file  string
		descr string
		shape []int
		vals  []float64
	}{
		{"fortran_f8.npy", "<f8", []int{2, 3}, []float64{-1, -0.5, 0, 0.5, 1, 1.5}},
		{"v2_i2.npy", "<i2", []int{2, 2}, []float64{-3, 300, 7, -32768}},
		{"bool.npy", "|b1", []int{3}, []float64{1, 0, 1}},
		{"big_i4.npy", "<i4", []int{3}, []float64{1, -2, 70000}},
		{"u2.npy", "<u2", []int{2, 1}, []float64{65535, 1}},
		{"scalar_f4.npy", "<f4", []int{}, []float64{2.5}},
		{"f2.npy", "<f2", []int{2}, []float64{1.5, -0.25}},
	}
	for _, c := range cases {
		a, err := ReadFile(filepath.Join("testdata", c.file))
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if a.Descr != c.descr || !reflect.DeepEqual(a.Shape, c.shape) || !reflect.DeepEqual(a.Floats(), c.vals) {
			t.Errorf("%s: got %s %v %v, want %s %v %v", c.file, a.Descr, a.Shape, a.Floats(), c.descr, c.shape, c.vals)
		}
	}
	a, err := ReadFile("testdata/u1_3d.npy")
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range a.I {
		if v != int64(i) {
			t.Fatalf("u1_3d[%d] = %d", i, v)
		}
	}
	if r := a.Row(1); len(r) != 12 || r[0] != 12 {
		t.Errorf("Row(1) = %v", r)
	}
	_, err = ReadFile("testdata/object.npy")
	if e := (*Error)(nil); !errors.As(err, &e) || e.Code != UnsupportedDType || !strings.Contains(err.Error(), `testdata/object.npy: unsupported element type "|O"`) {
		t.Errorf("object array: got %v", err)
	}
}

func TestNPZ(t *testing.T) {
	ar, err := ReadNPZ("testdata/multi.npz")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ar.Names, []string{"x", "y"}) || !reflect.DeepEqual(ar.Arrays["x"].F, []float64{1, 2}) ||
		!reflect.DeepEqual(ar.Arrays["y"].I, []int64{5, -6}) || !reflect.DeepEqual(ar.Arrays["x"].Shape, []int{1, 2}) {
		t.Errorf("multi.npz: %v %v %v", ar.Names, ar.Arrays["x"], ar.Arrays["y"])
	}
	set, err := LoadSet("testdata/compressed.npz")
	if err != nil || len(set) != 1 || !reflect.DeepEqual(set[0].F, []float64{3, 3, 3, 3}) {
		t.Errorf("compressed.npz: %v %v", set, err)
	}
	path := filepath.Join(t.TempDir(), "out.npz")
	if err := WriteNPZ(path, ar.Arrays, nil); err != nil {
		t.Fatal(err)
	}
	back, err := ReadNPZ(path)
	if err != nil || !reflect.DeepEqual(back, ar) {
		t.Errorf("npz round trip: %v %v", back, err)
	}
	if _, err := ParseNPZ("x.npz", []byte("PK\x03\x04garbage")); err == nil || !strings.HasPrefix(err.Error(), "x.npz: not an .npz") {
		t.Errorf("garbage npz: %v", err)
	}
}

func TestWriteTypes(t *testing.T) {
	for _, a := range []*Array{
		{Shape: []int{2}, Descr: "|i1", I: []int64{-128, 127}},
		{Shape: []int{2}, Descr: "|u1", I: []int64{0, 255}},
		{Shape: []int{1, 2}, Descr: "<u4", I: []int64{1<<32 - 1, 0}},
		{Shape: []int{2}, Descr: "<i8", I: []int64{math.MinInt64, math.MaxInt64}},
		{Shape: []int{}, Descr: "<f8", F: []float64{math.Pi}},
		{Shape: []int{3}, Descr: "|b1", I: []int64{1, 0, 1}},
		NewFloat32([]int{2, 0}, []float64{}),
		{Shape: make([]int, 3000), Descr: "<f8", F: []float64{}}, // forces a version 2 header
	} {
		var buf bytes.Buffer
		if err := Write(&buf, a); err != nil {
			t.Errorf("%v: %v", a.Descr, err)
			continue
		}
		if buf.Len()%64 != (a.Len()*map[string]int{"|i1": 1, "|u1": 1, "<u4": 4, "<i8": 8, "<f8": 8, "|b1": 1, "<f4": 4}[a.Descr])%64 {
			t.Errorf("%v: header not padded to 64 bytes", a.Descr)
		}
		b, err := Parse("rt.npy", buf.Bytes())
		if err != nil || !reflect.DeepEqual(a, b) {
			t.Errorf("round trip of %v: got %v, %v", a, b, err)
		}
	}
	if err := Write(&bytes.Buffer{}, &Array{Shape: []int{3}, Descr: "<f4", F: []float64{1}}); err == nil {
		t.Error("shape/length mismatch not rejected")
	}
}

func TestBadFiles(t *testing.T) {
	good, err := os.ReadFile("testdata/v2_i2.npy")
	if err != nil {
		t.Fatal(err)
	}
	v1, _ := os.ReadFile("testdata/bool.npy")
	for name, data := range map[string][]byte{
		"empty":     nil,
		"magic":     []byte("\x93NUMPX\x01\x00\x00\x00"),
		"version":   append([]byte("\x93NUMPY\x09\x00"), good[8:]...),
		"truncated": good[:len(good)-1],
		"long":      append(append([]byte{}, good...), 0),
		"header":    []byte("\x93NUMPY\x01\x00\x10\x00{'descr': 3}    \n"),
		"shape":     bytes.Replace(v1, []byte("(3,)"), []byte("(-3,)"), 1),
		"huge":      bytes.Replace(v1, []byte("(3,), }"), []byte("(9999999,9999999)}"), 1),
		"struct":    []byte("\x93NUMPY\x01\x00\x20\x00{'descr': [('a', '<f4')], 'x':1}\n"),
	} {
		if _, err := Parse(name, data); err == nil || !strings.HasPrefix(err.Error(), name+": ") {
			t.Errorf("%s: got %v, want an error naming the file", name, err)
		}
	}
	for i := 0; i < len(good); i++ {
		if _, err := Parse("cut", good[:i]); err == nil {
			t.Errorf("truncation at %d accepted", i)
		}
	}
}

func TestCSV(t *testing.T) {
	set, err := LoadSet("testdata/with_header.csv")
	if err != nil {
		t.Fatal(err)
	}
	a := set[0]
	if !reflect.DeepEqual(a.Shape, []int{2, 3}) || !reflect.DeepEqual(a.F, []float64{1, 2.5, -3, 4, 0.5, 6}) {
		t.Errorf("got %v %v", a.Shape, a.F)
	}
	if _, err := LoadSet("testdata/ragged.csv"); err == nil || err.Error() != "testdata/ragged.csv:2:1: got 1 values, want 2" {
		t.Errorf("ragged: %v", err)
	}
	if _, err := ReadCSV("b.csv", strings.NewReader("1,2\n3, x\n")); err == nil || err.Error() != `b.csv:2:3: not a number: "x"` {
		t.Errorf("bad value: %v", err)
	}
	if _, err := ReadCSV("h.csv", strings.NewReader("a,b\n")); err == nil {
		t.Errorf("header only: no error")
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/v2_i2.npy", "testdata/fortran_f8.npy", "testdata/bool.npy", "testdata/multi.npz"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		Parse("f.npy", data)
		ParseNPZ("f.npz", data)
		ReadCSV("f.csv", bytes.NewReader(data))
	})
}

package ir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

func mustParse(t *testing.T, src string) *Func {
	t.Helper()
	f, err := Parse("t.fir", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(f); err != nil {
		t.Fatal(err)
	}
	return f
}

func ints(xs ...int64) []int64 { return xs }

// Expected values below are worked out by hand, not by the interpreter.
func TestInterpHandComputed(t *testing.T) {
	cases := []struct {
		name string
		src  string
		in   []*Tensor
		want []int64
	}{
		{"conv_pad", `func main(v0: enc<1x1x3x3xi4>) {
  v1 = const <tensor<1x1x2x2xi3>> [1, 2, 3, 1]
  v2 = conv <enc<1x1x2x2xi8>> v0 v1 {strides=[2, 2], pads=[0, 0, 1, 1]}
  return v2
}`, []*Tensor{NewInts([]int{1, 1, 3, 3}, ints(1, 2, 3, 4, 5, 6, 7, 0, 1))},
			// windows at (0,0): 1*1+2*2+3*4+1*5=22; (0,2): 1*3+2*0+3*6+1*0=21;
			// (2,0): 1*7+2*0+3*0+0=7; (2,2): 1*1=1.
			ints(22, 21, 7, 1)},
		{"conv_group_bias", `func main(v0: enc<1x2x2xi4>) {
  v1 = const <tensor<2x1x2xi3>> [1, -1, 2, 1]
  v2 = const <tensor<2xi4>> [5, -5]
  v3 = conv <enc<1x2x1xi8>> v0 v1 v2 {group=2}
  return v3
}`, []*Tensor{NewInts([]int{1, 2, 2}, ints(3, 1, 2, -2))},
			ints(3-1+5, 4-2-5)},
		{"maxpool_pad", `func main(v0: enc<1x1x2x3xi4>) {
  v1 = maxpool <enc<1x1x1x2xi4>> v0 {kernel=[2, 2], strides=[2, 2], pads=[0, 0, 0, 1]}
  return v1
}`, []*Tensor{NewInts([]int{1, 1, 2, 3}, ints(-5, -2, -7, -3, -4, -8))},
			ints(-2, -7)},
		{"gemm_trans_bias", `func main(v0: enc<2x2xi4>) {
  v1 = const <tensor<3x2xi3>> [1, 0, 0, 1, 1, 1]
  v2 = const <tensor<3xi3>> [0, 1, 2]
  v3 = gemm <enc<2x3xi8>> v0 v1 v2 {trans_b=1}
  return v3
}`, []*Tensor{NewInts([]int{2, 2}, ints(1, 2, 3, 4))},
			ints(1, 3, 5, 3, 5, 9)},
		{"slice_negative_step", `func main(v0: enc<5xi4>) {
  v1 = slice <enc<2xi4>> v0 {starts=[4], ends=[0], axes=[0], steps=[-3]}
  return v1
}`, []*Tensor{NewInts([]int{5}, ints(0, 1, 2, 3, 4))}, ints(4, 1)},
		{"pad_reflect", `func main(v0: enc<3xi4>) {
  v1 = pad <enc<7xi4>> v0 {pads=[2, 2], mode="reflect"}
  return v1
}`, []*Tensor{NewInts([]int{3}, ints(1, 2, 3))}, ints(3, 2, 1, 2, 3, 2, 1)},
		{"gather_transpose", `func main(v0: enc<2x3xi4>) {
  v1 = transpose <enc<3x2xi4>> v0 {perm=[1, 0]}
  v2 = gather <enc<2x2xi4>> v1 {axis=0, indices=<2xi64>[-1, 0]}
  return v2
}`, []*Tensor{NewInts([]int{2, 3}, ints(1, 2, 3, 4, 5, 6))}, ints(3, 6, 1, 4)},
		{"round_tlu_per_channel", `func main(v0: enc<2x2xi5>) {
  v1 = round <enc<2x2xi3>> v0 {bits=2}
  v2 = tlu <enc<2x2xi5>> v1 {lo=-4, axis=1, table=<2x8xi64>[-4, -3, -2, -1, 0, 1, 2, 3, 9, 9, 9, 9, 0, 1, 1, 1]}
  return v2
}`, []*Tensor{NewInts([]int{2, 2}, ints(-9, 5, 6, -16))},
			// round: (-9+2)>>2 = -2, (5+2)>>2 = 1, (6+2)>>2 = 2, (-16+2)>>2 = -4
			ints(-2, 1, 2, 9)},
		{"reduce_concat_broadcast", `func main(v0: enc<2x2xi4>) {
  v1 = reduce_sum <enc<2xi5>> v0 {axes=[0], keepdims=0}
  v2 = reshape <enc<1x2xi5>> v1
  v3 = broadcast <enc<2x2xi5>> v2
  v4 = cast <enc<2x2xi5>> v0
  v5 = concat <enc<2x4xi5>> v4 v3 {axis=1}
  return v5
}`, []*Tensor{NewInts([]int{2, 2}, ints(1, 2, 3, 4))}, ints(1, 2, 4, 6, 3, 4, 4, 6)},
		{"matmul_batched", `func main(v0: enc<2x1x2xi4>) {
  v1 = const <tensor<2x2xi3>> [1, 2, 3, -1]
  v2 = matmul <enc<2x1x2xi8>> v0 v1
  return v2
}`, []*Tensor{NewInts([]int{2, 1, 2}, ints(1, 1, 2, -1))}, ints(4, 1, -1, 5)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := mustParse(t, c.src)
			out, err := Run(f, c.in)
			if err != nil {
				t.Fatal(err)
			}
			if !out[0].Equal(NewInts(out[0].Shape, c.want)) {
				t.Errorf("got %v, want %v", out[0].I, c.want)
			}
		})
	}
}

func TestQuantizeHalfEvenPerChannel(t *testing.T) {
	f := mustParse(t, `func main(v0: enc<2x2xf64>) {
  v1 = quantize <enc<2x2xi4>> v0 {scale=[1.0, 0.5], zero_point=[0, 1], axis=0, qmin=-8, qmax=7}
  v2 = dequantize <enc<2x2xf64>> v1 {scale=[1.0, 0.5], zero_point=[0, 1], axis=0}
  return v1 v2
}`)
	out, err := Run(f, []*Tensor{NewFloats([]int{2, 2}, []float64{2.5, -3.5, 0.25, 100})})
	if err != nil {
		t.Fatal(err)
	}
	// 2.5 -> 2 (half to even), -3.5 -> -4, 0.25/0.5 = 0.5 -> 0, +1 = 1, 200+1 clips to 7.
	if want := ints(2, -4, 1, 7); !out[0].Equal(NewInts([]int{2, 2}, want)) {
		t.Errorf("quantize: got %v, want %v", out[0].I, want)
	}
	if want := []float64{2, -4, 0, 3}; !out[1].Equal(NewFloats([]int{2, 2}, want)) {
		t.Errorf("dequantize: got %v, want %v", out[1].F, want)
	}
}

func TestInterpCatchesOverflow(t *testing.T) {
	f := mustParse(t, `func main(v0: enc<2xi4>) {
  v1 = add <enc<2xi4>> v0 v0  ; loc="Add_1"
  return v1
}`)
	_, err := Run(f, []*Tensor{NewInts([]int{2}, ints(1, 7))})
	if err == nil || !HasCode(err, RangeViolation) || !strings.Contains(err.Error(), `node "Add_1"`) {
		t.Fatalf("want a RangeViolation naming Add_1, got %v", err)
	}
}

func TestRangeBits(t *testing.T) {
	for _, c := range []struct {
		r    Range
		want string
	}{
		{Range{0, 0}, "u1"}, {Range{0, 1}, "u1"}, {Range{0, 7}, "u3"}, {Range{0, 8}, "u4"},
		{Range{-1, 0}, "i1"}, {Range{-8, 7}, "i4"}, {Range{-9, 7}, "i5"}, {Range{-8, 8}, "i5"},
		{Range{-384, 381}, "i10"}, {Range{-1, 255}, "i9"},
	} {
		if got := c.r.Elem().String(); got != c.want {
			t.Errorf("%v: got %s, want %s", c.r, got, c.want)
		}
		e := c.r.Elem()
		if c.r.Lo < e.Min() || c.r.Hi > e.Max() {
			t.Errorf("%v does not fit %s", c.r, e)
		}
	}
}

func goldenSeeds(f interface{ Add(...any) }) {
	files, _ := filepath.Glob("../golden/testdata/*/*.txtar")
	for _, file := range files {
		a, err := txtar.ParseFile(file)
		if err != nil {
			continue
		}
		for _, s := range a.Files {
			if strings.HasSuffix(s.Name, ".fir") {
				f.Add(string(s.Data))
			}
		}
	}
}

// FuzzParse checks that no input makes the parser, verifier or interpreter
// panic, and that whatever parses prints back to a fixed point.
func FuzzParse(f *testing.F) {
	goldenSeeds(f)
	f.Fuzz(func(t *testing.T, src string) {
		fn, err := Parse("fuzz.fir", []byte(src))
		if err != nil {
			return
		}
		s := Print(fn)
		g, err := Parse("again.fir", []byte(s))
		if err != nil {
			t.Fatalf("printed form does not parse: %v\n%s", err, s)
		}
		if s2 := Print(g); s2 != s {
			t.Fatalf("print is not a fixed point:\n%s\n---\n%s", s, s2)
		}
		if Verify(fn) != nil {
			return
		}
		var in []*Tensor
		for _, p := range fn.Params {
			if p.Type.Size() > 1<<12 {
				return
			}
			if p.Type.Elem.Float {
				in = append(in, NewFloats(p.Type.Shape, nil))
			} else {
				in = append(in, NewInts(p.Type.Shape, nil))
			}
		}
		for _, v := range fn.Body {
			if v.Type.Size() > 1<<12 {
				return
			}
		}
		_, _ = Run(fn, in)
	})
}

func TestGoldenSeedsExist(t *testing.T) {
	if _, err := os.Stat("../golden/testdata/ir"); err != nil {
		t.Fatal(err)
	}
}

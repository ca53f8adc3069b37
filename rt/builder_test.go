package rt

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The builder's helpers are checked against direct loop implementations
// written here from the ONNX definitions, on random tensors.

func input(b *Builder, name string, shape []int, lo, hi int64) ValueID {
	return b.Input(name, shape, true, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}, QMin: lo, QMax: hi})
}

func randInts(rng *rand.Rand, n int, lo, hi int64) []int64 {
	x := make([]int64, n)
	for i := range x {
		x[i] = lo + rng.Int64N(hi-lo+1)
	}
	return x
}

// runBuilt builds b with output y and runs it on xs.
func runBuilt(t *testing.T, b *Builder, y ValueID, xs ...[]int64) []int64 {
	t.Helper()
	b.Output("y", y, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}})
	c, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Run(context.Background(), Disable, xs, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Ranges computed by the builder must hold every actual value.
	v := c.Values[c.Outputs[0].Value]
	for _, o := range out[0] {
		if o < v.Min || o > v.Max {
			t.Fatalf("output %d outside its computed range [%d,%d]", o, v.Min, v.Max)
		}
	}
	return out[0]
}

func TestShapeOps(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := randInts(rng, 24, -5, 5) // shape [2,3,4]
	at := func(i, j, k int) int64 { return x[i*12+j*4+k] }

	t.Run("transpose", func(t *testing.T) {
		b := NewBuilder("t")
		got := runBuilt(t, b, b.Transpose("tr", input(b, "x", []int{2, 3, 4}, -5, 5), []int{2, 0, 1}), x)
		var want []int64
		for k := range 4 {
			for i := range 2 {
				for j := range 3 {
					want = append(want, at(i, j, k))
				}
			}
		}
		if !cmp.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("slice", func(t *testing.T) {
		b := NewBuilder("t")
		got := runBuilt(t, b, b.Slice("s", input(b, "x", []int{2, 3, 4}, -5, 5), []int{1, 0, 3}, []int{1, 2, -2}, []int{1, 2, 2}), x)
		var want []int64
		for _, j := range []int{0, 2} {
			for _, k := range []int{3, 1} {
				want = append(want, at(1, j, k))
			}
		}
		if !cmp.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("concat", func(t *testing.T) {
		b := NewBuilder("t")
		y := randInts(rng, 8, -2, 2) // [2,1,4]
		got := runBuilt(t, b, b.Concat("c", []ValueID{input(b, "x", []int{2, 3, 4}, -5, 5), input(b, "y", []int{2, 1, 4}, -2, 2)}, 1), x, y)
		var want []int64
		for i := range 2 {
			for j := range 4 {
				for k := range 4 {
					if j < 3 {
						want = append(want, at(i, j, k))
					} else {
						want = append(want, y[i*4+k])
					}
				}
			}
		}
		if !cmp.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("pad", func(t *testing.T) {
		b := NewBuilder("t")
		got := runBuilt(t, b, b.Pad("p", input(b, "x", []int{2, 3, 4}, -5, 5), []int{0, 1, 0}, []int{1, 0, 2}, 9), x)
		var want []int64
		for i := range 3 {
			for j := range 4 {
				for k := range 6 {
					if i < 2 && j >= 1 && k < 4 {
						want = append(want, at(i, j-1, k))
					} else {
						want = append(want, 9)
					}
				}
			}
		}
		if !cmp.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("expand_reshape", func(t *testing.T) {
		b := NewBuilder("t")
		y := randInts(rng, 3, -2, 2) // [3,1]
		e := b.Expand("e", input(b, "y", []int{3, 1}, -2, 2), []int{2, 3, 2})
		got := runBuilt(t, b, b.Reshape("r", e, []int{12}), y)
		var want []int64
		for range 2 {
			for j := range 3 {
				want = append(want, y[j], y[j])
			}
		}
		if !cmp.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("reducesum", func(t *testing.T) {
		b := NewBuilder("t")
		got := runBuilt(t, b, b.ReduceSum("r", input(b, "x", []int{2, 3, 4}, -5, 5), []int{0, 2}, true), x)
		want := make([]int64, 3)
		for i := range 2 {
			for j := range 3 {
				for k := range 4 {
					want[j] += at(i, j, k)
				}
			}
		}
		if !cmp.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
}

func TestArithmeticOps(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	a := randInts(rng, 6, -7, 7) // [2,3]
	c := randInts(rng, 3, -4, 6) // [3]
	bc := func(f func(x, y int64) int64) []int64 {
		var w []int64
		for i := range 2 {
			for j := range 3 {
				w = append(w, f(a[i*3+j], c[j]))
			}
		}
		return w
	}
	cases := []struct {
		name string
		op   func(b *Builder, x, y ValueID) ValueID
		want []int64
	}{
		{"add", func(b *Builder, x, y ValueID) ValueID { return b.Add("add", x, y) }, bc(func(x, y int64) int64 { return x + y })},
		{"sub", func(b *Builder, x, y ValueID) ValueID { return b.Sub("sub", x, y) }, bc(func(x, y int64) int64 { return x - y })},
		{"mul", func(b *Builder, x, y ValueID) ValueID { return b.Mul("mul", x, y) }, bc(func(x, y int64) int64 { return x * y })},
		{"max", func(b *Builder, x, y ValueID) ValueID { return b.Max("max", x, y) }, bc(func(x, y int64) int64 { return max(x, y) })},
		{"neg", func(b *Builder, x, _ ValueID) ValueID { return b.Neg("neg", x) }, bc(func(x, _ int64) int64 { return -x })},
		{"affine", func(b *Builder, x, _ ValueID) ValueID {
			return b.Affine("aff", x, []int64{2, -3, 0}, []int64{1, 0, 5}, []int{3})
		}, bc(func(x, _ int64) int64 { return x })}, // replaced below
	}
	// affine: mul/add per column.
	var aff []int64
	for i := range 2 {
		for j, m := range []int64{2, -3, 0} {
			aff = append(aff, m*a[i*3+j]+[]int64{1, 0, 5}[j])
		}
	}
	cases[len(cases)-1].want = aff
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder("t")
			x, y := input(b, "a", []int{2, 3}, -7, 7), input(b, "c", []int{3}, -4, 6)
			if got := runBuilt(t, b, tc.op(b, x, y), a, c); !cmp.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMatMuls(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	x := randInts(rng, 2*3*4, -3, 3) // [2,3,4]
	w := randInts(rng, 4*5, -2, 2)   // [4,5]
	bias := randInts(rng, 5, -9, 9)
	t.Run("clear_weights", func(t *testing.T) {
		b := NewBuilder("t")
		got := runBuilt(t, b, b.MatMul("mm", input(b, "x", []int{2, 3, 4}, -3, 3), w, 4, 5, bias), x)
		var want []int64
		for r := range 6 {
			for j := range 5 {
				s := bias[j]
				for i := range 4 {
					s += x[r*4+i] * w[i*5+j]
				}
				want = append(want, s)
			}
		}
		if !cmp.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("clear_left", func(t *testing.T) {
		b := NewBuilder("t")
		wl := randInts(rng, 2*3, -2, 2) // [2,3] × x[2][3,4]
		got := runBuilt(t, b, b.MatMulLeft("ml", wl, 2, 3, input(b, "x", []int{2, 3, 4}, -3, 3)), x)
		var want []int64
		for bt := range 2 {
			for i := range 2 {
				for j := range 4 {
					var s int64
					for k := range 3 {
						s += wl[i*3+k] * x[bt*12+k*4+j]
					}
					want = append(want, s)
				}
			}
		}
		if !cmp.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
	t.Run("encrypted", func(t *testing.T) {
		b := NewBuilder("t")
		y := randInts(rng, 2*4*2, -4, 4) // [2,4,2]
		got := runBuilt(t, b, b.MatMulEnc("me", input(b, "x", []int{2, 3, 4}, -3, 3), input(b, "y", []int{2, 4, 2}, -4, 4)), x, y)
		var want []int64
		for bt := range 2 {
			for i := range 3 {
				for j := range 2 {
					var s int64
					for k := range 4 {
						s += x[bt*12+i*4+k] * y[bt*8+k*2+j]
					}
					want = append(want, s)
				}
			}
		}
		if !cmp.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
}

// naiveConv2D is ONNX Conv on [N,C,H,W] with square stride/pad/dilation
// and groups, padding with padValue.
func naiveConv2D(x []int64, n, c, h, wd int, w []int64, o, kh, kw int, bias []int64, stride, pad, dil, group int, padValue int64) ([]int64, int, int) {
	oh := (h+2*pad-dil*(kh-1)-1)/stride + 1
	ow := (wd+2*pad-dil*(kw-1)-1)/stride + 1
	cg := c / group
	var out []int64
	for b := range n {
		for oc := range o {
			g := oc / (o / group)
			for i := range oh {
				for j := range ow {
					var s int64
					if bias != nil {
						s = bias[oc]
					}
					for icg := range cg {
						ic := g*cg + icg
						for u := range kh {
							for v := range kw {
								y, xx := i*stride+u*dil-pad, j*stride+v*dil-pad
								val := padValue
								if y >= 0 && y < h && xx >= 0 && xx < wd {
									val = x[((b*c+ic)*h+y)*wd+xx]
								}
								s += val * w[((oc*cg+icg)*kh+u)*kw+v]
							}
						}
					}
					out = append(out, s)
				}
			}
		}
	}
	return out, oh, ow
}

func TestConvAndPools(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	x := randInts(rng, 2*4*5*5, 0, 7) // [2,4,5,5]
	for _, tc := range []struct{ stride, pad, dil, group int }{{1, 0, 1, 1}, {2, 1, 1, 2}, {1, 2, 2, 4}} {
		b := NewBuilder("t")
		o := 4
		w := randInts(rng, o*(4/tc.group)*3*3, -3, 3)
		bias := randInts(rng, o, -5, 5)
		y := b.Conv("conv", input(b, "x", []int{2, 4, 5, 5}, 0, 7), w, []int{o, 4 / tc.group, 3, 3}, bias, ConvAttrs{
			Strides: []int{tc.stride, tc.stride}, Pads: []int{tc.pad, tc.pad, tc.pad, tc.pad},
			Dilations: []int{tc.dil, tc.dil}, Group: tc.group, PadValue: 3})
		got := runBuilt(t, b, y, x)
		want, _, _ := naiveConv2D(x, 2, 4, 5, 5, w, o, 3, 3, bias, tc.stride, tc.pad, tc.dil, tc.group, 3)
		if !cmp.Equal(got, want) {
			t.Errorf("conv %+v: got %v, want %v", tc, got, want)
		}
	}
	// Sum pooling is a depthwise conv with all-one kernels.
	b := NewBuilder("t")
	got := runBuilt(t, b, b.SumPool("pool", input(b, "x", []int{2, 4, 5, 5}, 0, 7), []int{2, 2}, ConvAttrs{Strides: []int{2, 2}}), x)
	ones := make([]int64, 4*2*2)
	for i := range ones {
		ones[i] = 1
	}
	want, _, _ := naiveConv2D(x, 2, 4, 5, 5, ones, 4, 2, 2, nil, 2, 0, 1, 4, 0)
	if !cmp.Equal(got, want) {
		t.Errorf("sumpool: got %v, want %v", got, want)
	}
	// Max pooling with padding: padding never wins.
	xs := randInts(rng, 1*2*4*4, -6, 6)
	b = NewBuilder("t")
	got = runBuilt(t, b, b.MaxPool("mp", input(b, "x", []int{1, 2, 4, 4}, -6, 6), []int{3, 3}, ConvAttrs{Strides: []int{2, 2}, Pads: []int{1, 1, 1, 1}}), xs)
	var wantMax []int64
	for ch := range 2 {
		for i := range 2 {
			for j := range 2 {
				m := int64(-100)
				for u := range 3 {
					for v := range 3 {
						y, xx := 2*i+u-1, 2*j+v-1
						if y >= 0 && y < 4 && xx >= 0 && xx < 4 {
							m = max(m, xs[(ch*4+y)*4+xx])
						}
					}
				}
				wantMax = append(wantMax, m)
			}
		}
	}
	if !cmp.Equal(got, wantMax) {
		t.Errorf("maxpool: got %v, want %v", got, wantMax)
	}
}

func TestBuilderErrors(t *testing.T) {
	b := NewBuilder("t")
	x := input(b, "x", []int{2, 3}, 0, 3)
	b.MatMul("bad", x, []int64{1, 2}, 4, 1, nil)
	b.Reshape("after", x, []int{6}) // ignored once an error sticks
	if _, err := b.Build(); CodeOf(err) != InvalidCircuit {
		t.Errorf("got %v, want InvalidCircuit", err)
	}
	b = NewBuilder("t")
	x = input(b, "x", []int{2, 3}, 0, 3)
	b.Add("add", x, input(b, "y", []int{4}, 0, 1))
	if b.Err() == nil {
		t.Error("non-broadcastable shapes accepted")
	}
}

func TestMaxRange(t *testing.T) {
	b := NewBuilder("t")
	x := input(b, "x", []int{4}, 0, 7)
	y := input(b, "y", []int{4}, -3, 5)
	m := b.Max("m", x, y)
	if v := b.Value(m); v.Min != 0 || v.Max != 7 {
		t.Errorf("max range [%d,%d], want [0,7]", v.Min, v.Max)
	}
	// A tree of maxima keeps the range, so later lookups stay narrow.
	mm := b.Max("mm", m, b.Max("m2", y, x))
	if v := b.Value(mm); v.Min != 0 || v.Max != 7 {
		t.Errorf("max of maxima range [%d,%d], want [0,7]", v.Min, v.Max)
	}
	got := runBuilt(t, b, mm, []int64{0, 7, 3, 5}, []int64{-3, 5, 4, 5})
	if want := []int64{0, 7, 4, 5}; !cmp.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestBuilderLinearChecks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rowPtr []int32
		src    []int32
	}{
		{"decreasing", []int32{0, 3, 1, 3}, []int32{0, 1, 2}},
		{"not from zero", []int32{1, 2, 3, 3}, []int32{0, 1, 2}},
		{"source out of range", []int32{0, 1, 2, 3}, []int32{0, 1, 9}},
	} {
		b := NewBuilder("t")
		x := input(b, "x", []int{3}, 0, 3)
		b.Linear(tc.name, []ValueID{x}, []int{3}, tc.rowPtr, tc.src, []int64{1, 1, 1}, nil)
		if CodeOf(b.Err()) != InvalidCircuit {
			t.Errorf("%s: got %v, want InvalidCircuit", tc.name, b.Err())
		}
	}
}

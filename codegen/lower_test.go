package codegen

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fheir/fheir/ir"
	"github.com/fheir/fheir/rt"
)

func loadFIR(t testing.TB, path string) *ir.Func {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseFIR(t, path, string(src))
}

func parseFIR(t testing.TB, path, src string) *ir.Func {
	t.Helper()
	f, err := ir.Parse(path, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := ir.Verify(f); err != nil {
		t.Fatal(err)
	}
	return f
}

// randomInputs draws one input set for f: integers uniform over each
// integer parameter's range, and for a float parameter the real numbers
// whose quantization is uniform over [qmin, qmax] (spread inside the
// quantization step, so that rounding is exercised).
func randomInputs(f *ir.Func, rng *rand.Rand) []*ir.Tensor {
	uses := f.Uses()
	var in []*ir.Tensor
	for _, p := range f.Params {
		n := p.Type.Size()
		if !p.Type.Elem.Float {
			r := irRange(p)
			x := make([]int64, n)
			for i := range x {
				x[i] = r.Lo + rng.Int64N(r.Hi-r.Lo+1)
			}
			in = append(in, ir.NewInts(p.Type.Shape, x))
			continue
		}
		q := uses[p][0]
		s, z := q.Floats("scale")[0], q.Ints("zero_point", nil)[0]
		lo, hi := q.Int("qmin", 0), q.Int("qmax", 0)
		x := make([]float64, n)
		for i := range x {
			// Slightly outside [qmin, qmax] too, to exercise the clamp.
			k := lo - 1 + rng.Int64N(hi-lo+3)
			x[i] = (float64(k-z) + 0.98*(rng.Float64()-0.5)) * s
		}
		in = append(in, ir.NewFloats(p.Type.Shape, x))
	}
	return in
}

// interpret runs f with the IR interpreter and returns the integer value
// of each result (before its dequantize; nil for a result computed by
// float post-processing), the float value of each result, and the
// quantized inputs.
func interpret(t testing.TB, f *ir.Func, in []*ir.Tensor) (outs [][]int64, real [][]float64, qin [][]int64) {
	t.Helper()
	env, err := ir.Eval(f, in)
	if err != nil {
		t.Fatalf("interpreter: %v", err)
	}
	for _, r := range f.Results {
		real = append(real, env[r].Floats())
		switch {
		case r.Op == ir.OpDequantize:
			outs = append(outs, env[r.Args[0]].I)
		case r.Type.Elem.Float:
			outs = append(outs, nil)
		default:
			outs = append(outs, env[r].I)
		}
	}
	uses := f.Uses()
	for i, p := range f.Params {
		if p.Type.Elem.Float {
			qin = append(qin, env[uses[p][0]].I)
		} else {
			qin = append(qin, in[i].I)
		}
	}
	return outs, real, qin
}

func floats(in []*ir.Tensor) [][]float64 {
	var x [][]float64
	for _, t := range in {
		x = append(x, t.Floats())
	}
	return x
}

// TestLowerMatchesInterpreter checks, on handmade networks covering every
// lowering rule, that the circuit run in Disable mode gives the same
// integers as the IR interpreter on many random inputs, and that the
// circuit's quantization of real inputs equals the IR's quantize.
func TestLowerMatchesInterpreter(t *testing.T) {
	files, _ := filepath.Glob("testdata/lower/*.fir")
	if len(files) < 4 {
		t.Fatalf("found %d networks in testdata/lower", len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			f := loadFIR(t, file)
			c, posts, err := Lower(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Inputs) != len(f.Params) || len(c.Outputs) != len(f.Results) {
				t.Fatalf("circuit has %d inputs and %d outputs, want %d and %d", len(c.Inputs), len(c.Outputs), len(f.Params), len(f.Results))
			}
			rng := rand.New(rand.NewPCG(1, uint64(len(file))))
			for trial := 0; trial < 200; trial++ {
				in := randomInputs(f, rng)
				want, real, qin := interpret(t, f, in)
				q, err := c.Quantize(floats(in))
				if err != nil {
					t.Fatal(err)
				}
				for i := range q {
					if !slices.Equal(q[i], qin[i]) {
						t.Fatalf("trial %d: circuit quantizes input %d to %v, IR to %v", trial, i, q[i], qin[i])
					}
				}
				got, err := c.Run(context.Background(), rt.Disable, qin, nil)
				if err != nil {
					t.Fatalf("trial %d: %v", trial, err)
				}
				for i := range want {
					if want[i] != nil && !slices.Equal(got[i], want[i]) {
						t.Fatalf("trial %d: output %d: circuit %v, interpreter %v (inputs %v)", trial, i, got[i], want[i], qin)
					}
				}
				// Real outputs: dequantized and post-processed, equal to
				// the interpreter's floats bit for bit.
				y, err := c.Dequantize(got)
				if err != nil {
					t.Fatal(err)
				}
				for i := range y {
					posts[i].Apply(y[i])
					for j := range y[i] {
						if y[i][j] != real[i][j] {
							t.Fatalf("trial %d: real output %d: circuit %v, interpreter %v", trial, i, y[i], real[i])
						}
					}
				}
			}
		})
	}
}

// TestLowerRoundFusion checks that round followed by tlu becomes one
// lookup dropping the rounded bits, and that a round used elsewhere is
// also a lookup of its own.
func TestLowerRoundFusion(t *testing.T) {
	c, _, err := Lower(loadFIR(t, "testdata/lower/mlp.fir"))
	if err != nil {
		t.Fatal(err)
	}
	var tlus []rt.Op
	for _, op := range c.Ops {
		if op.Kind == rt.OpTLU {
			tlus = append(tlus, op)
		}
	}
	if len(tlus) != 1 || tlus[0].DropBits != 2 || tlus[0].Rounding != rt.RoundApprox || tlus[0].Name != "relu1" {
		t.Fatalf("mlp: want one approximate lookup relu1 dropping 2 bits, got %+v", tlus)
	}
	if got := c.Outputs[0].Dequant.Scale; len(got) != 1 || got[0] != 0.1 {
		t.Errorf("output dequantization scale %v, want [0.1]", got)
	}
	if q := c.Inputs[0].Quant; q.QMin != -4 || q.QMax != 3 || q.Scale[0] != 0.5 {
		t.Errorf("input quantization %+v, want scale 0.5, clamp [-4,3]", q)
	}

	c, _, err = Lower(loadFIR(t, "testdata/lower/encmul.fir"))
	if err != nil {
		t.Fatal(err)
	}
	drops := 0
	for _, op := range c.Ops {
		if op.Kind == rt.OpTLU && op.DropBits == 2 {
			drops++
		}
	}
	if drops != 2 { // v11 alone (used by add) and fused into v12
		t.Errorf("encmul: %d lookups drop 2 bits, want 2", drops)
	}
}

// TestLowerRanges checks that value ranges come from the IR's facts when
// they are tighter than interval arithmetic.
func TestLowerRanges(t *testing.T) {
	c, _, err := Lower(loadFIR(t, "testdata/lower/conv.fir"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range c.Values {
		if v.Name == "conv" {
			if v.Min != -5 || v.Max != 9 {
				t.Errorf("conv range [%d,%d], want the IR fact [-5,9]", v.Min, v.Max)
			}
			return
		}
	}
	t.Fatal("no value named conv")
}

// TestLowerErrors checks that what cannot be lowered is reported with the
// node, its position and a stable code, all at once.
func TestLowerErrors(t *testing.T) {
	cases := []struct {
		name, src string
		want      []string // substrings, one per expected error line
	}{
		{"float_after_dequantize", `func main(v0: enc<1x2xf64> loc="x") {
  v1 = quantize <enc<1x2xi3>> v0 {scale=[0.5], zero_point=[0], qmin=-4, qmax=3}
  v2 = dequantize <enc<1x2xf64>> v1 {scale=[0.5], zero_point=[0]}
  v3 = relu <enc<1x2xf64>> v2  ; loc="Relu_7"
  return v3
}`, []string{`3:3: v2 (dequantize): dequantize is used by other ops than return: float computation on encrypted data [EncryptedFloat]`}},
		{"conv_encrypted_weights", `func main(v0: enc<1x1x3x3xi3> loc="x", v1: enc<1x1x2x2xi3> loc="w") {
  v2 = conv <enc<1x1x2x2xi8>> v0 v1  ; loc="Conv_2"
  v3 = sumpool <enc<1x1x1x1xi10>> v2 {kernel=[2, 2]}
  v4 = relu <enc<1x1x3x3xu2>> v0
  v5 = mul <enc<1x1x3x3xi4>> v4 v4
  v6 = div <enc<1x1x3x3xi4>> v5 v0  ; loc="Div_9"
  return v3 v6
}`, []string{`2:3: node "Conv_2": v2 (conv): conv with non-constant weights has no lowering (weights must be clear constants) [UnsupportedOp]`,
			`6:3: node "Div_9": v6 (div): div of two non-constant operands has no lowering`}},
		{"float_result", `func main(v0: enc<2xf64> loc="x") {
  v1 = quantize <enc<2xi3>> v0 {scale=[0.5], zero_point=[0], qmin=-4, qmax=3}
  v2 = quantize <enc<2xi3>> v0 {scale=[0.25], zero_point=[0], qmin=-4, qmax=3}
  v3 = add <enc<2xi4>> v1 v2
  return v3 v0
}`, []string{`1:11: node "x": v0 (param): result 1 is a float computed by param, want a dequantize of an integer value [EncryptedFloat]`,
			`3:3: v2 (quantize): input "x" is quantized twice with different parameters (first by v1) [UnsupportedOp]`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := parseFIR(t, "in.fir", tc.src)
			_, _, err := Lower(f)
			if err == nil {
				t.Fatal("Lower succeeded, want errors")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(lines), len(tc.want), err)
			}
			for i, w := range tc.want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("error %d:\n got %s\nwant substring %s", i, lines[i], w)
				}
			}
		})
	}
}

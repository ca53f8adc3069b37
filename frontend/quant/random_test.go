package quant

import (
	"fmt"
	"testing"

	"github.com/fheir/fheir/ir"
)

// randomNet builds a random fake-quant MLP-like network on [1,n] vectors:
// gemms with per-tensor or per-channel weights (QONNX or QCDQ form),
// element-wise activations and affine ops, quantizers of random widths and
// zero points, residual adds and subs through one shared quantizer,
// products of two quantized branches, concats, and reshapes/transposes.
func randomNet(seed int64) (*ir.Func, string) {
	b := newNet(seed, ir.F64)
	rnd := b.rnd
	n := 2 + rnd.Intn(6)
	x := b.param("x", 1, n)
	var desc []string
	quantize := func(h *ir.Value, loc string) *ir.Value {
		bits := 2 + rnd.Intn(5)
		signed := rnd.Intn(2) == 0
		zp := int64(0)
		if !signed {
			zp = rnd.Int63n(int64(1) << (bits - 1))
		}
		s := 0.05 + rnd.Float64()*0.4
		if rnd.Intn(2) == 0 {
			return b.quant(h, s, zp, bits, signed, loc)
		}
		return b.qcdq(h, s, zp, bits, signed, loc)
	}
	h := quantize(x, "/q_in")
	for layer := 0; layer < 3+rnd.Intn(3); layer++ {
		loc := fmt.Sprintf("/l%d", layer)
		m := 1 + rnd.Intn(6)
		switch k := rnd.Intn(7); k {
		case 6: // gemm with per-channel weights, reshape before the activation
			g := b.gemm(h, b.weight([]int{m, n}, 3, 0, rnd.Intn(2) == 0, loc+"/w"), true, loc+"/Gemm")
			g = b.add(ir.OpReshape, []int{m, 1}, []*ir.Value{g}, nil, loc+"/Reshape")
			g = b.unary(ir.OpSigmoid, g, loc+"/Act")
			g = b.add(ir.OpTranspose, []int{1, m}, []*ir.Value{g}, ir.Attrs{ir.IntsAttr("perm", []int64{1, 0})}, loc+"/Transpose")
			desc = append(desc, fmt.Sprintf("gemm %dx%d reshape sigmoid transpose", m, n))
			h, n = quantize(g, loc+"/Quant"), m
		case 0, 1, 2: // gemm, maybe with a residual over the same input
			axis := -1
			if rnd.Intn(2) == 0 {
				axis = 0
			}
			g := b.gemm(h, b.weight([]int{m, n}, 2+rnd.Intn(4), axis, rnd.Intn(2) == 0, loc+"/w"), rnd.Intn(2) == 0, loc+"/Gemm")
			act := []ir.Op{ir.OpRelu, ir.OpSigmoid, ir.OpTanh, ir.OpGelu, ir.OpNeg, ir.OpAbs}[rnd.Intn(6)]
			g = b.unary(act, g, loc+"/Act")
			desc = append(desc, fmt.Sprintf("gemm %dx%d axis=%d %s", m, n, axis, act))
			h, n = quantize(g, loc+"/Quant"), m
		case 3: // two branches of the same input, one shared quantizer, add or sub
			a := b.unary(ir.OpRelu, b.gemm(h, b.weight([]int{m, n}, 3, -1, false, loc+"/wa"), true, loc+"/GemmA"), loc+"/ReluA")
			c := b.unary(ir.OpTanh, b.gemm(h, b.weight([]int{m, n}, 3, 0, true, loc+"/wc"), true, loc+"/GemmC"), loc+"/TanhC")
			s := 0.05 + rnd.Float64()*0.3
			a = b.quant(a, s, 0, 4, true, loc+"/QA")
			c = b.quant(c, s, 0, 4, true, loc+"/QC")
			op := []ir.Op{ir.OpAdd, ir.OpSub, ir.OpMul}[rnd.Intn(3)]
			desc = append(desc, fmt.Sprintf("residual %s %d", op, m))
			h, n = quantize(b.add(op, []int{1, m}, []*ir.Value{a, c}, nil, loc+"/Join"), loc+"/Quant"), m
		case 4: // concat with itself through a univariate branch quantized alike
			d := h
			for isTransparent(d.Op) {
				d = d.Args[0]
			}
			s, z := d.Floats("scale")[0], d.Ints("zero_point", nil)[0]
			c := b.quant(b.unary(ir.OpSigmoid, h, loc+"/Sig"), s, z, 8, z == 0, loc+"/QS")
			desc = append(desc, "concat")
			cat := b.add(ir.OpConcat, []int{1, 2 * n}, []*ir.Value{h, c}, ir.Attrs{ir.IntAttr("axis", 1)}, loc+"/Concat")
			h, n = quantize(cat, loc+"/Quant"), 2*n
		case 5: // reshape to [n,1], transpose back
			r := b.add(ir.OpReshape, []int{n, 1}, []*ir.Value{h}, nil, loc+"/Reshape")
			desc = append(desc, "reshape+transpose")
			h = b.add(ir.OpTranspose, []int{1, n}, []*ir.Value{r}, ir.Attrs{ir.IntsAttr("perm", []int64{1, 0})}, loc+"/Transpose")
		}
	}
	h = b.gemm(h, b.weight([]int{2, n}, 3, -1, false, "/out/w"), true, "/out/Gemm")
	b.f.Results = []*ir.Value{h}
	return b.f, fmt.Sprint(desc)
}

// Random networks: the lowered integer function equals the fake-quant one
// (in f64, so up to rounding of the last bits), before and after the
// passes' default pipeline.
func TestRandomNetworks(t *testing.T) {
	n := 60
	if testing.Short() {
		n = 15
	}
	for seed := int64(0); seed < int64(n); seed++ {
		f, desc := randomNet(seed)
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Logf("layers: %s", desc)
			checkLowering(t, f, 30, 1.5)
		})
	}
}

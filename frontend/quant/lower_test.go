package quant

import (
	"math"
	"math/rand"
	"os"
	"strings"
	"testing"

	"github.com/fheir/fheir/ir"
)

// simpleNet is the reference page's QATSimpleNet shape: 3-bit input quantizer,
// 12→30→30→2 with 3-bit weights, relu and 3-bit quantizers between layers.
func simpleNet(seed int64, qcdq bool, fe ir.Elem) *ir.Func {
	b := newNet(seed, fe)
	x := b.param("inp.1", 1, 12)
	q := b.quant
	if qcdq {
		q = b.qcdq
	}
	h := q(x, 0.867, 0, 3, true, "/quant_inp/Quant")
	h = b.gemm(h, b.weight([]int{30, 12}, 3, -1, qcdq, "/fc1/weight_quant"), true, "/fc1/Gemm")
	h = b.unary(ir.OpRelu, h, "/Relu")
	h = q(h, 0.89, 0, 3, true, "/quant2/Quant")
	h = b.gemm(h, b.weight([]int{30, 30}, 3, -1, qcdq, "/fc2/weight_quant"), true, "/fc2/Gemm")
	h = b.unary(ir.OpRelu, h, "/Relu_1")
	h = q(h, 1.96, 0, 3, true, "/quant3/Quant")
	h = b.gemm(h, b.weight([]int{2, 30}, 3, -1, qcdq, "/fc3/weight_quant"), true, "/fc3/Gemm")
	b.f.Results = []*ir.Value{h}
	return b.f
}

func TestSimpleNetQONNX(t *testing.T) {
	low := checkLowering(t, simpleNet(1, false, ir.F32), 200, 1.5)
	// Three integer gemms, four quantizers (input + 2 hidden + none at the
	// output), results end with dequantize + bias add.
	count := map[ir.Op]int{}
	for _, v := range low.Body {
		count[v.Op]++
	}
	if count[ir.OpGemm] != 3 || count[ir.OpQuantize] != 3 || count[ir.OpDequantize] != 3 {
		t.Errorf("got %d gemm, %d quantize, %d dequantize; want 3, 3, 3\n%s", count[ir.OpGemm], count[ir.OpQuantize], count[ir.OpDequantize], ir.Print(low))
	}
	r := low.Results[0]
	if r.Op != ir.OpAdd || r.Args[0].Op != ir.OpDequantize {
		t.Errorf("result is %s, want add(dequantize, bias)", r.Op)
	}
}

func TestSimpleNetQCDQ(t *testing.T) {
	low := checkLowering(t, simpleNet(2, true, ir.F32), 200, 1.5)
	// QCDQ's clip merges into the quantizer: 3-bit bounds, no clip left.
	for _, v := range low.Body {
		if v.Op == ir.OpClip {
			t.Errorf("clip left after lowering: %s", ir.Print(low))
		}
		if v.Op == ir.OpQuantize && (v.Int("qmin", 0) != -4 || v.Int("qmax", 0) != 3 || v.Type.Elem != ir.Int(3)) {
			t.Errorf("quantizer %s has [%d,%d] %s, want [-4,3] i3", v.Loc, v.Int("qmin", 0), v.Int("qmax", 0), v.Type.Elem)
		}
	}
}

func TestSimpleNetF64(t *testing.T) {
	checkLowering(t, simpleNet(3, false, ir.F64), 200, 1.5)
}

// convNet is the Brevitas CNN: 4-bit input quantizer, conv with
// per-channel 3-bit weights and bias, batchnorm (per-channel mul/add),
// relu with an unsigned 3-bit quantizer, maxpool, flatten, a linear layer.
func convNet(seed int64, qcdq bool) *ir.Func {
	b := newNet(seed, ir.F32)
	x := b.param("inp.1", 1, 1, 8, 8)
	q := b.quant
	if qcdq {
		q = b.qcdq
	}
	h := q(x, 0.25, 0, 4, true, "/q0/Quant")
	w := b.weight([]int{4, 1, 3, 3}, 3, 0, qcdq, "/c1/weight_quant")
	h = b.add(ir.OpConv, []int{1, 4, 8, 8}, []*ir.Value{h, w, b.floats([]int{4}, 0.2)},
		ir.Attrs{ir.IntsAttr("pads", []int64{1, 1, 1, 1})}, "/c1/Conv")
	bnScale := b.floats([]int{1, 4, 1, 1}, 1)
	h = b.add(ir.OpMul, h.Type.Shape, []*ir.Value{h, bnScale}, nil, "/bn/BatchNormalization")
	h = b.add(ir.OpAdd, h.Type.Shape, []*ir.Value{h, b.floats([]int{1, 4, 1, 1}, 0.5)}, nil, "/bn/BatchNormalization")
	h = b.unary(ir.OpRelu, h, "/r1/Relu")
	h = q(h, 0.4, 0, 3, false, "/r1/Quant")
	h = b.add(ir.OpMaxPool, []int{1, 4, 4, 4}, []*ir.Value{h}, ir.Attrs{ir.IntsAttr("kernel", []int64{2, 2}), ir.IntsAttr("strides", []int64{2, 2})}, "/mp/MaxPool")
	h = b.add(ir.OpReshape, []int{1, 64}, []*ir.Value{h}, nil, "/flat/Flatten")
	h = b.gemm(h, b.weight([]int{10, 64}, 3, -1, qcdq, "/fc/weight_quant"), true, "/fc/Gemm")
	b.f.Results = []*ir.Value{h}
	return b.f
}

func TestConvNet(t *testing.T) {
	for _, qcdq := range []bool{false, true} {
		low := checkLowering(t, convNet(4, qcdq), 50, 1)
		var conv, pool *ir.Value
		for _, v := range low.Body {
			switch v.Op {
			case ir.OpConv:
				conv = v
			case ir.OpMaxPool:
				pool = v
			}
		}
		if conv == nil || conv.Type.Elem.Float || pool == nil || pool.Type.Elem.Float {
			t.Fatalf("conv and maxpool must run on integers:\n%s", ir.Print(low))
		}
		// Per-channel weight scales become a per-channel dequantize on the
		// conv's output channels.
		uses := low.Uses()
		d := uses[conv][0]
		if d.Op != ir.OpDequantize || d.Int("axis", -1) != 1 || len(d.Floats("scale")) != 4 {
			t.Errorf("conv output dequantize: %s axis=%d scales=%v", d.Op, d.Int("axis", -1), d.Floats("scale"))
		}
	}
}

// residualNet adds two encrypted branches: with one shared quantizer
// (exact) or with two (requantized to the finer scale).
func residualNet(seed int64, shared bool) *ir.Func {
	b := newNet(seed, ir.F32)
	x := b.param("x", 1, 8)
	h := b.quant(x, 0.5, 0, 4, true, "/q0/Quant")
	a := b.gemm(h, b.weight([]int{8, 8}, 4, 0, false, "/fa/weight_quant"), true, "/fa/Gemm")
	a = b.unary(ir.OpRelu, a, "/ReluA")
	c := b.gemm(h, b.weight([]int{8, 8}, 4, -1, false, "/fb/weight_quant"), true, "/fb/Gemm")
	c = b.unary(ir.OpSigmoid, c, "/SigB")
	if shared {
		a = b.quant(a, 0.2, 0, 4, false, "/qa/Quant")
		c = b.quant(c, 0.2, 0, 4, false, "/qb/Quant")
	} else {
		a = b.quant(a, 0.3, 2, 4, false, "/qa/Quant")
		c = b.quant(c, 1.0/16, 0, 4, false, "/qb/Quant")
	}
	s := b.add(ir.OpAdd, []int{1, 8}, []*ir.Value{a, c}, nil, "/Add")
	s = b.add(ir.OpMul, []int{1, 8}, []*ir.Value{s, h}, nil, "/MulEnc")
	s = b.quant(s, 0.1, 0, 6, true, "/qs/Quant")
	s = b.gemm(s, b.weight([]int{3, 8}, 4, -1, false, "/fc/weight_quant"), false, "/fc/Gemm")
	b.f.Results = []*ir.Value{s}
	return b.f
}

func TestResidualSharedScale(t *testing.T) {
	low := checkLowering(t, residualNet(5, true), 200, 2)
	for _, v := range low.Body {
		if v.Op == ir.OpAdd && v.Loc == "/Add" {
			if v.Type.Elem.Float || v.Args[0].Op != ir.OpQuantize || v.Args[1].Op != ir.OpQuantize {
				t.Errorf("the add must read the two quantizers' integers directly, got %s", ir.Print(low))
			}
			return
		}
	}
	t.Fatalf("no add:\n%s", ir.Print(low))
}

// With different scales the add requantizes the coarser branch to the
// finer scale: not exact, but within half a step of the finer scale.
func TestResidualDifferentScales(t *testing.T) {
	b := newNet(6, ir.F64)
	x := b.param("x", 1, 8)
	h := b.quant(x, 0.5, 0, 4, true, "/q0/Quant")
	a := b.gemm(h, b.weight([]int{8, 8}, 4, 0, false, "/fa/weight_quant"), true, "/fa/Gemm")
	a = b.quant(b.unary(ir.OpRelu, a, "/ReluA"), 0.3, 2, 4, false, "/qa/Quant")
	c := b.gemm(h, b.weight([]int{8, 8}, 4, -1, false, "/fb/weight_quant"), true, "/fb/Gemm")
	c = b.quant(b.unary(ir.OpSigmoid, c, "/SigB"), 1.0/16, 0, 4, false, "/qb/Quant")
	b.f.Results = []*ir.Value{b.add(ir.OpAdd, []int{1, 8}, []*ir.Value{a, c}, nil, "/Add")}
	low := b.f.Clone()
	if err := LowerQAT(low); err != nil {
		t.Fatal(err)
	}
	if msg := integerOnly(low); msg != "" {
		t.Fatal(msg)
	}
	d := low.Results[0]
	if d.Op != ir.OpDequantize || d.Floats("scale")[0] != 1.0/16 || d.Args[0].Op != ir.OpAdd || d.Args[0].Type.Elem.Float {
		t.Fatalf("want dequantize(add_int) at scale 1/16:\n%s", ir.Print(low))
	}
	rnd := rand.New(rand.NewSource(2))
	worst := 0.0
	for s := 0; s < 200; s++ {
		in := randomInputs(rnd, b.f, 2)
		want, _ := ir.Run(b.f, in)
		got, err := ir.Run(low, in)
		if err != nil {
			t.Fatal(err)
		}
		for k := range want[0].F {
			worst = max(worst, math.Abs(want[0].F[k]-got[0].F[k]))
		}
	}
	if worst > 1.0/32+1e-9 {
		t.Errorf("worst error %v, want at most half the finer step (1/32)", worst)
	}
	t.Logf("worst absolute error %v (bound 1/32)", worst)
}

func TestMissingQuantizer(t *testing.T) {
	b := newNet(7, ir.F32)
	x := b.param("x", 1, 4)
	h := b.quant(x, 0.5, 0, 3, true, "/quant_inp/Quant")
	h = b.gemm(h, b.weight([]int{5, 4}, 3, -1, false, "/fc1/weight_quant"), true, "/fc1/Gemm")
	h = b.unary(ir.OpRelu, h, "/Relu")
	h = b.gemm(h, b.weight([]int{2, 5}, 3, -1, false, "/fc2/weight_quant"), true, "/fc2/Gemm")
	b.f.Results = []*ir.Value{h}
	err := LowerQAT(b.f)
	if err == nil || !ir.HasCode(err, MissingQuantizer) {
		t.Fatalf("got %v, want a MissingQuantizer error", err)
	}
	for _, want := range []string{`node "/fc2/Gemm"`, `"/Relu"`, "QuantIdentity", "[MissingQuantizer]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestMissingInputQuantizer(t *testing.T) {
	b := newNet(8, ir.F32)
	x := b.param("inp.1", 1, 4)
	h := b.gemm(x, b.weight([]int{5, 4}, 3, -1, false, "/fc1/weight_quant"), true, "/fc1/Gemm")
	b.f.Results = []*ir.Value{h}
	err := LowerQAT(b.f)
	if err == nil || !strings.Contains(err.Error(), `model input "inp.1"`) || !ir.HasCode(err, MissingQuantizer) {
		t.Fatalf("got %v, want MissingQuantizer naming the model input", err)
	}
}

func TestUnquantizedWeight(t *testing.T) {
	b := newNet(9, ir.F32)
	x := b.param("x", 1, 4)
	h := b.quant(x, 0.5, 0, 3, true, "/q/Quant")
	h = b.gemm(h, b.floats([]int{5, 4}, 1), false, "/fc/Gemm")
	b.f.Results = []*ir.Value{h}
	if err := LowerQAT(b.f); !ir.HasCode(err, UnquantizedWeight) || !strings.Contains(err.Error(), `"/fc/Gemm"`) {
		t.Fatalf("got %v, want UnquantizedWeight on /fc/Gemm", err)
	}
}

// Per-channel weight scales along the contraction axis cannot be factored
// out of an integer gemm.
func TestPerChannelContractionAxis(t *testing.T) {
	b := newNet(10, ir.F32)
	x := b.param("x", 1, 4)
	h := b.quant(x, 0.5, 0, 3, true, "/q/Quant")
	w := b.weight([]int{5, 4}, 3, 1, false, "/fc/weight_quant")
	h = b.gemm(h, w, false, "/fc/Gemm")
	b.f.Results = []*ir.Value{h}
	if err := LowerQAT(b.f); !ir.HasCode(err, UnsupportedQuantization) {
		t.Fatalf("got %v, want UnsupportedQuantization", err)
	}
}

func TestTinyFile(t *testing.T) {
	src, err := os.ReadFile("testdata/tiny_qonnx.fir")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ir.Parse("tiny_qonnx.fir", src)
	if err != nil {
		t.Fatal(err)
	}
	low := checkLowering(t, f, 100, 1)
	// Hand-checked: weights fold to integers, and the first gemm's scale
	// is 0.5·0.25.
	for _, v := range low.Body {
		if v.Op == ir.OpDequantize && v.Loc == "/fc1/Gemm" && v.Floats("scale")[0] != 0.125 {
			t.Errorf("fc1 dequantize scale %v, want 0.125", v.Floats("scale"))
		}
		if v.Op == ir.OpConst && v.Type.Elem == ir.Int(3) && ir.SameShape(v.Type.Shape, []int{3, 4}) {
			want := []int64{1, -3, 0, 3, -1, 2, 0, -2, 3, 1, -2, 1}
			for i, x := range v.ConstValue().I {
				if x != want[i] {
					t.Errorf("fc1 weight[%d] = %d, want %d", i, x, want[i])
				}
			}
		}
	}
}

// poolNet: pad → conv → relu → quantizer → average pooling (sumpool then
// a division by the window size, as frontend/onnx lowers AveragePool) →
// flatten → gemm, with no quantizer between the pooling and the gemm: the
// division folds into the dequantize scale and the flatten moves to the
// integers.
func poolNet(seed int64) *ir.Func {
	b := newNet(seed, ir.F32)
	x := b.param("x", 1, 2, 6, 6)
	h := b.quant(x, 0.3, 1, 4, true, "/q0/Quant")
	h = b.add(ir.OpPad, []int{1, 2, 8, 8}, []*ir.Value{h}, ir.Attrs{ir.IntsAttr("pads", []int64{0, 0, 1, 1, 0, 0, 1, 1})}, "/Pad")
	h = b.add(ir.OpConv, []int{1, 3, 6, 6}, []*ir.Value{h, b.weight([]int{3, 2, 3, 3}, 4, 0, false, "/c/weight_quant"), b.floats([]int{3}, 0.2)}, nil, "/c/Conv")
	h = b.unary(ir.OpRelu, h, "/Relu")
	h = b.quant(h, 0.25, 0, 3, false, "/r/Quant")
	h = b.add(ir.OpSumPool, []int{1, 3, 3, 3}, []*ir.Value{h}, ir.Attrs{ir.IntsAttr("kernel", []int64{2, 2}), ir.IntsAttr("strides", []int64{2, 2})}, "/AveragePool")
	cnt := ir.NewFloats([]int{1, 1, 3, 3}, []float64{4, 4, 4, 4, 4, 4, 4, 4, 4})
	h = b.add(ir.OpDiv, h.Type.Shape, []*ir.Value{h, b.f.Const(ir.F32, cnt)}, nil, "/AveragePool")
	h = b.add(ir.OpReshape, []int{1, 27}, []*ir.Value{h}, nil, "/Flatten")
	h = b.gemm(h, b.weight([]int{5, 27}, 4, 0, false, "/fc/weight_quant"), true, "/fc/Gemm")
	b.f.Results = []*ir.Value{h}
	return b.f
}

func TestPoolNet(t *testing.T) {
	low := checkLowering(t, poolNet(31), 100, 1)
	for _, v := range low.Body {
		if v.Op == ir.OpPad && v.Float("value", -1) != 1 {
			t.Errorf("integer pad value %v, want the zero point 1", v.Float("value", -1))
		}
		if v.Op == ir.OpDiv {
			t.Errorf("the pooling division should fold into a dequantize scale:\n%s", ir.Print(low))
		}
	}
}

// flattenBeforeQuant: conv → relu → flatten → quantizer → gemm: the
// quantizer moves above the flatten, so the flatten reads integers.
func TestQuantizerAfterFlatten(t *testing.T) {
	b := newNet(32, ir.F32)
	x := b.param("x", 1, 1, 4, 4)
	h := b.quant(x, 0.3, 0, 4, true, "/q0/Quant")
	h = b.add(ir.OpConv, []int{1, 2, 4, 4}, []*ir.Value{h, b.weight([]int{2, 1, 3, 3}, 4, 0, false, "/c/weight_quant")}, ir.Attrs{ir.IntsAttr("pads", []int64{1, 1, 1, 1})}, "/c/Conv")
	h = b.unary(ir.OpRelu, h, "/Relu")
	h = b.add(ir.OpTranspose, []int{1, 4, 4, 2}, []*ir.Value{h}, ir.Attrs{ir.IntsAttr("perm", []int64{0, 2, 3, 1})}, "/Transpose")
	h = b.add(ir.OpReshape, []int{1, 32}, []*ir.Value{h}, nil, "/Flatten")
	h = b.quant(h, 0.2, 0, 4, false, "/q1/Quant")
	h = b.gemm(h, b.weight([]int{3, 32}, 4, -1, false, "/fc/weight_quant"), false, "/fc/Gemm")
	b.f.Results = []*ir.Value{h}
	low := checkLowering(t, b.f, 100, 1)
	for _, v := range low.Body {
		if (v.Op == ir.OpReshape || v.Op == ir.OpTranspose) && (v.Type.Elem.Float || v.Args[0].Op == ir.OpDequantize) {
			t.Errorf("%s must read the hoisted quantizer's integers:\n%s", v.Op, ir.Print(low))
		}
	}
}

// concatNet concatenates two branches quantized with different scales,
// then a global average pool (reduce_mean) and a gemm.
func TestConcatAndGlobalPool(t *testing.T) {
	b := newNet(33, ir.F64)
	x := b.param("x", 1, 2, 3, 3)
	h := b.quant(x, 0.25, 0, 4, true, "/q0/Quant")
	a := b.add(ir.OpConv, []int{1, 2, 3, 3}, []*ir.Value{h, b.weight([]int{2, 2, 1, 1}, 4, -1, false, "/a/weight_quant")}, nil, "/a/Conv")
	a = b.quant(b.unary(ir.OpRelu, a, "/ReluA"), 0.125, 0, 4, false, "/qa/Quant")
	c := b.add(ir.OpConv, []int{1, 2, 3, 3}, []*ir.Value{h, b.weight([]int{2, 2, 1, 1}, 4, -1, false, "/b/weight_quant")}, nil, "/b/Conv")
	c = b.quant(b.unary(ir.OpRelu, c, "/ReluB"), 0.125, 0, 4, false, "/qb/Quant")
	h = b.add(ir.OpConcat, []int{1, 4, 3, 3}, []*ir.Value{a, c}, ir.Attrs{ir.IntAttr("axis", 1)}, "/Concat")
	h = b.add(ir.OpReduceMean, []int{1, 4, 1, 1}, []*ir.Value{h}, ir.Attrs{ir.IntsAttr("axes", []int64{2, 3}), ir.IntAttr("keepdims", 1)}, "/GlobalAveragePool")
	h = b.add(ir.OpReshape, []int{1, 4}, []*ir.Value{h}, nil, "/Flatten")
	h = b.quant(h, 0.1, 0, 5, false, "/q2/Quant")
	h = b.gemm(h, b.weight([]int{2, 4}, 4, 0, false, "/fc/weight_quant"), true, "/fc/Gemm")
	b.f.Results = []*ir.Value{h}
	low := checkLowering(t, b.f, 200, 1)
	for _, v := range low.Body {
		if v.Op == ir.OpConcat && (v.Args[0].Op != ir.OpQuantize || v.Args[1].Op != ir.OpQuantize) {
			t.Errorf("equal scales: concat must read both quantizers directly:\n%s", ir.Print(low))
		}
	}
}

// An encrypted × encrypted matmul (attention-like): both operands are
// quantized per tensor; the product runs on integers.
func TestEncryptedMatMul(t *testing.T) {
	b := newNet(34, ir.F64)
	x := b.param("x", 1, 3, 4)
	y := b.param("y", 1, 4, 2)
	qx := b.quant(x, 0.25, 2, 4, false, "/qx/Quant")
	qy := b.quant(y, 0.5, 0, 3, true, "/qy/Quant")
	h := b.add(ir.OpMatMul, []int{1, 3, 2}, []*ir.Value{qx, qy}, nil, "/MatMul")
	b.f.Results = []*ir.Value{h}
	low := checkLowering(t, b.f, 200, 1)
	mm := low.Results[0].Args[0]
	if mm.Op != ir.OpMatMul || mm.Type.Elem.Float || !mm.Args[0].Type.Secret || !mm.Args[1].Type.Secret {
		t.Errorf("want an integer matmul of two encrypted values:\n%s", ir.Print(low))
	}
}

// Every missing quantizer is reported at once, and lowering a lowered
// function changes nothing.
func TestSeveralErrorsAndIdempotence(t *testing.T) {
	b := newNet(41, ir.F32)
	x := b.param("x", 1, 4)
	h := b.gemm(x, b.weight([]int{4, 4}, 3, -1, false, "/fc1/weight_quant"), true, "/fc1/Gemm")
	h = b.unary(ir.OpRelu, h, "/Relu")
	h = b.gemm(h, b.weight([]int{2, 4}, 3, -1, false, "/fc2/weight_quant"), true, "/fc2/Gemm")
	b.f.Results = []*ir.Value{h}
	err := LowerQAT(b.f)
	list, ok := err.(ir.ErrorList)
	if !ok || len(list) != 2 || !strings.Contains(list[0].Error(), "/fc1/Gemm") || !strings.Contains(list[1].Error(), "/fc2/Gemm") {
		t.Errorf("got %v, want two MissingQuantizer errors (fc1, fc2)", err)
	}

	low := simpleNet(42, false, ir.F32)
	if err := LowerQAT(low); err != nil {
		t.Fatal(err)
	}
	before := ir.Print(low)
	if err := LowerQAT(low); err != nil {
		t.Fatal(err)
	}
	if after := ir.Print(low); after != before {
		t.Errorf("second LowerQAT changed the function:\n%s\nto\n%s", before, after)
	}
}

// A flatten between a per-channel conv and its activation: the flatten
// moves up through the bias add to the conv's integers, the per-channel
// dequantize becoming a unit dequantize with per-element scale constants.
func TestFlattenBeforeActivation(t *testing.T) {
	b := newNet(43, ir.F32)
	x := b.param("x", 1, 1, 4, 4)
	h := b.quant(x, 0.3, 0, 4, true, "/q0/Quant")
	h = b.add(ir.OpConv, []int{1, 2, 4, 4}, []*ir.Value{h, b.weight([]int{2, 1, 3, 3}, 4, 0, false, "/c/weight_quant"), b.floats([]int{2}, 0.3)}, ir.Attrs{ir.IntsAttr("pads", []int64{1, 1, 1, 1})}, "/c/Conv")
	h = b.add(ir.OpReshape, []int{1, 32}, []*ir.Value{h}, nil, "/Flatten")
	h = b.unary(ir.OpRelu, h, "/Relu")
	h = b.add(ir.OpMul, []int{1, 32}, []*ir.Value{h, b.floats([]int{32}, 1)}, nil, "/Scale")
	h = b.quant(h, 0.2, 0, 4, true, "/q1/Quant")
	h = b.gemm(h, b.weight([]int{3, 32}, 4, -1, false, "/fc/weight_quant"), false, "/fc/Gemm")
	b.f.Results = []*ir.Value{h}
	low := checkLowering(t, b.f, 100, 1)
	for _, v := range low.Body {
		if v.Op == ir.OpReshape && v.Type.Elem.Float {
			t.Errorf("the flatten must run on integers:\n%s", ir.Print(low))
		}
	}
}

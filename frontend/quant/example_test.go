package quant_test

import (
	"fmt"
	"os"

	"github.com/fheir/fheir/frontend/quant"
	"github.com/fheir/fheir/ir"
)

// A two-layer QAT network (testdata/tiny_qonnx.fir: QONNX Quant nodes as
// quantize → dequantize on floats, weights as float constants behind a
// quantizer) lowered to integers. The weights fold to 3-bit constants, each
// gemm reads integers, and its float bias becomes an add after the
// dequantize, where fuse-tlu (or, at the output, the client) absorbs it.
func ExampleLowerQAT() {
	src, err := os.ReadFile("testdata/tiny_qonnx.fir")
	if err != nil {
		panic(err)
	}
	f, err := ir.Parse("tiny_qonnx.fir", src)
	if err != nil {
		panic(err)
	}
	if err := quant.LowerQAT(f); err != nil {
		panic(err)
	}
	fmt.Print(ir.Print(f))
	// Output:
	// func main(v0: enc<1x4xf32> loc="inp") {
	//   v1 = quantize <enc<1x4xi3>> v0 {scale=[0.5], zero_point=[0], qmin=-4, qmax=3}  ; loc="/quant_inp/Quant"
	//   v2 = const <tensor<3xf32>> [0.1, -0.2, 0.3]
	//   v3 = const <tensor<3x4xi3>> [1, -3, 0, 3, -1, 2, 0, -2, 3, 1, -2, 1]
	//   v4 = gemm <enc<1x3xi6>> v1 v3 {trans_b=1}  ; loc="/fc1/Gemm"
	//   v5 = dequantize <enc<1x3xf32>> v4 {scale=[0.125], zero_point=[0]}  ; loc="/fc1/Gemm"
	//   v6 = add <enc<1x3xf32>> v5 v2  ; loc="/fc1/Gemm"
	//   v7 = relu <enc<1x3xf32>> v6  ; loc="/Relu"
	//   v8 = quantize <enc<1x3xu3>> v7 {scale=[0.3], zero_point=[0], qmin=0, qmax=7}  ; loc="/quant2/Quant"
	//   v9 = const <tensor<2xf32>> [0.05, -0.05]
	//   v10 = const <tensor<2x3xi3>> [2, -2, 1, -3, 0, 2]
	//   v11 = gemm <enc<1x2xi6>> v8 v10 {trans_b=1}  ; loc="/fc2/Gemm"
	//   v12 = dequantize <enc<1x2xf32>> v11 {scale=[0.075], zero_point=[0]}  ; loc="/fc2/Gemm"
	//   v13 = add <enc<1x2xf32>> v12 v9  ; loc="/fc2/Gemm"
	//   return v13
	// }
}

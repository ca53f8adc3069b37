// Package quant turns a float IR function into fheir's integer IR.
//
// Two entry points:
//
//   - LowerQAT takes a float function that already holds fake quantization
//     (quantize → dequantize pairs, as Brevitas' QONNX Quant and QCDQ
//     exports become after frontend/onnx) and rewrites every mixing op
//     (gemm, matmul, conv, sumpool, reduce_sum/mean, concat, and add, sub or
//     mul of two differently quantized encrypted values) to run on integers,
//     as shown below.
//   - PTQ calibrates a plain float function on an input set with ir's
//     interpreter, inserts fake quantization at the model inputs, at the
//     weights and at the encrypted inputs of every mixing op (Concrete ML's
//     scheme: symmetric weights, asymmetric activations, n_bits as one
//     number or per role), then calls LowerQAT.
//
// The mixing-op rule, for a gemm with a bias b:
//
//	gemm(dequantize(x; sx, zx), dequantize(Wq; sw)) + b
//	→ dequantize(gemm(x − zx, Wq); sx·sw) + b
//
// The float bias stays a float add after the dequantize: it belongs to the
// univariate region that passes' fuse-tlu folds into a table, so the float
// semantics are kept exactly (up to float rounding). Per-channel weight
// scales give a per-channel dequantize along the output-channel axis.
//
// After LowerQAT the function reads encrypted float inputs, quantizes them
// (the client does this step), computes on integers, and dequantizes the
// results. Between a dequantize and the next quantize only univariate float
// ops remain (element-wise ops on one encrypted integer and clear
// constants), which fuse-tlu turns into table lookups. A result may end
// with float ops after its last dequantize (typically the add of a clear
// bias): they run on the client after decryption.
//
// Data movement ops (reshape, transpose, slice, gather, broadcast, pad) and
// maxpool/reduce_max commute with quantization, so LowerQAT moves them to
// the integer side: op(dequantize(q)) → dequantize(op(q)) and
// quantize(op(x)) → op(quantize(x)). A permutation that sits inside a float
// region (conv → flatten → relu → quantizer) moves up through the
// element-wise ops to the dequantize, its constants broadcast and permuted
// (a per-channel dequantize whose axis it does not keep becomes a unit
// dequantize and per-channel sub/mul constants). A multiplication or
// division of a dequantized value by a positive clear constant (average
// pooling's 1/k, for instance) folds into the dequantize scale.
//
// Integer types are exact: every new integer value gets the narrowest type
// of its sound range (contractions with constant weights are bounded per
// output by running the op on the positive and negative weight parts), so
// the interpreter never overflows and passes' narrow starts from tight
// widths. Adds, subs and concats of encrypted values with equal scales are
// exact; with different scales the operands are requantized to the finer
// scale (a table lookup, rounding to half of that scale).
//
// Errors are *ir.Error values (collected in an ir.ErrorList) that name the
// ONNX node (Loc) and carry one of the stable codes declared here.
package quant

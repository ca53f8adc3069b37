// Package passes holds fheir's IR-to-IR passes and the manager that runs
// them: one ordered pass table with kebab-case names, ordering constraints
// (with their reasons) checked at init, the verifier after every pass,
// print-after and timings, and pass panics turned into errors.
//
// A pipeline is a comma-separated list of pass names; a pass may take
// options in braces, space-separated, as in mlir-opt:
//
//	canonicalize,narrow,fuse-tlu{bits=6},dce,narrow,round{bits=6 method=approximate}
//
// The passes, in table order:
//
//   - canonicalize: folds every op whose operands are all constants by running
//     it with ir's interpreter, and removes identities (x+0, x·1, x/1,
//     reshape/broadcast/cast to the same type, identity transpose, full slice,
//     zero pad, double neg, relu of relu, a tlu that is the identity on its
//     input range). Clear subgraphs thus become constants.
//   - fold-batchnorm: folds a per-channel affine op after a linear op into its
//     weights and bias (integer, exact) or, for dequantize(acc)·g + h, into
//     the dequantize's scale and zero point when an exhaustive check over the
//     accumulator's range shows the floats are bit-for-bit the same.
//   - narrow: per-element interval analysis of every integer value (exact for
//     gemm/matmul/conv with clear weights: Σ max(w·lo, w·hi) per output), or
//     calibrated ranges from Options.Calibration (with a warning); sets
//     Value.Range and the minimal integer type.
//   - fuse-tlu: every maximal element-wise region that depends on one
//     encrypted integer becomes one tlu per exit (table computed by running
//     the region on the whole input domain; per-channel tables; identity and
//     affine regions become no-ops or integer mul/add); applies
//     rounding_threshold_bits while building tables; AccumulatorTooWide when
//     a table would read more than MaxTLUBits.
//   - merge-linear: folds constant adds, subs, muls and negs after a gemm/conv
//     into its weights and bias, input zero points into a gemm's bias, and
//     gemm chains into one gemm when the accumulator does not widen.
//   - cse: merges equal values (constants by content, commutative operands
//     unordered); range facts are intersected.
//   - dce: removes values no result depends on.
//   - round: inserts round before tables reading more than
//     rounding_threshold_bits and rebuilds the tables for the rounded input;
//     AccumulatorTooWide for tables still wider than MaxTLUBits.
//
// Analyze reports, after the pipeline, what the runtime's parameter
// selection needs (table counts and widths, accumulator widths, weight
// norms). WriteAccumulatorTable reproduces Concrete ML's table of
// accumulator width against active neurons with this package's analysis.
package passes

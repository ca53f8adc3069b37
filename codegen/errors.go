// Package codegen turns an integer-only IR function into a runtime circuit
// (Lower), picks its crypto parameters (SelectParams) and writes a Go
// package that embeds the circuit and runs it in the clear, in simulation
// or under encryption (Generate).
//
// The pipeline of "fheir compile" is
//
//	frontend → passes.Run(default) → codegen.Lower → codegen.SelectParams → codegen.Generate
//
// Lower maps every op to the runtime's two compute ops, Linear (a sparse
// integer matrix plus a bias) and TLU (tables with optional dropped low
// bits); the leading quantize ops become the inputs' quantization and the
// trailing dequantize ops the outputs' dequantization.
package codegen

import (
	"fmt"

	"github.com/fheir/fheir/ir"
	"github.com/fheir/fheir/rt"
)

// Error codes of this package. They are ir.Code values so that errors
// print and sort like the IR's own (file:line:col: node "X": msg [Code]).
// Parameter selection reports the runtime's NoCryptoParameters and
// AccumulatorTooWide under the same names.
const (
	// UnsupportedOp: an op (or an operand pattern of an op) that has no
	// lowering, such as a convolution with encrypted weights.
	UnsupportedOp ir.Code = "UnsupportedOp"
	// EncryptedFloat: float computation left on data derived from an
	// encrypted input (the passes did not quantize it).
	EncryptedFloat ir.Code = "EncryptedFloat"
	// NoCryptoParameters: no parameter set meets the circuit's lookup
	// width, weight norm and failure probability.
	NoCryptoParameters ir.Code = ir.Code(rt.NoCryptoParameters)
	// AccumulatorTooWide: a lookup reads more bits than any parameter set
	// resolves.
	AccumulatorTooWide ir.Code = ir.Code(rt.AccumulatorTooWide)
	// InvalidCircuit: the runtime rejected the lowered circuit (a bug in
	// the lowering or an inconsistent input function).
	InvalidCircuit ir.Code = ir.Code(rt.InvalidCircuit)
)

// nodeErr returns an error positioned at v.
func nodeErr(v *ir.Value, code ir.Code, format string, args ...any) *ir.Error {
	return &ir.Error{Pos: v.Pos, Loc: v.Loc, Code: code, Msg: fmt.Sprintf("v%d (%s): ", v.ID, v.Op) + fmt.Sprintf(format, args...)}
}

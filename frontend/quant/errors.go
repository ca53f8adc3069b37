package quant

import (
	"fmt"

	"github.com/fheir/fheir/ir"
)

// Error codes of the quantization stage. Append only; never rename.
const (
	// MissingQuantizer: an encrypted float value reaches an op that needs
	// integer operands (a mixing op) without passing through a quantizer;
	// in a Brevitas model a QuantIdentity (or a quantized activation) is
	// missing in front of that op.
	MissingQuantizer ir.Code = "MissingQuantizer"
	// UnquantizedWeight: a gemm, matmul or conv in a QAT graph has a clear
	// float weight with no quantizer in front of it.
	UnquantizedWeight ir.Code = "UnquantizedWeight"
	// UnsupportedQuantization: a quantization layout that cannot be turned
	// into integer arithmetic exactly, e.g. per-channel scales along a
	// contraction axis, or max of two differently quantized tensors.
	UnsupportedQuantization ir.Code = "UnsupportedQuantization"
	// BadQuantConfig: an invalid n_bits setting.
	BadQuantConfig ir.Code = "BadQuantConfig"
	// BadCalibration: a calibration set that is empty or does not match
	// the function's inputs.
	BadCalibration ir.Code = "BadCalibration"
	// NoQuantizer: QAT import was forced on a graph without quantizers.
	NoQuantizer ir.Code = "NoQuantizer"
)

// errAt returns an error about value v, naming its source node.
func errAt(v *ir.Value, code ir.Code, format string, args ...any) *ir.Error {
	return &ir.Error{Pos: v.Pos, Loc: v.Loc, Code: code, Msg: v.Op.String() + ": " + fmt.Sprintf(format, args...)}
}

// describe names the producer of a value for error messages: its source
// node when known, else its op.
func describe(v *ir.Value) string {
	switch {
	case v.Op == ir.OpParam && v.Loc != "":
		return fmt.Sprintf("model input %q", v.Loc)
	case v.Op == ir.OpParam:
		return "a model input"
	case v.Loc != "":
		return fmt.Sprintf("node %q (%s)", v.Loc, v.Op)
	}
	return fmt.Sprintf("a %s op", v.Op)
}

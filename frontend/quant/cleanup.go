package quant

import "github.com/fheir/fheir/ir"

// removeDead drops body values that no result depends on.
func removeDead(f *ir.Func) { f.RemoveDead() }

// checkFloatRegions reports encrypted float values that are neither
// dequantize nor univariate ops but feed a quantizer: fuse-tlu could not
// turn their region into a table. Float ops that only lead to results (the
// client-side tail after the last dequantize) are allowed.
func (l *lowering) checkFloatRegions() {
	feeds := make(map[*ir.Value]bool) // value reaches a quantize
	for i := len(l.f.Body) - 1; i >= 0; i-- {
		v := l.f.Body[i]
		if v.Op == ir.OpQuantize || feeds[v] {
			for _, a := range v.Args {
				feeds[a] = true
			}
		}
	}
	for _, v := range l.f.Body {
		if !v.Type.Secret || !v.Type.Elem.Float || v.Op == ir.OpDequantize || isUnivariateOp(v.Op) || !feeds[v] {
			continue
		}
		l.errs = append(l.errs, errAt(v, UnsupportedQuantization,
			"reads the float value of %s, which is not quantized, and its result is quantized later: only element-wise ops may sit between a dequantize and a quantize; add a quantizer in front of this node", describe(v.Args[0])))
	}
}

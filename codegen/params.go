package codegen

import (
	"fmt"

	"github.com/fheir/fheir/ir"
	"github.com/fheir/fheir/rt"
)

// SelectParams chooses the cheapest crypto parameters that run c within the
// failure probability of opts (rt.Circuit.SelectParams) and records them
// in c. The runtime's NoCryptoParameters and AccumulatorTooWide come back
// as *ir.Error naming the layer (the lookup that needs the width or the
// noise) and the knob to turn.
func SelectParams(c *rt.Circuit, opts rt.SelectOptions) (rt.ParamsInfo, error) {
	info, err := c.SelectParams(opts)
	if err == nil {
		return info, nil
	}
	req := c.Requirements()
	switch rt.CodeOf(err) {
	case rt.AccumulatorTooWide:
		return info, &ir.Error{Loc: req.WidestOp, Code: AccumulatorTooWide, Msg: fmt.Sprintf(
			"no parameter set holds this circuit: its widest table lookup reads %d bits and its values are %d bits wide: "+
				"set --rounding-threshold-bits (e.g. 6:approximate) or lower --n-bits (%v)",
			req.PBSBits, req.MsgBits, err)}
	case rt.NoCryptoParameters:
		if req.ExactDropBits > 0 && fitsApproximately(c, opts) {
			return info, &ir.Error{Loc: req.ExactOp, Code: NoCryptoParameters, Msg: fmt.Sprintf(
				"exact rounding removes %d low bits of this lookup's input (%d of them one bootstrap at a time), which needs its %d-bit values "+
					"correct to the last bit: no parameter set does that at the requested failure probability; "+
					"use --rounding-threshold-bits N:approximate, lower --n-bits or raise --p-error (%v)",
				req.ExactDropBits, req.ExactExtractions, req.MsgBits, err)}
		}
		return info, &ir.Error{Loc: req.WidestOp, Code: NoCryptoParameters, Msg: fmt.Sprintf(
			"no parameter set runs a %d-bit table lookup with weight 2-norm %.4g (at %q) at the requested failure probability: "+
				"raise --p-error or --global-p-error, lower --n-bits or set --rounding-threshold-bits (%v)",
			req.PBSBits, req.MaxNorm2, req.NoisiestOp, err)}
	}
	return info, err
}

// fitsApproximately reports whether c would get parameters with its
// exactly rounded lookups rounded approximately instead (exact rounding
// is then what no parameter set can do).
func fitsApproximately(c *rt.Circuit, opts rt.SelectOptions) bool {
	d := *c
	d.Params = ""
	d.Ops = append([]rt.Op(nil), c.Ops...)
	for k := range d.Ops {
		if op := &d.Ops[k]; op.Kind == rt.OpTLU && op.DropBits > 0 {
			op.Rounding = rt.RoundApprox
		}
	}
	_, err := d.SelectParams(opts)
	return err == nil
}

package quant

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/fheir/fheir/ir"
)

// NBits gives the quantization bit widths of post-training quantization,
// per role, as Concrete ML's n_bits dictionary does.
type NBits struct {
	ModelInputs  int // model_inputs: the quantizer of every model input
	OpInputs     int // op_inputs: encrypted inputs of mixing ops
	OpWeights    int // op_weights: clear weights of gemm, matmul and conv
	ModelOutputs int // model_outputs: results that do not end with a mixing op
}

// DefaultModelBits is the model_inputs/model_outputs width used when a
// single n_bits value (or a map without them) is given: the larger of it
// and n_bits, as Concrete ML does.
const DefaultModelBits = 5

// Bits returns the reading of a single n_bits value: n for op inputs and
// weights, max(n, DefaultModelBits) for model inputs and outputs.
func Bits(n int) NBits {
	m := max(n, DefaultModelBits)
	return NBits{ModelInputs: m, OpInputs: n, OpWeights: n, ModelOutputs: m}
}

// ParseNBits parses an n_bits setting: a number ("8"), a key=value list
// ("op_inputs=6,op_weights=4,model_inputs=8") or a JSON object
// ({"op_inputs": 6, "op_weights": 4}). op_inputs and op_weights are
// required in the map forms; model_inputs and model_outputs default to
// DefaultModelBits.
func ParseNBits(s string) (NBits, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		nb := Bits(n)
		return nb, nb.Validate()
	}
	m := map[string]int{}
	if strings.HasPrefix(s, "{") {
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return NBits{}, &ir.Error{Code: BadQuantConfig, Msg: fmt.Sprintf("n_bits %q: %v", s, err)}
		}
	} else {
		for _, kv := range strings.Split(s, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if !ok || err != nil {
				return NBits{}, &ir.Error{Code: BadQuantConfig, Msg: fmt.Sprintf("n_bits %q: want a number or key=value pairs such as op_inputs=6,op_weights=4", s)}
			}
			m[strings.TrimSpace(k)] = n
		}
	}
	return NBitsFromMap(m)
}

// NBitsFromMap builds NBits from Concrete ML's dictionary keys.
func NBitsFromMap(m map[string]int) (NBits, error) {
	nb := NBits{ModelInputs: DefaultModelBits, ModelOutputs: DefaultModelBits}
	seen := map[string]bool{}
	for k, v := range m {
		switch k {
		case "model_inputs":
			nb.ModelInputs = v
		case "op_inputs":
			nb.OpInputs = v
		case "op_weights":
			nb.OpWeights = v
		case "model_outputs":
			nb.ModelOutputs = v
		default:
			return NBits{}, &ir.Error{Code: BadQuantConfig, Msg: fmt.Sprintf("n_bits: unknown key %q; want model_inputs, op_inputs, op_weights, model_outputs", k)}
		}
		seen[k] = true
	}
	if !seen["op_inputs"] || !seen["op_weights"] {
		return NBits{}, &ir.Error{Code: BadQuantConfig, Msg: "n_bits: a map needs op_inputs and op_weights"}
	}
	return nb, nb.Validate()
}

// Validate checks the widths: activations 1..16 bits, weights 2..16.
func (nb NBits) Validate() error {
	for _, c := range []struct {
		name   string
		n, min int
	}{{"model_inputs", nb.ModelInputs, 1}, {"op_inputs", nb.OpInputs, 1}, {"op_weights", nb.OpWeights, 2}, {"model_outputs", nb.ModelOutputs, 1}} {
		if c.n < c.min || c.n > ir.MaxTLUBits {
			return &ir.Error{Code: BadQuantConfig, Msg: fmt.Sprintf("n_bits: %s = %d, want %d..%d", c.name, c.n, c.min, ir.MaxTLUBits)}
		}
	}
	return nil
}

// Config configures post-training quantization.
type Config struct {
	// NBits gives the bit widths; the zero value means Bits(8).
	NBits NBits
	// PerChannel quantizes weights with one symmetric scale per output
	// channel instead of one per tensor.
	PerChannel bool
}

// PTQ quantizes a plain float function in place after calibrating it on
// calib (one []*ir.Tensor per sample, one tensor per parameter, each of the
// parameter's shape or at least its size), then lowers it with LowerQAT.
//
// Quantizers are inserted at every model input (model_inputs bits,
// asymmetric over the calibrated range), at the clear float weights of
// gemm, matmul and conv (op_weights bits, symmetric, per tensor or per
// output channel), at every encrypted operand of a mixing op that is not
// already quantized (op_inputs bits, asymmetric; the two operands of an
// encrypted add, sub or concat share one scale so that the integer op is
// exact), and at results that do not end with a mixing op (model_outputs
// bits). Everything else, in particular the element-wise ops between two
// mixing ops, stays float for fuse-tlu to turn into tables. Quantizers
// already in f are kept.
func PTQ(f *ir.Func, cfg Config, calib [][]*ir.Tensor) error {
	nb := cfg.NBits
	if nb == (NBits{}) {
		nb = Bits(8)
	}
	if err := nb.Validate(); err != nil {
		return err
	}
	l := newLowering(f)
	l.markSecret()
	if err := l.foldClear(true); err != nil {
		return err
	}
	stats, err := calibrate(f, calib)
	if err != nil {
		return err
	}
	p := &ptq{l: l, stats: stats, nb: nb, perChannel: cfg.PerChannel, dq: make(map[*ir.Value]*ir.Value)}
	p.insert()
	return LowerQAT(f)
}

// span is a calibrated float range.
type span struct{ lo, hi float64 }

func (s span) union(t span) span { return span{min(s.lo, t.lo), max(s.hi, t.hi)} }

// calibrate runs f on every sample and records the range of every
// encrypted float value.
func calibrate(f *ir.Func, calib [][]*ir.Tensor) (map[*ir.Value]span, error) {
	if len(calib) == 0 {
		return nil, &ir.Error{Code: BadCalibration, Msg: "post-training quantization needs a calibration set; got none"}
	}
	stats := make(map[*ir.Value]span)
	for i, sample := range calib {
		if len(sample) != len(f.Params) {
			return nil, &ir.Error{Code: BadCalibration, Msg: fmt.Sprintf("calibration sample %d has %d tensors, want %d (one per model input)", i, len(sample), len(f.Params))}
		}
		in := make([]*ir.Tensor, len(sample))
		for j, t := range sample {
			p := f.Params[j]
			if t == nil || t.Len() != p.Type.Size() {
				return nil, &ir.Error{Loc: p.Loc, Code: BadCalibration, Msg: fmt.Sprintf("calibration sample %d: input %d has %d values, want %d (shape %v)", i, j, lenOf(t), p.Type.Size(), p.Type.Shape)}
			}
			in[j] = ir.NewFloats(p.Type.Shape, t.Floats())
		}
		env, err := ir.Eval(f, in)
		if err != nil {
			return nil, &ir.Error{Code: BadCalibration, Msg: fmt.Sprintf("calibration sample %d: %v", i, err)}
		}
		for v, t := range env {
			if !t.Float || !v.Type.Secret && v.Op != ir.OpParam {
				continue
			}
			s := span{math.Inf(1), math.Inf(-1)}
			for _, x := range t.F {
				if !math.IsNaN(x) && !math.IsInf(x, 0) {
					s.lo, s.hi = min(s.lo, x), max(s.hi, x)
				}
			}
			if old, ok := stats[v]; ok {
				s = s.union(old)
			}
			stats[v] = s
		}
	}
	return stats, nil
}

func lenOf(t *ir.Tensor) int {
	if t == nil {
		return 0
	}
	return t.Len()
}

// actParams returns asymmetric unsigned quantization parameters covering
// s (widened to contain 0, so that zero is exact).
func actParams(s span, bits int) (scale float64, zp, qmax int64) {
	lo, hi := min(s.lo, 0), max(s.hi, 0)
	qmax = 1<<bits - 1
	scale = (hi - lo) / float64(qmax)
	if !(scale > 0) || math.IsInf(scale, 0) {
		return 1, 0, qmax
	}
	zp = int64(roundHalfEven(-lo / scale))
	return scale, zp, qmax
}

type ptq struct {
	l          *lowering
	stats      map[*ir.Value]span
	nb         NBits
	perChannel bool
	dq         map[*ir.Value]*ir.Value // float value → its fake-quantized copy
}

// insert rebuilds the body with fake quantization in front of the ops that
// need integer operands.
func (p *ptq) insert() {
	l, f := p.l, p.l.f
	for _, v := range f.Body {
		l.rootOf(v) // roots of the float graph, before it changes
	}
	old := f.Body
	l.body = make([]*ir.Value, 0, len(old)+4*len(f.Params))
	for _, in := range f.Params {
		if in.Type.Elem.Float {
			p.fakeQuant(in, p.stats[in], p.nb.ModelInputs)
		}
	}
	for _, v := range old {
		for i, a := range v.Args {
			if d, ok := p.dq[a]; ok && a.Op == ir.OpParam {
				v.Args[i] = d
			}
		}
		if v.Type.Secret && v.Type.Elem.Float {
			p.operands(v)
		}
		l.body = append(l.body, v)
	}
	for i, r := range f.Results {
		if d, ok := p.dq[r]; ok && r.Op == ir.OpParam {
			f.Results[i], r = d, d
		}
		if r.Type.Secret && r.Type.Elem.Float && !endsWithMixing(r) && !quantized(r) {
			f.Results[i] = p.fakeQuant(r, p.stats[r], p.nb.ModelOutputs)
		}
	}
	f.Body = l.body
}

// operands quantizes the operands of v that must be integers.
func (p *ptq) operands(v *ir.Value) {
	secret := 0
	for _, a := range v.Args {
		if a.Type.Secret {
			secret++
		}
	}
	switch {
	case v.Op == ir.OpGemm || v.Op == ir.OpMatMul || v.Op == ir.OpConv:
		for i := 0; i < 2; i++ {
			a := v.Args[i]
			switch {
			case a.ConstValue() != nil && a.Type.Elem.Float:
				v.Args[i] = p.weight(v, i)
			case a.Type.Elem.Float && (a.Type.Secret || a.Op == ir.OpParam):
				v.Args[i] = p.activation(a) // a clear model input is quantized too
			}
		}
	case v.Op == ir.OpConcat || (v.Op == ir.OpAdd || v.Op == ir.OpSub) && secret == 2 && p.l.rootOf(v) == v:
		p.shared(v)
	case isMixing(v.Op) || isTransparent(v.Op) || v.Op == ir.OpMul && secret == 2 && p.l.rootOf(v) == v:
		for i, a := range v.Args {
			if a.Type.Secret {
				v.Args[i] = p.activation(a)
			}
		}
	}
}

// activation returns the fake-quantized version of an encrypted operand.
func (p *ptq) activation(a *ir.Value) *ir.Value {
	if quantized(a) {
		return a
	}
	if d, ok := p.dq[a]; ok {
		return d
	}
	return p.fakeQuant(a, p.stats[a], p.nb.OpInputs)
}

// shared quantizes the encrypted operands of add, sub or concat that are
// not quantized yet with one scale over their joint range.
func (p *ptq) shared(v *ir.Value) {
	var todo []int
	s := span{math.Inf(1), math.Inf(-1)}
	for i, a := range v.Args {
		if !a.Type.Secret || quantized(a) {
			continue
		}
		if d, ok := p.dq[a]; ok {
			v.Args[i] = d
			continue
		}
		todo = append(todo, i)
		s = s.union(p.stats[a])
	}
	for _, i := range todo {
		v.Args[i] = p.fakeQuant(v.Args[i], s, p.nb.OpInputs)
	}
}

// fakeQuant appends quantize → dequantize of x over range s and records it.
func (p *ptq) fakeQuant(x *ir.Value, s span, bits int) *ir.Value {
	if math.IsInf(s.lo, 0) || math.IsInf(s.hi, 0) {
		s = span{0, 0} // never observed (e.g. an empty tensor)
	}
	scale, zp, qmax := actParams(s, bits)
	q := p.l.emitQuant(x, []float64{scale}, []int64{zp}, -1, 0, qmax, x.Loc)
	d := p.l.emitDequant(q, []float64{scale}, []int64{zp}, -1, x.Type.Elem, x.Loc)
	p.dq[x] = d
	return d
}

// weight returns the symmetric quantization of the clear float operand i
// of a contraction: an integer constant and a dequantize.
func (p *ptq) weight(v *ir.Value, i int) *ir.Value {
	w := v.Args[i]
	t := w.ConstValue()
	axis := -1
	if p.perChannel {
		axis, _ = weightAxis(v, i)
	}
	n := 1
	if axis >= 0 {
		n = t.Shape[axis]
	}
	qmax := int64(1)<<(p.nb.OpWeights-1) - 1
	absmax := make([]float64, n)
	ch := channelOf(t.Shape, axis)
	for k, x := range t.F {
		absmax[ch[k]] = max(absmax[ch[k]], math.Abs(x))
	}
	scale := make([]float64, n)
	for c, m := range absmax {
		scale[c] = m / float64(qmax)
		if !(scale[c] > 0) {
			scale[c] = 1
		}
	}
	q := ir.NewInts(t.Shape, nil)
	for k, x := range t.F {
		q.I[k] = min(max(int64(roundHalfEven(x/scale[ch[k]])), -qmax), qmax)
	}
	c := p.l.constInt(q)
	c.Loc = w.Loc
	return p.l.emitDequant(c, scale, make([]int64, n), axis, w.Type.Elem, w.Loc)
}

// quantized reports whether a float value is a dequantize, possibly moved
// by data-movement ops (which LowerQAT moves to the integer side).
func quantized(v *ir.Value) bool {
	for isTransparent(v.Op) && v.Type.Elem.Float {
		v = v.Args[0]
	}
	return v.Op == ir.OpDequantize
}

// endsWithMixing reports whether v is a mixing op's result, possibly plus a
// clear bias: LowerQAT then ends it with an exact dequantize.
func endsWithMixing(v *ir.Value) bool {
	switch {
	case (v.Op == ir.OpAdd || v.Op == ir.OpSub) && !v.Args[1].Type.Secret:
		v = v.Args[0]
	case v.Op == ir.OpAdd && !v.Args[0].Type.Secret:
		v = v.Args[1]
	}
	return isMixing(v.Op)
}

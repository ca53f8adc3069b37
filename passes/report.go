package passes

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"

	"github.com/fheir/fheir/ir"
)

// Report describes a function as it will be compiled (run it after the
// pipeline): every table lookup and every linear op on encrypted data, with
// the numbers the runtime's parameter selection needs. It marshals to JSON
// for `fheir info --json`.
type Report struct {
	Func   string  `json:"func"`
	Layers []Layer `json:"layers"`
	// TLUCount is the number of programmable bootstraps of one inference.
	TLUCount int `json:"tlu_count"`
	// MaxTLUBits is the widest table lookup input.
	MaxTLUBits int `json:"max_tlu_bits"`
	// MaxAccumulatorBits is the widest encrypted integer a linear op or a
	// table lookup input holds.
	MaxAccumulatorBits int `json:"max_accumulator_bits"`
	// Calibrated is set when some range comes from calibration inputs
	// rather than sound analysis (see Layer.Calibrated).
	Calibrated bool `json:"calibrated"`
}

// Layer is one row of a Report.
type Layer struct {
	Value int    `json:"value"` // the value's number as printed (vN)
	Loc   string `json:"loc"`   // source node
	Op    string `json:"op"`
	// InputRange and InputBits describe the encrypted operand(s); for a
	// tlu that is the accumulator it reads.
	InputRange [2]int64 `json:"input_range"`
	InputBits  int      `json:"input_bits"`
	// OutputRange and OutputBits describe the result (the accumulator of a
	// linear op).
	OutputRange [2]int64 `json:"output_range"`
	OutputBits  int      `json:"output_bits"`
	// TLUInputBits is the width a table lookup reads (0 for linear ops).
	TLUInputBits int `json:"tlu_input_bits"`
	// TLUs is the number of table lookups (programmable bootstraps) the op
	// needs: one per element for a tlu, comparisons for an encrypted max.
	TLUs     int `json:"tlus"`
	Elements int `json:"elements"`
	// Tables is the number of distinct tables of a tlu: its channel count
	// for a per-channel table, else 1.
	Tables int `json:"tables,omitempty"`
	// MaxNorm2 is the largest 2-norm, over the op's output elements, of the
	// clear weights applied to the encrypted values since the previous
	// table lookup (composed through every linear op in between: the
	// square root of the sum of squared weights, i.e. the factor by which
	// independent input noise grows). For a tlu it is measured at its input.
	MaxNorm2 float64 `json:"max_norm2"`
	// Calibrated marks a range narrower than the sound one: it comes from
	// calibration inputs, and other inputs may overflow it.
	Calibrated bool `json:"calibrated,omitempty"`
}

// Analyze builds the report of f (facts from narrow are used when present,
// the sound analysis otherwise).
func Analyze(f *ir.Func) *Report {
	f.Renumber()
	sound := soundRanges(f)
	rng := func(v *ir.Value) (ir.Range, bool) {
		s := sound[v]
		if v.Range != nil {
			r := *v.Range
			return r, r.Lo > s.Lo || r.Hi < s.Hi
		}
		return s, false
	}
	norms := noiseNorms(f)
	rep := &Report{Func: f.Name}
	for _, v := range f.Body {
		if !v.Type.Secret || v.Type.Elem.Float {
			continue
		}
		info := v.Op.Info()
		var l Layer
		switch {
		case v.Op == ir.OpTLU || v.Op == ir.OpRound:
		case info.Linear && info.Class != ir.ClassShape:
		case tluBased(v):
		default:
			continue
		}
		l = Layer{Value: v.ID, Loc: v.Loc, Op: v.Op.String(), Elements: v.Type.Size()}
		in := ir.Range{Lo: math.MaxInt64, Hi: math.MinInt64}
		for _, a := range v.Args {
			if a.Type.Secret && !a.Type.Elem.Float {
				r, cal := rng(a)
				in = in.Union(r)
				l.Calibrated = l.Calibrated || (cal && v.Op == ir.OpTLU)
			}
		}
		if in.Lo > in.Hi {
			in = ir.Range{}
		}
		out, cal := rng(v)
		l.Calibrated = l.Calibrated || cal
		l.InputRange, l.InputBits = [2]int64{in.Lo, in.Hi}, in.Bits()
		l.OutputRange, l.OutputBits = [2]int64{out.Lo, out.Hi}, out.Bits()
		switch v.Op {
		case ir.OpTLU:
			l.TLUs, l.TLUInputBits = v.Type.Size(), in.Bits()
			l.Tables = 1
			if t := v.TensorAttr("table"); len(t.Shape) == 2 {
				l.Tables = t.Shape[0]
			}
			l.MaxNorm2 = maxSqrt(norms[v.Args[0]])
		case ir.OpRound:
			l.MaxNorm2 = maxSqrt(norms[v.Args[0]])
		default:
			if tluBased(v) {
				l.TLUs, l.TLUInputBits = tluCost(v, in)
				l.MaxNorm2 = 0
				for _, a := range v.Args {
					l.MaxNorm2 = math.Max(l.MaxNorm2, maxSqrt(norms[a]))
				}
			} else {
				l.MaxNorm2 = maxSqrt(norms[v])
				rep.MaxAccumulatorBits = max(rep.MaxAccumulatorBits, l.OutputBits)
			}
		}
		rep.TLUCount += l.TLUs
		rep.MaxTLUBits = max(rep.MaxTLUBits, l.TLUInputBits)
		rep.MaxAccumulatorBits = max(rep.MaxAccumulatorBits, l.TLUInputBits)
		rep.Calibrated = rep.Calibrated || l.Calibrated
		rep.Layers = append(rep.Layers, l)
	}
	return rep
}

// tluBased reports whether v is an encrypted non-linear op that the
// backends compute with table lookups (max of two encrypted values, product
// of two encrypted values).
func tluBased(v *ir.Value) bool {
	switch v.Op {
	case ir.OpMaxPool, ir.OpReduceMax:
		return v.Args[0].Type.Secret
	case ir.OpMax, ir.OpMin, ir.OpMul:
		return v.Args[0].Type.Secret && v.Args[1].Type.Secret
	}
	return false
}

// tluCost estimates the lookups of a TLU-based op on inputs in range in:
// max(a,b) = b + relu(a-b) is one lookup on a difference per comparison;
// a·b = ((a+b)² - (a-b)²)/4 is two lookups per element.
func tluCost(v *ir.Value, in ir.Range) (count, bits int) {
	diff := ir.Range{Lo: in.Lo - in.Hi, Hi: in.Hi - in.Lo}
	n := v.Type.Size()
	switch v.Op {
	case ir.OpMaxPool:
		k := 1
		for _, x := range v.Ints("kernel", nil) {
			k *= int(x)
		}
		return n * (k - 1), diff.Bits()
	case ir.OpReduceMax:
		return v.Args[0].Type.Size() - n, diff.Bits()
	case ir.OpMax, ir.OpMin:
		return n, diff.Bits()
	}
	sum := in.Add(in)
	return 2 * n, max(sum.Bits(), diff.Bits())
}

func maxSqrt(t *ir.Tensor) float64 {
	if t == nil {
		return 0
	}
	m := 0.0
	for _, x := range t.F {
		m = math.Max(m, x)
	}
	return math.Sqrt(m)
}

// noiseNorms returns, for every encrypted integer value, the per-element
// sum of squared clear weights applied since the last fresh value (a
// parameter's quantization, a tlu, a TLU-based op), which have norm 1.
func noiseNorms(f *ir.Func) map[*ir.Value]*ir.Tensor {
	env := make(map[*ir.Value]*ir.Tensor)
	one := func(v *ir.Value) *ir.Tensor {
		t := ir.NewFloats(v.Type.Shape, nil)
		for i := range t.F {
			t.F[i] = 1
		}
		return t
	}
	for _, p := range f.Params {
		if p.Type.Secret {
			env[p] = one(p)
		}
	}
	for _, v := range f.Body {
		if !v.Type.Secret {
			continue
		}
		env[v] = propagateNorm(v, env)
		if env[v] == nil {
			env[v] = one(v)
		}
	}
	return env
}

func propagateNorm(v *ir.Value, env map[*ir.Value]*ir.Tensor) *ir.Tensor {
	args := make([]*ir.Tensor, len(v.Args))
	for i, a := range v.Args {
		if a.Type.Secret {
			args[i] = env[a]
		} else if c := a.ConstValue(); c != nil {
			sq := ir.NewFloats(c.Shape, nil)
			for j := range sq.F {
				sq.F[j] = c.At(j) * c.At(j)
			}
			args[i] = sq
		} else {
			return nil
		}
	}
	switch v.Op {
	case ir.OpTLU, ir.OpQuantize, ir.OpMaxPool, ir.OpReduceMax:
		return nil // fresh
	case ir.OpRound, ir.OpCast, ir.OpNeg:
		return args[0]
	case ir.OpAdd, ir.OpSub:
		if !v.Args[1].Type.Secret {
			return broadcastF(args[0], v.Type.Shape)
		}
		if !v.Args[0].Type.Secret {
			return broadcastF(args[1], v.Type.Shape)
		}
		a, b := broadcastF(args[0], v.Type.Shape), broadcastF(args[1], v.Type.Shape)
		out := ir.NewFloats(v.Type.Shape, nil)
		for i := range out.F {
			out.F[i] = a.F[i] + b.F[i]
		}
		return out
	case ir.OpMul:
		if v.Args[0].Type.Secret && v.Args[1].Type.Secret {
			return nil
		}
		return evalOpF(v, args)
	case ir.OpGemm, ir.OpMatMul, ir.OpConv:
		if len(args) == 3 {
			args[2] = ir.NewFloats(args[2].Shape, nil) // a bias adds no noise
		}
		return evalOpF(v, args)
	case ir.OpSumPool, ir.OpReduceSum, ir.OpReshape, ir.OpTranspose, ir.OpSlice, ir.OpPad, ir.OpBroadcast, ir.OpGather, ir.OpConcat:
		return evalOpF(v, args)
	}
	return nil
}

func broadcastF(t *ir.Tensor, shape []int) *ir.Tensor {
	if ir.SameShape(t.Shape, shape) {
		return t
	}
	out := ir.NewFloats(shape, nil)
	for i, j := range broadcastIndex(t.Shape, shape) {
		out.F[i] = t.F[j]
	}
	return out
}

// evalOpF runs v on float tensors (all types f64). Padding contributes 0.
func evalOpF(v *ir.Value, args []*ir.Tensor) *ir.Tensor {
	g := ir.NewFunc("norm")
	params := make([]*ir.Value, len(args))
	for i, a := range args {
		params[i] = g.AddParam("", ir.EncOf(ir.F64, a.Shape...))
	}
	w := *v
	w.Args, w.Range = params, nil
	w.Type.Elem = ir.F64
	if w.Op == ir.OpPad {
		w.Attrs = append(ir.Attrs(nil), v.Attrs...)
		w.SetAttr(ir.FloatAttr("value", 0))
	}
	g.Body, g.Results = []*ir.Value{&w}, []*ir.Value{&w}
	out, err := ir.Run(g, args)
	if err != nil {
		return nil
	}
	return out[0]
}

// WriteText writes the report as a readable table.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "value\tloc\top\tinput range\tbits\toutput range\tbits\ttlu bits\ttlus\tmax ‖w‖₂\t")
	for _, l := range r.Layers {
		cal := ""
		if l.Calibrated {
			cal = " (calibrated)"
		}
		tb, tl := "-", "-"
		if l.TLUs > 0 {
			tb, tl = fmt.Sprint(l.TLUInputBits), fmt.Sprint(l.TLUs)
		}
		fmt.Fprintf(tw, "v%d\t%s\t%s\t[%d,%d]\t%d\t[%d,%d]%s\t%d\t%s\t%s\t%.2f\t\n", l.Value, l.Loc, l.Op,
			l.InputRange[0], l.InputRange[1], l.InputBits, l.OutputRange[0], l.OutputRange[1], cal, l.OutputBits, tb, tl, l.MaxNorm2)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "tlu_count=%d max_tlu_bits=%d max_accumulator_bits=%d calibrated=%v\n",
		r.TLUCount, r.MaxTLUBits, r.MaxAccumulatorBits, r.Calibrated)
	return err
}

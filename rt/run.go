package rt

import (
	"context"
	"math"
	"runtime"
)

// Options tune an evaluation. The zero value is fine.
type Options struct {
	// Progress receives progress reports (nil: none).
	Progress ProgressFunc
	// Seed seeds the Simulate mode's random perturbations (same seed, same
	// results).
	Seed uint64
	// PError, when > 0, makes Simulate perturb every encrypted lookup with
	// this failure probability instead of the parameters' error model.
	PError float64
	// Workers bounds the goroutines of Execute (0: GOMAXPROCS).
	Workers int
}

func (o *Options) workers() int {
	if o != nil && o.Workers > 0 {
		return o.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// Run evaluates c in the clear on quantized inputs (one slice per input,
// row-major) in Disable or Simulate mode and returns the quantized outputs.
// Execute needs keys: use a Model, or a Client and a Server.
func (c *Circuit) Run(ctx context.Context, mode Mode, in [][]int64, opts *Options) ([][]int64, error) {
	if opts == nil {
		opts = &Options{}
	}
	be := &clearBackend{c: c}
	switch mode {
	case Disable:
	case Simulate:
		sigma, err := c.simulationSigma(opts.PError)
		if err != nil {
			return nil, err
		}
		be.sigma = sigma
		be.rng = newRand(opts.Seed)
	default:
		return nil, errf(BadInput, "Circuit.Run runs %s and %s, not %s (use a Model or a Client and a Server)", Disable, Simulate, mode)
	}
	if err := c.checkQuantized(in); err != nil {
		return nil, err
	}
	ts := make([]Tensor, len(in))
	for i, x := range in {
		ts[i] = clearTensor(x)
	}
	out, err := c.evaluate(ctx, be, ts, opts.Progress)
	if err != nil {
		return nil, err
	}
	res := make([][]int64, len(out))
	for i, t := range out {
		res[i] = t.(clearTensor)
	}
	return res, nil
}

// simulationSigma returns the per-lookup error model of Simulate: a fixed
// failure probability pe when > 0, else the parameters' noise model, else
// the circuit's PError, else none.
func (c *Circuit) simulationSigma(pe float64) (func(op *Op) float64, error) {
	if pe > 0 {
		s := SigmaForPError(pe)
		return func(*Op) float64 { return s }, nil
	}
	if c.Params != "" {
		sch, err := schemeOf(c)
		if err != nil {
			return nil, err
		}
		return sch.sigma(c)
	}
	if c.PError > 0 {
		s := SigmaForPError(c.PError)
		return func(*Op) float64 { return s }, nil
	}
	return nil, nil
}

// checkQuantized checks the number, sizes and clamp of quantized inputs.
func (c *Circuit) checkQuantized(in [][]int64) error {
	if len(in) != len(c.Inputs) {
		return errf(BadInput, "got %d inputs, want %d", len(in), len(c.Inputs))
	}
	for i, x := range in {
		if err := c.checkInput(i, x); err != nil {
			return err
		}
	}
	return nil
}

// checkInput checks the size and clamp of quantized input i.
func (c *Circuit) checkInput(i int, x []int64) error {
	inp := &c.Inputs[i]
	v := &c.Values[inp.Value]
	if len(x) != v.Size() {
		return errf(BadInput, "input %d %q: got %d values, want %d (shape %v)", i, inp.Name, len(x), v.Size(), v.Shape)
	}
	for j, q := range x {
		if q < inp.Quant.QMin || q > inp.Quant.QMax {
			return errf(BadInput, "input %d %q: element %d is %d, outside [%d,%d]", i, inp.Name, j, q, inp.Quant.QMin, inp.Quant.QMax)
		}
	}
	return nil
}

// channelOf returns, for element j of a tensor of shape, the index of the
// per-axis quantization parameter (0 for per-tensor).
func (q *Quant) channelOf(shape []int, j int) int {
	if len(q.Scale) <= 1 {
		return 0
	}
	st := stridesOf(shape)
	return j / st[q.Axis] % shape[q.Axis]
}

// Quantize returns the quantized inputs for real inputs x (one slice per
// input, row-major): clamp(roundHalfEven(x/scale) + zeroPoint, qmin, qmax).
func (c *Circuit) Quantize(x [][]float64) ([][]int64, error) {
	if len(x) != len(c.Inputs) {
		return nil, errf(BadInput, "got %d inputs, want %d", len(x), len(c.Inputs))
	}
	out := make([][]int64, len(x))
	for i, xi := range x {
		inp := &c.Inputs[i]
		v := &c.Values[inp.Value]
		if len(xi) != v.Size() {
			return nil, errf(BadInput, "input %d %q: got %d values, want %d (shape %v)", i, inp.Name, len(xi), v.Size(), v.Shape)
		}
		q := make([]int64, len(xi))
		for j, f := range xi {
			if math.IsNaN(f) {
				return nil, errf(BadInput, "input %d %q: element %d is NaN", i, inp.Name, j)
			}
			ch := inp.Quant.channelOf(v.Shape, j)
			r := math.RoundToEven(f/inp.Quant.Scale[ch]) + float64(inp.Quant.ZeroPoint[ch])
			r = math.Max(float64(inp.Quant.QMin), math.Min(float64(inp.Quant.QMax), r))
			q[j] = int64(r)
		}
		out[i] = q
	}
	return out, nil
}

// Dequantize returns the real outputs for quantized outputs q:
// (q - zeroPoint) * scale.
func (c *Circuit) Dequantize(q [][]int64) ([][]float64, error) {
	if len(q) != len(c.Outputs) {
		return nil, errf(BadInput, "got %d outputs, want %d", len(q), len(c.Outputs))
	}
	out := make([][]float64, len(q))
	for i, qi := range q {
		o := &c.Outputs[i]
		v := &c.Values[o.Value]
		if len(qi) != v.Size() {
			return nil, errf(BadInput, "output %d %q: got %d values, want %d", i, o.Name, len(qi), v.Size())
		}
		f := make([]float64, len(qi))
		for j, x := range qi {
			ch := o.Dequant.channelOf(v.Shape, j)
			f[j] = float64(x-o.Dequant.ZeroPoint[ch]) * o.Dequant.Scale[ch]
		}
		out[i] = f
	}
	return out, nil
}

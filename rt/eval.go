package rt

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Mode selects how a circuit runs, mirroring Concrete ML's fhe= argument.
type Mode uint8

const (
	// Disable runs in the clear on integers: the semantic reference.
	Disable Mode = iota
	// Simulate runs in the clear and perturbs every table lookup as the
	// crypto parameters' error model says (seeded, reproducible).
	Simulate
	// Execute runs under fully homomorphic encryption.
	Execute
)

func (m Mode) String() string {
	switch m {
	case Disable:
		return "disable"
	case Simulate:
		return "simulate"
	case Execute:
		return "execute"
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// ParseMode parses "disable", "simulate" or "execute".
func ParseMode(s string) (Mode, error) {
	for _, m := range []Mode{Disable, Simulate, Execute} {
		if m.String() == s {
			return m, nil
		}
	}
	return 0, errf(BadInput, "mode %q, want disable, simulate or execute", s)
}

// Tensor is a backend's opaque handle on the elements of one circuit value
// (clear integers, one LWE ciphertext per element, or packed ciphertexts).
// Backends never modify a tensor after returning it, so handles may be
// shared.
type Tensor interface {
	// Len returns the number of elements.
	Len() int
}

// Backend evaluates the ops of one circuit on whole tensors. A backend is
// made for a circuit (it may precompute per-op data such as lookup tables
// or packings) and runs one evaluation at a time; it may use many
// goroutines inside an op.
type Backend interface {
	// Trivial returns a tensor holding the clear elements x of value v
	// (a clear input).
	Trivial(v ValueID, x []int64) (Tensor, error)
	// Linear evaluates op (OpLinear) on tensors of its inputs.
	Linear(ctx context.Context, op *Op, in []Tensor) (Tensor, error)
	// TLU evaluates op (OpTLU) on its input tensor; tick(n) reports n more
	// lookups done (it is safe for concurrent use).
	TLU(ctx context.Context, op *Op, in Tensor, tick func(n int)) (Tensor, error)
}

// Progress describes how far an evaluation or key generation got.
type Progress struct {
	Stage     string // "keygen" or "run"
	Op, Ops   int    // ops done so far, and in all (keygen: steps)
	OpName    string // op running now
	TLUs      int    // lookups done so far
	TLUsTotal int    // lookups in all
	Elapsed   time.Duration
	ETA       time.Duration // estimated time left (0 when unknown)
	Done      bool          // the last report of this stage
}

// ProgressFunc receives progress reports. Reports come from one goroutine
// at a time, at most every 100 ms plus one per op and a final one.
type ProgressFunc func(Progress)

// evaluate runs c on backend be. in holds one tensor per circuit input.
func (c *Circuit) evaluate(ctx context.Context, be Backend, in []Tensor, progress ProgressFunc) ([]Tensor, error) {
	if len(in) != len(c.Inputs) {
		return nil, errf(BadInput, "%d inputs, want %d", len(in), len(c.Inputs))
	}
	vals := make([]Tensor, len(c.Values))
	lastUse := make([]int, len(c.Values))
	for k := range c.Ops {
		for _, id := range c.Ops[k].In {
			lastUse[id] = k
		}
	}
	keep := make([]bool, len(c.Values))
	for _, o := range c.Outputs {
		keep[o.Value] = true
	}
	for i, t := range in {
		v := &c.Values[c.Inputs[i].Value]
		if t == nil || t.Len() != v.Size() {
			return nil, errf(BadInput, "input %d %q: got %d elements, want %d", i, c.Inputs[i].Name, lenOf(t), v.Size())
		}
		vals[c.Inputs[i].Value] = t
	}
	pr := newProgressTracker("run", len(c.Ops), c.tluTotal(), progress)
	for k := range c.Ops {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		op := &c.Ops[k]
		pr.startOp(k, op.Name)
		var out Tensor
		var err error
		switch op.Kind {
		case OpLinear:
			args := make([]Tensor, len(op.In))
			for i, id := range op.In {
				args[i] = vals[id]
			}
			out, err = be.Linear(ctx, op, args)
		case OpTLU:
			out, err = be.TLU(ctx, op, vals[op.In[0]], pr.tick)
		default:
			panic("BUG: unknown op kind in a validated circuit")
		}
		if err != nil {
			return nil, fmt.Errorf("op %d %q (%s): %w", k, op.Name, op.Kind, err)
		}
		if out == nil || out.Len() != c.Values[op.Out].Size() {
			panic(fmt.Sprintf("BUG: backend returned %d elements for op %q, want %d", lenOf(out), op.Name, c.Values[op.Out].Size()))
		}
		vals[op.Out] = out
		for _, id := range op.In {
			if lastUse[id] == k && !keep[id] {
				vals[id] = nil // free ciphertexts early
			}
		}
	}
	pr.finish()
	res := make([]Tensor, len(c.Outputs))
	for i, o := range c.Outputs {
		res[i] = vals[o.Value]
	}
	return res, nil
}

func lenOf(t Tensor) int {
	if t == nil {
		return 0
	}
	return t.Len()
}

// tluTotal counts all lookups, clear ones included (for progress).
func (c *Circuit) tluTotal() int {
	n := 0
	for k := range c.Ops {
		if c.Ops[k].Kind == OpTLU {
			n += c.Values[c.Ops[k].Out].Size()
		}
	}
	return n
}

// clearTensor is the tensor of the Disable and Simulate modes.
type clearTensor []int64

func (t clearTensor) Len() int { return len(t) }

// clearBackend evaluates in the clear; with sigma != nil it perturbs each
// lookup's rounded input by a Gaussian error of standard deviation
// sigma(op) (in units of one table step) as the FHE error model says.
type clearBackend struct {
	c     *Circuit
	sigma func(op *Op) float64
	rng   *rand.Rand
}

func (b *clearBackend) Trivial(_ ValueID, x []int64) (Tensor, error) { return clearTensor(x), nil }

func (b *clearBackend) Linear(_ context.Context, op *Op, in []Tensor) (Tensor, error) {
	var x []int64
	if len(in) == 1 {
		x = in[0].(clearTensor)
	} else {
		for _, t := range in {
			x = append(x, t.(clearTensor)...)
		}
	}
	out := make(clearTensor, len(op.RowPtr)-1)
	for j := range out {
		var s int64
		if op.Bias != nil {
			s = op.Bias[j]
		}
		for t := op.RowPtr[j]; t < op.RowPtr[j+1]; t++ {
			s += op.W[t] * x[op.Src[t]]
		}
		out[j] = s
	}
	return out, nil
}

func (b *clearBackend) TLU(_ context.Context, op *Op, in Tensor, tick func(int)) (Tensor, error) {
	x := in.(clearTensor)
	out := make(clearTensor, len(x))
	size := int64(len(op.Tables[0]))
	sigma := 0.0
	if b.sigma != nil && b.c.Values[op.Out].Encrypted {
		sigma = b.sigma(op)
	}
	for j, v := range x {
		i := roundShift(v, op.DropBits) - op.Lo
		if i < 0 || i >= size {
			return nil, errf(TableIndexOutOfRange, "element %d: input %d rounds to %d, outside the table domain [%d,%d]",
				j, v, i+op.Lo, op.Lo, op.Lo+size-1)
		}
		if sigma > 0 {
			i = perturb(b.rng, v, op, sigma) - op.Lo
			i = min(max(i, 0), size-1)
		}
		t := 0
		if op.TableOf != nil {
			t = int(op.TableOf[j])
		}
		out[j] = op.Tables[t][i]
	}
	tick(len(x))
	return out, nil
}

// perturb returns the rounded input an encrypted lookup reads when the
// bootstrap sees its input with a Gaussian error e of standard deviation
// sigma, in units of the bootstrap's read step. With approximate rounding
// the bootstrap reads round(v/2^d + e), so inputs near a rounding boundary
// often land on the neighbour; exact rounding reads round(v/2^d) + round(e):
// never off by one because of the rounding, wrong only when e is (that is,
// with the lookup's failure probability).
func perturb(rng *rand.Rand, v int64, op *Op, sigma float64) int64 {
	e := rng.NormFloat64() * sigma
	if op.Rounding == RoundApprox && op.DropBits > 0 {
		f := float64(v)/float64(int64(1)<<op.DropBits) + e
		return int64(math.Floor(f + 0.5))
	}
	return roundShift(v, op.DropBits) + int64(math.Floor(e+0.5))
}

func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// SigmaForPError returns the standard deviation (in table steps) of a
// Gaussian error that moves a lookup to another entry with probability p:
// p = P(|e| ≥ 1/2).
func SigmaForPError(p float64) float64 {
	if p <= 0 {
		return 0
	}
	if p >= 1 {
		p = 1 - 1e-12
	}
	// P(|e| >= 1/2) = erfc(1/(2·σ·√2)).
	return 1 / (2 * math.Sqrt2 * math.Erfcinv(p))
}

// progressTracker throttles progress reports and estimates the time left
// from the lookup rate (lookups dominate encrypted time).
type progressTracker struct {
	mu    sync.Mutex
	f     ProgressFunc
	p     Progress
	start time.Time
	last  time.Time
}

func newProgressTracker(stage string, ops, tlus int, f ProgressFunc) *progressTracker {
	now := time.Now()
	return &progressTracker{f: f, p: Progress{Stage: stage, Ops: ops, TLUsTotal: tlus}, start: now, last: now}
}

func (t *progressTracker) startOp(k int, name string) {
	if t.f == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.p.Op, t.p.OpName = k, name
	t.report(true)
}

// tick is called from backend goroutines.
func (t *progressTracker) tick(n int) {
	if t.f == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.p.TLUs += n
	t.report(false)
}

func (t *progressTracker) finish() {
	if t.f == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.p.Op, t.p.Done = t.p.Ops, true
	t.report(true)
}

func (t *progressTracker) report(force bool) {
	now := time.Now()
	if !force && now.Sub(t.last) < 100*time.Millisecond {
		return
	}
	t.last = now
	t.p.Elapsed = now.Sub(t.start)
	t.p.ETA = 0
	if t.p.TLUs > 0 && t.p.TLUsTotal > t.p.TLUs {
		rate := float64(t.p.Elapsed) / float64(t.p.TLUs)
		t.p.ETA = time.Duration(rate * float64(t.p.TLUsTotal-t.p.TLUs))
	}
	t.f(t.p)
}

package rt

import (
	"math"
	"math/bits"
)

// Requirements are what a circuit needs from crypto parameters under the
// TFHE-style encoding (one signed message width for every value, each value
// stored minus a per-value offset that centres its range).
type Requirements struct {
	// MsgBits is the width of the signed encoding every value fits in.
	MsgBits int
	// PBSBits is the widest lookup precision: max over encrypted lookups of
	// the bits the bootstrap resolves, MsgBits minus the input's scale minus
	// the rounded bits (approximate rounding drops them in the bootstrap,
	// exact rounding removes them first, one bootstrap per bit).
	PBSBits int
	// ExactDropBits is the largest number of low bits an exactly rounded
	// encrypted lookup removes from its input's message (its input's
	// scale plus its DropBits; 0 when no lookup rounds exactly).
	ExactDropBits int
	// ExactExtractions is the largest number of bit extractions (extra
	// bootstraps) of one exactly rounded lookup: the removed bits not
	// known to be zero (KnownZeroBits and the scale bits need none).
	ExactExtractions int
	// ExactOp names the exactly rounded lookup that sets ExactDropBits.
	ExactOp string
	// Bootstraps is the number of programmable bootstraps of one
	// evaluation: TLUs plus the bit extractions of exact rounding (bits
	// known to be zero are not extracted).
	Bootstraps int
	// MaxNorm2 is the largest 2-norm of the (scaled) weights applied to
	// fresh encryptions or lookup results before they reach a lookup or an
	// output (1 for a lookup fed directly by another).
	MaxNorm2 float64
	// TLUs is the number of encrypted lookups of one evaluation.
	TLUs int
	// WidestOp names the lookup that sets PBSBits ("" when none).
	WidestOp string
	// NoisiestOp names the lookup or output that sets MaxNorm2.
	NoisiestOp string
}

// plan is the encoding analysis behind Requirements. Value v is encoded as
// the signed MsgBits-wide message m = (x - offset[v]) · 2^scale[v]: the
// offset centres the range, the scale moves narrow values to the top of the
// message so that a lookup reading them drops the zero low bits and
// resolves only the bits the value has. Linear ops multiply weights by
// 2^(scale[out] - scale[in]) (never a fraction: scale[in] ≤ scale[out]).
type plan struct {
	req    Requirements
	offset []int64
	scale  []int
	norm2  []float64 // per value: max over elements of the weight 2-norm
	// Per lookup op: the 2-norm at its input and the bits the bootstrap
	// drops (scale of the input plus approximately dropped bits).
	opNorm2 []float64
	opDrop  []int
	// opExact marks lookups that round exactly: they drop opDrop bits with
	// one extra bootstrap per bit (tfhe.Params.NewLUTExactZeros) except
	// the opZero lowest, which are known to be zero in the input's
	// message (scale bits and KnownZeroBits of the value and its offset).
	opExact []bool
	opZero  []int
}

// extractions returns the number of bit extractions of lookup k (0 unless
// it rounds exactly).
func (p *plan) extractions(k int) int {
	if !p.opExact[k] {
		return 0
	}
	return p.opDrop[k] - p.opZero[k]
}

// signedBits returns the width of the smallest signed (two's complement)
// integer holding [lo, hi].
func signedBits(lo, hi int64) int {
	n := 0
	if lo < 0 {
		n = bits.Len64(uint64(^lo))
	}
	if hi > 0 {
		n = max(n, bits.Len64(uint64(hi)))
	}
	return n + 1
}

func floorShift(x int64, d int) int64 { return x >> d }
func ceilShift(x int64, d int) int64  { return -((-x) >> d) }

// approxDomain returns the table inputs an approximately rounded lookup
// may read for x in [lo, hi]: floor or ceiling of x/2^d.
func approxDomain(lo, hi int64, d int) (int64, int64) {
	return floorShift(lo, d), ceilShift(hi, d)
}

// tfheExact reports whether a lookup rounds exactly under TFHE: its
// DropBits are removed bit by bit before the lookup (NewLUTExact), which
// then reads the rounded value at the centre of its box.
func tfheExact(op *Op) bool { return op.Rounding == RoundExact && op.DropBits > 0 }

func (c *Circuit) analyze() *plan {
	nv := len(c.Values)
	p := &plan{offset: make([]int64, nv), scale: make([]int, nv), norm2: make([]float64, nv),
		opNorm2: make([]float64, len(c.Ops)), opDrop: make([]int, len(c.Ops)), opExact: make([]bool, len(c.Ops)), opZero: make([]int, len(c.Ops))}
	align := make([]int, nv) // offsets must be multiples of 2^align
	for k := range c.Ops {
		op := &c.Ops[k]
		if op.Kind == OpTLU {
			// round((x - offset)/2^d) = round(x/2^d) - offset/2^d needs
			// offset a multiple of 2^d, for either rounding.
			align[op.In[0]] = max(align[op.In[0]], op.DropBits)
		}
	}
	need := make([]int, nv) // bits value v needs at scale 0
	for i := range c.Values {
		v := &c.Values[i]
		mid := floorShift(v.Min, 1) + floorShift(v.Max, 1) + (v.Min&1+v.Max&1+1)/2 // ⌈(lo+hi)/2⌉ without overflow
		a := align[i]
		p.offset[i] = floorShift(mid+int64(1)<<a>>1, a) << a
		need[i] = signedBits(v.Min-p.offset[i], v.Max-p.offset[i])
	}
	for k := range c.Ops {
		op := &c.Ops[k]
		if d := op.DropBits; op.Kind == OpTLU && d > 0 {
			// The rounded value must fit the p-bit lookup: for approximate
			// rounding a read of x/2^d may land one past the rounded range.
			in := &c.Values[op.In[0]]
			lo, hi := tluDomain(in.Min, in.Max, d)
			if op.Rounding == RoundApprox {
				lo, hi = approxDomain(in.Min, in.Max, d)
			}
			o := p.offset[op.In[0]] >> d
			need[op.In[0]] = max(need[op.In[0]], d+signedBits(lo-o, hi-o))
		}
	}
	for _, n := range need {
		p.req.MsgBits = max(p.req.MsgBits, n)
	}
	// Scales: as large as the value allows, but an input of a Linear op
	// may not exceed the op's output scale. Reverse order settles every
	// output before its inputs.
	for i := range p.scale {
		p.scale[i] = p.req.MsgBits - need[i]
	}
	for k := len(c.Ops) - 1; k >= 0; k-- {
		if op := &c.Ops[k]; op.Kind == OpLinear {
			for _, id := range op.In {
				p.scale[id] = min(p.scale[id], p.scale[op.Out])
			}
		}
	}
	// Per-element squared norms; inputs and lookup outputs are uniform, so
	// only Linear outputs (whose size their CSR data bounds) take memory.
	sq := make([]normVec, nv)
	for _, in := range c.Inputs {
		if c.Values[in.Value].Encrypted {
			sq[in.Value] = normVec{uniform: 1}
		}
	}
	maxSq := 0.0
	note := func(x float64, name string) {
		if x > maxSq {
			maxSq, p.req.NoisiestOp = x, name
		}
	}
	zeros := c.KnownZeroBits()
	remaining := make([]int, nv)
	for k := range c.Ops {
		for _, id := range c.Ops[k].In {
			remaining[id]++
		}
	}
	for k := range c.Ops {
		op := &c.Ops[k]
		out := &c.Values[op.Out]
		switch op.Kind {
		case OpLinear:
			// The weight on input i is scaled by 2^(scale[out]-scale[in]).
			source := c.sources(op)
			at := func(s int) float64 {
				i, e := source(s)
				f := math.Ldexp(1, p.scale[op.Out]-p.scale[op.In[i]])
				return f * f * sq[op.In[i]].at(e)
			}
			per := make([]float64, out.Size())
			for j := range per {
				var acc float64
				for t := op.RowPtr[j]; t < op.RowPtr[j+1]; t++ {
					w := float64(op.W[t])
					acc += w * w * at(int(op.Src[t]))
				}
				per[j] = acc
			}
			sq[op.Out] = normVec{per: per}
		case OpTLU:
			m := sq[op.In[0]].max()
			p.opNorm2[k] = math.Sqrt(max(m, 1))
			p.opDrop[k] = p.scale[op.In[0]] + op.DropBits
			p.opExact[k] = tfheExact(op)
			if p.opExact[k] {
				// The message (x - offset)·2^scale has scale zero bits,
				// plus those x and the offset share.
				in := op.In[0]
				z := p.scale[in] + min(zeros[in], trailingZeros(p.offset[in]))
				p.opZero[k] = min(z, p.opDrop[k])
			}
			if out.Encrypted {
				note(m, op.Name)
				p.req.TLUs += out.Size()
				p.req.Bootstraps += out.Size() * (1 + p.extractions(k))
				if p.opExact[k] && p.opDrop[k] > p.req.ExactDropBits {
					p.req.ExactDropBits, p.req.ExactOp = p.opDrop[k], op.Name
				}
				p.req.ExactExtractions = max(p.req.ExactExtractions, p.extractions(k))
				sq[op.Out] = normVec{uniform: 1}
			}
		}
		p.norm2[op.Out] = math.Sqrt(sq[op.Out].max())
		for _, id := range op.In {
			if remaining[id]--; remaining[id] == 0 && !c.isOutput(id) {
				sq[id] = normVec{}
			}
		}
	}
	for _, o := range c.Outputs {
		if c.Values[o.Value].Encrypted {
			note(sq[o.Value].max(), "output "+o.Name)
		}
	}
	for _, in := range c.Inputs {
		p.norm2[in.Value] = 1
	}
	p.req.MaxNorm2 = math.Sqrt(max(maxSq, 1))
	// Lookup precision.
	for k := range c.Ops {
		op := &c.Ops[k]
		if op.Kind == OpTLU && c.Values[op.Out].Encrypted {
			if w := p.req.MsgBits - p.opDrop[k]; w > p.req.PBSBits {
				p.req.PBSBits, p.req.WidestOp = w, op.Name
			}
		}
	}
	return p
}

// normVec holds per-element squared weight norms: per when non-nil, else
// uniform for every element.
type normVec struct {
	uniform float64
	per     []float64
}

func (v normVec) at(i int) float64 {
	if v.per != nil {
		return v.per[i]
	}
	return v.uniform
}

func (v normVec) max() float64 {
	if v.per == nil {
		return v.uniform
	}
	m := 0.0
	for _, x := range v.per {
		m = max(m, x)
	}
	return m
}

// sources returns the map from a concatenated source index of Linear op
// to its input's position in op.In and the element of that input.
func (c *Circuit) sources(op *Op) func(s int) (int, int) {
	starts := make([]int, len(op.In)+1)
	for i, id := range op.In {
		starts[i+1] = starts[i] + c.Values[id].Size()
	}
	return func(s int) (int, int) {
		i := 0
		for starts[i+1] <= s {
			i++
		}
		return i, s - starts[i]
	}
}

func (c *Circuit) isOutput(id ValueID) bool {
	for _, o := range c.Outputs {
		if o.Value == id {
			return true
		}
	}
	return false
}

// Requirements analyses c for parameter selection.
func (c *Circuit) Requirements() Requirements { return c.analyze().req }

package rt

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fheir/fheir/rt/bgv"
)

// DepthExceeded: a circuit needs more multiplicative levels than any BGV
// parameter set has (the message names the layers on the deepest path).
const DepthExceeded Code = "DepthExceeded"

func init() {
	schemes["bgv"] = bgvScheme{}
	schemes["bgv-vector"] = bgvScheme{vector: true}
}

// bgvScheme adapts package rt/bgv with batch-major packing: every element
// of a value is one ciphertext whose slot s holds that element for sample
// s (up to N samples per evaluation). Values are stored as themselves mod
// the plaintext modulus t (t > 2·max|value|, so the centred residue is the
// value). Linear ops are weighted sums of ciphertexts (no rotations);
// lookups are the interpolating polynomial over Z_t of the table on the
// input value's exact range [Min, Max], evaluated by baby-step giant-step.
// Results are exact: Simulate has no error to model.
//
// With vector set (scheme "bgv-vector") the packing is vector-major
// instead, for single-sample latency: each value is one ciphertext with
// its elements in the slots of a row (rt/bgv's two rows carry two
// samples), linear ops are diagonal matrix-vector products with rotations
// (rotation keys generated only for the rotations the circuit uses) and
// lookups are per-slot-group polynomials.
type bgvScheme struct{ vector bool }

func (s bgvScheme) name() string {
	if s.vector {
		return "bgv-vector"
	}
	return "bgv"
}

// bgvPlan is the level budget of a circuit: per value the levels consumed
// on its deepest path and its noise excess, per op whether a linear op
// rescales.
type bgvPlan struct {
	depth   []int     // per value
	from    []int     // per value: the op on its deepest path that defined it (-1: input)
	excess  []int64   // per value: noise bound in units of the rescale floor
	rescale []bool    // per op (linear ops)
	slotw   [][]int64 // per op: vector-major slot-aligned sums, one weight per input (nil: not one)
	cost    []int     // per op: levels the op itself uses
	maxAbs  int64     // largest |Min| or |Max| over all values
	total   int       // levels the circuit needs
	deepest ValueID
}

// maxExcess bounds the noise of a value that skipped a rescale, in units
// of the rescale floor (the noise of a fresh lookup output or of a
// rescaled sum). The polynomial evaluator tolerates little more than the
// floor: measured on lattigo v5 (rt/bgv/PARAMS.md), a 1-norm-8 sum fed
// straight into a lookup was exact and a 1-norm-64 one failed in every
// slot. 4 keeps a factor of two below the largest measured to work;
// rt/bgv's TestExcessMargin checks it at N=2^14, 2^15 and 2^16.
const maxExcess = 4

// rowExcess is the largest noise bound over the op's rows when it does
// not rescale: Σ |w|·excess(input) per row.
func (c *Circuit) rowExcess(op *Op, excess []int64) int64 {
	src := c.linearSources(op)
	var worst int64
	for j := 0; j+1 < len(op.RowPtr); j++ {
		var e int64
		for t := op.RowPtr[j]; t < op.RowPtr[j+1]; t++ {
			w := op.W[t]
			if w < 0 {
				w = -w
			}
			e += min(w, 1<<20) * excess[src[t]]
			if e > 1<<40 {
				return e
			}
		}
		worst = max(worst, e)
	}
	return worst
}

// linearSources maps each CSR entry of op to the value it reads.
func (c *Circuit) linearSources(op *Op) []ValueID {
	starts := make([]int32, len(op.In)+1)
	for i, id := range op.In {
		starts[i+1] = starts[i] + int32(c.Values[id].Size())
	}
	out := make([]ValueID, len(op.Src))
	for t, s := range op.Src {
		i, _ := slices.BinarySearch(starts, s+1)
		out[t] = op.In[i-1]
	}
	return out
}

// slotWeights reports whether a linear op is, in the vector-major packing,
// a slot-wise sum Σ w_i·in_i + bias: every output element j reads element
// j of each input it reads, with one weight per input shared by all rows
// (so no rotation and no plaintext vector product is needed). It returns
// the weights (0 for an input no row reads).
func (c *Circuit) slotWeights(op *Op) []int64 {
	n := len(op.RowPtr) - 1
	starts := make([]int32, len(op.In)+1)
	for i, id := range op.In {
		starts[i+1] = starts[i] + int32(c.Values[id].Size())
	}
	w := make([]int64, len(op.In))
	for j := range n {
		seen := 0
		for t := op.RowPtr[j]; t < op.RowPtr[j+1]; t++ {
			i, _ := slices.BinarySearch(starts, op.Src[t]+1)
			i--
			if op.Src[t]-starts[i] != int32(j) || op.W[t] == 0 {
				return nil
			}
			if j == 0 {
				w[i] = op.W[t]
			} else if w[i] != op.W[t] {
				return nil
			}
			seen++
		}
		// Every row must read every input row 0 reads (no masks).
		nz := 0
		for _, x := range w {
			if x != 0 {
				nz++
			}
		}
		if seen != nz {
			return nil
		}
	}
	return w
}

func (c *Circuit) bgvPlan() *bgvPlan {
	vector := c.Scheme == "bgv-vector"
	pl := &bgvPlan{depth: make([]int, len(c.Values)), from: make([]int, len(c.Values)), excess: make([]int64, len(c.Values)),
		rescale: make([]bool, len(c.Ops)), slotw: make([][]int64, len(c.Ops)), cost: make([]int, len(c.Ops)), deepest: -1}
	for i := range c.Values {
		v := &c.Values[i]
		pl.from[i] = -1
		pl.excess[i] = 1
		pl.maxAbs = max(pl.maxAbs, -v.Min, v.Max)
	}
	for k := range c.Ops {
		op := &c.Ops[k]
		d := 0
		for _, id := range op.In {
			d = max(d, pl.depth[id])
		}
		switch op.Kind {
		case OpLinear:
			// A sum whose noise stays within maxExcess of the floor skips
			// the rescale (no level). Vector-major products otherwise
			// multiply by plaintext diagonals and always rescale.
			e := c.rowExcess(op, pl.excess)
			ok := e <= maxExcess
			if vector && ok {
				pl.slotw[k] = c.slotWeights(op)
				ok = pl.slotw[k] != nil
			}
			if ok {
				pl.excess[op.Out] = max(e, 1)
			} else {
				pl.rescale[k] = true
				pl.cost[k] = 1
				pl.slotw[k] = nil
			}
		case OpTLU:
			in := &c.Values[op.In[0]]
			pl.cost[k] = bgv.PolyDepth(int(min(in.Max-in.Min, 1<<40)))
		}
		pl.depth[op.Out] = d + pl.cost[k]
		pl.from[op.Out] = k
		if pl.depth[op.Out] > pl.total || pl.deepest < 0 {
			pl.total, pl.deepest = max(pl.total, pl.depth[op.Out]), op.Out
		}
	}
	// A lookup's input must be within maxExcess: guaranteed, since every
	// linear op either rescales or stays within it.
	return pl
}

// path names the ops that use levels on the deepest path, inputs first.
func (c *Circuit) bgvPath(pl *bgvPlan) string {
	var parts []string
	for v := pl.deepest; v >= 0 && pl.from[v] >= 0; {
		k := pl.from[v]
		op := &c.Ops[k]
		if pl.cost[k] > 0 {
			desc := fmt.Sprintf("%s (linear: 1 level)", quoteOr(op.Name, "op "+itoa(k)))
			if op.Kind == OpTLU {
				in := &c.Values[op.In[0]]
				desc = fmt.Sprintf("%s (lookup on [%d,%d]: degree %d, %d levels)", quoteOr(op.Name, "op "+itoa(k)), in.Min, in.Max, in.Max-in.Min, pl.cost[k])
			}
			parts = append(parts, desc)
		}
		next := ValueID(-1)
		for _, id := range op.In {
			if next < 0 || pl.depth[id] > pl.depth[next] {
				next = id
			}
		}
		v = next
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	return strings.Join(parts, ", ")
}

func bgvErr(err error, what string) error {
	var be *bgv.Error
	if errors.As(err, &be) {
		switch be.Code {
		case bgv.CodeCorruptData:
			return wrapErr(CorruptData, err, "%s", what)
		case bgv.CodeParamsMismatch:
			return wrapErr(WrongParams, err, "%s", what)
		case bgv.CodeNoCryptoParameters:
			return wrapErr(NoCryptoParameters, err, "%s", what)
		case bgv.CodeDepthExceeded:
			return wrapErr(DepthExceeded, err, "%s", what)
		}
	}
	return wrapErr(Unsupported, err, "%s", what)
}

func (s bgvScheme) selectParams(c *Circuit, _ Requirements, _ float64) (string, error) {
	pl := c.bgvPlan()
	minLogN := 0
	if s.vector {
		// Every value must fit one slot row (N/2 slots).
		for i := range c.Values {
			n := c.Values[i].Size()
			minLogN = max(minLogN, bits.Len(uint(n-1))+1)
			if minLogN > bgv.LogNs[len(bgv.LogNs)-1] {
				return "", errf(Unsupported, "circuit %q: value %s has %d elements, more than a vector-major ciphertext holds (%d); use the batch-major packing (scheme \"bgv\")",
					c.Name, c.vname(ValueID(i)), n, 1<<(bgv.LogNs[len(bgv.LogNs)-1]-1))
			}
		}
	}
	for k := range c.Ops {
		op := &c.Ops[k]
		if op.Kind != OpTLU {
			continue
		}
		if in := &c.Values[op.In[0]]; in.Max-in.Min >= bgv.MaxDomain {
			return "", errf(DepthExceeded, "circuit %q: lookup %s reads [%d,%d], more than the %d values a BGV lookup polynomial may span; narrow the range (round before the lookup) or use the TFHE-style backend",
				c.Name, quoteOr(op.Name, "op "+itoa(k)), in.Min, in.Max, bgv.MaxDomain)
		}
	}
	p, err := bgv.SelectAtLeast(pl.total, pl.maxAbs, minLogN)
	if err != nil {
		var be *bgv.Error
		if errors.As(err, &be) && be.Code == bgv.CodeDepthExceeded {
			return "", wrapErr(DepthExceeded, err, "circuit %q needs %d levels on the path %s; use the TFHE-style backend (scheme \"tfhe\"), which has no depth limit",
				c.Name, pl.total, c.bgvPath(pl))
		}
		return "", bgvErr(err, "circuit "+c.Name)
	}
	return p.Name(), nil
}

// bgvParams returns the parameter set c names.
func bgvParams(c *Circuit) (bgv.Params, error) {
	if c.Params == "" {
		return bgv.Params{}, errf(NoParams, "circuit %q has no crypto parameters (run SelectParams)", c.Name)
	}
	p, err := bgv.ParseParams(c.Params)
	if err != nil {
		return bgv.Params{}, wrapErr(WrongParams, err, "circuit %q names BGV parameter set %q", c.Name, c.Params)
	}
	pl := c.bgvPlan()
	if p.Levels < pl.total || p.T <= 2*uint64(pl.maxAbs) {
		return bgv.Params{}, errf(WrongParams, "circuit %q needs %d levels and t > %d, its parameter set %s has %d levels and t = %d",
			c.Name, pl.total, 2*pl.maxAbs, p.Name(), p.Levels, p.T)
	}
	if c.Scheme == "bgv-vector" {
		for i := range c.Values {
			if c.Values[i].Size() > p.RowSlots() {
				return bgv.Params{}, errf(WrongParams, "value %s has %d elements, parameter set %s holds %d per vector", c.vname(ValueID(i)), c.Values[i].Size(), p.Name(), p.RowSlots())
			}
		}
	}
	return p, nil
}

func (s bgvScheme) info(c *Circuit) (ParamsInfo, error) {
	p, err := bgvParams(c)
	if err != nil {
		return ParamsInfo{}, err
	}
	var tlus, widest int
	var est, lookups time.Duration
	pl := c.bgvPlan()
	var layout bgv.Layout
	if s.vector {
		if layout, err = bgvLayout(c, p); err != nil {
			return ParamsInfo{}, err
		}
	}
	for k := range c.Ops {
		op := &c.Ops[k]
		n := c.Values[op.Out].Size()
		switch op.Kind {
		case OpLinear:
			if pl.slotw[k] != nil {
				est += p.LinearCost(len(op.In)) // slot-wise additions
			} else if s.vector {
				// ~one plaintext product per diagonal plus the rotations,
				// at the level the product runs.
				d, rots, depth := 0, 0, 0
				for _, id := range op.In {
					depth = max(depth, pl.depth[id])
				}
				for _, b := range c.linearBlocks(op) {
					idx := layout.DiagonalIndices(b)
					d += len(idx)
					rots += layout.KeySwitches(idx)
				}
				level := p.Levels - depth
				est += time.Duration(d)*p.DiagonalCostAt(level) + time.Duration(rots)*p.RotationCostAt(level)
			} else {
				est += time.Duration(n) * p.LinearCost(int(op.RowPtr[n])/max(n, 1))
			}
		case OpTLU:
			in := &c.Values[op.In[0]]
			deg := int(in.Max - in.Min)
			widest = max(widest, bits.Len64(uint64(deg)))
			tlus += n
			cost := p.LookupCost(deg)
			if s.vector && len(op.Tables) > 1 {
				// One polynomial per slot group: plaintext instead of
				// scalar coefficients, measured ~1.35× (rt/bgv/PARAMS.md).
				cost = cost * 135 / 100
			}
			if !s.vector {
				cost *= time.Duration(n)
			}
			lookups += cost
			est += cost
		}
	}
	per := time.Duration(0)
	if tlus > 0 {
		per = lookups / time.Duration(tlus)
	}
	L := int64(p.Levels)
	N := int64(p.Slots())
	rlk := p.EvalKeyBytes()
	desc := p.String() + fmt.Sprintf("; batch-major: up to %d samples per evaluation, %v per sample at full slots", N, (est/time.Duration(N)).Round(time.Microsecond))
	rot := int64(0)
	ct := p.CiphertextBytes()
	if s.vector {
		g, err := bgvRotations(c, p)
		if err != nil {
			return ParamsInfo{}, err
		}
		rot = int64(len(g)) * rlk // a Galois key has the relinearization key's shape
		l, _ := bgvLayout(c, p)
		desc = p.String() + fmt.Sprintf("; vector-major: up to %d samples per evaluation (stride %d), %d rotation keys", l.Samples(), l.Stride, len(g))
	}
	// Server memory: keys, the vector-major matrices (hoisted: NTT
	// plaintexts over Q_level·P; two-key: 8 bytes per slot), live
	// ciphertexts at their levels, and the largest lookup's power basis
	// (≈ 2√degree + log2 degree ciphertexts).
	ctAt := func(level int) int64 { return 16 * N * int64(level+1) }
	mem := rlk + rot
	if s.vector {
		for k := range c.Ops {
			op := &c.Ops[k]
			if op.Kind != OpLinear || pl.slotw[k] != nil {
				continue
			}
			d := 0
			for _, id := range op.In {
				d = max(d, pl.depth[id])
			}
			for _, b := range c.linearBlocks(op) {
				nd := int64(len(layout.DiagonalIndices(b)))
				if layout.Giant > 0 {
					mem += nd * 8 * N
				} else {
					mem += nd * 8 * N * int64(p.Levels-d+1+p.SpecialPrimes())
				}
			}
		}
	}
	mem += c.peakLive(func(v ValueID) int64 {
		n := int64(c.Values[v].Size())
		if s.vector {
			n = 1
		}
		return n * ctAt(p.Levels-pl.depth[v])
	})
	work := int64(0)
	for k := range c.Ops {
		if op := &c.Ops[k]; op.Kind == OpTLU {
			in := op.In[0]
			deg := float64(c.Values[in].Max - c.Values[in].Min)
			work = max(work, int64(2*math.Sqrt(deg)+math.Log2(deg+1))*ctAt(p.Levels-pl.depth[in]))
		}
	}
	if s.vector && layout.Giant > 0 {
		// Two-key products: the cached baby steps and the giant-step
		// accumulators of the highest product.
		top := 0
		for k := range c.Ops {
			if op := &c.Ops[k]; op.Kind == OpLinear && pl.slotw[k] == nil {
				for _, id := range op.In {
					top = max(top, p.Levels-pl.depth[id])
				}
			}
		}
		bufs := int64(layout.Giant + layout.MaxLen()/layout.Giant)
		work = max(work, bufs*ctAt(top))
	}
	mem += work
	return ParamsInfo{
		Memory: mem,
		Scheme: s.name(), Name: p.Name(), Desc: desc,
		MsgBits: bits.Len64(p.T) - 1, PBSBits: widest, SecurityBits: p.SecurityBits(),
		TLUs: tlus, CostPerTLU: per, Estimate: est,
		Keys: KeySizes{Secret: (L + 2) * N * 8, Eval: rlk + rot, KeySwitching: rlk + rot, Ciphertext: ct},
	}, nil
}

func (bgvScheme) sigma(c *Circuit) (func(op *Op) float64, error) {
	if _, err := bgvParams(c); err != nil {
		return nil, err
	}
	return func(*Op) float64 { return 0 }, nil
}

// bgvTensor is a value of n elements: n ciphertexts (batch-major, slot s
// = sample s) or one (vector-major, element j in slot j of each row's
// sample). batch is the number of samples (0 for a clear value broadcast
// to every slot).
type bgvTensor struct {
	cts   []*bgv.Ciphertext
	n     int
	batch int
}

func (t *bgvTensor) Len() int { return t.n }

// bgvKeys are a BGV client's keys: the secret key only. The evaluation
// keys (relinearization, and for vector-major the rotations the circuit
// uses) are derived when exported and not kept: the client never
// evaluates, and at N=2^16 they take gigabytes.
type bgvKeys struct {
	c         *Circuit
	p         bgv.Params
	vector    bool
	l         bgv.Layout // vector-major
	galEls    []uint64   // vector-major rotations
	sk        *bgv.SecretKey
	evalBytes int64 // size of the last exported evaluation keys (0: none yet)
}

func (s bgvScheme) keysFor(c *Circuit, p bgv.Params, sk *bgv.SecretKey) (clientKeys, error) {
	k := &bgvKeys{c: c, p: p, vector: s.vector, sk: sk}
	if !s.vector {
		return k, nil
	}
	l, err := bgvLayout(c, p)
	if err != nil {
		return nil, err
	}
	k.l = l
	if k.galEls, err = bgvRotations(c, p); err != nil {
		return nil, err
	}
	return k, nil
}

func (s bgvScheme) newKeys(c *Circuit) (clientKeys, error) {
	p, err := bgvParams(c)
	if err != nil {
		return nil, err
	}
	sk, err := bgv.GenSecretKey(p)
	if err != nil {
		return nil, bgvErr(err, "generating the secret key")
	}
	return s.keysFor(c, p, sk)
}

func (s bgvScheme) loadKeys(c *Circuit, secret []byte) (clientKeys, error) {
	p, err := bgvParams(c)
	if err != nil {
		return nil, err
	}
	sk, err := bgv.UnmarshalSecretKey(secret)
	if err != nil {
		return nil, bgvErr(err, "secret key")
	}
	if sk.Params() != p {
		return nil, errf(WrongParams, "secret key is for parameters %s, circuit %q uses %s", sk.Params().Name(), c.Name, p.Name())
	}
	return s.keysFor(c, p, sk)
}

func (k *bgvKeys) encrypt(v ValueID, x []int64) (Tensor, error) {
	return k.encryptBatch(v, [][]int64{x})
}

// encryptBatch encrypts samples[s] (each the value's elements).
func (k *bgvKeys) encryptBatch(v ValueID, samples [][]int64) (Tensor, error) {
	n := k.c.Values[v].Size()
	if len(samples) > k.maxBatch() {
		return nil, errf(BadInput, "%d samples, at most %d", len(samples), k.maxBatch())
	}
	if k.vector {
		ct, err := k.sk.EncryptVectors(k.l, samples)
		if err != nil {
			return nil, bgvErr(err, "encrypting")
		}
		return &bgvTensor{cts: []*bgv.Ciphertext{ct}, n: n, batch: len(samples)}, nil
	}
	xs := make([][]int64, n)
	for i := range xs {
		xs[i] = make([]int64, len(samples))
		for s, x := range samples {
			xs[i][s] = x[i]
		}
	}
	return k.encryptElems(xs, len(samples))
}

// encryptElems encrypts one ciphertext per element on GOMAXPROCS
// goroutines (each with its own copy of the key's encryptor).
func (k *bgvKeys) encryptElems(xs [][]int64, batch int) (Tensor, error) {
	t := &bgvTensor{cts: make([]*bgv.Ciphertext, len(xs)), n: len(xs), batch: batch}
	var next atomic.Int64
	var wg sync.WaitGroup
	var fe firstErr
	for w := range min(runtime.GOMAXPROCS(0), len(xs)) {
		sk := k.sk
		if w > 0 {
			sk = k.sk.ShallowCopy()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(xs); i = int(next.Add(1)) - 1 {
				ct, err := sk.Encrypt(xs[i])
				if err != nil {
					fe.set(bgvErr(err, "encrypting"))
					return
				}
				t.cts[i] = ct
			}
		}()
	}
	wg.Wait()
	if fe.err != nil {
		return nil, fe.err
	}
	return t, nil
}

func (k *bgvKeys) decrypt(v ValueID, t Tensor) ([]int64, error) {
	s, err := k.decryptBatch(v, t)
	if err != nil {
		return nil, err
	}
	return s[0], nil
}

// decryptBatch returns one slice of elements per sample (one sample for
// a broadcast clear tensor).
func (k *bgvKeys) decryptBatch(_ ValueID, t Tensor) ([][]int64, error) {
	bt, ok := t.(*bgvTensor)
	if !ok {
		return nil, errf(BadInput, "not a bgv tensor")
	}
	b := max(bt.batch, 1)
	if k.vector {
		out, err := k.sk.DecryptVectors(k.l, bt.cts[0], bt.n, b)
		if err != nil {
			return nil, bgvErr(err, "decrypting")
		}
		return out, nil
	}
	out := make([][]int64, b)
	for s := range out {
		out[s] = make([]int64, len(bt.cts))
	}
	for i, ct := range bt.cts {
		x, err := k.sk.Decrypt(ct, b)
		if err != nil {
			return nil, bgvErr(err, "ciphertext "+itoa(i))
		}
		for s := range out {
			out[s][i] = x[s]
		}
	}
	return out, nil
}

func (k *bgvKeys) maxBatch() int {
	if k.vector {
		return k.l.Samples()
	}
	return k.p.Slots()
}

func marshalBGV(t Tensor) ([]byte, error) {
	bt, ok := t.(*bgvTensor)
	if !ok {
		panic("BUG: marshalling a non-bgv tensor with the bgv scheme")
	}
	var w encoder
	w.uvarint(uint64(bt.batch))
	w.uvarint(uint64(len(bt.cts)))
	for _, c := range bt.cts {
		b, err := c.MarshalBinary()
		if err != nil {
			return nil, bgvErr(err, "marshalling a ciphertext")
		}
		w.bytes(b)
	}
	return w.buf, nil
}

// unmarshalBGV reads marshalBGV's bytes for value v: Size(v) ciphertexts
// (batch-major) or one (vector-major).
func unmarshalBGV(p bgv.Params, vector bool, maxBatch int, c *Circuit, v ValueID, data []byte) (Tensor, error) {
	r := decoder{buf: data}
	batch := r.uvarint()
	n := r.count(1)
	size := c.Values[v].Size()
	want := size
	if vector {
		want = 1
	}
	if r.err == nil && (batch > uint64(maxBatch) || n != want) {
		return nil, errf(BadInput, "value %s: %d ciphertexts of %d samples, want %d of at most %d", c.vname(v), n, batch, want, maxBatch)
	}
	t := &bgvTensor{cts: make([]*bgv.Ciphertext, n), n: size, batch: int(batch)}
	for i := range t.cts {
		b := r.bytes()
		if r.err != nil {
			break
		}
		ct, err := bgv.UnmarshalCiphertext(p, b)
		if err != nil {
			return nil, bgvErr(err, "ciphertext "+itoa(i)+" of value "+c.vname(v))
		}
		t.cts[i] = ct
	}
	if r.err != nil || len(r.buf) != 0 {
		return nil, errf(CorruptData, "value %s: bad ciphertext list", c.vname(v))
	}
	return t, nil
}

func (k *bgvKeys) marshalTensor(t Tensor) ([]byte, error) { return marshalBGV(t) }
func (k *bgvKeys) unmarshalTensor(v ValueID, data []byte) (Tensor, error) {
	return unmarshalBGV(k.p, k.vector, k.maxBatch(), k.c, v, data)
}

// evalKeys derives fresh evaluation keys from the secret key (each call
// gives different, equally valid keys) and returns them serialized.
func (k *bgvKeys) evalKeys() ([]byte, error) {
	ek := k.sk.GenEvalKey()
	if k.vector {
		ek = k.sk.GenEvalKeyWithRotations(k.galEls)
	}
	b, err := marshalKey(ek, bgvErr, "marshalling the evaluation keys")
	if err == nil {
		k.evalBytes = int64(len(b))
	}
	return b, err
}

func (k *bgvKeys) secretKey() ([]byte, error) {
	return marshalKey(k.sk, bgvErr, "marshalling the secret key")
}

func (k *bgvKeys) sizes() KeySizes {
	N := int64(k.p.Slots())
	ev := k.evalBytes
	if ev == 0 {
		ev = int64(1+len(k.galEls)) * k.p.EvalKeyBytes()
	}
	return KeySizes{Secret: int64(k.p.Levels+2) * N * 8, Eval: ev, KeySwitching: ev, Ciphertext: k.p.CiphertextBytes()}
}

// bgvServer is the Execute backend: one evaluator per worker goroutine
// and the lookup polynomials of every lookup op.
type bgvServer struct {
	c        *Circuit
	p        bgv.Params
	vector   bool
	l        bgv.Layout // vector-major
	pl       *bgvPlan
	evs      []*bgv.Evaluator
	index    map[*Op]int
	polys    map[*Op][]*bgv.Poly
	mats     map[*Op][]*bgv.MatVec // vector-major: one matrix per input
	lastRead []int                 // per value: the last op reading it
}

func (s bgvScheme) newServer(c *Circuit, evalKeys []byte, workers int) (serverBackend, error) {
	p, err := bgvParams(c)
	if err != nil {
		return nil, err
	}
	ek, err := bgv.UnmarshalEvalKey(evalKeys)
	if err != nil {
		return nil, bgvErr(err, "evaluation keys")
	}
	if ek.Params() != p {
		return nil, errf(WrongParams, "evaluation keys are for parameters %s, circuit %q uses %s", ek.Params().Name(), c.Name, p.Name())
	}
	srv := &bgvServer{c: c, p: p, vector: s.vector, pl: c.bgvPlan(), index: make(map[*Op]int), polys: make(map[*Op][]*bgv.Poly)}
	ev := bgv.NewEvaluator(ek)
	srv.evs = append(srv.evs, ev)
	for range max(workers, 1) - 1 {
		srv.evs = append(srv.evs, ev.ShallowCopy())
	}
	if s.vector {
		// Vector-major ops run on evs[0]; the others share its two-key
		// products' diagonals.
		srv.evs[0].SetHelpers(srv.evs[1:])
	}
	type job struct {
		op *Op
		t  int
	}
	var jobs []job
	srv.lastRead = make([]int, len(c.Values))
	for k := range c.Ops {
		op := &c.Ops[k]
		srv.index[op] = k
		for _, id := range op.In {
			srv.lastRead[id] = k
		}
		if op.Kind == OpTLU {
			srv.polys[op] = make([]*bgv.Poly, len(op.Tables))
			for t := range op.Tables {
				jobs = append(jobs, job{op, t})
			}
		}
	}
	errs := make([]error, len(jobs))
	_ = srv.parallel(context.Background(), len(jobs), 1, func(_ *bgv.Evaluator, i int) {
		op, t := jobs[i].op, jobs[i].t
		in := &c.Values[op.In[0]]
		tab := op.Tables[t]
		f := func(x int64) int64 { return tab[roundShift(x, op.DropBits)-op.Lo] }
		srv.polys[op][t], errs[i] = bgv.Interpolate(p.T, in.Min, in.Max, f)
	})
	for i, err := range errs {
		if err != nil {
			return nil, bgvErr(err, "lookup "+quoteOr(jobs[i].op.Name, "?")+" table "+itoa(jobs[i].t))
		}
	}
	if s.vector {
		if err := srv.encodeMatrices(ek); err != nil {
			return nil, err
		}
	}
	return srv, nil
}

// parallel runs f(ev, i) for 0 ≤ i < n on the evaluators' goroutines,
// handing out chunks of the given size; it stops early when ctx is done.
func (s *bgvServer) parallel(ctx context.Context, n, chunk int, f func(ev *bgv.Evaluator, i int)) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range min(len(s.evs), (n+chunk-1)/chunk) {
		wg.Add(1)
		go func(ev *bgv.Evaluator) {
			defer wg.Done()
			for ctx.Err() == nil {
				lo := int(next.Add(int64(chunk))) - chunk
				if lo >= n {
					return
				}
				for i := lo; i < min(lo+chunk, n); i++ {
					f(ev, i)
				}
			}
		}(s.evs[w])
	}
	wg.Wait()
	return ctx.Err()
}

// Trivial encodes a clear value in every slot (the same for all samples).
func (s *bgvServer) Trivial(_ ValueID, x []int64) (Tensor, error) {
	if s.vector {
		all := make([][]int64, s.l.Samples())
		for q := range all {
			all[q] = x
		}
		ct, err := s.evs[0].TrivialVectors(s.l, all)
		if err != nil {
			return nil, bgvErr(err, "clear input")
		}
		return &bgvTensor{cts: []*bgv.Ciphertext{ct}, n: len(x)}, nil
	}
	t := &bgvTensor{cts: make([]*bgv.Ciphertext, len(x)), n: len(x)}
	for i, m := range x {
		t.cts[i] = s.evs[0].Fill(m)
	}
	return t, nil
}

// firstErr collects the first error of parallel workers.
type firstErr struct {
	mu  sync.Mutex
	err error
}

func (e *firstErr) set(err error) {
	e.mu.Lock()
	if e.err == nil {
		e.err = err
	}
	e.mu.Unlock()
}

func (s *bgvServer) Linear(ctx context.Context, op *Op, in []Tensor) (Tensor, error) {
	if s.vector {
		return s.linearVector(op, in)
	}
	var x []*bgv.Ciphertext
	batch := 0
	for _, t := range in {
		bt := t.(*bgvTensor)
		x = append(x, bt.cts...)
		batch = max(batch, bt.batch)
	}
	rescale := s.pl.rescale[s.index[op]]
	rows := len(op.RowPtr) - 1
	out := &bgvTensor{cts: make([]*bgv.Ciphertext, rows), n: rows, batch: batch}
	var fe firstErr
	err := s.parallel(ctx, rows, 4, func(ev *bgv.Evaluator, j int) {
		lo, hi := op.RowPtr[j], op.RowPtr[j+1]
		var bias int64
		if op.Bias != nil {
			bias = op.Bias[j]
		}
		if !rescale && hi-lo == 1 && op.W[lo] == 1 && bias == 0 {
			out.cts[j] = x[op.Src[lo]] // pure data movement: share the ciphertext
			return
		}
		cts := make([]*bgv.Ciphertext, hi-lo)
		for t := lo; t < hi; t++ {
			cts[t-lo] = x[op.Src[t]]
		}
		ct, err := ev.WeightedSum(cts, op.W[lo:hi], bias, rescale)
		if err != nil {
			fe.set(bgvErr(err, "row "+itoa(j)))
			return
		}
		out.cts[j] = ct
	})
	if err != nil {
		return nil, err
	}
	if fe.err != nil {
		return nil, fe.err
	}
	return out, nil
}

func (s *bgvServer) TLU(ctx context.Context, op *Op, in Tensor, tick func(int)) (Tensor, error) {
	x := in.(*bgvTensor)
	polys := s.polys[op]
	if s.vector {
		return s.lookupVector(op, x, tick)
	}
	out := &bgvTensor{cts: make([]*bgv.Ciphertext, len(x.cts)), n: x.n, batch: x.batch}
	var fe firstErr
	err := s.parallel(ctx, len(x.cts), 1, func(ev *bgv.Evaluator, j int) {
		t := 0
		if op.TableOf != nil {
			t = int(op.TableOf[j])
		}
		ct, err := ev.Lookup(x.cts[j], polys[t])
		if err != nil {
			fe.set(bgvErr(err, "element "+itoa(j)))
			return
		}
		out.cts[j] = ct
		tick(1)
	})
	if err != nil {
		return nil, err
	}
	if fe.err != nil {
		return nil, fe.err
	}
	return out, nil
}

func (s *bgvServer) marshalTensor(t Tensor) ([]byte, error) { return marshalBGV(t) }
func (s *bgvServer) unmarshalTensor(v ValueID, data []byte) (Tensor, error) {
	maxBatch := s.p.Slots()
	if s.vector {
		maxBatch = s.l.Samples()
	}
	return unmarshalBGV(s.p, s.vector, maxBatch, s.c, v, data)
}

// batchKeys are client keys that pack many samples per ciphertext.
type batchKeys interface {
	encryptBatch(v ValueID, samples [][]int64) (Tensor, error)
	decryptBatch(v ValueID, t Tensor) ([][]int64, error)
	maxBatch() int
}

// MaxBatch returns how many samples one encrypted evaluation can carry:
// the slot count for a batch-major scheme (BGV), 1 otherwise or before
// keys exist.
func (cl *Client) MaxBatch() int {
	if bk, ok := cl.keys.(batchKeys); ok {
		return bk.maxBatch()
	}
	return 1
}

// EncryptQuantizedBatch encrypts a batch of samples (samples[s] holds one
// quantized slice per input, as EncryptQuantized takes) for one Server.Run
// that evaluates them all at once: at most MaxBatch samples (BGV packs
// thousands; other schemes take one, as EncryptQuantized). Clear inputs
// must be equal in every sample.
func (cl *Client) EncryptQuantizedBatch(samples [][][]int64) ([]byte, error) {
	if err := cl.ready(); err != nil {
		return nil, err
	}
	bk, ok := cl.keys.(batchKeys)
	if !ok && len(samples) == 1 {
		return cl.EncryptQuantized(samples[0]...)
	}
	if !ok {
		return nil, errf(Unsupported, "scheme %q encrypts one sample per evaluation (MaxBatch is 1), got %d", cl.c.Scheme, len(samples))
	}
	if len(samples) == 0 || len(samples) > bk.maxBatch() {
		return nil, errf(BadInput, "batch of %d samples, want 1 to %d", len(samples), bk.maxBatch())
	}
	for s, q := range samples {
		if err := cl.c.checkQuantized(q); err != nil {
			return nil, fmt.Errorf("sample %d: %w", s, err)
		}
	}
	ids := make([]ValueID, len(cl.c.Inputs))
	ts := make([]Tensor, len(ids))
	for i, in := range cl.c.Inputs {
		ids[i] = in.Value
		col := make([][]int64, len(samples))
		for s := range samples {
			col[s] = samples[s][i]
		}
		if !cl.c.Values[in.Value].Encrypted {
			for s := range col {
				if !slices.Equal(col[s], col[0]) {
					return nil, errf(BadInput, "clear input %d %q differs between samples 0 and %d", i, in.Name, s)
				}
			}
			ts[i] = clearTensor(col[0])
			continue
		}
		t, err := bk.encryptBatch(in.Value, col)
		if err != nil {
			return nil, err
		}
		ts[i] = t
	}
	body, err := encodeTensors(cl.c, ids, ts, cl.keys.marshalTensor)
	if err != nil {
		return nil, err
	}
	return writeMsg(cl.c, KindInputs, body), nil
}

// DecryptQuantizedBatch decrypts the result of a batched Server.Run (or,
// on a scheme without batches, of a one-sample run): out[s][i] is output i
// of sample s.
func (cl *Client) DecryptQuantizedBatch(data []byte) ([][][]int64, error) {
	if err := cl.ready(); err != nil {
		return nil, err
	}
	bk, ok := cl.keys.(batchKeys)
	if !ok {
		q, err := cl.DecryptQuantized(data)
		if err != nil {
			return nil, err
		}
		return [][][]int64{q}, nil
	}
	body, err := readMsg(cl.c, KindOutputs, data)
	if err != nil {
		return nil, err
	}
	ids := cl.c.outputIDs()
	ts, err := decodeTensors(cl.c, ids, body, cl.keys.unmarshalTensor)
	if err != nil {
		return nil, err
	}
	var out [][][]int64
	for i, t := range ts {
		x, err := bk.decryptBatch(ids[i], t)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			out = make([][][]int64, len(x))
			for s := range out {
				out[s] = make([][]int64, len(ts))
			}
		}
		if len(x) != len(out) {
			return nil, errf(BadInput, "output %d carries %d samples, output 0 %d", i, len(x), len(out))
		}
		for s := range x {
			out[s][i] = x[s]
		}
	}
	return out, nil
}

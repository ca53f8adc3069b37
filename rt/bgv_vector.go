package rt

import (
	"slices"

	"github.com/fheir/fheir/rt/bgv"
)

// Vector-major parts of the "bgv-vector" scheme (see bgvScheme).

// linearBlocks splits a linear op's CSR matrix by input: block i holds the
// entries reading input i, columns relative to that input.
func (c *Circuit) linearBlocks(op *Op) [][]bgv.Entry {
	starts := make([]int, len(op.In)+1)
	for i, id := range op.In {
		starts[i+1] = starts[i] + c.Values[id].Size()
	}
	blocks := make([][]bgv.Entry, len(op.In))
	for j := 0; j+1 < len(op.RowPtr); j++ {
		for t := op.RowPtr[j]; t < op.RowPtr[j+1]; t++ {
			s := int(op.Src[t])
			i, _ := slices.BinarySearch(starts, s+1)
			i-- // starts[i] ≤ s < starts[i+1]
			blocks[i] = append(blocks[i], bgv.Entry{Row: int32(j), Col: int32(s - starts[i]), W: op.W[t]})
		}
	}
	return blocks
}

// maxHoistedKeyBytes bounds the rotation keys of lattigo's hoisted
// products (one key per distinct rotation); a circuit that would need more
// uses two-key products (bgv.Layout.TwoKey: two keys, slower rotations).
// Convolutions at N=2^16 need ~30-50 keys of ~450 MiB each.
var maxHoistedKeyBytes int64 = 1 << 30 // a variable for tests

// bgvLayout is the vector-major layout of c under p: as many samples
// interleaved as the longest value allows, with two-key products when the
// hoisted ones' keys would exceed maxHoistedKeyBytes.
func bgvLayout(c *Circuit, p bgv.Params) (bgv.Layout, error) {
	n := 1
	for i := range c.Values {
		n = max(n, c.Values[i].Size())
	}
	l, err := bgv.NewLayout(p, n)
	if err != nil {
		return l, bgvErr(err, "circuit "+c.Name)
	}
	g, err := c.galoisElements(l)
	if err != nil {
		return l, err
	}
	if int64(len(g))*p.EvalKeyBytes() > maxHoistedKeyBytes {
		l = l.TwoKey()
	}
	return l, nil
}

// bgvRotations returns the Galois elements of every rotation c's
// vector-major products use (sorted, without duplicates).
func bgvRotations(c *Circuit, p bgv.Params) ([]uint64, error) {
	l, err := bgvLayout(c, p)
	if err != nil {
		return nil, err
	}
	return c.galoisElements(l)
}

func (c *Circuit) galoisElements(l bgv.Layout) ([]uint64, error) {
	pl := c.bgvPlan()
	var all []uint64
	for k := range c.Ops {
		op := &c.Ops[k]
		if op.Kind != OpLinear || pl.slotw[k] != nil {
			continue
		}
		for _, b := range c.linearBlocks(op) {
			g, err := l.MatVecGaloisElements(b)
			if err != nil {
				return nil, bgvErr(err, "rotations of "+quoteOr(op.Name, "op "+itoa(k)))
			}
			all = append(all, g...)
		}
	}
	slices.Sort(all)
	return slices.Compact(all), nil
}

// encodeMatrices encodes every linear op's blocks at the level its inputs
// reach (the plan's depth), after checking that ek has the rotations.
func (s *bgvServer) encodeMatrices(ek *bgv.EvalKey) error {
	l, err := bgvLayout(s.c, s.p)
	if err != nil {
		return err
	}
	s.l = l
	need, err := bgvRotations(s.c, s.p)
	if err != nil {
		return err
	}
	have := ek.GaloisElements()
	for _, g := range need {
		if !slices.Contains(have, g) {
			return errf(WrongParams, "the evaluation keys lack a rotation circuit %q uses (Galois element %d)", s.c.Name, g)
		}
	}
	s.mats = make(map[*Op][]*bgv.MatVec)
	for k := range s.c.Ops {
		op := &s.c.Ops[k]
		if op.Kind != OpLinear || s.pl.slotw[k] != nil {
			continue
		}
		d := 0
		for _, id := range op.In {
			d = max(d, s.pl.depth[id])
		}
		level := s.p.Levels - d
		nOut := s.c.Values[op.Out].Size()
		for i, b := range s.c.linearBlocks(op) {
			m, err := s.evs[0].EncodeMatVec(s.l, nOut, s.c.Values[op.In[i]].Size(), b, level)
			if err != nil {
				return bgvErr(err, "linear "+quoteOr(op.Name, "op "+itoa(k)))
			}
			s.mats[op] = append(s.mats[op], m)
		}
	}
	return nil
}

func (s *bgvServer) linearVector(op *Op, in []Tensor) (Tensor, error) {
	cts := make([]*bgv.Ciphertext, len(in))
	batch := 0
	for i, t := range in {
		bt := t.(*bgvTensor)
		cts[i] = bt.cts[0]
		batch = max(batch, bt.batch)
	}
	n := len(op.RowPtr) - 1
	if w := s.pl.slotw[s.index[op]]; w != nil {
		// Slot-aligned: no rotation, no plaintext product, no level.
		if len(w) == 1 && w[0] == 1 && op.Bias == nil {
			return &bgvTensor{cts: cts, n: n, batch: batch}, nil
		}
		ct, err := s.evs[0].SlotSum(s.l, cts, w, op.Bias)
		if err != nil {
			return nil, bgvErr(err, "slot-wise sum")
		}
		return &bgvTensor{cts: []*bgv.Ciphertext{ct}, n: n, batch: batch}, nil
	}
	ct, err := s.evs[0].MatVecSum(cts, s.mats[op], op.Bias)
	if err != nil {
		return nil, bgvErr(err, "matrix-vector product")
	}
	// Two-key products keep their input's rotations for the next product
	// reading it; drop them once no later op reads the input.
	k := s.index[op]
	last := true
	for _, id := range op.In {
		last = last && s.lastRead[id] <= k
	}
	if last {
		s.evs[0].ReleaseBabySteps()
	}
	return &bgvTensor{cts: []*bgv.Ciphertext{ct}, n: n, batch: batch}, nil
}

func (s *bgvServer) lookupVector(op *Op, x *bgvTensor, tick func(int)) (Tensor, error) {
	groups := op.TableOf
	if groups == nil {
		groups = make([]int32, x.n)
	}
	ct, err := s.evs[0].LookupSlots(s.l, x.cts[0], s.polys[op], groups)
	if err != nil {
		return nil, bgvErr(err, "lookup")
	}
	tick(x.n)
	return &bgvTensor{cts: []*bgv.Ciphertext{ct}, n: x.n, batch: x.batch}, nil
}

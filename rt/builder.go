package rt

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// Builder assembles a Circuit op by op. Each method appends the ops and
// values it needs and returns the id of the result; the range of every new
// value is computed by interval arithmetic (sound for any input in the input
// ranges) and may be tightened with SetRange when the compiler knows
// better. The first error sticks: later calls return -1 and Build reports it.
type Builder struct {
	c   Circuit
	err error
}

// NewBuilder returns a builder for a circuit called name.
func NewBuilder(name string) *Builder { return &Builder{c: Circuit{Name: name}} }

// Err returns the first error met so far.
func (b *Builder) Err() error { return b.err }

func (b *Builder) fail(format string, args ...any) ValueID {
	if b.err == nil {
		b.err = errf(InvalidCircuit, format, args...)
	}
	return -1
}

// Value returns the value with id (valid until the next builder call).
func (b *Builder) Value(id ValueID) *Value {
	if id < 0 || int(id) >= len(b.c.Values) {
		return nil
	}
	return &b.c.Values[id]
}

func (b *Builder) ok(ids ...ValueID) bool {
	if b.err != nil {
		return false
	}
	for _, id := range ids {
		if id < 0 || int(id) >= len(b.c.Values) {
			b.fail("operand %d is not a value of the circuit", id)
			return false
		}
	}
	return true
}

func (b *Builder) newValue(name string, shape []int, lo, hi int64, enc bool) ValueID {
	b.c.Values = append(b.c.Values, Value{Name: name, Shape: slices.Clone(shape), Min: lo, Max: hi, Encrypted: enc})
	return ValueID(len(b.c.Values) - 1)
}

// SetRange sets the range of id, typically to the tighter range the
// compiler proved. Tables built afterwards on id cover the new range.
func (b *Builder) SetRange(id ValueID, lo, hi int64) {
	if !b.ok(id) {
		return
	}
	if lo > hi {
		b.fail("value %s: empty range [%d,%d]", b.c.vname(id), lo, hi)
		return
	}
	b.c.Values[id].Min, b.c.Values[id].Max = lo, hi
}

// Input declares a model input of the given shape and quantization; its
// range is [q.QMin, q.QMax].
func (b *Builder) Input(name string, shape []int, encrypted bool, q Quant) ValueID {
	if b.err != nil {
		return -1
	}
	id := b.newValue(name, shape, q.QMin, q.QMax, encrypted)
	b.c.Inputs = append(b.c.Inputs, Input{Name: name, Value: id, Quant: q})
	return id
}

// Output declares v as the next model output with its dequantization.
func (b *Builder) Output(name string, v ValueID, dequant Quant) {
	if !b.ok(v) {
		return
	}
	b.c.Outputs = append(b.c.Outputs, Output{Name: name, Value: v, Dequant: dequant})
}

// Build computes MsgBits, validates and returns the circuit. The builder
// must not be used afterwards.
func (b *Builder) Build() (*Circuit, error) {
	if b.err != nil {
		return nil, b.err
	}
	c := b.c
	c.MsgBits = c.analyze().req.MsgBits
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Linear appends a raw OpLinear (see OpLinear for the CSR layout) whose
// output has the given shape. bias may be nil.
func (b *Builder) Linear(name string, in []ValueID, shape []int, rowPtr, src []int32, w, bias []int64) ValueID {
	if !b.ok(in...) {
		return -1
	}
	enc := false
	var ranges [][2]int64
	for _, id := range in {
		v := &b.c.Values[id]
		enc = enc || v.Encrypted
		for range v.Size() {
			ranges = append(ranges, [2]int64{v.Min, v.Max})
		}
	}
	size := 1
	for _, d := range shape {
		size *= d
	}
	if len(rowPtr) != size+1 || len(src) != len(w) || rowPtr[0] != 0 || int(rowPtr[size]) != len(src) || (bias != nil && len(bias) != size) {
		return b.fail("linear %q: CSR arrays do not match the output shape %v", name, shape)
	}
	for j := range size {
		if rowPtr[j] > rowPtr[j+1] {
			return b.fail("linear %q: row pointers decrease at row %d", name, j)
		}
	}
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for j := 0; j < size; j++ {
		var rl, rh int64
		if bias != nil {
			rl, rh = bias[j], bias[j]
		}
		for t := rowPtr[j]; t < rowPtr[j+1]; t++ {
			s := src[t]
			if s < 0 || int(s) >= len(ranges) {
				return b.fail("linear %q: source %d outside the %d input elements", name, s, len(ranges))
			}
			x, y := satMul(ranges[s][0], w[t]), satMul(ranges[s][1], w[t])
			rl, rh = satAdd(rl, min(x, y)), satAdd(rh, max(x, y))
		}
		lo, hi = min(lo, rl), max(hi, rh)
	}
	out := b.newValue(name, shape, lo, hi, enc)
	b.c.Ops = append(b.c.Ops, Op{Kind: OpLinear, Name: name, In: slices.Clone(in), Out: out,
		RowPtr: rowPtr, Src: src, W: w, Bias: bias})
	return out
}

// TLU appends a raw OpTLU (see OpTLU). tableOf may be nil with one table.
// The output range is the range of the table entries.
func (b *Builder) TLU(name string, x ValueID, tables [][]int64, tableOf []int32, lo int64, dropBits int, r Rounding) ValueID {
	if !b.ok(x) {
		return -1
	}
	if len(tables) == 0 || len(tables[0]) == 0 {
		return b.fail("tlu %q: no table entries", name)
	}
	ol, oh := tables[0][0], tables[0][0]
	for _, t := range tables {
		for _, y := range t {
			ol, oh = min(ol, y), max(oh, y)
		}
	}
	v := &b.c.Values[x]
	out := b.newValue(name, v.Shape, ol, oh, v.Encrypted)
	b.c.Ops = append(b.c.Ops, Op{Kind: OpTLU, Name: name, In: []ValueID{x}, Out: out,
		Tables: tables, TableOf: tableOf, Lo: lo, DropBits: dropBits, Rounding: r})
	return out
}

// Domain returns the domain [lo, hi] a table on x with dropBits dropped bits
// must cover: the rounded range of x.
func (b *Builder) Domain(x ValueID, dropBits int) (lo, hi int64) {
	if !b.ok(x) {
		return 0, 0
	}
	return tluDomain(b.c.Values[x].Min, b.c.Values[x].Max, dropBits)
}

// Apply appends a lookup of f over the whole tensor x: out = f(r(x)), with
// r the rounding of dropBits low bits. f sees rounded inputs.
func (b *Builder) Apply(name string, x ValueID, f func(int64) int64, dropBits int, r Rounding) ValueID {
	lo, hi := b.Domain(x, dropBits)
	if b.err != nil {
		return -1
	}
	if hi-lo >= 1<<24 {
		return b.fail("tlu %q: domain [%d,%d] has more than 2^24 entries", name, lo, hi)
	}
	t := make([]int64, hi-lo+1)
	for i := range t {
		t[i] = f(lo + int64(i))
	}
	return b.TLU(name, x, [][]int64{t}, nil, lo, dropBits, r)
}

// ApplyPerChannel appends a lookup with one table per index of axis of x
// (per-channel activations, batch norm folded into a table): out =
// f(ch, r(x)) where ch is the element's index along axis.
func (b *Builder) ApplyPerChannel(name string, x ValueID, axis int, f func(ch int, v int64) int64, dropBits int, r Rounding) ValueID {
	lo, hi := b.Domain(x, dropBits)
	if b.err != nil {
		return -1
	}
	shape := b.c.Values[x].Shape
	if axis < 0 || axis >= len(shape) {
		return b.fail("tlu %q: axis %d of shape %v", name, axis, shape)
	}
	if int64(shape[axis])*(hi-lo+1) > 1<<26 {
		return b.fail("tlu %q: %d tables of %d entries are too large", name, shape[axis], hi-lo+1)
	}
	tables := make([][]int64, shape[axis])
	for ch := range tables {
		t := make([]int64, hi-lo+1)
		for i := range t {
			t[i] = f(ch, lo+int64(i))
		}
		tables[ch] = t
	}
	strides := stridesOf(shape)
	tableOf := make([]int32, sizeOf(shape))
	for j := range tableOf {
		tableOf[j] = int32(j / strides[axis] % shape[axis])
	}
	return b.TLU(name, x, tables, tableOf, lo, dropBits, r)
}

func sizeOf(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func stridesOf(shape []int) []int {
	s := make([]int, len(shape))
	n := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = n
		n *= shape[i]
	}
	return s
}

// csr accumulates the rows of a Linear op.
type csr struct {
	rowPtr []int32
	src    []int32
	w      []int64
	bias   []int64
}

func newCSR(rows int) *csr {
	return &csr{rowPtr: make([]int32, 1, rows+1), bias: make([]int64, 0, rows)}
}

func (m *csr) add(s int, w int64) { m.src = append(m.src, int32(s)); m.w = append(m.w, w) }
func (m *csr) endRow(bias int64) {
	m.rowPtr = append(m.rowPtr, int32(len(m.src)))
	m.bias = append(m.bias, bias)
}

func (b *Builder) emit(name string, in []ValueID, shape []int, m *csr) ValueID {
	bias := m.bias
	if !slices.ContainsFunc(bias, func(x int64) bool { return x != 0 }) {
		bias = nil
	}
	return b.Linear(name, in, shape, m.rowPtr, m.src, m.w, bias)
}

// Gather appends a data-movement op over the concatenation of xs: out[j] =
// concat(xs)[idx[j]], or pad where idx[j] < 0. Reshape, transpose, slice,
// concat, pad, expand and gather all reduce to it (weight 1, no arithmetic).
func (b *Builder) Gather(name string, xs []ValueID, shape []int, idx []int32, pad int64) ValueID {
	if !b.ok(xs...) {
		return -1
	}
	if len(idx) != sizeOf(shape) {
		return b.fail("gather %q: %d indices for shape %v", name, len(idx), shape)
	}
	m := newCSR(len(idx))
	for _, s := range idx {
		if s < 0 {
			m.endRow(pad)
			continue
		}
		m.add(int(s), 1)
		m.endRow(0)
	}
	return b.emit(name, xs, shape, m)
}

// Reshape returns x with a new shape of the same size.
func (b *Builder) Reshape(name string, x ValueID, shape []int) ValueID {
	if !b.ok(x) {
		return -1
	}
	n := b.c.Values[x].Size()
	if sizeOf(shape) != n {
		return b.fail("reshape %q: shape %v does not hold %d elements", name, shape, n)
	}
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	return b.Gather(name, []ValueID{x}, shape, idx, 0)
}

// forEachIndex calls f with every multi-index of shape in row-major order.
func forEachIndex(shape []int, f func(ix []int)) {
	ix := make([]int, len(shape))
	n := sizeOf(shape)
	for range n {
		f(ix)
		for d := len(shape) - 1; d >= 0; d-- {
			ix[d]++
			if ix[d] < shape[d] {
				break
			}
			ix[d] = 0
		}
	}
}

// Transpose permutes the axes of x: out axis i is x's axis perm[i].
func (b *Builder) Transpose(name string, x ValueID, perm []int) ValueID {
	if !b.ok(x) {
		return -1
	}
	in := b.c.Values[x].Shape
	if len(perm) != len(in) {
		return b.fail("transpose %q: perm %v for shape %v", name, perm, in)
	}
	shape := make([]int, len(in))
	seen := make([]bool, len(in))
	for i, p := range perm {
		if p < 0 || p >= len(in) || seen[p] {
			return b.fail("transpose %q: perm %v is not a permutation", name, perm)
		}
		seen[p] = true
		shape[i] = in[p]
	}
	st := stridesOf(in)
	idx := make([]int32, 0, sizeOf(shape))
	forEachIndex(shape, func(ix []int) {
		s := 0
		for i, p := range perm {
			s += ix[i] * st[p]
		}
		idx = append(idx, int32(s))
	})
	return b.Gather(name, []ValueID{x}, shape, idx, 0)
}

// Slice takes, along each axis a, the elements starts[a] + i·steps[a] for
// 0 ≤ i < shape[a] (steps may be negative; indices are normalized by the
// caller).
func (b *Builder) Slice(name string, x ValueID, starts, steps, shape []int) ValueID {
	if !b.ok(x) {
		return -1
	}
	in := b.c.Values[x].Shape
	if len(starts) != len(in) || len(steps) != len(in) || len(shape) != len(in) {
		return b.fail("slice %q: starts/steps/shape of rank %d for shape %v", name, len(starts), in)
	}
	for a := range in {
		first, last := starts[a], starts[a]+(shape[a]-1)*steps[a]
		if shape[a] <= 0 || first < 0 || first >= in[a] || last < 0 || last >= in[a] {
			return b.fail("slice %q: axis %d range out of bounds", name, a)
		}
	}
	st := stridesOf(in)
	idx := make([]int32, 0, sizeOf(shape))
	forEachIndex(shape, func(ix []int) {
		s := 0
		for a := range ix {
			s += (starts[a] + ix[a]*steps[a]) * st[a]
		}
		idx = append(idx, int32(s))
	})
	return b.Gather(name, []ValueID{x}, shape, idx, 0)
}

// Concat joins xs along axis.
func (b *Builder) Concat(name string, xs []ValueID, axis int) ValueID {
	if !b.ok(xs...) || len(xs) == 0 {
		return b.fail("concat %q: no inputs", name)
	}
	shape := slices.Clone(b.c.Values[xs[0]].Shape)
	if axis < 0 || axis >= len(shape) {
		return b.fail("concat %q: axis %d of shape %v", name, axis, shape)
	}
	// owner[k] = (input, offset along axis) for out position k on axis.
	type part struct{ in, off, base int }
	var parts []part
	base := 0
	shape[axis] = 0
	for i, x := range xs {
		s := b.c.Values[x].Shape
		if len(s) != len(shape) {
			return b.fail("concat %q: input %d has rank %d, want %d", name, i, len(s), len(shape))
		}
		for a := range s {
			if a != axis && s[a] != b.c.Values[xs[0]].Shape[a] {
				return b.fail("concat %q: input %d shape %v does not match %v off axis %d", name, i, s, b.c.Values[xs[0]].Shape, axis)
			}
		}
		for k := range s[axis] {
			parts = append(parts, part{i, k, base})
		}
		shape[axis] += s[axis]
		base += sizeOf(s)
	}
	idx := make([]int32, 0, sizeOf(shape))
	forEachIndex(shape, func(ix []int) {
		p := parts[ix[axis]]
		st := stridesOf(b.c.Values[xs[p.in]].Shape)
		s := p.base
		for a := range ix {
			if a == axis {
				s += p.off * st[a]
			} else {
				s += ix[a] * st[a]
			}
		}
		idx = append(idx, int32(s))
	})
	return b.Gather(name, xs, shape, idx, 0)
}

// Pad adds before[a] and after[a] elements of value along each axis a.
func (b *Builder) Pad(name string, x ValueID, before, after []int, value int64) ValueID {
	if !b.ok(x) {
		return -1
	}
	in := b.c.Values[x].Shape
	if len(before) != len(in) || len(after) != len(in) {
		return b.fail("pad %q: pads of rank %d/%d for shape %v", name, len(before), len(after), in)
	}
	shape := make([]int, len(in))
	for a := range in {
		if before[a] < 0 || after[a] < 0 {
			return b.fail("pad %q: negative pad on axis %d", name, a)
		}
		shape[a] = in[a] + before[a] + after[a]
	}
	st := stridesOf(in)
	idx := make([]int32, 0, sizeOf(shape))
	forEachIndex(shape, func(ix []int) {
		s := 0
		for a := range ix {
			k := ix[a] - before[a]
			if k < 0 || k >= in[a] {
				s = -1
				break
			}
			s += k * st[a]
		}
		idx = append(idx, int32(s))
	})
	return b.Gather(name, []ValueID{x}, shape, idx, value)
}

// broadcastIdx maps every element of out (numpy broadcasting, trailing
// alignment) to its element of a tensor of shape in, or returns nil when
// in does not broadcast to out.
func broadcastIdx(in, out []int) []int32 {
	if len(in) > len(out) {
		return nil
	}
	off := len(out) - len(in)
	for a := range in {
		if in[a] != 1 && in[a] != out[a+off] {
			return nil
		}
	}
	st := stridesOf(in)
	idx := make([]int32, 0, sizeOf(out))
	forEachIndex(out, func(ix []int) {
		s := 0
		for a := range in {
			if in[a] != 1 {
				s += ix[a+off] * st[a]
			}
		}
		idx = append(idx, int32(s))
	})
	return idx
}

// broadcastShape returns the numpy broadcast of shapes a and b.
func broadcastShape(a, b []int) ([]int, bool) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := range n {
		da, db := 1, 1
		if k := i - (n - len(a)); k >= 0 {
			da = a[k]
		}
		if k := i - (n - len(b)); k >= 0 {
			db = b[k]
		}
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, false
		}
	}
	return out, true
}

// Expand broadcasts x to shape.
func (b *Builder) Expand(name string, x ValueID, shape []int) ValueID {
	if !b.ok(x) {
		return -1
	}
	idx := broadcastIdx(b.c.Values[x].Shape, shape)
	if idx == nil {
		return b.fail("expand %q: shape %v does not broadcast to %v", name, b.c.Values[x].Shape, shape)
	}
	return b.Gather(name, []ValueID{x}, shape, idx, 0)
}

// Combine returns wa·a + wb·b elementwise with numpy broadcasting: Add is
// (1, 1), Sub (1, −1).
func (b *Builder) Combine(name string, a ValueID, wa int64, c ValueID, wc int64) ValueID {
	if !b.ok(a, c) {
		return -1
	}
	sa, sc := b.c.Values[a].Shape, b.c.Values[c].Shape
	shape, ok := broadcastShape(sa, sc)
	if !ok {
		return b.fail("%q: shapes %v and %v do not broadcast", name, sa, sc)
	}
	ia, ic := broadcastIdx(sa, shape), broadcastIdx(sc, shape)
	na := sizeOf(sa)
	m := newCSR(len(ia))
	for j := range ia {
		m.add(int(ia[j]), wa)
		m.add(na+int(ic[j]), wc)
		m.endRow(0)
	}
	return b.emit(name, []ValueID{a, c}, shape, m)
}

// Add returns a + c elementwise (numpy broadcasting).
func (b *Builder) Add(name string, a, c ValueID) ValueID { return b.Combine(name, a, 1, c, 1) }

// Sub returns a − c elementwise (numpy broadcasting).
func (b *Builder) Sub(name string, a, c ValueID) ValueID { return b.Combine(name, a, 1, c, -1) }

// Affine returns mul·x + add elementwise, where mul and add are clear
// constants of shape cshape broadcast against x's shape (a single element
// for per-tensor constants). Neg is Affine with mul = [-1], add = [0].
func (b *Builder) Affine(name string, x ValueID, mul, add []int64, cshape []int) ValueID {
	if !b.ok(x) {
		return -1
	}
	if len(mul) != sizeOf(cshape) || len(add) != sizeOf(cshape) {
		return b.fail("affine %q: %d factors and %d terms for shape %v", name, len(mul), len(add), cshape)
	}
	sx := b.c.Values[x].Shape
	shape, ok := broadcastShape(sx, cshape)
	if !ok {
		return b.fail("affine %q: shapes %v and %v do not broadcast", name, sx, cshape)
	}
	ix, ic := broadcastIdx(sx, shape), broadcastIdx(cshape, shape)
	m := newCSR(len(ix))
	for j := range ix {
		if w := mul[ic[j]]; w != 0 {
			m.add(int(ix[j]), w)
		}
		m.endRow(add[ic[j]])
	}
	return b.emit(name, []ValueID{x}, shape, m)
}

// Neg returns −x.
func (b *Builder) Neg(name string, x ValueID) ValueID {
	return b.Affine(name, x, []int64{-1}, []int64{0}, nil)
}

// MatMul returns x·W + bias for x of shape [..., K], W of shape [K, N]
// (row-major) and bias nil or of length N: a dense layer with clear
// weights. The result has shape [..., N].
func (b *Builder) MatMul(name string, x ValueID, w []int64, k, n int, bias []int64) ValueID {
	if !b.ok(x) {
		return -1
	}
	sx := b.c.Values[x].Shape
	if len(sx) == 0 || sx[len(sx)-1] != k || len(w) != k*n || (bias != nil && len(bias) != n) {
		return b.fail("matmul %q: x %v, weights %d×%d (%d given), bias %d", name, sx, k, n, len(w), len(bias))
	}
	rows := sizeOf(sx) / k
	shape := append(slices.Clone(sx[:len(sx)-1]), n)
	m := newCSR(rows * n)
	for r := range rows {
		for j := range n {
			for i := range k {
				if wt := w[i*n+j]; wt != 0 {
					m.add(r*k+i, wt)
				}
			}
			var c int64
			if bias != nil {
				c = bias[j]
			}
			m.endRow(c)
		}
	}
	return b.emit(name, []ValueID{x}, shape, m)
}

// MatMulLeft returns W·x for clear W of shape [M, K] and x of shape
// [..., K, N]; the result has shape [..., M, N].
func (b *Builder) MatMulLeft(name string, w []int64, mRows, k int, x ValueID) ValueID {
	if !b.ok(x) {
		return -1
	}
	sx := b.c.Values[x].Shape
	if len(sx) < 2 || sx[len(sx)-2] != k || len(w) != mRows*k {
		return b.fail("matmul %q: weights %d×%d (%d given), x %v", name, mRows, k, len(w), sx)
	}
	n := sx[len(sx)-1]
	batch := sizeOf(sx) / (k * n)
	shape := append(slices.Clone(sx[:len(sx)-2]), mRows, n)
	m := newCSR(batch * mRows * n)
	for bt := range batch {
		for i := range mRows {
			for j := range n {
				for t := range k {
					if wt := w[i*k+t]; wt != 0 {
						m.add(bt*k*n+t*n+j, wt)
					}
				}
				m.endRow(0)
			}
		}
	}
	return b.emit(name, []ValueID{x}, shape, m)
}

// ConvAttrs are the attributes of Conv and SumPool, ONNX style, for S
// spatial dimensions: Strides, Dilations (S each, default 1), Pads (2S:
// all begins then all ends, default 0), Group (default 1), and PadValue,
// the integer the padded border holds (the input zero point, usually 0).
type ConvAttrs struct {
	Strides, Dilations, Pads []int
	Group                    int
	PadValue                 int64
}

func (a *ConvAttrs) norm(s int) (ConvAttrs, bool) {
	r := ConvAttrs{Strides: a.Strides, Dilations: a.Dilations, Pads: a.Pads, Group: a.Group, PadValue: a.PadValue}
	ones := func() []int {
		o := make([]int, s)
		for i := range o {
			o[i] = 1
		}
		return o
	}
	if r.Strides == nil {
		r.Strides = ones()
	}
	if r.Dilations == nil {
		r.Dilations = ones()
	}
	if r.Pads == nil {
		r.Pads = make([]int, 2*s)
	}
	if r.Group == 0 {
		r.Group = 1
	}
	if len(r.Strides) != s || len(r.Dilations) != s || len(r.Pads) != 2*s || r.Group < 0 {
		return r, false
	}
	for i := range s {
		if r.Strides[i] <= 0 || r.Dilations[i] <= 0 || r.Pads[i] < 0 || r.Pads[s+i] < 0 {
			return r, false
		}
	}
	return r, true
}

// Conv returns the convolution of x [N, C, D1..DS] with clear weights w of
// shape wshape = [O, C/Group, K1..KS] (row-major) plus bias (nil or O
// long): shape [N, O, E1..ES]. It covers conv1d/2d/3d with strides, pads,
// dilations and groups.
func (b *Builder) Conv(name string, x ValueID, w []int64, wshape []int, bias []int64, attrs ConvAttrs) ValueID {
	if !b.ok(x) {
		return -1
	}
	sx := b.c.Values[x].Shape
	s := len(sx) - 2
	if s < 1 || len(wshape) != s+2 || len(w) != sizeOf(wshape) {
		return b.fail("conv %q: x %v, weights %v (%d given)", name, sx, wshape, len(w))
	}
	a, ok := attrs.norm(s)
	if !ok {
		return b.fail("conv %q: bad strides/dilations/pads/group for %d spatial dims", name, s)
	}
	c, o, cg := sx[1], wshape[0], wshape[1]
	if c%a.Group != 0 || o%a.Group != 0 || cg != c/a.Group || (bias != nil && len(bias) != o) {
		return b.fail("conv %q: %d channels, %d filters of %d channels, group %d, bias %d", name, c, o, cg, a.Group, len(bias))
	}
	return b.window(name, x, sx, a, wshape[2:], o, func(oc, ic, kpos int) (int64, bool) {
		g := oc / (o / a.Group)
		if ic/cg != g {
			return 0, false
		}
		return w[(oc*cg+ic%cg)*sizeOf(wshape[2:])+kpos], true
	}, func(oc int) int64 {
		if bias == nil {
			return 0
		}
		return bias[oc]
	}, true)
}

// SumPool returns the sums over windows of the given kernel shape of x [N,
// C, D1..DS] per channel (average pooling before its division, which the
// compiler folds into the next table). Group and PadValue of attrs are
// honoured as in Conv (Group is ignored).
func (b *Builder) SumPool(name string, x ValueID, kernel []int, attrs ConvAttrs) ValueID {
	if !b.ok(x) {
		return -1
	}
	sx := b.c.Values[x].Shape
	s := len(sx) - 2
	a, ok := attrs.norm(s)
	if s < 1 || len(kernel) != s || !ok {
		return b.fail("sumpool %q: x %v, kernel %v, bad attributes", name, sx, kernel)
	}
	return b.window(name, x, sx, a, kernel, sx[1], func(oc, ic, _ int) (int64, bool) {
		return 1, oc == ic
	}, func(int) int64 { return 0 }, false)
}

// window builds a sliding-window linear op. weight(oc, ic, kpos) gives the
// weight from input channel ic to output channel oc at kernel position kpos
// (false: no connection). allChannels says whether every input channel can
// feed an output channel (conv) or only the same one (pooling).
func (b *Builder) window(name string, x ValueID, sx []int, a ConvAttrs, kernel []int, outC int,
	weight func(oc, ic, kpos int) (int64, bool), bias func(oc int) int64, allChannels bool) ValueID {
	s := len(kernel)
	spatial := sx[2:]
	oshape := []int{sx[0], outC}
	for i := range s {
		span := a.Dilations[i]*(kernel[i]-1) + 1
		e := (spatial[i]+a.Pads[i]+a.Pads[s+i]-span)/a.Strides[i] + 1
		if e <= 0 {
			return b.fail("%q: kernel %v larger than padded input %v", name, kernel, spatial)
		}
		oshape = append(oshape, e)
	}
	st := stridesOf(sx)
	c := sx[1]
	m := newCSR(sizeOf(oshape))
	pos := make([]int, s)
	forEachIndex(oshape, func(ix []int) {
		n, oc := ix[0], ix[1]
		bv := bias(oc)
		icLo, icHi := 0, c
		if !allChannels {
			icLo, icHi = oc, oc+1
		}
		for ic := icLo; ic < icHi; ic++ {
			kpos := 0
			forEachIndex(kernel, func(k []int) {
				defer func() { kpos++ }()
				wt, ok := weight(oc, ic, kpos)
				if !ok || wt == 0 {
					return
				}
				src := n*st[0] + ic*st[1]
				for i := range s {
					pos[i] = ix[2+i]*a.Strides[i] + k[i]*a.Dilations[i] - a.Pads[i]
					if pos[i] < 0 || pos[i] >= spatial[i] {
						bv += wt * a.PadValue
						return
					}
					src += pos[i] * st[2+i]
				}
				m.add(src, wt)
			})
		}
		m.endRow(bv)
	})
	return b.emit(name, []ValueID{x}, oshape, m)
}

// ReduceSum sums x over axes (keepdims keeps them as size 1).
func (b *Builder) ReduceSum(name string, x ValueID, axes []int, keepdims bool) ValueID {
	if !b.ok(x) {
		return -1
	}
	sx := b.c.Values[x].Shape
	red := make([]bool, len(sx))
	for _, a := range axes {
		if a < 0 || a >= len(sx) {
			return b.fail("reducesum %q: axis %d of shape %v", name, a, sx)
		}
		red[a] = true
	}
	var full, shape []int // full keeps reduced axes as 1
	for a, d := range sx {
		if red[a] {
			full = append(full, 1)
			if keepdims {
				shape = append(shape, 1)
			}
		} else {
			full = append(full, d)
			shape = append(shape, d)
		}
	}
	fst := stridesOf(full)
	rows := make([][]int32, sizeOf(full))
	forEachIndex(sx, func(ix []int) {
		o, s := 0, 0
		for a := range ix {
			if !red[a] {
				o += ix[a] * fst[a]
			}
		}
		st := stridesOf(sx)
		for a := range ix {
			s += ix[a] * st[a]
		}
		rows[o] = append(rows[o], int32(s))
	})
	m := newCSR(len(rows))
	for _, r := range rows {
		for _, s := range r {
			m.add(int(s), 1)
		}
		m.endRow(0)
	}
	return b.emit(name, []ValueID{x}, shape, m)
}

// Mul returns a·c elementwise (numpy broadcasting) for encrypted a and c,
// as floor((a+c)²/4) − floor((a−c)²/4): two table lookups per element.
func (b *Builder) Mul(name string, a, c ValueID) ValueID {
	if !b.ok(a, c) {
		return -1
	}
	sa, sc := b.c.Values[a].Shape, b.c.Values[c].Shape
	shape, ok := broadcastShape(sa, sc)
	if !ok {
		return b.fail("mul %q: shapes %v and %v do not broadcast", name, sa, sc)
	}
	ia, ic := broadcastIdx(sa, shape), broadcastIdx(sc, shape)
	na := sizeOf(sa)
	// One tensor of sums then differences, so one lookup op squares both.
	m := newCSR(2 * len(ia))
	for _, sign := range []int64{1, -1} {
		for j := range ia {
			m.add(int(ia[j]), 1)
			m.add(na+int(ic[j]), sign)
			m.endRow(0)
		}
	}
	sd := b.emit(name+".sum_diff", []ValueID{a, c}, []int{2 * len(ia)}, m)
	return b.squareDiff(name, sd, shape, nil)
}

// squareDiff returns, from sd = [s; d] (n sums then n differences), Σ over
// each group of floor(s²/4) − floor(d²/4) with shape; groups nil means
// elementwise (then shape has n elements), else the result has one element
// per group.
func (b *Builder) squareDiff(name string, sd ValueID, shape []int, groups [][]int32) ValueID {
	q := b.Apply(name+".square", sd, func(x int64) int64 { return floorDiv(x*x, 4) }, 0, RoundExact)
	if b.err != nil {
		return -1
	}
	n := b.c.Values[sd].Size() / 2
	if groups == nil {
		groups = make([][]int32, n)
		for i := range groups {
			groups[i] = []int32{int32(i)}
		}
	}
	m := newCSR(len(groups))
	for _, g := range groups {
		for _, i := range g {
			m.add(int(i), 1)
			m.add(n+int(i), -1)
		}
		m.endRow(0)
	}
	return b.emit(name, []ValueID{q}, shape, m)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// MatMulEnc returns a·c for encrypted a [..., M, K] and c [..., K, N] with
// equal leading dimensions: 2·M·K·N lookups per batch element. The result
// has shape [..., M, N].
func (b *Builder) MatMulEnc(name string, a, c ValueID) ValueID {
	if !b.ok(a, c) {
		return -1
	}
	sa, sc := b.c.Values[a].Shape, b.c.Values[c].Shape
	r := len(sa)
	if r < 2 || len(sc) != r || !slices.Equal(sa[:r-2], sc[:r-2]) || sa[r-1] != sc[r-2] {
		return b.fail("matmul %q: shapes %v and %v", name, sa, sc)
	}
	mm, k, n := sa[r-2], sa[r-1], sc[r-1]
	batch := sizeOf(sa[:r-2])
	na := sizeOf(sa)
	total := batch * mm * n * k
	// Rows 0..total-1: a[i,t] + c[t,j]; rows total..2·total-1: a − c.
	m := newCSR(2 * total)
	groups := make([][]int32, 0, batch*mm*n)
	for _, sign := range []int64{1, -1} {
		row := int32(0)
		for bt := range batch {
			for i := range mm {
				for j := range n {
					g := make([]int32, k)
					for t := range k {
						g[t] = row
						row++
						m.add(bt*mm*k+i*k+t, 1)
						m.add(na+bt*k*n+t*n+j, sign)
						m.endRow(0)
					}
					if sign == 1 {
						groups = append(groups, g)
					}
				}
			}
		}
	}
	sd := b.emit(name+".sum_diff", []ValueID{a, c}, []int{2 * total}, m)
	out := b.squareDiff(name, sd, []int{len(groups)}, groups)
	return b.Reshape(name+".shape", out, append(slices.Clone(sa[:r-2]), mm, n))
}

// Max returns max(a, c) elementwise (numpy broadcasting) as c + relu(a−c):
// one lookup per element.
func (b *Builder) Max(name string, a, c ValueID) ValueID {
	if !b.ok(a, c) {
		return -1
	}
	d := b.Combine(name+".diff", a, 1, c, -1)
	r := b.Apply(name+".relu", d, func(x int64) int64 { return max(x, 0) }, 0, RoundExact)
	if b.err != nil {
		return -1
	}
	shape := b.c.Values[d].Shape
	ic := broadcastIdx(b.c.Values[c].Shape, shape)
	nr := sizeOf(shape)
	m := newCSR(nr)
	for j := range nr {
		m.add(j, 1)
		m.add(nr+int(ic[j]), 1)
		m.endRow(0)
	}
	out := b.emit(name, []ValueID{r, c}, shape, m)
	if b.err == nil {
		// Interval arithmetic on c + relu(a−c) overestimates; max is exact.
		va, vc := &b.c.Values[a], &b.c.Values[c]
		b.SetRange(out, max(va.Min, vc.Min), max(va.Max, vc.Max))
	}
	return out
}

// MaxPool returns the maxima over windows of x [N, C, D1..DS] (padding
// never wins), as a tree of Max: ⌈log2(window)⌉ rounds of lookups.
func (b *Builder) MaxPool(name string, x ValueID, kernel []int, attrs ConvAttrs) ValueID {
	if !b.ok(x) {
		return -1
	}
	sx := b.c.Values[x].Shape
	s := len(sx) - 2
	a, ok := attrs.norm(s)
	if s < 1 || len(kernel) != s || !ok {
		return b.fail("maxpool %q: x %v, kernel %v, bad attributes", name, sx, kernel)
	}
	a.PadValue = b.c.Values[x].Min
	// One gather per kernel position, then a pairwise reduction.
	var parts []ValueID
	var oshape []int
	for kpos := range sizeOf(kernel) {
		k := kpos
		part := b.window(fmt.Sprintf("%s.k%d", name, kpos), x, sx, a, kernel, sx[1], func(oc, ic, p int) (int64, bool) {
			return 1, oc == ic && p == k
		}, func(int) int64 { return 0 }, false)
		if b.err != nil {
			return -1
		}
		oshape = b.c.Values[part].Shape
		parts = append(parts, part)
	}
	_ = oshape
	for round := 0; len(parts) > 1; round++ {
		var next []ValueID
		for i := 0; i+1 < len(parts); i += 2 {
			next = append(next, b.Max(fmt.Sprintf("%s.max%d_%d", name, round, i/2), parts[i], parts[i+1]))
		}
		if len(parts)%2 == 1 {
			next = append(next, parts[len(parts)-1])
		}
		parts = next
	}
	return parts[0]
}

func satAdd(a, b int64) int64 {
	s, c := bits.Add64(uint64(a), uint64(b), 0)
	_ = c
	r := int64(s)
	if (a > 0 && b > 0 && r < 0) || (a < 0 && b < 0 && r >= 0) {
		if a > 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return r
}

func satMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	neg := (a < 0) != (b < 0)
	ua, ub := absU(a), absU(b)
	hi, lo := bits.Mul64(ua, ub)
	if hi != 0 || lo > math.MaxInt64 {
		if neg {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	if neg {
		return -int64(lo)
	}
	return int64(lo)
}

func absU(a int64) uint64 {
	if a < 0 {
		return uint64(-(a + 1)) + 1
	}
	return uint64(a)
}

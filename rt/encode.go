package rt

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
)

// Circuit binary encoding:
//
//	magic "FHEIRCIR" | version uint16 LE | payload length uvarint | payload | SHA-256(payload)
//
// The payload is a sequence of varints, length-prefixed strings and slices
// (see (*Circuit).encodePayload). The hash is the circuit's identity (Hash):
// keys and ciphertexts carry it so that they are refused by another model.
const (
	circuitMagic   = "FHEIRCIR"
	circuitVersion = 1
)

// Hash returns the circuit's content hash, the SHA-256 of its encoded
// payload. Two circuits with the same hash compute the same thing with the
// same parameters.
func (c *Circuit) Hash() [32]byte {
	var w encoder
	c.encodePayload(&w)
	return sha256.Sum256(w.buf)
}

// MarshalBinary encodes c (it does not validate it).
func (c *Circuit) MarshalBinary() ([]byte, error) {
	var p encoder
	c.encodePayload(&p)
	var w encoder
	w.buf = append(w.buf, circuitMagic...)
	w.buf = binary.LittleEndian.AppendUint16(w.buf, circuitVersion)
	w.uvarint(uint64(len(p.buf)))
	w.buf = append(w.buf, p.buf...)
	h := sha256.Sum256(p.buf)
	w.buf = append(w.buf, h[:]...)
	return w.buf, nil
}

// UnmarshalBinary decodes and validates a circuit written by MarshalBinary.
// Corrupted or truncated input gives a CorruptData error, a newer format
// UnsupportedVersion, an ill-formed circuit InvalidCircuit; it never panics.
func (c *Circuit) UnmarshalBinary(data []byte) error {
	if len(data) < len(circuitMagic)+2 || string(data[:len(circuitMagic)]) != circuitMagic {
		return errf(CorruptData, "circuit: bad magic (not a fheir circuit)")
	}
	data = data[len(circuitMagic):]
	if v := binary.LittleEndian.Uint16(data); v != circuitVersion {
		return errf(UnsupportedVersion, "circuit: format version %d, this runtime reads %d", v, circuitVersion)
	}
	data = data[2:]
	n, k := binary.Uvarint(data)
	if k <= 0 || n > uint64(len(data)-k) || uint64(len(data)-k)-n != sha256.Size {
		return errf(CorruptData, "circuit: truncated or bad length")
	}
	payload := data[k : k+int(n)]
	h := sha256.Sum256(payload)
	if !bytes.Equal(h[:], data[k+int(n):]) {
		return errf(CorruptData, "circuit: checksum mismatch")
	}
	var d Circuit
	r := decoder{buf: payload}
	d.decodePayload(&r)
	if r.err != nil {
		return wrapErr(CorruptData, r.err, "circuit")
	}
	if len(r.buf) != 0 {
		return errf(CorruptData, "circuit: %d trailing bytes", len(r.buf))
	}
	if err := d.Validate(); err != nil {
		return err
	}
	*c = d
	return nil
}

func (c *Circuit) encodePayload(w *encoder) {
	w.str(c.Name)
	w.uvarint(uint64(c.MsgBits))
	w.str(c.Scheme)
	w.str(c.Params)
	w.f64(c.PError)
	w.uvarint(uint64(len(c.Values)))
	for i := range c.Values {
		v := &c.Values[i]
		w.str(v.Name)
		w.ints(v.Shape)
		w.varint(v.Min)
		w.varint(v.Max)
		w.bool(v.Encrypted)
	}
	w.uvarint(uint64(len(c.Inputs)))
	for i := range c.Inputs {
		in := &c.Inputs[i]
		w.str(in.Name)
		w.varint(int64(in.Value))
		w.quant(&in.Quant)
	}
	w.uvarint(uint64(len(c.Ops)))
	for k := range c.Ops {
		op := &c.Ops[k]
		w.buf = append(w.buf, byte(op.Kind))
		w.str(op.Name)
		w.uvarint(uint64(len(op.In)))
		for _, id := range op.In {
			w.varint(int64(id))
		}
		w.varint(int64(op.Out))
		switch op.Kind {
		case OpLinear:
			w.i32s(op.RowPtr)
			w.i32s(op.Src)
			w.i64s(op.W)
			w.bool(op.Bias != nil)
			if op.Bias != nil {
				w.i64s(op.Bias)
			}
		case OpTLU:
			w.uvarint(uint64(len(op.Tables)))
			for _, t := range op.Tables {
				w.i64s(t)
			}
			w.bool(op.TableOf != nil)
			if op.TableOf != nil {
				w.i32s(op.TableOf)
			}
			w.varint(op.Lo)
			w.uvarint(uint64(op.DropBits))
			w.buf = append(w.buf, byte(op.Rounding))
		}
	}
	w.uvarint(uint64(len(c.Outputs)))
	for i := range c.Outputs {
		o := &c.Outputs[i]
		w.str(o.Name)
		w.varint(int64(o.Value))
		w.quant(&o.Dequant)
	}
}

func (c *Circuit) decodePayload(r *decoder) {
	c.Name = r.str()
	c.MsgBits = r.smallInt()
	c.Scheme = r.str()
	c.Params = r.str()
	c.PError = r.f64()
	c.Values = make([]Value, r.count(4))
	for i := range c.Values {
		v := &c.Values[i]
		v.Name = r.str()
		v.Shape = r.ints()
		v.Min = r.varint()
		v.Max = r.varint()
		v.Encrypted = r.bool()
	}
	c.Inputs = make([]Input, r.count(3))
	for i := range c.Inputs {
		in := &c.Inputs[i]
		in.Name = r.str()
		in.Value = r.id()
		in.Quant = r.quant()
	}
	c.Ops = make([]Op, r.count(4))
	for k := range c.Ops {
		op := &c.Ops[k]
		op.Kind = OpKind(r.byte())
		op.Name = r.str()
		op.In = make([]ValueID, r.count(1))
		for i := range op.In {
			op.In[i] = r.id()
		}
		op.Out = r.id()
		switch op.Kind {
		case OpLinear:
			op.RowPtr = r.i32s()
			op.Src = r.i32s()
			op.W = r.i64s()
			if r.bool() {
				op.Bias = r.i64s()
			}
		case OpTLU:
			op.Tables = make([][]int64, r.count(1))
			for i := range op.Tables {
				op.Tables[i] = r.i64s()
			}
			if r.bool() {
				op.TableOf = r.i32s()
			}
			op.Lo = r.varint()
			op.DropBits = r.smallInt()
			op.Rounding = Rounding(r.byte())
		default:
			r.fail("op %d: unknown kind %d", k, op.Kind)
		}
		if r.err != nil {
			return
		}
	}
	c.Outputs = make([]Output, r.count(3))
	for i := range c.Outputs {
		o := &c.Outputs[i]
		o.Name = r.str()
		o.Value = r.id()
		o.Dequant = r.quant()
	}
}

// encoder appends varint-based encodings to buf.
type encoder struct{ buf []byte }

func (w *encoder) uvarint(x uint64) { w.buf = binary.AppendUvarint(w.buf, x) }
func (w *encoder) varint(x int64)   { w.buf = binary.AppendVarint(w.buf, x) }
func (w *encoder) f64(x float64) {
	w.buf = binary.LittleEndian.AppendUint64(w.buf, math.Float64bits(x))
}
func (w *encoder) str(s string)   { w.uvarint(uint64(len(s))); w.buf = append(w.buf, s...) }
func (w *encoder) bytes(b []byte) { w.uvarint(uint64(len(b))); w.buf = append(w.buf, b...) }
func (w *encoder) bool(b bool) {
	if b {
		w.buf = append(w.buf, 1)
	} else {
		w.buf = append(w.buf, 0)
	}
}
func (w *encoder) ints(s []int) {
	w.uvarint(uint64(len(s)))
	for _, x := range s {
		w.varint(int64(x))
	}
}
func (w *encoder) i32s(s []int32) {
	w.uvarint(uint64(len(s)))
	for _, x := range s {
		w.varint(int64(x))
	}
}
func (w *encoder) i64s(s []int64) {
	w.uvarint(uint64(len(s)))
	for _, x := range s {
		w.varint(x)
	}
}
func (w *encoder) quant(q *Quant) {
	w.uvarint(uint64(len(q.Scale)))
	for _, s := range q.Scale {
		w.f64(s)
	}
	w.i64s(q.ZeroPoint)
	w.varint(int64(q.Axis))
	w.varint(q.QMin)
	w.varint(q.QMax)
}

// decoder reads what encoder wrote; the first error sticks and later reads
// return zero values. Every count is checked against the bytes left before
// allocating, so hostile input cannot make it allocate much more than its
// own size.
type decoder struct {
	buf []byte
	err error
}

func (r *decoder) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
	r.buf = nil
}

func (r *decoder) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	x, n := binary.Uvarint(r.buf)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.buf = r.buf[n:]
	return x
}

func (r *decoder) varint() int64 {
	if r.err != nil {
		return 0
	}
	x, n := binary.Varint(r.buf)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.buf = r.buf[n:]
	return x
}

func (r *decoder) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.buf) < 1 {
		r.fail("truncated")
		return 0
	}
	b := r.buf[0]
	r.buf = r.buf[1:]
	return b
}

func (r *decoder) bool() bool {
	switch b := r.byte(); b {
	case 0:
		return false
	case 1:
		return true
	default:
		r.fail("bad bool %d", b)
		return false
	}
}

func (r *decoder) f64() float64 {
	if r.err != nil {
		return 0
	}
	if len(r.buf) < 8 {
		r.fail("truncated")
		return 0
	}
	x := math.Float64frombits(binary.LittleEndian.Uint64(r.buf))
	r.buf = r.buf[8:]
	return x
}

// count reads a length whose elements take at least minBytes each.
func (r *decoder) count(minBytes int) int {
	n := r.uvarint()
	if r.err != nil {
		return 0
	}
	if n > uint64(len(r.buf)/minBytes) {
		r.fail("count %d exceeds the %d bytes left", n, len(r.buf))
		return 0
	}
	return int(n)
}

func (r *decoder) smallInt() int {
	x := r.uvarint()
	if x > 1<<20 {
		r.fail("integer %d too large", x)
		return 0
	}
	return int(x)
}

func (r *decoder) id() ValueID {
	x := r.varint()
	if x < math.MinInt32 || x > math.MaxInt32 {
		r.fail("value id %d out of range", x)
		return 0
	}
	return ValueID(x)
}

func (r *decoder) str() string {
	n := r.count(1)
	s := string(r.buf[:n])
	r.buf = r.buf[n:]
	return s
}

func (r *decoder) bytes() []byte {
	n := r.count(1)
	b := r.buf[:n:n]
	r.buf = r.buf[n:]
	return b
}

func (r *decoder) ints() []int { return varints32[int](r, "dimension") }

func (r *decoder) i32s() []int32 { return varints32[int32](r, "index") }

// varints32 reads a counted list of varints that must fit 32 bits; what
// names an element in the error.
func varints32[T int | int32](r *decoder, what string) []T {
	s := make([]T, r.count(1))
	for i := range s {
		x := r.varint()
		if x < math.MinInt32 || x > math.MaxInt32 {
			r.fail("%s %d out of range", what, x)
		}
		s[i] = T(x)
	}
	return s
}

func (r *decoder) i64s() []int64 {
	s := make([]int64, r.count(1))
	for i := range s {
		s[i] = r.varint()
	}
	return s
}

func (r *decoder) quant() Quant {
	var q Quant
	q.Scale = make([]float64, r.count(8))
	for i := range q.Scale {
		q.Scale[i] = r.f64()
	}
	q.ZeroPoint = r.i64s()
	q.Axis = int(r.varint())
	q.QMin = r.varint()
	q.QMax = r.varint()
	return q
}

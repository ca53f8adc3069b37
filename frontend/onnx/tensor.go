package onnx

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/fheir/fheir/frontend/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Tensor is a decoded dense tensor in row-major (C) order. Floating-point
// types (DType.IsFloat) hold their elements in F, widened to float64;
// integer types and Bool hold them in I (Bool as 0/1; Uint64 values above
// MaxInt64 keep their bit pattern). Exactly one of F and I is non-nil.
//
// A scalar has an empty Shape and one element.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	F     []float64
	I     []int64
}

// Len returns the number of elements of t.
func (t *Tensor) Len() int {
	if t.F != nil {
		return len(t.F)
	}
	return len(t.I)
}

// At returns element i of t as a float64.
func (t *Tensor) At(i int) float64 {
	if t.F != nil {
		return t.F[i]
	}
	return float64(t.I[i])
}

// Floats returns the elements of t as float64s (a copy for integer tensors,
// t.F itself for float ones).
func (t *Tensor) Floats() []float64 {
	if t.F != nil {
		return t.F
	}
	f := make([]float64, len(t.I))
	for i, v := range t.I {
		f[i] = float64(v)
	}
	return f
}

// Ints returns the elements of t as int64s: t.I itself for integer tensors;
// for float tensors, the values truncated toward zero.
func (t *Tensor) Ints() []int64 {
	if t.I != nil {
		return t.I
	}
	v := make([]int64, len(t.F))
	for i, f := range t.F {
		v[i] = int64(f)
	}
	return v
}

// String returns a short description such as "float32[2x3]".
func (t *Tensor) String() string {
	return t.DType.String() + shapeString(t.Shape)
}

func shapeString(s []int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range s {
		if i > 0 {
			b.WriteByte('x')
		}
		b.WriteString(strconv.Itoa(d))
	}
	b.WriteByte(']')
	return b.String()
}

// maxElems bounds the element count of a decoded tensor, so that a corrupt
// dims field cannot make the decoder allocate without bound.
const maxElems = 1 << 31

// ParseTensor decodes a serialized TensorProto (the input_K.pb / output_K.pb
// files of ONNX test data). name is used in errors; external data is
// resolved relative to its directory.
func ParseTensor(name string, data []byte) (*Tensor, error) {
	tp := &onnxpb.TensorProto{}
	if err := proto.Unmarshal(data, tp); err != nil {
		return nil, &Error{File: name, Code: MalformedTensor, Msg: "malformed TensorProto: " + err.Error()}
	}
	t, err := decodeTensor(tp, filepath.Dir(name))
	if err != nil {
		where := ""
		if tp.Name != "" {
			where = fmt.Sprintf("tensor %q", tp.Name)
		}
		return nil, place(name, where, MalformedTensor, err)
	}
	return t, nil
}

// LoadTensor reads and decodes a serialized TensorProto file.
func LoadTensor(path string) (*Tensor, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseTensor(path, data)
}

// decodeTensor decodes tp; dir is the directory external data is relative to.
func decodeTensor(tp *onnxpb.TensorProto, dir string) (*Tensor, error) {
	dt := DType(tp.DataType)
	if !dt.Decodable() {
		return nil, errorf(UnsupportedDType, "unsupported data type %v", dt)
	}
	if tp.Segment != nil {
		return nil, errorf(MalformedTensor, "segmented tensors are not supported")
	}
	n := 1
	shape := make([]int, len(tp.Dims))
	for i, d := range tp.Dims {
		if d < 0 {
			return nil, errorf(MalformedTensor, "negative dimension %d", d)
		}
		if d > maxElems || (d > 0 && n > maxElems/int(d)) {
			return nil, errorf(MalformedTensor, "more than %d elements", maxElems)
		}
		shape[i] = int(d)
		n *= int(d)
	}
	t := &Tensor{Name: tp.Name, DType: dt, Shape: shape}
	raw := tp.RawData
	if tp.DataLocation == onnxpb.TensorProto_EXTERNAL {
		var err error
		if raw, err = readExternal(tp, dir, rawSize(dt, n)); err != nil {
			return nil, err
		}
	}
	var err error
	if raw != nil || tp.DataLocation == onnxpb.TensorProto_EXTERNAL {
		err = t.decodeRaw(raw, n)
	} else {
		err = t.decodeTyped(tp, n)
	}
	if err != nil {
		return nil, errorf(MalformedTensor, "%v", err)
	}
	return t, nil
}

// rawSize is the byte length of n elements of dt in raw_data.
func rawSize(dt DType, n int) int {
	return (n*dt.bits() + 7) / 8
}

func readExternal(tp *onnxpb.TensorProto, dir string, want int) ([]byte, error) {
	var loc string
	off, length := int64(0), int64(-1)
	for _, kv := range tp.ExternalData {
		var err error
		switch kv.Key {
		case "location":
			loc = kv.Value
		case "offset":
			off, err = strconv.ParseInt(kv.Value, 10, 64)
		case "length":
			length, err = strconv.ParseInt(kv.Value, 10, 64)
		}
		if err != nil || off < 0 {
			return nil, errorf(BadExternalData, "bad external data %s %q", kv.Key, kv.Value)
		}
	}
	if loc == "" {
		return nil, errorf(BadExternalData, "external data without location")
	}
	clean := filepath.Clean(filepath.FromSlash(loc))
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return nil, errorf(BadExternalData, "external data location %q is outside the model directory", loc)
	}
	f, err := os.Open(filepath.Join(dir, clean))
	if err != nil {
		return nil, errorf(BadExternalData, "external data: %v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, errorf(BadExternalData, "external data: %v", err)
	}
	if length < 0 {
		length = st.Size() - off
	}
	if length < 0 || off+length > st.Size() {
		return nil, errorf(BadExternalData, "external data %q: offset %d + length %d beyond its size %d", loc, off, length, st.Size())
	}
	if length != int64(want) {
		return nil, errorf(BadExternalData, "external data %q: got %d bytes, want %d", loc, length, want)
	}
	buf := make([]byte, length)
	if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
		return nil, errorf(BadExternalData, "external data %q: %v", loc, err)
	}
	return buf, nil
}

// decodeRaw decodes n little-endian elements of t.DType from raw.
func (t *Tensor) decodeRaw(raw []byte, n int) error {
	if want := rawSize(t.DType, n); len(raw) != want {
		return fmt.Errorf("raw_data has %d bytes, want %d for %d %v elements", len(raw), want, n, t.DType)
	}
	le := binary.LittleEndian
	if t.DType.IsFloat() {
		t.F = make([]float64, n)
	} else {
		t.I = make([]int64, n)
	}
	for i := 0; i < n; i++ {
		switch t.DType {
		case Float32:
			t.F[i] = float64(math.Float32frombits(le.Uint32(raw[4*i:])))
		case Float64:
			t.F[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		case Float16:
			t.F[i] = halfToFloat(le.Uint16(raw[2*i:]))
		case BFloat16:
			t.F[i] = float64(math.Float32frombits(uint32(le.Uint16(raw[2*i:])) << 16))
		case Float4E2M1:
			t.F[i] = fp4ToFloat(nibble(raw, i))
		case Int8:
			t.I[i] = int64(int8(raw[i]))
		case Uint8:
			t.I[i] = int64(raw[i])
		case Bool:
			t.I[i] = int64(raw[i] & 1)
		case Int16:
			t.I[i] = int64(int16(le.Uint16(raw[2*i:])))
		case Uint16:
			t.I[i] = int64(le.Uint16(raw[2*i:]))
		case Int32:
			t.I[i] = int64(int32(le.Uint32(raw[4*i:])))
		case Uint32:
			t.I[i] = int64(le.Uint32(raw[4*i:]))
		case Int64, Uint64:
			t.I[i] = int64(le.Uint64(raw[8*i:]))
		case Int4:
			t.I[i] = int64(int8(nibble(raw, i)<<4) >> 4)
		case Uint4:
			t.I[i] = int64(nibble(raw, i))
		case Int2:
			t.I[i] = int64(int8(crumb(raw, i)<<6) >> 6)
		case Uint2:
			t.I[i] = int64(crumb(raw, i))
		default:
			panic("BUG: decodeRaw: undecodable dtype " + t.DType.String())
		}
	}
	return nil
}

// nibble returns the 4-bit element i of packed data (low nibble first).
func nibble(b []byte, i int) uint8 { return b[i/2] >> (4 * (i % 2)) & 0xf }

// crumb returns the 2-bit element i of packed data (lowest bits first).
func crumb(b []byte, i int) uint8 { return b[i/4] >> (2 * (i % 4)) & 3 }

// decodeTyped decodes n elements from the typed *_data fields of tp.
func (t *Tensor) decodeTyped(tp *onnxpb.TensorProto, n int) error {
	count := func(got int) error {
		if got != n {
			return fmt.Errorf("has %d elements, want %d from its dims", got, n)
		}
		return nil
	}
	switch t.DType {
	case Float32:
		if err := count(len(tp.FloatData)); err != nil {
			return err
		}
		t.F = make([]float64, n)
		for i, v := range tp.FloatData {
			t.F[i] = float64(v)
		}
	case Float64:
		if err := count(len(tp.DoubleData)); err != nil {
			return err
		}
		t.F = append([]float64{}, tp.DoubleData...)
	case Int64:
		if err := count(len(tp.Int64Data)); err != nil {
			return err
		}
		t.I = append([]int64{}, tp.Int64Data...)
	case Uint32, Uint64:
		if err := count(len(tp.Uint64Data)); err != nil {
			return err
		}
		t.I = make([]int64, n)
		for i, v := range tp.Uint64Data {
			if t.DType == Uint32 {
				v = uint64(uint32(v))
			}
			t.I[i] = int64(v)
		}
	default:
		// Everything else lives in int32_data, several narrow elements per entry.
		per := 1
		switch t.DType.bits() {
		case 4:
			per = 2
		case 2:
			per = 4
		}
		if len(tp.Int32Data) != (n+per-1)/per {
			return fmt.Errorf("int32_data has %d entries, want %d for %d %v elements", len(tp.Int32Data), (n+per-1)/per, n, t.DType)
		}
		if per > 1 {
			packed := make([]byte, len(tp.Int32Data))
			for i, v := range tp.Int32Data {
				packed[i] = byte(v)
			}
			return t.decodeRaw(packed, n)
		}
		if t.DType.IsFloat() {
			t.F = make([]float64, n)
		} else {
			t.I = make([]int64, n)
		}
		for i, v := range tp.Int32Data {
			switch t.DType {
			case Float16:
				t.F[i] = halfToFloat(uint16(v))
			case BFloat16:
				t.F[i] = float64(math.Float32frombits(uint32(uint16(v)) << 16))
			case Int8:
				t.I[i] = int64(int8(v))
			case Uint8:
				t.I[i] = int64(uint8(v))
			case Int16:
				t.I[i] = int64(int16(v))
			case Uint16:
				t.I[i] = int64(uint16(v))
			case Bool:
				t.I[i] = int64(v & 1)
			case Int32:
				t.I[i] = int64(v)
			default:
				panic("BUG: decodeTyped: undecodable dtype " + t.DType.String())
			}
		}
	}
	return nil
}

// halfToFloat converts IEEE 754 binary16 bits to a float64.
func halfToFloat(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	frac := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(frac, -24)
	case 0x1f:
		if frac != 0 {
			return math.NaN()
		}
		return math.Inf(int(sign))
	}
	return sign * math.Ldexp(1+frac/1024, exp-15)
}

// fp4ToFloat converts FLOAT4E2M1 bits (s eem) to a float64.
func fp4ToFloat(b uint8) float64 {
	v := [8]float64{0, 0.5, 1, 1.5, 2, 3, 4, 6}[b&7]
	if b&8 != 0 {
		return -v
	}
	return v
}

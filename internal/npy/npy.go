// Package npy reads and writes NumPy .npy and .npz files and reads CSV
// input sets, for calibration and test inputs.
//
// Supported element types: float16/32/64, int8/16/32/64, uint8/16/32/64
// and bool, in either byte order, C or Fortran order, format versions 1-3.
// Bad files give an *Error naming the file, never a panic.
package npy

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Code is a stable, append-only identifier of a kind of error.
type Code string

// Error codes. Append only; never rename.
const (
	// MalformedArray: not a .npy file, or a header or body that does not
	// match the format (bad magic, truncated data, bad shape).
	MalformedArray Code = "MalformedArray"
	// UnsupportedDType: an element type other than bool, ints and floats
	// (objects, strings, complex, structured).
	UnsupportedDType Code = "UnsupportedDType"
	// MalformedArchive: an .npz that is not a readable zip of .npy files.
	MalformedArchive Code = "MalformedArchive"
	// MalformedCSV: a CSV row that is not numeric or whose length differs.
	MalformedCSV Code = "MalformedCSV"
)

// Error is an error in a data file: "calib.npy: bad header: ..." or, for
// CSV, "in.csv:3:5: ...".
type Error struct {
	File string
	Line int // 1-based, CSV only
	Col  int // 1-based, CSV only
	Code Code
	Msg  string
}

// Error returns "file: message" or, for CSV, "file:line:col: message".
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// Array is an n-dimensional array in C (row-major) order. Descr is the
// NumPy type string in little-endian form ("<f4", "<i8", "|u1", "|b1");
// float types hold their elements in F, integers and bool (0/1) in I;
// exactly one of them is non-nil. A 0-d array has an empty Shape and one
// element. uint64 values above MaxInt64 keep their bit pattern.
type Array struct {
	Shape []int
	Descr string
	F     []float64
	I     []int64
}

// NewFloat32 returns a "<f4" array of the given shape holding data.
func NewFloat32(shape []int, data []float64) *Array {
	return &Array{Shape: shape, Descr: "<f4", F: data}
}

// NewInt64 returns a "<i8" array of the given shape holding data.
func NewInt64(shape []int, data []int64) *Array {
	return &Array{Shape: shape, Descr: "<i8", I: data}
}

// Len returns the number of elements.
func (a *Array) Len() int {
	if a.F != nil {
		return len(a.F)
	}
	return len(a.I)
}

// Floats returns the elements as float64s (a.F itself for float arrays).
func (a *Array) Floats() []float64 {
	if a.F != nil {
		return a.F
	}
	f := make([]float64, len(a.I))
	for i, v := range a.I {
		f[i] = float64(v)
	}
	return f
}

// Row returns the elements of a[i] (the i-th slice along the first axis)
// as float64s.
func (a *Array) Row(i int) []float64 {
	if len(a.Shape) == 0 {
		panic("BUG: npy: Row of a 0-d array")
	}
	n := a.Len() / a.Shape[0]
	return a.Floats()[i*n : (i+1)*n]
}

// parseDescr splits a NumPy type string such as "<f4" into byte order,
// kind ('f', 'i', 'u', 'b') and byte size; ok is false if it is unsupported.
func parseDescr(d string) (order byte, kind byte, size int, ok bool) {
	if len(d) < 3 {
		return 0, 0, 0, false
	}
	order, kind = d[0], d[1]
	size, err := strconv.Atoi(d[2:])
	if err != nil || (order != '<' && order != '>' && order != '|' && order != '=') {
		return 0, 0, 0, false
	}
	switch kind {
	case 'f':
		ok = size == 2 || size == 4 || size == 8
	case 'i', 'u':
		ok = size == 1 || size == 2 || size == 4 || size == 8
	case 'b':
		ok = size == 1
	}
	if order == '=' {
		order = '<' // NumPy writes native order; every platform we run on is little-endian
	}
	return order, kind, size, ok
}

var magic = []byte("\x93NUMPY")

// maxElems bounds the element count a header may claim.
const maxElems = 1 << 31

// ReadFile reads the .npy file at path.
func ReadFile(path string) (*Array, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse decodes .npy data; name is used in errors.
func Parse(name string, data []byte) (*Array, error) {
	bad := func(format string, args ...any) error {
		return &Error{File: name, Code: MalformedArray, Msg: fmt.Sprintf(format, args...)}
	}
	if len(data) < 10 || !bytes.Equal(data[:6], magic) {
		return nil, bad("not a .npy file (bad magic)")
	}
	major := data[6]
	var hlen, start int
	switch major {
	case 1:
		hlen, start = int(binary.LittleEndian.Uint16(data[8:])), 10
	case 2, 3:
		if len(data) < 12 {
			return nil, bad("truncated header")
		}
		hlen, start = int(binary.LittleEndian.Uint32(data[8:])), 12
	default:
		return nil, bad("unsupported .npy format version %d.%d", major, data[7])
	}
	if hlen < 0 || start+hlen > len(data) || start+hlen < start {
		return nil, bad("truncated header: %d bytes declared, %d present", hlen, len(data)-start)
	}
	h, err := parseHeader(string(data[start : start+hlen]))
	if err != nil {
		return nil, bad("bad header: %v", err)
	}
	order, kind, size, ok := parseDescr(h.descr)
	if !ok {
		return nil, &Error{File: name, Code: UnsupportedDType, Msg: fmt.Sprintf("unsupported element type %q; want bool, int, uint or float", h.descr)}
	}
	n := 1
	for _, d := range h.shape {
		if d < 0 || d > maxElems || (d > 0 && n > maxElems/d) {
			return nil, bad("bad shape %v", h.shape)
		}
		n *= d
	}
	body := data[start+hlen:]
	if len(body) != n*size {
		return nil, bad("data has %d bytes, want %d for shape %v of %s", len(body), n*size, h.shape, h.descr)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if order == '>' {
		bo = binary.BigEndian
	}
	a := &Array{Shape: h.shape, Descr: fmt.Sprintf("%c%c%d", byte('<'), kind, size)}
	if size == 1 {
		a.Descr = fmt.Sprintf("|%c1", kind)
	}
	if kind == 'f' {
		a.F = make([]float64, n)
	} else {
		a.I = make([]int64, n)
	}
	for i := 0; i < n; i++ {
		b := body[i*size:]
		switch {
		case kind == 'f' && size == 2:
			a.F[i] = halfToFloat(bo.Uint16(b))
		case kind == 'f' && size == 4:
			a.F[i] = float64(math.Float32frombits(bo.Uint32(b)))
		case kind == 'f':
			a.F[i] = math.Float64frombits(bo.Uint64(b))
		case kind == 'b':
			a.I[i] = int64(b[0] & 1)
		case size == 1 && kind == 'i':
			a.I[i] = int64(int8(b[0]))
		case size == 1:
			a.I[i] = int64(b[0])
		case size == 2 && kind == 'i':
			a.I[i] = int64(int16(bo.Uint16(b)))
		case size == 2:
			a.I[i] = int64(bo.Uint16(b))
		case size == 4 && kind == 'i':
			a.I[i] = int64(int32(bo.Uint32(b)))
		case size == 4:
			a.I[i] = int64(bo.Uint32(b))
		default:
			a.I[i] = int64(bo.Uint64(b))
		}
	}
	if h.fortran {
		a.toCOrder()
	}
	return a, nil
}

// toCOrder reorders elements stored in Fortran (column-major) order.
func (a *Array) toCOrder() {
	n, r := a.Len(), len(a.Shape)
	if r < 2 || n == 0 {
		return
	}
	// Fortran strides: stride[0] = 1, stride[k] = stride[k-1]*shape[k-1].
	stride := make([]int, r)
	stride[0] = 1
	for k := 1; k < r; k++ {
		stride[k] = stride[k-1] * a.Shape[k-1]
	}
	idx := make([]int, r)
	perm := make([]int, n) // perm[c] = Fortran position of C-order element c
	for c := 0; c < n; c++ {
		off := 0
		for k := 0; k < r; k++ {
			off += idx[k] * stride[k]
		}
		perm[c] = off
		for k := r - 1; k >= 0; k-- {
			idx[k]++
			if idx[k] < a.Shape[k] {
				break
			}
			idx[k] = 0
		}
	}
	if a.F != nil {
		f := make([]float64, n)
		for c, p := range perm {
			f[c] = a.F[p]
		}
		a.F = f
	} else {
		v := make([]int64, n)
		for c, p := range perm {
			v[c] = a.I[p]
		}
		a.I = v
	}
}

type header struct {
	descr   string
	fortran bool
	shape   []int
}

// parseHeader parses the Python dict literal of a .npy header, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (39, 12), }.
func parseHeader(s string) (header, error) {
	var h header
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return h, fmt.Errorf("not a dict: %.40q", s)
	}
	s = strings.TrimSpace(s[1 : len(s)-1])
	seen := map[string]bool{}
	for s != "" {
		key, rest, err := pyString(s)
		if err != nil {
			return h, err
		}
		rest = strings.TrimSpace(rest)
		if !strings.HasPrefix(rest, ":") {
			return h, fmt.Errorf("missing ':' after %q", key)
		}
		rest = strings.TrimSpace(rest[1:])
		switch key {
		case "descr":
			if h.descr, rest, err = pyString(rest); err != nil {
				return h, fmt.Errorf("descr: %v", err)
			}
		case "fortran_order":
			switch {
			case strings.HasPrefix(rest, "True"):
				h.fortran, rest = true, rest[4:]
			case strings.HasPrefix(rest, "False"):
				h.fortran, rest = false, rest[5:]
			default:
				return h, fmt.Errorf("fortran_order is not True or False")
			}
		case "shape":
			if h.shape, rest, err = pyTuple(rest); err != nil {
				return h, fmt.Errorf("shape: %v", err)
			}
		default:
			return h, fmt.Errorf("unknown key %q", key)
		}
		seen[key] = true
		rest = strings.TrimSpace(rest)
		if strings.HasPrefix(rest, ",") {
			rest = strings.TrimSpace(rest[1:])
		} else if rest != "" {
			return h, fmt.Errorf("missing ',' after %q", key)
		}
		s = rest
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return h, fmt.Errorf("no %q", k)
		}
	}
	return h, nil
}

// pyString parses a quoted Python string literal without escapes.
func pyString(s string) (string, string, error) {
	if s == "" || (s[0] != '\'' && s[0] != '"') {
		if len(s) > 0 && s[0] == '[' {
			return "", "", fmt.Errorf("structured dtypes are not supported")
		}
		return "", "", fmt.Errorf("want a quoted string at %.20q", s)
	}
	end := strings.IndexByte(s[1:], s[0])
	if end < 0 {
		return "", "", fmt.Errorf("unterminated string")
	}
	return s[1 : 1+end], s[2+end:], nil
}

// pyTuple parses a tuple of non-negative ints: (), (3,), (39, 12).
func pyTuple(s string) ([]int, string, error) {
	if !strings.HasPrefix(s, "(") {
		return nil, "", fmt.Errorf("want a tuple")
	}
	end := strings.IndexByte(s, ')')
	if end < 0 {
		return nil, "", fmt.Errorf("unterminated tuple")
	}
	shape := []int{}
	for _, f := range strings.Split(s[1:end], ",") {
		f = strings.TrimSpace(f)
		f = strings.TrimSuffix(f, "L") // Python 2 longs
		if f == "" {
			continue
		}
		d, err := strconv.Atoi(f)
		if err != nil || d < 0 {
			return nil, "", fmt.Errorf("bad dimension %q", f)
		}
		shape = append(shape, d)
	}
	return shape, s[end+1:], nil
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

// Write writes a as a .npy file (format 1.0, or 2.0 if the header needs
// it) of element type a.Descr ("<f4", "<f8", "|i1", "<i2", "<i4", "<i8",
// "|u1", "<u2", "<u4", "<u8", "|b1"; "" means "<f8" for float arrays and
// "<i8" otherwise).
func Write(w io.Writer, a *Array) error {
	descr := a.Descr
	if descr == "" {
		descr = "<i8"
		if a.F != nil {
			descr = "<f8"
		}
	}
	order, kind, size, ok := parseDescr(descr)
	if !ok || order == '>' {
		return fmt.Errorf("npy: cannot write element type %q", descr)
	}
	n := 1
	for _, d := range a.Shape {
		n *= d
	}
	if n != a.Len() {
		return fmt.Errorf("npy: shape %v has %d elements, array has %d", a.Shape, n, a.Len())
	}
	if (kind == 'f') != (a.F != nil) {
		return fmt.Errorf("npy: element type %q does not match the array's data", descr)
	}
	var sh strings.Builder
	for i, d := range a.Shape {
		if i > 0 {
			sh.WriteString(", ")
		}
		sh.WriteString(strconv.Itoa(d))
	}
	if len(a.Shape) == 1 {
		sh.WriteString(",")
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, sh.String())
	var hdr []byte
	// Pad so that the data starts at a multiple of 64 bytes, ending in '\n'.
	if pre := 10; (len(dict)+1+pre+63)/64*64-pre < 1<<16 {
		total := (len(dict) + 1 + pre + 63) / 64 * 64
		hdr = append(append([]byte{}, magic...), 1, 0, 0, 0)
		binary.LittleEndian.PutUint16(hdr[8:], uint16(total-pre))
		hdr = append(hdr, dict...)
		hdr = append(hdr, bytes.Repeat([]byte{' '}, total-pre-len(dict)-1)...)
	} else {
		pre = 12
		total := (len(dict) + 1 + pre + 63) / 64 * 64
		hdr = append(append([]byte{}, magic...), 2, 0, 0, 0, 0, 0)
		binary.LittleEndian.PutUint32(hdr[8:], uint32(total-pre))
		hdr = append(hdr, dict...)
		hdr = append(hdr, bytes.Repeat([]byte{' '}, total-pre-len(dict)-1)...)
	}
	hdr = append(hdr, '\n')
	body := make([]byte, n*size)
	le := binary.LittleEndian
	for i := 0; i < n; i++ {
		b := body[i*size:]
		switch {
		case kind == 'f' && size == 2:
			return fmt.Errorf("npy: writing float16 is not supported")
		case kind == 'f' && size == 4:
			le.PutUint32(b, math.Float32bits(float32(a.F[i])))
		case kind == 'f':
			le.PutUint64(b, math.Float64bits(a.F[i]))
		case size == 1:
			b[0] = byte(a.I[i])
		case size == 2:
			le.PutUint16(b, uint16(a.I[i]))
		case size == 4:
			le.PutUint32(b, uint32(a.I[i]))
		default:
			le.PutUint64(b, uint64(a.I[i]))
		}
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	_, err := w.Write(body)
	return err
}

// WriteFile writes a to path as a .npy file.
func WriteFile(path string, a *Array) error {
	var buf bytes.Buffer
	if err := Write(&buf, a); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// Archive is the content of an .npz file: arrays by name (without the
// ".npy" suffix) and the names in file order.
type Archive struct {
	Names  []string
	Arrays map[string]*Array
}

// ReadNPZ reads an .npz file (stored or deflated).
func ReadNPZ(path string) (*Archive, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseNPZ(path, data)
}

// ParseNPZ decodes .npz data; name is used in errors.
func ParseNPZ(name string, data []byte) (*Archive, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, &Error{File: name, Code: MalformedArchive, Msg: "not an .npz (zip) archive: " + err.Error()}
	}
	ar := &Archive{Arrays: map[string]*Array{}}
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, ".npy") {
			continue
		}
		member := name + "[" + f.Name + "]"
		if f.UncompressedSize64 > 8*maxElems+1<<20 {
			return nil, &Error{File: member, Code: MalformedArchive, Msg: "member too large"}
		}
		rc, err := f.Open()
		if err != nil {
			return nil, &Error{File: member, Code: MalformedArchive, Msg: err.Error()}
		}
		body, err := io.ReadAll(io.LimitReader(rc, int64(f.UncompressedSize64)+1))
		rc.Close()
		if err != nil {
			return nil, &Error{File: member, Code: MalformedArchive, Msg: err.Error()}
		}
		a, err := Parse(member, body)
		if err != nil {
			return nil, err
		}
		key := strings.TrimSuffix(f.Name, ".npy")
		if _, dup := ar.Arrays[key]; dup {
			return nil, &Error{File: member, Code: MalformedArchive, Msg: "duplicate member"}
		}
		ar.Names = append(ar.Names, key)
		ar.Arrays[key] = a
	}
	if len(ar.Names) == 0 {
		return nil, &Error{File: name, Code: MalformedArchive, Msg: "no .npy members"}
	}
	return ar, nil
}

// WriteNPZ writes arrays to path as an uncompressed .npz, in the order of
// names (sorted if names is nil).
func WriteNPZ(path string, arrays map[string]*Array, names []string) error {
	if names == nil {
		for k := range arrays {
			names = append(names, k)
		}
		sort.Strings(names)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, k := range names {
		a, ok := arrays[k]
		if !ok {
			return fmt.Errorf("npy: no array %q", k)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: k + ".npy", Method: zip.Store})
		if err != nil {
			return err
		}
		if err := Write(w, a); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// LoadSet reads an input set by file extension: .npy gives one array,
// .npz its arrays in file order (one per model input), .csv one float64
// array of shape [rows, columns].
func LoadSet(path string) ([]*Array, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npy":
		a, err := ReadFile(path)
		if err != nil {
			return nil, err
		}
		return []*Array{a}, nil
	case ".npz":
		ar, err := ReadNPZ(path)
		if err != nil {
			return nil, err
		}
		var out []*Array
		for _, k := range ar.Names {
			out = append(out, ar.Arrays[k])
		}
		return out, nil
	case ".csv":
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		a, err := ReadCSV(path, f)
		if err != nil {
			return nil, err
		}
		return []*Array{a}, nil
	}
	return nil, fmt.Errorf("%s: unknown input set format; want .npy, .npz or .csv", path)
}

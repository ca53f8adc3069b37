package ir

import (
	"io"
	"math"
	"strconv"
	"strings"
)

// Print returns the text form of f. Values are renumbered densely first, so
// the output is deterministic and print(parse(print(f))) == print(f).
func Print(f *Func) string {
	f.Renumber()
	var b strings.Builder
	b.WriteString("func ")
	b.WriteString(f.Name)
	b.WriteByte('(')
	for i, p := range f.Params {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("v" + strconv.Itoa(p.ID))
		b.WriteString(": ")
		b.WriteString(p.Type.String())
		if p.Loc != "" {
			b.WriteString(" loc=")
			b.WriteString(strconv.Quote(p.Loc))
		}
		if p.Range != nil {
			b.WriteString(" range=")
			writeRange(&b, *p.Range)
		}
	}
	b.WriteString(") {\n")
	for _, v := range f.Body {
		b.WriteString("  ")
		writeValue(&b, v)
		b.WriteByte('\n')
	}
	b.WriteString("  return")
	for _, r := range f.Results {
		b.WriteString(" v" + strconv.Itoa(r.ID))
	}
	b.WriteString("\n}\n")
	return b.String()
}

// Fprint writes the text form of f to w.
func Fprint(w io.Writer, f *Func) error {
	_, err := io.WriteString(w, Print(f))
	return err
}

// String returns the printed form of one value (the ID is whatever it is now).
func (v *Value) String() string {
	var b strings.Builder
	writeValue(&b, v)
	return b.String()
}

func writeValue(b *strings.Builder, v *Value) {
	b.WriteString("v" + strconv.Itoa(v.ID))
	b.WriteString(" = ")
	b.WriteString(v.Op.String())
	b.WriteString(" <")
	b.WriteString(v.Type.String())
	b.WriteByte('>')
	for _, a := range v.Args {
		b.WriteString(" v" + strconv.Itoa(a.ID))
	}
	if v.Op == OpConst {
		b.WriteByte(' ')
		if t := v.ConstValue(); t != nil {
			writeData(b, t)
		}
	} else if len(v.Attrs) > 0 {
		b.WriteString(" {")
		for i, a := range v.Attrs {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(a.Name)
			b.WriteByte('=')
			writeAttr(b, &a)
		}
		b.WriteByte('}')
	}
	if v.Range != nil || v.Loc != "" {
		b.WriteString("  ;")
		if v.Range != nil {
			b.WriteString(" range=")
			writeRange(b, *v.Range)
		}
		if v.Loc != "" {
			b.WriteString(" loc=")
			b.WriteString(strconv.Quote(v.Loc))
		}
	}
}

func writeRange(b *strings.Builder, r Range) {
	b.WriteByte('[')
	b.WriteString(strconv.FormatInt(r.Lo, 10))
	b.WriteByte(',')
	b.WriteString(strconv.FormatInt(r.Hi, 10))
	b.WriteByte(']')
}

func writeAttr(b *strings.Builder, a *Attr) {
	switch a.Kind {
	case AttrInt:
		b.WriteString(strconv.FormatInt(a.Int, 10))
	case AttrFloat:
		b.WriteString(FormatFloat(a.Float))
	case AttrInts:
		b.WriteByte('[')
		for i, x := range a.Ints {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.FormatInt(x, 10))
		}
		b.WriteByte(']')
	case AttrFloats:
		b.WriteByte('[')
		for i, x := range a.Floats {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(FormatFloat(x))
		}
		b.WriteByte(']')
	case AttrString:
		b.WriteString(strconv.Quote(a.Str))
	case AttrTensor:
		b.WriteString(TensorOf(a.Elem, a.Tensor.Shape...).String()[len("tensor"):])
		writeData(b, a.Tensor)
	default:
		panic("BUG: attribute " + a.Name + " has no kind")
	}
}

func writeData(b *strings.Builder, t *Tensor) {
	b.WriteByte('[')
	n := t.Len()
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		if t.Float {
			b.WriteString(FormatFloat(t.F[i]))
		} else {
			b.WriteString(strconv.FormatInt(t.I[i], 10))
		}
	}
	b.WriteByte(']')
}

// FormatFloat prints x so that ParseFloat reads back the same float64, and
// always with a '.', an exponent, or as nan/inf/-inf.
func FormatFloat(x float64) string {
	switch {
	case math.IsNaN(x):
		return "nan"
	case math.IsInf(x, 1):
		return "inf"
	case math.IsInf(x, -1):
		return "-inf"
	}
	s := strconv.FormatFloat(x, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

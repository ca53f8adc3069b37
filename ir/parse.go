package ir

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// Parse reads the text form of one function. Errors are an ErrorList of
// "file:line:col: message [Code]" entries; parsing goes on after an error in
// one line so that several are reported at once. Parse never panics.
func Parse(file string, src []byte) (*Func, error) {
	p := &parser{file: file, vals: make(map[string]*Value)}
	f := p.parse(string(src))
	if len(p.errs) > 0 {
		return nil, p.errs.Err()
	}
	return f, nil
}

type parser struct {
	file string
	errs ErrorList
	vals map[string]*Value
	// pending is the name a statement line defines, recorded as soon as it
	// is read, so that a line that fails still defines it and later uses do
	// not cascade into "undefined value" errors.
	pending string

	// current line
	line string
	ln   int
	col  int // 0-based index into line
}

func (p *parser) errorf(code Code, col int, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Pos: Pos{p.ln, col + 1}, Code: code, Msg: fmt.Sprintf(format, args...)})
}

// bail aborts the current line.
type bail struct{}

func (p *parser) fail(format string, args ...any) {
	p.skip()
	p.errorf(SyntaxError, p.col, format, args...)
	panic(bail{})
}

func (p *parser) parse(src string) *Func {
	lines := strings.Split(src, "\n")
	var f *Func
	done := false
	for i, l := range lines {
		p.line, p.ln, p.col = strings.TrimRight(l, "\r"), i+1, 0
		p.skip()
		if p.col >= len(p.line) || strings.HasPrefix(p.line[p.col:], "//") {
			continue
		}
		if done {
			p.errorf(SyntaxError, p.col, "text after the end of the function")
			break
		}
		p.pending = ""
		func() {
			defer func() {
				if r := recover(); r != nil {
					if _, ok := r.(bail); !ok {
						panic(r)
					}
					if _, ok := p.vals[p.pending]; p.pending != "" && !ok {
						p.vals[p.pending] = &Value{Pos: Pos{p.ln, 1}}
					}
				}
			}()
			switch {
			case f == nil:
				f = p.header()
			case p.peekWord() == "return":
				p.ret(f)
			case p.line[p.col] == '}':
				p.col++
				p.end()
				done = true
			default:
				p.stmt(f)
			}
		}()
		if f == nil && len(p.errs) > 0 {
			return nil
		}
	}
	if f == nil {
		p.ln, p.col = 1, 0
		p.errorf(SyntaxError, 0, "no function found: want \"func NAME(...) {\"")
		return nil
	}
	if !done {
		p.ln, p.col = len(lines), 0
		p.errorf(SyntaxError, 0, "missing closing '}' of function %s", f.Name)
	}
	return f
}

func (p *parser) skip() {
	for p.col < len(p.line) && (p.line[p.col] == ' ' || p.line[p.col] == '\t') {
		p.col++
	}
}

func (p *parser) end() {
	p.skip()
	if p.col < len(p.line) && !strings.HasPrefix(p.line[p.col:], "//") {
		p.fail("unexpected %q at end of line", p.rest())
	}
}

func (p *parser) rest() string {
	r := p.line[p.col:]
	if len(r) > 20 {
		r = r[:20] + "..."
	}
	return r
}

func (p *parser) peekWord() string {
	i := p.col
	for i < len(p.line) && isWordChar(p.line[i]) {
		i++
	}
	return p.line[p.col:i]
}

func isWordChar(c byte) bool {
	return c == '_' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func (p *parser) word() string {
	p.skip()
	w := p.peekWord()
	if w == "" {
		if p.col >= len(p.line) {
			p.fail("unexpected end of line")
		}
		p.fail("unexpected %q", p.rest())
	}
	p.col += len(w)
	return w
}

func (p *parser) expect(c byte) {
	p.skip()
	if p.col >= len(p.line) {
		p.fail("want %q, got end of line", c)
	}
	if p.line[p.col] != c {
		p.fail("want %q, got %q", c, p.rest())
	}
	p.col++
}

func (p *parser) accept(c byte) bool {
	p.skip()
	if p.col < len(p.line) && p.line[p.col] == c {
		p.col++
		return true
	}
	return false
}

func (p *parser) acceptWord(w string) bool {
	p.skip()
	if strings.HasPrefix(p.line[p.col:], w) {
		p.col += len(w)
		return true
	}
	return false
}

func (p *parser) header() *Func {
	if p.word() != "func" {
		p.col = 0
		p.fail("want \"func NAME(...) {\"")
	}
	f := &Func{Pos: Pos{p.ln, p.col + 1}}
	f.Name = p.word()
	p.expect('(')
	if !p.accept(')') {
		for {
			p.skip()
			pos := Pos{p.ln, p.col + 1}
			name := p.word()
			p.expect(':')
			t := p.typ()
			v := &Value{Op: OpParam, Type: t, Pos: pos}
			for {
				if p.acceptWord("loc=") {
					v.Loc = p.str()
				} else if p.acceptWord("range=") {
					r := p.rangeLit()
					v.Range = &r
				} else {
					break
				}
			}
			p.define(name, v, pos)
			f.Params = append(f.Params, v)
			if p.accept(')') {
				break
			}
			p.expect(',')
		}
	}
	p.expect('{')
	p.end()
	return f
}

func (p *parser) define(name string, v *Value, pos Pos) {
	if !strings.HasPrefix(name, "v") {
		p.errorf(SyntaxError, pos.Col-1, "bad value name %q: want v<number>", name)
		panic(bail{})
	}
	if _, err := strconv.Atoi(name[1:]); err != nil {
		p.errorf(SyntaxError, pos.Col-1, "bad value name %q: want v<number>", name)
		panic(bail{})
	}
	if old, ok := p.vals[name]; ok {
		p.errorf(DuplicateValue, pos.Col-1, "%s redefined (first defined at %d:%d)", name, old.Pos.Line, old.Pos.Col)
		panic(bail{})
	}
	p.vals[name] = v
}

func (p *parser) use() *Value {
	p.skip()
	col := p.col
	name := p.word()
	v, ok := p.vals[name]
	if !ok {
		p.errorf(UndefinedValue, col, "undefined value %s", name)
		panic(bail{})
	}
	return v
}

func (p *parser) ret(f *Func) {
	p.word()
	for {
		p.skip()
		if p.col >= len(p.line) || strings.HasPrefix(p.line[p.col:], "//") {
			break
		}
		f.Results = append(f.Results, p.use())
	}
}

func (p *parser) typ() Type {
	p.skip()
	start := p.col
	i := strings.IndexByte(p.line[p.col:], '>')
	if i < 0 {
		p.fail("want a type such as enc<1x4xi8>")
	}
	s := p.line[p.col : p.col+i+1]
	t, err := ParseType(s)
	if err != nil {
		p.col = start
		p.fail("%v", err)
	}
	p.col += i + 1
	return t
}

func (p *parser) stmt(f *Func) {
	pos := Pos{p.ln, p.col + 1}
	name := p.word()
	p.pending = name
	p.expect('=')
	p.skip()
	opCol := p.col
	opName := p.word()
	op, ok := LookupOp(opName)
	if !ok || op == OpParam {
		p.errorf(UnknownOp, opCol, "unknown op %q", opName)
		panic(bail{})
	}
	v := &Value{Op: op, Pos: pos}
	p.expect('<')
	v.Type = p.typ()
	p.expect('>')
	for {
		p.skip()
		if p.col < len(p.line) && p.line[p.col] == 'v' {
			v.Args = append(v.Args, p.use())
			continue
		}
		break
	}
	if op == OpConst {
		col := p.col
		t := p.data(v.Type.Elem.Float, v.Type.Shape)
		if t.Len() != v.Type.Size() {
			p.errorf(BadConstant, col, "constant has %d elements, want %d for %s", t.Len(), v.Type.Size(), v.Type)
			panic(bail{})
		}
		v.Attrs = Attrs{{Name: "value", Kind: AttrTensor, Tensor: t, Elem: v.Type.Elem}}
	} else if p.accept('{') {
		if !p.accept('}') {
			for {
				p.attr(v)
				if p.accept('}') {
					break
				}
				p.expect(',')
			}
		}
	}
	if p.accept(';') {
		for {
			p.skip()
			if p.col >= len(p.line) {
				break
			}
			switch {
			case p.acceptWord("range="):
				r := p.rangeLit()
				v.Range = &r
			case p.acceptWord("loc="):
				v.Loc = p.str()
			default:
				p.fail("unknown annotation %q: want range=[lo,hi] or loc=\"...\"", p.rest())
			}
		}
	}
	p.end()
	p.define(name, v, pos)
	f.Body = append(f.Body, v)
}

func (p *parser) attr(v *Value) {
	p.skip()
	col := p.col
	name := p.word()
	var spec *AttrSpec
	for i, s := range v.Op.Info().Attrs {
		if s.Name == name {
			spec = &v.Op.Info().Attrs[i]
		}
	}
	if spec == nil {
		p.errorf(BadAttribute, col, "%s has no attribute %q", v.Op, name)
		panic(bail{})
	}
	if v.Attrs.Get(name) != nil {
		p.errorf(BadAttribute, col, "attribute %q given twice", name)
		panic(bail{})
	}
	p.expect('=')
	a := Attr{Name: name, Kind: spec.Kind}
	switch spec.Kind {
	case AttrInt:
		a.Int = p.int()
	case AttrFloat:
		a.Float = p.float()
	case AttrInts:
		p.expect('[')
		a.Ints = []int64{}
		for !p.accept(']') {
			if len(a.Ints) > 0 {
				p.expect(',')
			}
			a.Ints = append(a.Ints, p.int())
		}
	case AttrFloats:
		p.expect('[')
		a.Floats = []float64{}
		for !p.accept(']') {
			if len(a.Floats) > 0 {
				p.expect(',')
			}
			a.Floats = append(a.Floats, p.float())
		}
	case AttrString:
		a.Str = p.str()
	case AttrTensor:
		p.skip()
		tcol := p.col
		i := strings.IndexByte(p.line[p.col:], '>')
		if i < 0 || p.line[p.col] != '<' {
			p.fail("want a tensor literal such as <2x16xi64>[...]")
		}
		tt, err := ParseType("tensor" + p.line[p.col:p.col+i+1])
		if err != nil {
			p.fail("%v", err)
		}
		p.col += i + 1
		a.Elem = tt.Elem
		a.Tensor = p.data(tt.Elem.Float, tt.Shape)
		if a.Tensor.Len() != tt.Size() {
			p.errorf(BadConstant, tcol, "attribute %s has %d elements, want %d", name, a.Tensor.Len(), tt.Size())
			panic(bail{})
		}
	}
	v.Attrs = append(v.Attrs, a)
	v.SetAttr(a) // restore table order
}

func (p *parser) data(float bool, shape []int) *Tensor {
	p.expect('[')
	t := &Tensor{Shape: append([]int{}, shape...), Float: float}
	n := 0
	for !p.accept(']') {
		if n > 0 {
			p.expect(',')
		}
		if float {
			t.F = append(t.F, p.float())
		} else {
			t.I = append(t.I, p.int())
		}
		n++
	}
	if float && t.F == nil {
		t.F = []float64{}
	}
	if !float && t.I == nil {
		t.I = []int64{}
	}
	return t
}

func (p *parser) number() string {
	p.skip()
	i := p.col
	for i < len(p.line) && (isWordChar(p.line[i]) || p.line[i] == '-' || p.line[i] == '+') {
		i++
	}
	s := p.line[p.col:i]
	if s == "" {
		p.fail("want a number, got %q", p.rest())
	}
	return s
}

func (p *parser) int() int64 {
	col := p.col
	s := p.number()
	x, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		p.col = col
		p.skip()
		p.fail("bad integer %q", s)
	}
	p.col += len(s)
	return x
}

func (p *parser) float() float64 {
	col := p.col
	s := p.number()
	x, err := ParseFloat(s)
	if err != nil {
		p.col = col
		p.skip()
		p.fail("bad float %q", s)
	}
	p.col += len(s)
	return x
}

// ParseFloat reads a float printed by FormatFloat.
func ParseFloat(s string) (float64, error) {
	switch s {
	case "nan":
		return math.NaN(), nil
	case "inf":
		return math.Inf(1), nil
	case "-inf":
		return math.Inf(-1), nil
	}
	return strconv.ParseFloat(s, 64)
}

func (p *parser) str() string {
	p.skip()
	if p.col >= len(p.line) || p.line[p.col] != '"' {
		p.fail("want a quoted string")
	}
	s, err := strconv.QuotedPrefix(p.line[p.col:])
	if err != nil {
		p.fail("bad string: %v", err)
	}
	p.col += len(s)
	u, _ := strconv.Unquote(s)
	return u
}

func (p *parser) rangeLit() Range {
	p.expect('[')
	lo := p.int()
	p.expect(',')
	hi := p.int()
	p.expect(']')
	return Range{lo, hi}
}

// Load reads, parses and verifies the .fir file at path; every error names
// the file.
func Load(path string) (*Func, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Parse(path, src)
	if err != nil {
		return nil, err
	}
	if err := Verify(f); err != nil {
		if l, ok := err.(ErrorList); ok {
			for _, e := range l {
				if e.File == "" {
					e.File = path
				}
			}
		}
		return nil, err
	}
	return f, nil
}

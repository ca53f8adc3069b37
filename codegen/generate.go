package codegen

import (
	"bytes"
	"embed"
	"fmt"
	"go/format"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/fheir/fheir/rt"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{"wrap": wrap}).ParseFS(templateFS, "templates/*.tmpl"))

// wrap formats text as "// " comment lines of at most 76 columns.
func wrap(text string) string {
	var lines []string
	line := "//"
	for _, w := range strings.Fields(text) {
		if len(line)+1+len(w) > 76 && line != "//" {
			lines = append(lines, line)
			line = "//"
		}
		line += " " + w
	}
	return strings.Join(append(lines, line), "\n")
}

// Options tune Generate.
type Options struct {
	// Version is the fheir version stamped into the generated header.
	Version string
	// ImportPath is the generated package's import path, which its
	// command imports (e.g. "example.com/app/out/mymodel"); see
	// ImportPathOf. Empty: the package name.
	ImportPath string
	// Post is the clear post-processing of each output, from Lower (nil:
	// none).
	Post []Post
}

// Generated file names, relative to the package directory. The command
// lives in cmd/<pkg>/.
const (
	CircuitFile = "circuit.bin"
	ModelFile   = "model.go"
)

// Generate returns the files of a Go package named pkg that embeds c:
// model.go (Forward, QuantizeInput, DequantizeOutput, NewClient,
// NewServer), circuit.bin (c.MarshalBinary) and a command
// cmd/<pkg>/main.go with its .npy reader. The Go files are gofmt'd and
// import only package rt and the standard library (and the command the
// generated package). Keys are paths relative to the package directory.
func Generate(c *rt.Circuit, pkg string, opts *Options) (map[string][]byte, error) {
	if opts == nil {
		opts = &Options{}
	}
	if opts.Post != nil && len(opts.Post) != len(c.Outputs) {
		return nil, fmt.Errorf("%d post-processings for %d outputs", len(opts.Post), len(c.Outputs))
	}
	if !token.IsIdentifier(pkg) || token.IsKeyword(pkg) || pkg == "main" {
		return nil, fmt.Errorf("package name %q: want a Go identifier other than main", pkg)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	blob, err := c.MarshalBinary()
	if err != nil {
		return nil, err
	}
	d := templateData(c, pkg, opts)
	files := map[string][]byte{CircuitFile: blob}
	for _, f := range []struct{ path, tmpl string }{
		{ModelFile, "model.go.tmpl"},
		{"cmd/" + pkg + "/main.go", "main.go.tmpl"},
		{"cmd/" + pkg + "/npy.go", "npy.go.tmpl"},
	} {
		var b bytes.Buffer
		if err := templates.ExecuteTemplate(&b, f.tmpl, d); err != nil {
			panic("BUG: template " + f.tmpl + ": " + err.Error())
		}
		src, err := format.Source(b.Bytes())
		if err != nil {
			panic(fmt.Sprintf("BUG: generated %s does not parse: %v\n%s", f.path, err, b.Bytes()))
		}
		files[f.path] = src
	}
	return files, nil
}

type ioData struct {
	Name, Desc string
	Shape      []int
}

// ShapeList prints the shape as Go list elements: "1, 12".
func (d ioData) ShapeList() string {
	s := make([]string, len(d.Shape))
	for i, x := range d.Shape {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}

type genData struct {
	Version, Package, ImportPath, Name string
	Scheme, Params, Summary            string
	Doc, ForwardDoc, PostLit           string
	TLUs                               int
	Inputs, Outputs                    []ioData
	Single, Batch                      bool
	InSize, OutSize                    int
}

func quantDesc(q rt.Quant, input bool) string {
	var b strings.Builder
	if len(q.Scale) == 1 {
		fmt.Fprintf(&b, "scale %.6g, zero point %d", q.Scale[0], q.ZeroPoint[0])
	} else {
		fmt.Fprintf(&b, "%d scales along axis %d", len(q.Scale), q.Axis)
	}
	if input {
		fmt.Fprintf(&b, ", integers in [%d, %d]", q.QMin, q.QMax)
	}
	return b.String()
}

func templateData(c *rt.Circuit, pkg string, opts *Options) genData {
	d := genData{Version: opts.Version, Package: pkg, ImportPath: opts.ImportPath, Name: c.Name,
		Scheme: c.Scheme, Params: c.Params, TLUs: c.TLUCount()}
	if d.Version == "" {
		d.Version = "(devel)"
	}
	if d.ImportPath == "" {
		d.ImportPath = pkg
	}
	for _, in := range c.Inputs {
		v := c.Values[in.Value]
		desc := "encrypted, "
		if !v.Encrypted {
			desc = "clear, "
		}
		d.Inputs = append(d.Inputs, ioData{Name: in.Name, Shape: v.Shape, Desc: desc + quantDesc(in.Quant, true)})
	}
	for _, o := range c.Outputs {
		v := c.Values[o.Value]
		d.Outputs = append(d.Outputs, ioData{Name: o.Name, Shape: v.Shape, Desc: quantDesc(o.Dequant, false)})
	}
	if len(d.Inputs) == 1 && len(d.Outputs) == 1 {
		d.Single = true
		in, out := d.Inputs[0].Shape, d.Outputs[0].Shape
		d.InSize, d.OutSize = sizeOf(in), sizeOf(out)
		d.Batch = len(in) > 0 && in[0] == 1 && len(out) > 0 && out[0] == 1
	}
	d.Doc = fmt.Sprintf("Package %s is the model %q compiled by fheir. It runs in the clear (Disable), "+
		"in the clear with the encryption's error model (Simulate) or under fully homomorphic encryption (Execute), "+
		"like Concrete ML's forward(x, fhe=...). For a deployment, NewClient holds the secret key "+
		"(key generation, encryption, decryption) and NewServer evaluates on ciphertexts "+
		"with the client's serialized evaluation keys only.", pkg, c.Name)
	d.ForwardDoc = fmt.Sprintf("Forward runs the model on x in the given mode and returns its output. x holds one sample (%d values).", d.InSize)
	if d.Batch {
		d.ForwardDoc = fmt.Sprintf("Forward runs the model on x in the given mode and returns its output. "+
			"x holds one sample (%d values) or several samples one after the other; "+
			"their outputs (%d values each) come one after the other too. "+
			"Several samples run as ForwardBatch runs them: in Execute mode, as many per encrypted evaluation as the scheme packs.", d.InSize, d.OutSize)
	}
	d.PostLit = postLiteral(c, opts.Post)
	if c.Params == "" {
		d.Summary = fmt.Sprintf("No crypto parameters were chosen: Disable and Simulate run, Execute does not. %d encrypted table lookups per inference, values of %d bits.", d.TLUs, c.MsgBits)
	} else {
		pe := "the default failure probability"
		if c.PError > 0 {
			pe = fmt.Sprintf("a failure probability of %.3g per table lookup", c.PError)
		}
		d.Summary = fmt.Sprintf("Crypto parameters %s/%s, chosen for %s; %d encrypted table lookups per inference, values of %d bits.",
			c.Scheme, c.Params, pe, d.TLUs, c.MsgBits)
	}
	return d
}

// postLiteral returns the elements of the generated posts table.
func postLiteral(c *rt.Circuit, post []Post) string {
	var b strings.Builder
	for i := range c.Outputs {
		var p Post
		if post != nil {
			p = post[i]
		}
		b.WriteString("{")
		if p.F32 {
			b.WriteString("f32: true, ")
		}
		if len(p.Ops) > 0 {
			b.WriteString("steps: []postStep{")
			for _, op := range p.Ops {
				fmt.Fprintf(&b, "{op: '%c', k: []float64{", map[string]byte{"add": '+', "sub": '-', "mul": '*', "div": '/'}[op.Op])
				for j, k := range op.K {
					if j > 0 {
						b.WriteString(", ")
					}
					b.WriteString(strconv.FormatFloat(k, 'g', -1, 64))
				}
				b.WriteString("}")
				if op.KFirst {
					b.WriteString(", kFirst: true")
				}
				if op.F32 {
					b.WriteString(", f32: true")
				}
				b.WriteString("}, ")
			}
			b.WriteString("}")
		}
		b.WriteString("}, // " + c.Outputs[i].Name + "\n")
	}
	return b.String()
}

func sizeOf(shape []int) int {
	n := 1
	for _, x := range shape {
		n *= x
	}
	return n
}

// WriteFiles writes Generate's files under dir, creating directories.
func WriteFiles(dir string, files map[string][]byte) error {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, files[n], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// ImportPathOf returns the import path a package written to dir gets in
// the Go module enclosing dir (found by walking up to a go.mod), or an
// error when dir is in no module.
func ImportPathOf(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil {
			mod := modulePath(data)
			if mod == "" {
				return "", fmt.Errorf("%s: no module line", filepath.Join(d, "go.mod"))
			}
			rel, err := filepath.Rel(d, abs)
			if err != nil {
				return "", err
			}
			if rel == "." {
				return mod, nil
			}
			return mod + "/" + filepath.ToSlash(rel), nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%s is not inside a Go module (no go.mod above it): run \"go mod init\" first", dir)
		}
	}
}

func modulePath(gomod []byte) string {
	for _, line := range strings.Split(string(gomod), "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "module"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			rest, _, _ = strings.Cut(rest, "//")
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/fheir/fheir/codegen"
	"github.com/fheir/fheir/frontend/onnx"
	"github.com/fheir/fheir/frontend/quant"
	"github.com/fheir/fheir/internal/npy"
	"github.com/fheir/fheir/ir"
	"github.com/fheir/fheir/passes"
	"github.com/fheir/fheir/rt"
)

// compileConfig holds the flags shared by compile and demo.
type compileConfig struct {
	inputset  string
	nBits     string
	qat       bool
	roundBits string
	pError    string
	gPError   string
	inputsEnc string
}

func (cc *compileConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&cc.inputset, "inputset", "", "calibration inputs (.npy, one row per sample): narrow bit widths to the ranges they reach")
	fs.StringVar(&cc.nBits, "n-bits", "", "bit width of post-training quantization (for models without quantizers)")
	fs.BoolVar(&cc.qat, "qat", false, "require a quantization-aware model (Brevitas QONNX/QCDQ export)")
	fs.StringVar(&cc.roundBits, "rounding-threshold-bits", "", "make every table lookup read at most N bits: N or N:approximate")
	fs.StringVar(&cc.pError, "p-error", "", "failure probability of one table lookup, e.g. 2^-40 (default 2^-40)")
	fs.StringVar(&cc.gPError, "global-p-error", "", "failure probability of one whole inference, e.g. 0.01")
	fs.StringVar(&cc.inputsEnc, "inputs-encryption", "", "for ONNX models: enc or clear per graph input, comma-separated (default: all enc)")
}

// parseProb parses a probability written as a number or as 2^-K.
func parseProb(flagName, s string) (float64, error) {
	if s == "" {
		return 0, nil
	}
	var p float64
	if rest, ok := strings.CutPrefix(s, "2^"); ok {
		e, err := strconv.ParseFloat(rest, 64)
		if err != nil {
			return 0, fmt.Errorf("--%s %q: want a probability such as 2^-40 or 0.01", flagName, s)
		}
		p = math.Exp2(e)
	} else {
		var err error
		if p, err = strconv.ParseFloat(s, 64); err != nil {
			return 0, fmt.Errorf("--%s %q: want a probability such as 2^-40 or 0.01", flagName, s)
		}
	}
	if !(p > 0 && p < 1) {
		return 0, fmt.Errorf("--%s %q: want a probability in (0, 1)", flagName, s)
	}
	return p, nil
}

// loadModel reads an ONNX model (imported and, when it holds quantizers,
// lowered to integers) or a .fir file.
func loadModel(path string, cc *compileConfig, stderr io.Writer) (*ir.Func, error) {
	if !strings.HasSuffix(path, ".onnx") {
		if cc.inputsEnc != "" {
			return nil, fmt.Errorf("--inputs-encryption applies to ONNX models; a .fir file says enc<...> or tensor<...> per parameter")
		}
		return loadFIR(path)
	}
	m, err := onnx.Load(path)
	if err != nil {
		return nil, err
	}
	opts := onnx.ImportOptions{}
	if cc.inputsEnc != "" {
		kinds := strings.Split(cc.inputsEnc, ",")
		if len(kinds) != len(m.Graph.Inputs) {
			return nil, fmt.Errorf("--inputs-encryption %q: %d entries, the model has %d inputs", cc.inputsEnc, len(kinds), len(m.Graph.Inputs))
		}
		opts.ClearInputs = map[string]bool{}
		for i, k := range kinds {
			switch strings.TrimSpace(k) {
			case "enc", "encrypted":
			case "clear":
				opts.ClearInputs[m.Graph.Inputs[i].Name] = true
			default:
				return nil, fmt.Errorf("--inputs-encryption %q: entry %q, want enc or clear", cc.inputsEnc, k)
			}
		}
	}
	f, err := m.ImportFloat(opts)
	if err != nil {
		return nil, err
	}
	if !quant.HasQuantizers(f) {
		if cc.qat {
			return nil, fmt.Errorf("%s: --qat given, but the model holds no quantizers (QONNX Quant or QuantizeLinear/DequantizeLinear nodes)", path)
		}
		return nil, fmt.Errorf("%s: the model holds no quantizers: post-training quantization (--n-bits with --inputset) is not available yet; export a quantization-aware model with Brevitas", path)
	}
	if cc.nBits != "" {
		fmt.Fprintf(stderr, "fheir: --n-bits %s ignored: the quantization-aware model fixes its bit widths\n", cc.nBits)
	}
	if err := quant.LowerQAT(f); err != nil {
		return nil, withFile(path, err)
	}
	return f, nil
}

// readCalibration reads an input set for a single-parameter function: one
// sample per row of the .npy file.
func readCalibration(path string, f *ir.Func) ([][]*ir.Tensor, error) {
	if len(f.Params) != 1 {
		return nil, fmt.Errorf("--inputset: the model has %d inputs; calibration supports one", len(f.Params))
	}
	a, err := npy.ReadFile(path)
	if err != nil {
		return nil, err
	}
	data := a.F
	if data == nil {
		data = make([]float64, len(a.I))
		for i, x := range a.I {
			data[i] = float64(x)
		}
	}
	p := f.Params[0]
	n := p.Type.Size()
	if n == 0 || len(data) == 0 || len(data)%n != 0 {
		return nil, fmt.Errorf("--inputset %s: %d values are not a whole number of samples of shape %v", path, len(data), p.Type.Shape)
	}
	var set [][]*ir.Tensor
	for r := 0; r < len(data)/n; r++ {
		row := append([]float64{}, data[r*n:(r+1)*n]...)
		if p.Type.Elem.Float {
			set = append(set, []*ir.Tensor{ir.NewFloats(p.Type.Shape, row)})
			continue
		}
		iv := make([]int64, n)
		for i, x := range row {
			iv[i] = int64(math.Round(x))
		}
		set = append(set, []*ir.Tensor{ir.NewInts(p.Type.Shape, iv)})
	}
	return set, nil
}

// compiled is a model after the passes, lowering and parameter selection.
type compiled struct {
	f      *ir.Func
	c      *rt.Circuit
	posts  []codegen.Post
	info   rt.ParamsInfo
	params error // parameter selection's error, when it failed
}

// compileModel runs the front end, the default pipeline, the lowering and
// the parameter selection, printing the bit-width report and the chosen
// parameters to out.
func compileModel(path, name string, cc *compileConfig, out, stderr io.Writer) (*compiled, error) {
	pe, err := parseProb("p-error", cc.pError)
	if err != nil {
		return nil, err
	}
	gpe, err := parseProb("global-p-error", cc.gPError)
	if err != nil {
		return nil, err
	}
	if pe > 0 && gpe > 0 {
		return nil, fmt.Errorf("set --p-error or --global-p-error, not both")
	}
	f, err := loadModel(path, cc, stderr)
	if err != nil {
		return nil, err
	}
	popts := &passes.Options{Log: stderr}
	if err := parseRounding(cc.roundBits, popts); err != nil {
		return nil, err
	}
	if cc.inputset != "" {
		if popts.Calibration, err = readCalibration(cc.inputset, f); err != nil {
			return nil, err
		}
	}
	if err := passes.Run(f, passes.DefaultPipeline, popts); err != nil {
		return nil, withFile(path, err)
	}
	fmt.Fprintf(out, "bit widths (%s):\n", filepath.Base(path))
	if err := passes.Analyze(f).WriteText(out); err != nil {
		return nil, err
	}
	c, posts, err := codegen.Lower(f)
	if err != nil {
		return nil, withFile(path, err)
	}
	c.Name = name
	res := &compiled{f: f, c: c, posts: posts}
	res.info, res.params = codegen.SelectParams(c, rt.SelectOptions{PError: pe, GlobalPError: gpe})
	if res.params != nil {
		res.params = withFile(path, res.params)
		return res, nil
	}
	printParams(out, res.info)
	return res, nil
}

func printParams(out io.Writer, pi rt.ParamsInfo) {
	fmt.Fprintf(out, "\ncrypto parameters: %s/%s, %d-bit security\n", pi.Scheme, pi.Name, pi.SecurityBits)
	fmt.Fprintf(out, "  %s\n", pi.Desc)
	fmt.Fprintf(out, "  messages of %d bits, widest lookup %d bits\n", pi.MsgBits, pi.PBSBits)
	fmt.Fprintf(out, "  p_error %.3g per lookup, %.3g per inference\n", pi.PError, pi.GlobalPError)
	fmt.Fprintf(out, "  estimated cost: %d lookups × %v = %v per inference on one core\n",
		pi.TLUs, pi.CostPerTLU.Round(time.Microsecond), pi.Estimate.Round(time.Millisecond))
	fmt.Fprintf(out, "  keys: evaluation %s (bootstrapping %s, key switching %s), secret %s, %s per ciphertext\n",
		rt.FormatBytes(pi.Keys.Eval), rt.FormatBytes(pi.Keys.Bootstrapping), rt.FormatBytes(pi.Keys.KeySwitching),
		rt.FormatBytes(pi.Keys.Secret), rt.FormatBytes(pi.Keys.Ciphertext))
}

// packageName derives a Go package name from a directory name.
func packageName(dir string) string {
	base := strings.ToLower(filepath.Base(filepath.Clean(dir)))
	var b strings.Builder
	for _, r := range base {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		}
	}
	s := b.String()
	if s == "" || unicode.IsDigit(rune(s[0])) {
		s = "model" + s
	}
	return s
}

func init() {
	var (
		cc     compileConfig
		outDir string
		pkg    string
	)
	register(&command{
		name: "compile",
		summary: "Compile a quantized model (ONNX or .fir) into a Go package for encrypted inference.\n" +
			"Runs the front end, the default pass pipeline, the lowering to the runtime's circuit and the\n" +
			"crypto parameter selection; prints the bit widths and the chosen parameters, and writes a\n" +
			"package (model.go, circuit.bin, cmd/PKG) into -o, inside your Go module.",
		usage: "in.onnx|in.fir -o ./out/mymodel [--package mymodel] [--inputset calib.npy] [--n-bits 8] [--qat]\n" +
			"       [--rounding-threshold-bits 6[:approximate]] [--p-error 2^-40 | --global-p-error 0.01] [--inputs-encryption enc,clear]",
		example: "  fheir compile model.qonnx.onnx -o ./out/mymodel --rounding-threshold-bits 6\n" +
			"  go run ./out/mymodel/cmd/mymodel --input x.npy --mode execute",
		flags: func(fs *flag.FlagSet) {
			cc.flags(fs)
			fs.StringVar(&outDir, "o", "", "output directory of the generated package (inside a Go module)")
			fs.StringVar(&pkg, "package", "", "Go package name (default: the output directory's name)")
		},
		run: func(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
			if len(args) != 1 || outDir == "" {
				fs.Usage()
				return exitError(2)
			}
			if pkg == "" {
				pkg = packageName(outDir)
			}
			importPath, err := codegen.ImportPathOf(outDir)
			if err != nil {
				return err
			}
			res, err := compileModel(args[0], pkg, &cc, stdout, stderr)
			if err != nil {
				return err
			}
			if res.params != nil {
				return res.params
			}
			files, err := codegen.Generate(res.c, pkg, &codegen.Options{Version: Version, ImportPath: importPath, Post: res.posts})
			if err != nil {
				return err
			}
			if err := codegen.WriteFiles(outDir, files); err != nil {
				return err
			}
			names := make([]string, 0, len(files))
			for n := range files {
				names = append(names, n)
			}
			sort.Strings(names)
			fmt.Fprintf(stdout, "\nwrote package %s (%s) in %s: %s\n", pkg, importPath, outDir, strings.Join(names, ", "))
			fmt.Fprintf(stdout, "run it: go run %s/cmd/%s --input x.npy --mode execute\n", importPath, pkg)
			return nil
		},
	})
}

// fileExists reports whether path names an existing file.
func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}

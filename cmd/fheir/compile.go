package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/fheir/fheir/codegen"
	"github.com/fheir/fheir/frontend"
	"github.com/fheir/fheir/ir"
	"github.com/fheir/fheir/passes"
	"github.com/fheir/fheir/rt"
)

// compileConfig holds the flags shared by compile and demo: how the model
// is imported (importConfig) and what the compilation aims at.
type compileConfig struct {
	importConfig
	roundBits  string
	pError     string
	gPError    string
	calibrated bool
	backend    string
	batch      int
	memLimit   string
}

// flags registers the flags; roundBits is the default of
// -rounding-threshold-bits.
func (cc *compileConfig) flags(fs *flag.FlagSet, roundBits string) {
	cc.importConfig.flags(fs)
	fs.StringVar(&cc.roundBits, "rounding-threshold-bits", roundBits, "make every table lookup read at most N bits: N or N:approximate (empty: no rounding)")
	fs.StringVar(&cc.pError, "p-error", "", "failure probability of one table lookup, e.g. 2^-40 (default 2^-40)")
	fs.StringVar(&cc.gPError, "global-p-error", "", "failure probability of one whole inference, e.g. 0.01")
	fs.StringVar(&cc.backend, "backend", "auto", "crypto backend: tfhe (one lookup per bootstrap, any depth), bgv (SIMD, bounded depth; the packing that fits with the lowest estimate), bgv-batch (BGV, one sample per slot: throughput), bgv-vector (BGV, one sample's values in slots: latency), or auto (the lowest estimated cost among all that fit)")
	fs.IntVar(&cc.batch, "batch", 1, "samples scored together; with --backend auto or bgv, >1 picks by throughput instead of latency")
	fs.StringVar(&cc.memLimit, "memory-limit", "16GiB", "largest estimated server memory a backend may need (e.g. 8GiB, 512MiB; 0: no limit)")
	fs.BoolVar(&cc.calibrated, "calibrated-ranges", false, "narrow bit widths to the ranges the -inputset reaches instead of the sound ones (smaller, but unseen inputs may overflow)")
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
	popts := &passes.Options{Log: stderr}
	if err := parseRounding(cc.roundBits, popts); err != nil {
		return nil, err
	}
	f, err := cc.importModel(path)
	if err != nil {
		return nil, err
	}
	if cc.calibrated {
		if cc.inputset == "" {
			return nil, fmt.Errorf("--calibrated-ranges needs --inputset")
		}
		if popts.Calibration, err = frontend.LoadCalibration(cc.inputset, f); err != nil {
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
	if cc.inputset != "" {
		if err := selfCheck(out, f, c, posts, cc.inputset); err != nil {
			return nil, withFile(path, err)
		}
	}
	mem, err := parseBytes("memory-limit", cc.memLimit)
	if err != nil {
		return nil, err
	}
	sel := rt.SelectOptions{PError: pe, GlobalPError: gpe, MemoryLimit: mem}
	if err := chooseBackend(out, c, cc.backend, cc.batch, sel); err != nil {
		res.params = withFile(path, err)
		return res, nil
	}
	res.info, res.params = codegen.SelectParams(c, sel)
	if res.params != nil {
		res.params = withFile(path, res.params)
		return res, nil
	}
	printParams(out, res.info)
	return res, nil
}

// selfCheck runs the circuit in the clear on up to 16 samples of the input
// set and checks that it computes what the IR interpreter computes, bit
// for bit (a lowering bug must not reach a deployment).
func selfCheck(out io.Writer, f *ir.Func, c *rt.Circuit, posts []codegen.Post, inputset string) error {
	samples, err := frontend.LoadCalibration(inputset, f)
	if err != nil {
		return err
	}
	samples = samples[:min(len(samples), 16)]
	for i, in := range samples {
		want, err := ir.Run(f, in)
		if err != nil {
			fmt.Fprintf(out, "self-check skipped: the interpreter fails on input set sample %d: %v\n", i, err)
			return nil
		}
		x := make([][]float64, len(in))
		for k, t := range in {
			x[k] = t.Floats()
		}
		q, err := c.Quantize(x)
		if err != nil {
			return err
		}
		yq, err := c.Run(context.Background(), rt.Disable, q, nil)
		if err != nil {
			return fmt.Errorf("self-check on input set sample %d: %w", i, err)
		}
		y, err := c.Dequantize(yq)
		if err != nil {
			return err
		}
		for k := range y {
			posts[k].Apply(y[k])
			if !slices.Equal(y[k], want[k].Floats()) {
				return fmt.Errorf("BUG: self-check on input set sample %d: the circuit computes %v for output %d, the IR interpreter %v", i, y[k], k, want[k].Floats())
			}
		}
	}
	fmt.Fprintf(out, "\nself-check: the circuit equals the IR interpreter on %d input set samples\n", len(samples))
	return nil
}

func printParams(out io.Writer, pi rt.ParamsInfo) {
	fmt.Fprintf(out, "\ncrypto parameters: %s/%s, %d-bit security\n", displayScheme(pi.Scheme), pi.Name, pi.SecurityBits)
	fmt.Fprintf(out, "  %s\n", pi.Desc)
	fmt.Fprintf(out, "  messages of %d bits, widest lookup %d bits\n", pi.MsgBits, pi.PBSBits)
	fmt.Fprintf(out, "  p_error %.3g per lookup, %.3g per inference\n", pi.PError, pi.GlobalPError)
	if strings.HasPrefix(pi.Scheme, "bgv") {
		// Lookups run on whole ciphertexts; products and sums add to them.
		fmt.Fprintf(out, "  estimated cost: %d lookups, %v per evaluation on one core (lookups and linear layers)\n",
			pi.TLUs, pi.Estimate.Round(time.Millisecond))
	} else {
		fmt.Fprintf(out, "  estimated cost: %d lookups × %v = %v per inference on one core\n",
			pi.TLUs, pi.CostPerTLU.Round(time.Microsecond), pi.Estimate.Round(time.Millisecond))
	}
	fmt.Fprintf(out, "  keys: evaluation %s (bootstrapping %s, key switching %s), secret %s, %s per ciphertext\n",
		rt.FormatBytes(pi.Keys.Eval), rt.FormatBytes(pi.Keys.Bootstrapping), rt.FormatBytes(pi.Keys.KeySwitching),
		rt.FormatBytes(pi.Keys.Secret), rt.FormatBytes(pi.Keys.Ciphertext))
	fmt.Fprintf(out, "  server memory: about %s for one evaluation on one worker\n", rt.FormatBytes(pi.Memory))
}

// displayScheme names a runtime scheme as --backend does: the runtime's
// batch-major "bgv" is bgv-batch (--backend bgv lets the compiler choose
// the packing).
func displayScheme(s string) string {
	if s == "bgv" {
		return "bgv-batch"
	}
	return s
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
			"       [--rounding-threshold-bits 6[:approximate]] [--p-error 2^-40 | --global-p-error 0.01] [--clear-inputs name,...]",
		example: "  fheir compile model.qonnx.onnx -o ./out/mymodel --rounding-threshold-bits 6:approximate\n" +
			"  go run ./out/mymodel/cmd/mymodel --input x.npy --mode execute",
		flags: func(fs *flag.FlagSet) {
			cc.flags(fs, "")
			fs.StringVar(&outDir, "o", "", "output directory of the generated package (inside a Go module)")
			fs.StringVar(&pkg, "package", "", "Go package name (default: the output directory's name)")
		},
		run: func(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
			if len(args) != 1 || outDir == "" {
				fs.Usage()
				return exitError(2)
			}
			pkg := pkg
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

// chooseBackend sets c.Scheme from --backend: a named scheme, or "auto",
// which prints every scheme's estimate and picks the cheapest that fits
// (latency for one sample, time per sample when batch > 1).
func chooseBackend(out io.Writer, c *rt.Circuit, backend string, batch int, sel rt.SelectOptions) error {
	var among []string
	switch backend {
	case "auto":
	case "bgv":
		among = rt.BGVSchemes
	case "bgv-batch":
		c.Scheme = "bgv"
		return nil
	default:
		if !slices.Contains(rt.AutoSchemes, backend) || backend == "bgv" {
			return fmt.Errorf("--backend %q: want auto, tfhe, bgv, bgv-batch or bgv-vector", backend)
		}
		c.Scheme = backend
		return nil
	}
	best, all, err := c.ChooseScheme(sel, batch, among...)
	printEstimates(out, all, batch)
	if err != nil {
		// Every scheme's reason is listed above. Under auto the TFHE-style
		// backend (the one without a depth limit) reports the error to act
		// on, naming the layer, when its parameters are selected next.
		if backend == "bgv" {
			return err
		}
		c.Scheme = "tfhe"
		return nil
	}
	fmt.Fprintf(out, "backend: %s (%s, lowest estimated %s)\n", displayScheme(best.Scheme), backend, map[bool]string{true: "time per sample", false: "latency"}[batch > 1])
	return nil
}

// parseBytes parses a size such as 16GiB, 512MiB, 8G or 1000000 (bytes).
func parseBytes(flagName, s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.m
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || v*float64(mult) > math.MaxInt64/2 {
		return 0, fmt.Errorf("--%s %q: want a size such as 16GiB, 512MiB or 0", flagName, s)
	}
	return int64(v * float64(mult)), nil
}

func printEstimates(out io.Writer, all []rt.SchemeEstimate, batch int) {
	fmt.Fprintf(out, "\nbackend estimates for %d sample(s), one core:\n", max(batch, 1))
	for _, e := range all {
		if e.Err != nil {
			fmt.Fprintf(out, "  %-11s does not fit: %v\n", displayScheme(e.Scheme), e.Err)
			continue
		}
		fmt.Fprintf(out, "  %-11s %-15s latency %-10v %5d sample(s) per evaluation, %v per sample, memory %s\n",
			displayScheme(e.Scheme), e.Info.Name, e.Latency.Round(time.Millisecond), e.Samples, e.PerSample.Round(time.Microsecond), rt.FormatBytes(e.Info.Memory))
	}
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fheir/fheir/internal/npy"
	"github.com/fheir/fheir/rt"
)

// defaultDemoModel returns the bundled model the demo runs: the digits
// QAT MLP of testdata/models when present, else the wine QAT MLP fixture.
func defaultDemoModel() string {
	for _, m := range []string{
		filepath.Join("testdata", "models", "qat_mlp_demo.qonnx.op14.onnx"),
		filepath.Join("testdata", "fixtures", "qat_simplenet_wine.qonnx.op14.onnx"),
	} {
		if fileExists(m) && fileExists(samplesPath(m, "input")) {
			return m
		}
	}
	return filepath.Join("testdata", "fixtures", "qat_simplenet_wine.qonnx.op14.onnx")
}

// samplesPath returns the .npy file of the given kind ("input", "label")
// next to a model: PREFIX.kind.npy, PREFIX being the model's base name up
// to its first dot.
func samplesPath(model, kind string) string {
	base := filepath.Base(model)
	if i := strings.IndexByte(base, '.'); i > 0 {
		base = base[:i]
	}
	return filepath.Join(filepath.Dir(model), base+"."+kind+".npy")
}

func readRows(path string, size int) ([][]float64, error) {
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
	if size <= 0 || len(data)%size != 0 {
		return nil, fmt.Errorf("%s: %d values are not rows of %d", path, len(data), size)
	}
	rows := make([][]float64, len(data)/size)
	for r := range rows {
		rows[r] = data[r*size : (r+1)*size]
	}
	return rows, nil
}

func argmax(y []float64) int {
	best := 0
	for i, v := range y {
		if v > y[best] {
			best = i
		}
	}
	return best
}

func init() {
	var (
		cc      compileConfig
		n       int
		model   string
		workers int
	)
	register(&command{
		name: "demo",
		summary: "Compile the bundled quantization-aware model, generate keys, encrypt real test samples,\n" +
			"run encrypted inference on a server that holds only the evaluation keys, decrypt, and print\n" +
			"each encrypted prediction next to the clear one and the label, with timings and key sizes.",
		usage: "[-n 10] [-model path.onnx] [compile flags]",
		example: "  fheir demo                    # exact lookups: encrypted outputs equal the clear ones bit for bit\n" +
			"  fheir demo -backend tfhe -rounding-threshold-bits 4               # TFHE, exact rounding to 4-bit lookups\n" +
			"  fheir demo -backend tfhe -rounding-threshold-bits 4:approximate   # TFHE, 4x cheaper, may differ by a unit",
		flags: func(fs *flag.FlagSet) {
			// Exact lookups by default, so that the demo shows encrypted
			// outputs equal to the clear ones bit for bit; with --backend
			// auto the 7-bit lookups of the demo model run on the
			// vector-major BGV backend, under a second per sample.
			cc.flags(fs, "")
			fs.IntVar(&n, "n", 10, "number of test samples to run encrypted")
			fs.StringVar(&model, "model", "", "ONNX model (default: the bundled one); PREFIX.input.npy and PREFIX.label.npy must sit next to it")
			fs.IntVar(&workers, "workers", 0, "goroutines of encrypted evaluation (0: all CPUs)")
		},
		run: func(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
			if len(args) != 0 || n < 1 {
				fs.Usage()
				return exitError(2)
			}
			if model == "" {
				model = defaultDemoModel()
				if !fileExists(model) {
					return fmt.Errorf("bundled model %s not found: run fheir demo from the repository root, or pass -model", model)
				}
			}
			return runDemo(model, n, workers, &cc, stdout, stderr)
		},
	})
}

func runDemo(model string, n, workers int, cc *compileConfig, stdout, stderr io.Writer) error {
	fmt.Fprintf(stdout, "model %s\n\n", model)
	start := time.Now()
	res, err := compileModel(model, "demo", cc, stdout, stderr)
	if err != nil {
		return err
	}
	if res.params != nil {
		return res.params
	}
	fmt.Fprintf(stdout, "compiled in %v\n\n", time.Since(start).Round(time.Millisecond))
	if strings.HasSuffix(cc.roundBits, ":approximate") {
		fmt.Fprintf(stdout, "note: with approximate rounding (-rounding-threshold-bits %s) an encrypted lookup whose input lies\n"+
			"next to a rounding boundary may read the neighbouring entry, so encrypted outputs may differ from the\n"+
			"clear ones by a unit in a few places (simulate mode models this); without \":approximate\" the rounding\n"+
			"is exact (one extra bootstrap per dropped bit on TFHE) and outputs equal the clear ones.\n\n", cc.roundBits)
	}
	c := res.c
	in := &c.Values[c.Inputs[0].Value]
	if len(c.Inputs) != 1 || len(c.Outputs) != 1 {
		return fmt.Errorf("the demo runs models of one input and one output; this one has %d and %d", len(c.Inputs), len(c.Outputs))
	}
	samples, err := readRows(samplesPath(model, "input"), in.Size())
	if err != nil {
		return err
	}
	labelRows, err := readRows(samplesPath(model, "label"), 1)
	if err != nil {
		return err
	}
	if len(labelRows) != len(samples) {
		return fmt.Errorf("%d samples but %d labels", len(samples), len(labelRows))
	}
	n = min(n, len(samples))

	var progress rt.ProgressFunc
	if f, ok := stderr.(*os.File); ok && rt.IsTerminal(f) {
		progress = rt.ProgressPrinter(f)
	}
	// Client: keys.
	client, err := rt.NewClient(c)
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := client.GenerateKeys(progress); err != nil {
		return err
	}
	evalKeys, err := client.EvaluationKeys()
	if err != nil {
		return err
	}
	keygen := time.Since(t0)
	// Server: its own copy of the circuit and the serialized evaluation
	// keys, nothing else.
	blob, err := c.MarshalBinary()
	if err != nil {
		return err
	}
	var sc rt.Circuit
	if err := sc.UnmarshalBinary(blob); err != nil {
		return err
	}
	t0 = time.Now()
	server, err := rt.NewServer(&sc, evalKeys, &rt.Options{Workers: workers, Progress: progress})
	if err != nil {
		return err
	}
	serverLoad := time.Since(t0)

	ctx := context.Background()
	var encT, runT, decT time.Duration
	var inBytes, outBytes, evals int
	fheOK, clearOK, agree, exact := 0, 0, 0, 0
	fmt.Fprintf(stdout, "sample  FHE  clear  label\n")
	// As many samples per encrypted evaluation as the scheme packs (BGV:
	// hundreds or thousands; TFHE: one).
	for lo := 0; lo < n; lo += client.MaxBatch() {
		hi := min(n, lo+client.MaxBatch())
		qs := make([][][]int64, hi-lo)
		for i := lo; i < hi; i++ {
			if qs[i-lo], err = c.Quantize([][]float64{samples[i]}); err != nil {
				return err
			}
		}
		// Encrypted: client encrypts, server evaluates, client decrypts.
		t0 := time.Now()
		ct, err := client.EncryptQuantizedBatch(qs)
		if err != nil {
			return fmt.Errorf("samples %d-%d: %w", lo, hi-1, err)
		}
		t1 := time.Now()
		out, err := server.Run(ctx, ct)
		if err != nil {
			return fmt.Errorf("samples %d-%d: %w", lo, hi-1, err)
		}
		t2 := time.Now()
		fqs, err := client.DecryptQuantizedBatch(out)
		if err != nil {
			return fmt.Errorf("samples %d-%d: %w", lo, hi-1, err)
		}
		decT += time.Since(t2)
		encT, runT = encT+t1.Sub(t0), runT+t2.Sub(t1)
		inBytes, outBytes = inBytes+len(ct), outBytes+len(out)
		evals++
		for i := lo; i < hi; i++ {
			label := int(labelRows[i][0])
			// Clear reference: the same circuit in Disable mode.
			cq, err := c.Run(ctx, rt.Disable, qs[i-lo], nil)
			if err != nil {
				return fmt.Errorf("sample %d (clear): %w", i, err)
			}
			cy, err := c.Dequantize(cq)
			if err != nil {
				return err
			}
			res.posts[0].Apply(cy[0])
			fq := fqs[i-lo]
			fy, err := c.Dequantize(fq)
			if err != nil {
				return err
			}
			res.posts[0].Apply(fy[0])
			fp, cp := argmax(fy[0]), argmax(cy[0])
			var diff int64 // largest difference of the integer outputs
			for j := range fq[0] {
				diff = max(diff, fq[0][j]-cq[0][j], cq[0][j]-fq[0][j])
			}
			mark := ""
			if fp == label {
				fheOK++
			} else {
				mark = "  (FHE wrong)"
			}
			if cp == label {
				clearOK++
			}
			if fp == cp {
				agree++
			}
			if diff == 0 {
				exact++
			} else {
				mark += fmt.Sprintf("  (integer outputs differ from clear by up to %d)", diff)
			}
			fmt.Fprintf(stdout, "%6d  %3d  %5d  %5d%s\n", i, fp, cp, label, mark)
		}
	}
	ks := client.KeySizes()
	per := func(d time.Duration) time.Duration { return d / time.Duration(n) }
	fmt.Fprintf(stdout, "\n%d sample(s) in %d encrypted evaluation(s) of up to %d (%s)\n", n, evals, client.MaxBatch(), c.Scheme)
	fmt.Fprintf(stdout, "timings: keygen %v, server key load %v; encrypt %v, encrypted inference %v, decrypt %v in all; per sample: encrypted inference %v\n",
		keygen.Round(time.Millisecond), serverLoad.Round(time.Millisecond), encT.Round(time.Millisecond),
		runT.Round(time.Millisecond), decT.Round(time.Millisecond), per(runT).Round(time.Millisecond))
	fmt.Fprintf(stdout, "sizes: evaluation keys %s, secret key %s, encrypted inputs %s, encrypted outputs %s (per evaluation)\n",
		rt.FormatBytes(int64(len(evalKeys))), rt.FormatBytes(ks.Secret), rt.FormatBytes(int64(inBytes/evals)), rt.FormatBytes(int64(outBytes/evals)))
	fmt.Fprintf(stdout, "accuracy over %d samples: FHE %d/%d, clear %d/%d; FHE prediction = clear prediction %d/%d; integer outputs equal %d/%d\n",
		n, fheOK, n, clearOK, n, agree, n, exact, n)
	return nil
}

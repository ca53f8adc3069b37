package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/fheir/fheir/codegen"
	"github.com/fheir/fheir/frontend"
	"github.com/fheir/fheir/frontend/onnx"
	"github.com/fheir/fheir/frontend/quant"
	"github.com/fheir/fheir/ir"
	"github.com/fheir/fheir/passes"
	"github.com/fheir/fheir/rt"
)

// importConfig holds the flags that say how a model is read and quantized.
type importConfig struct {
	nBits      string
	inputset   string
	qat        bool
	perChannel bool
	dimSize    int
	clear      string
}

func (ic *importConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&ic.nBits, "n-bits", "", "post-training quantization width: N, or a map such as model_inputs=8,op_inputs=4,op_weights=4,model_outputs=8 (default 8; QAT models take theirs from the graph)")
	fs.StringVar(&ic.inputset, "inputset", "", "calibration inputs (.npy, .npz with one array per input, or .csv): needed for post-training quantization")
	fs.BoolVar(&ic.qat, "qat", false, "force quantization-aware import (the graph must hold quantizers, or fake quantization as plain ops)")
	fs.BoolVar(&ic.perChannel, "per-channel", false, "post-training quantization: one weight scale per output channel")
	fs.IntVar(&ic.dimSize, "dim-size", 1, "size given to symbolic (batch) dimensions of the ONNX graph")
	fs.StringVar(&ic.clear, "clear-inputs", "", "comma-separated ONNX input names that stay unencrypted")
}

func (ic *importConfig) options() (frontend.Options, error) {
	o := frontend.Options{QAT: ic.qat, PerChannel: ic.perChannel, BatchSize: ic.dimSize, CalibrationPath: ic.inputset}
	if ic.nBits != "" {
		nb, err := quant.ParseNBits(ic.nBits)
		if err != nil {
			return o, fmt.Errorf("-n-bits %q: %v", ic.nBits, err)
		}
		o.NBits = nb
	}
	if ic.clear != "" {
		o.ClearInputs = map[string]bool{}
		for _, n := range strings.Split(ic.clear, ",") {
			o.ClearInputs[strings.TrimSpace(n)] = true
		}
	}
	return o, nil
}

// importModel reads an .onnx or .fir model into integer IR.
func (ic *importConfig) importModel(path string) (*ir.Func, error) {
	o, err := ic.options()
	if err != nil {
		return nil, err
	}
	return frontend.Import(path, o)
}

func init() {
	var ic importConfig
	var out string
	register(&command{
		name:    "import",
		summary: "Import an ONNX model (torch, Brevitas QONNX or QCDQ) into fheir's integer IR.\nQAT graphs are recognised by their quantizers; float graphs are quantized\nafter training with -n-bits and a calibration -inputset.",
		usage:   "[flags] model.onnx [-o model.fir]",
		example: "  fheir import testdata/models/qat_mlp_demo.qonnx.op14.onnx -o mlp.fir\n  fheir import model.onnx -n-bits 6 -inputset calib.npy -o model.fir\n  fheir import model.onnx -n-bits op_inputs=4,op_weights=3 -inputset calib.npy",
		flags: func(fs *flag.FlagSet) {
			ic.flags(fs)
			fs.StringVar(&out, "o", "", "write the IR here instead of stdout")
		},
		run: func(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
			if len(args) != 1 {
				fs.Usage()
				return exitError(2)
			}
			f, err := ic.importModel(args[0])
			if err != nil {
				return err
			}
			return writeOut(out, stdout, ir.Print(f))
		},
	})

	var ic2 importConfig
	var asJSON bool
	var pipeline, roundBits string
	var batch int
	var memLimit string
	register(&command{
		name:    "info",
		summary: "Describe a model as it will be compiled: after the default pipeline, per layer the\naccumulator range and bits, the table lookup width, the number of lookups and the\n2-norm of the weights feeding each lookup; totals as in a bit-width report.",
		usage:   "[flags] model.onnx|model.fir",
		example: "  fheir info testdata/models/qat_mlp_demo.qonnx.op14.onnx\n  fheir info -json model.fir\n  fheir info -rounding-threshold-bits 6 -n-bits 8 -inputset calib.npy float.onnx",
		flags: func(fs *flag.FlagSet) {
			ic2.flags(fs)
			fs.BoolVar(&asJSON, "json", false, "print the report as JSON")
			fs.StringVar(&pipeline, "p", "default", "pass pipeline to run first")
			fs.StringVar(&roundBits, "rounding-threshold-bits", "", "make every table lookup read at most N bits: N or N:approximate")
			fs.IntVar(&batch, "batch", 1, "samples scored together, for the backends' per-sample estimates")
			fs.StringVar(&memLimit, "memory-limit", "16GiB", "largest estimated server memory a backend may need (0: no limit)")
		},
		run: func(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
			if len(args) != 1 {
				fs.Usage()
				return exitError(2)
			}
			mem, err := parseBytes("memory-limit", memLimit)
			if err != nil {
				return err
			}
			f, err := ic2.importModel(args[0])
			if err != nil {
				return err
			}
			opts := &passes.Options{Log: stderr}
			if err := parseRounding(roundBits, opts); err != nil {
				return err
			}
			if err := passes.Run(f, pipeline, opts); err != nil {
				return withFile(args[0], err)
			}
			r := passes.Analyze(f)
			var est []rt.SchemeEstimate
			c, _, lowerErr := codegen.Lower(f)
			if lowerErr == nil {
				est = c.EstimateSchemes(rt.SelectOptions{MemoryLimit: mem}, batch)
			}
			if asJSON {
				type backend struct {
					Scheme    string  `json:"scheme"`
					Memory    int64   `json:"memory_bytes,omitempty"`
					Params    string  `json:"params,omitempty"`
					Samples   int     `json:"samples_per_evaluation,omitempty"`
					Latency   float64 `json:"latency_seconds,omitempty"`
					PerSample float64 `json:"seconds_per_sample,omitempty"`
					Error     string  `json:"error,omitempty"`
				}
				out := struct {
					*passes.Report
					Backends []backend `json:"backends"`
				}{Report: r}
				for _, e := range est {
					b := backend{Scheme: displayScheme(e.Scheme)}
					if e.Err != nil {
						b.Error = e.Err.Error()
					} else {
						b.Params, b.Samples, b.Memory = e.Info.Name, e.Samples, e.Info.Memory
						b.Latency, b.PerSample = e.Latency.Seconds(), e.PerSample.Seconds()
					}
					out.Backends = append(out.Backends, b)
				}
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			if err := r.WriteText(stdout); err != nil {
				return err
			}
			if lowerErr != nil {
				fmt.Fprintf(stdout, "\nno backend estimate: %v\n", lowerErr)
				return nil
			}
			printEstimates(stdout, est, batch)
			return nil
		},
	})

	register(&command{
		name:    "ops",
		summary: "List the ONNX operators the frontend imports and the IR's op table.",
		run: func(_ *flag.FlagSet, _ []string, stdout, _ io.Writer) error {
			fmt.Fprintf(stdout, "ONNX operators (%d):\n", len(onnx.SupportedOps()))
			writeWrapped(stdout, onnx.SupportedOps())
			fmt.Fprintf(stdout, "\nIR ops:\n")
			for _, op := range ir.AllOps() {
				fmt.Fprintf(stdout, "  %-14s %s\n", op, op.Info().Doc)
			}
			return nil
		},
	})

	register(&command{
		name:    "accumulators",
		summary: "Print how many active neurons of a dense layer fit 8..16-bit accumulators for\nseveral activation/weight bit widths, under sound range analysis and under\ncalibration on random inputs (fheir's version of the usual sizing table).",
		run: func(_ *flag.FlagSet, _ []string, stdout, _ io.Writer) error {
			return passes.WriteAccumulatorTable(stdout, passes.DefaultAccumulatorStudy)
		},
	})
}

func writeWrapped(w io.Writer, words []string) {
	line := " "
	for _, s := range words {
		if len(line)+len(s)+1 > 88 {
			fmt.Fprintln(w, line)
			line = " "
		}
		line += " " + s
	}
	if strings.TrimSpace(line) != "" {
		fmt.Fprintln(w, line)
	}
}

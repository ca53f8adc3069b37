package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/fheir/fheir/internal/npy"
	"github.com/fheir/fheir/ir"
	"github.com/fheir/fheir/passes"
)

func init() {
	var (
		pipeline   string
		out        string
		printAfter string
		timing     bool
		noVerify   bool
		roundBits  string
	)
	register(&command{
		name:    "opt",
		summary: "Run a pass pipeline on a .fir file and print the result.\nThe verifier runs after every pass unless -no-verify is given.",
		usage:   "[-p pass,pass] [-o out.fir] [-print-after NAME|all] [-time] in.fir",
		example: "  fheir opt -p cse,dce model.fir\n  fheir opt -p default -print-after all -time model.fir -o opt.fir\n  fheir opt -p help        # list the passes",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&pipeline, "p", "default", "comma-separated passes, or \"default\" for the default pipeline, or \"help\"")
			fs.StringVar(&out, "o", "", "write the result here instead of stdout")
			fs.StringVar(&printAfter, "print-after", "", "print the IR after pass NAME, or after every pass with \"all\" (to stderr)")
			fs.BoolVar(&timing, "time", false, "print the time each pass takes (to stderr)")
			fs.BoolVar(&noVerify, "no-verify", false, "do not run the verifier after each pass")
			fs.StringVar(&roundBits, "rounding-threshold-bits", "", "for the round pass: N or N:approximate")
		},
		run: func(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
			if pipeline == "help" {
				for _, n := range passes.Names() {
					fmt.Fprintf(stdout, "  %-16s %s\n", n, passes.Summary(n))
				}
				fmt.Fprintf(stdout, "\ndefault pipeline: %s\n", passes.DefaultPipeline)
				return nil
			}
			if len(args) != 1 {
				fs.Usage()
				return exitError(2)
			}
			f, err := loadFIR(args[0])
			if err != nil {
				return err
			}
			opts := &passes.Options{NoVerify: noVerify, PrintAfter: printAfter, Time: timing, Log: stderr}
			if err := parseRounding(roundBits, opts); err != nil {
				return err
			}
			if err := passes.Run(f, pipeline, opts); err != nil {
				return withFile(args[0], err)
			}
			return writeOut(out, stdout, ir.Print(f))
		},
	})
	register(&command{
		name:    "verify",
		summary: "Parse and verify a .fir file; print positioned errors and exit 1 if any.",
		usage:   "in.fir...",
		example: "  fheir verify model.fir",
		run: func(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
			if len(args) == 0 {
				fs.Usage()
				return exitError(2)
			}
			bad := false
			for _, a := range args {
				if _, err := loadFIR(a); err != nil {
					fmt.Fprintln(stderr, err)
					bad = true
				}
			}
			if bad {
				return exitError(1)
			}
			return nil
		},
	})
	var inputs multiFlag
	register(&command{
		name:    "run",
		summary: "Interpret a .fir function on clear inputs and print its results.\nEach -input is a .npy file or a comma-separated list of numbers, one per parameter.\nWhen a .npy holds N rows and the parameter's first dimension is 1, each row runs in turn.",
		usage:   "in.fir -input x.npy [-input ...]",
		example: "  fheir run golden/testdata/demo/tiny.fir -input 0.5,-1,2,0.25\n  fheir run model.fir -input inputs.npy",
		flags: func(fs *flag.FlagSet) {
			fs.Var(&inputs, "input", "input for the next parameter: a .npy file or numbers \"1,2,3\" (repeatable)")
		},
		run: func(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
			if len(args) != 1 {
				fs.Usage()
				return exitError(2)
			}
			f, err := loadFIR(args[0])
			if err != nil {
				return err
			}
			if len(inputs) != len(f.Params) {
				return fmt.Errorf("%s: function %s takes %d inputs, got %d -input flags", args[0], f.Name, len(f.Params), len(inputs))
			}
			batches, err := readInputs(f, inputs)
			if err != nil {
				return err
			}
			for row, in := range batches {
				outs, err := ir.Run(f, in)
				if err != nil {
					return withFile(args[0], err)
				}
				for i, o := range outs {
					prefix := fmt.Sprintf("result %d", i)
					if len(batches) > 1 {
						prefix = fmt.Sprintf("row %d result %d", row, i)
					}
					fmt.Fprintf(stdout, "%s: %s\n", prefix, formatTensor(o))
				}
			}
			return nil
		},
	})
}

func loadFIR(path string) (*ir.Func, error) { return ir.Load(path) }

// withFile stamps a file name on IR errors that lack one.
func withFile(path string, err error) error {
	switch e := err.(type) {
	case ir.ErrorList:
		for _, x := range e {
			if x.File == "" {
				x.File = path
			}
		}
	case *ir.Error:
		if e.File == "" {
			e.File = path
		}
	}
	return err
}

func writeOut(path string, stdout io.Writer, s string) error {
	if path == "" {
		_, err := io.WriteString(stdout, s)
		return err
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

func parseRounding(s string, opts *passes.Options) error {
	if s == "" {
		return nil
	}
	n, method, _ := strings.Cut(s, ":")
	bits, err := strconv.Atoi(n)
	if err != nil || bits < 1 {
		return fmt.Errorf("-rounding-threshold-bits %q: want N or N:exact or N:approximate", s)
	}
	if method == "" {
		method = "exact"
	}
	if method != "exact" && method != "approximate" {
		return fmt.Errorf("-rounding-threshold-bits %q: method must be exact or approximate", s)
	}
	opts.RoundingBits, opts.RoundingMethod = bits, method
	return nil
}

// readInputs turns -input flags into one or more input sets.
func readInputs(f *ir.Func, specs []string) ([][]*ir.Tensor, error) {
	rows := 1
	per := make([][]*ir.Tensor, len(specs))
	for i, spec := range specs {
		p := f.Params[i]
		var data []float64
		if strings.HasSuffix(spec, ".npy") {
			a, err := npy.ReadFile(spec)
			if err != nil {
				return nil, err
			}
			data = a.F
			if data == nil {
				data = make([]float64, len(a.I))
				for k, x := range a.I {
					data[k] = float64(x)
				}
			}
		} else {
			for _, s := range strings.Split(spec, ",") {
				x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
				if err != nil {
					return nil, fmt.Errorf("-input %q: %q is not a number", spec, s)
				}
				data = append(data, x)
			}
		}
		n := p.Type.Size()
		if n == 0 || len(data)%n != 0 || (len(data) != n && (len(p.Type.Shape) == 0 || p.Type.Shape[0] != 1)) {
			return nil, fmt.Errorf("-input %q: %d values do not fill parameter %d of type %s", spec, len(data), i, p.Type)
		}
		k := len(data) / n
		if k > 1 {
			if rows > 1 && rows != k {
				return nil, fmt.Errorf("-input %q has %d rows, other inputs have %d", spec, k, rows)
			}
			rows = k
		}
		for r := 0; r < k; r++ {
			chunk := data[r*n : (r+1)*n]
			if p.Type.Elem.Float {
				per[i] = append(per[i], ir.NewFloats(p.Type.Shape, append([]float64{}, chunk...)))
				continue
			}
			iv := make([]int64, n)
			for j, x := range chunk {
				if x != float64(int64(x)) {
					return nil, fmt.Errorf("-input %q: %v is not an integer, parameter %d is %s", spec, x, i, p.Type)
				}
				iv[j] = int64(x)
			}
			per[i] = append(per[i], ir.NewInts(p.Type.Shape, iv))
		}
	}
	out := make([][]*ir.Tensor, rows)
	for r := range out {
		for i := range specs {
			out[r] = append(out[r], per[i][min(r, len(per[i])-1)])
		}
	}
	return out, nil
}

func formatTensor(t *ir.Tensor) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v [", t.Shape)
	for i := 0; i < t.Len(); i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		if t.Float {
			b.WriteString(strconv.FormatFloat(t.F[i], 'g', 6, 64))
		} else {
			b.WriteString(strconv.FormatInt(t.I[i], 10))
		}
	}
	b.WriteByte(']')
	return b.String()
}

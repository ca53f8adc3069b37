package passes

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/fheir/fheir/ir"
)

// Options configures Run. The zero value (and a nil *Options) runs with the
// verifier on, no printing, no rounding and ir.MaxTLUBits.
type Options struct {
	NoVerify   bool      // skip ir.Verify after each pass
	PrintAfter string    // pass name or "all": print the IR after it to Log
	Time       bool      // write per-pass durations to Log
	Log        io.Writer // receives print-after output, timings and warnings

	// RoundingBits, when positive, makes every table lookup read at most
	// this many bits by inserting `round` ops (Concrete ML's
	// rounding_threshold_bits). RoundingMethod is "exact" (default) or
	// "approximate".
	RoundingBits   int
	RoundingMethod string

	// Calibration is an optional input set (one []*ir.Tensor per sample,
	// one tensor per parameter); narrow then uses the ranges seen on it
	// instead of the sound ones and warns that unseen inputs may overflow.
	Calibration [][]*ir.Tensor

	// MaxTLUBits is the widest table lookup input allowed (default
	// ir.MaxTLUBits). A lower limit makes fuse-tlu and round report
	// AccumulatorTooWide earlier; the verifier rejects tables wider than
	// ir.MaxTLUBits whatever this says.
	MaxTLUBits int
}

// DefaultPipeline is what `fheir opt -p default` and `fheir compile` run.
//
//   - canonicalize first, so that clear subgraphs are constants and the
//     later passes only see encrypted computation;
//   - fold-batchnorm before fuse-tlu, since after fusion the affine op is
//     hidden in a table;
//   - narrow before fuse-tlu, so that tables are built over the sound range
//     of their input (and tables read narrowed types, as the verifier asks);
//   - fuse-tlu then merge-linear: once univariate regions are tables, the
//     linear ops left between them can merge; cse and dce clean up;
//   - narrow again (new values need ranges and types), then round, which
//     applies rounding_threshold_bits to any table still too wide and
//     reports AccumulatorTooWide; a last dce.
const DefaultPipeline = "canonicalize,fold-batchnorm,narrow,fuse-tlu,merge-linear,cse,dce,narrow,round,dce"

// pass is one entry of the pass table.
type pass struct {
	name    string
	summary string
	run     func(*state) error
}

// state is what a pass sees: the function, the options and pass-local
// options from the pipeline string.
type state struct {
	f    *ir.Func
	opts *Options
	args map[string]string
}

func (s *state) logf(format string, a ...any) {
	if s.opts.Log != nil {
		fmt.Fprintf(s.opts.Log, format+"\n", a...)
	}
}

func (s *state) maxTLUBits() int {
	if s.opts.MaxTLUBits > 0 {
		return s.opts.MaxTLUBits
	}
	return ir.MaxTLUBits
}

// passTable lists every pass in the order the default pipeline uses them.
var passTable = []pass{
	{"canonicalize", "fold ops on constants with the interpreter; remove identities (x+0, x*1, reshape to the same shape, double neg...)", canonicalize},
	{"fold-batchnorm", "fold a per-channel affine op after a linear op into its weights, bias or dequantize scale when that is exact", foldBatchnorm},
	{"narrow", "interval range analysis of every integer value; set range facts and rewrite integer types to the minimal width", narrow},
	{"fuse-tlu", "collapse each maximal element-wise region reading one encrypted integer into one table lookup", fuseTLU},
	{"merge-linear", "merge consecutive linear ops with clear weights (bias adds, scalings, gemm chains) when the accumulator does not widen", mergeLinear},
	{"cse", "merge values computing the same op on the same operands (constants compared by content)", cse},
	{"dce", "remove values that no result depends on", dce},
	{"round", "insert round before table lookups reading more than rounding_threshold_bits; check the maximum lookup width", roundPass},
}

// constraint says that pass before must come before pass after, for reason.
type constraint struct{ before, after, reason string }

// orderConstraints are checked at init against the table order and the
// default pipeline.
var orderConstraints = []constraint{
	{"canonicalize", "fuse-tlu", "clear subgraphs must be constants before regions are collected: a region may only read constants"},
	{"fold-batchnorm", "fuse-tlu", "after fusion the per-channel affine op is hidden inside a table and can no longer fold into weights"},
	{"narrow", "fuse-tlu", "tables are built over the input's range and must read a narrowed type of at most MaxTLUBits"},
	{"fuse-tlu", "merge-linear", "linear ops are only consecutive once the univariate regions between them are tables (or gone)"},
	{"fuse-tlu", "round", "round rewrites tables, so they must exist"},
	{"narrow", "round", "round needs the range of each table input to know how many bits to drop"},
}

func init() {
	index := make(map[string]int)
	for i, p := range passTable {
		if _, dup := index[p.name]; dup {
			panic("BUG: duplicate pass " + p.name)
		}
		index[p.name] = i
	}
	def := strings.Split(DefaultPipeline, ",")
	for _, c := range orderConstraints {
		b, okb := index[c.before]
		a, oka := index[c.after]
		if !okb || !oka {
			panic("BUG: ordering constraint names an unknown pass: " + c.before + " < " + c.after)
		}
		if b >= a {
			panic("BUG: pass table puts " + c.after + " before " + c.before + ": " + c.reason)
		}
		first := func(n string) int {
			for i, d := range def {
				if d == n {
					return i
				}
			}
			return -1
		}
		fb, fa := first(c.before), first(c.after)
		if fb < 0 || fa < 0 || fb > fa {
			panic("BUG: default pipeline violates " + c.before + " < " + c.after + ": " + c.reason)
		}
	}
	for _, d := range def {
		if _, ok := index[d]; !ok {
			panic("BUG: default pipeline names unknown pass " + d)
		}
	}
}

// Names returns the pass names in table order.
func Names() []string {
	out := make([]string, len(passTable))
	for i, p := range passTable {
		out[i] = p.name
	}
	return out
}

// Summary returns the one-line description of a pass ("" when unknown).
func Summary(name string) string {
	if p := lookup(name); p != nil {
		return p.summary
	}
	return ""
}

func lookup(name string) *pass {
	for i := range passTable {
		if passTable[i].name == name {
			return &passTable[i]
		}
	}
	return nil
}

type step struct {
	p    *pass
	args map[string]string
}

// parsePipeline splits "a,b{k=v k2=v2},c" into steps.
func parsePipeline(pipeline string) ([]step, error) {
	pipeline = strings.TrimSpace(pipeline)
	if pipeline == "" || pipeline == "default" {
		pipeline = DefaultPipeline
	}
	var steps []step
	for len(pipeline) > 0 {
		end := strings.IndexAny(pipeline, ",{")
		if end < 0 {
			end = len(pipeline)
		}
		name := strings.TrimSpace(pipeline[:end])
		pipeline = pipeline[end:]
		var args map[string]string
		if strings.HasPrefix(pipeline, "{") {
			close := strings.IndexByte(pipeline, '}')
			if close < 0 {
				return nil, fmt.Errorf("pipeline: missing '}' after options of %s", name)
			}
			args = make(map[string]string)
			for _, kv := range strings.Fields(pipeline[1:close]) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return nil, fmt.Errorf("pipeline: option %q of %s: want key=value", kv, name)
				}
				args[k] = v
			}
			pipeline = pipeline[close+1:]
		}
		pipeline = strings.TrimPrefix(strings.TrimSpace(pipeline), ",")
		if name == "" {
			return nil, fmt.Errorf("pipeline: empty pass name")
		}
		p := lookup(name)
		if p == nil {
			return nil, fmt.Errorf("pipeline: unknown pass %q (passes: %s)", name, strings.Join(Names(), ", "))
		}
		steps = append(steps, step{p, args})
	}
	return steps, nil
}

// Run runs a pipeline ("" or "default" for DefaultPipeline) on f in place.
// Unless opts.NoVerify, the verifier runs after every pass and its errors
// are reported as "after pass NAME: ...". A panic in a pass is returned as
// "panic during pass NAME on func F: ...". Pass errors are ir.Error or
// ir.ErrorList values with stable codes (e.g. ir.AccumulatorTooWide).
func Run(f *ir.Func, pipeline string, opts *Options) error {
	if opts == nil {
		opts = &Options{}
	}
	steps, err := parsePipeline(pipeline)
	if err != nil {
		return err
	}
	if p := opts.PrintAfter; p != "" && p != "all" && lookup(p) == nil {
		return fmt.Errorf("print-after: unknown pass %q (passes: %s)", p, strings.Join(Names(), ", "))
	}
	for _, st := range steps {
		f.Renumber() // messages name values as printed
		s := &state{f: f, opts: opts, args: st.args}
		start := time.Now()
		if err := runOne(st.p, s); err != nil {
			return err
		}
		if opts.Time && opts.Log != nil {
			fmt.Fprintf(opts.Log, "pass %-14s %v\n", st.p.name, time.Since(start).Round(time.Microsecond))
		}
		if (opts.PrintAfter == "all" || opts.PrintAfter == st.p.name) && opts.Log != nil {
			fmt.Fprintf(opts.Log, "// after pass %s\n%s", st.p.name, ir.Print(f))
		}
		if !opts.NoVerify {
			if err := ir.Verify(f); err != nil {
				return fmt.Errorf("after pass %s: %w", st.p.name, err)
			}
		}
	}
	return nil
}

func runOne(p *pass, s *state) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic during pass %s on func %s: %v", p.name, s.f.Name, r)
		}
	}()
	for k := range s.args {
		if !knownArg(p.name, k) {
			return fmt.Errorf("pipeline: pass %s has no option %q", p.name, k)
		}
	}
	return p.run(s)
}

func knownArg(pass, key string) bool {
	switch pass {
	case "round", "fuse-tlu":
		return key == "bits" || key == "method"
	}
	return false
}

// roundingBits returns the rounding threshold and method: the pass option
// {bits=N method=M} wins over Options.
func (s *state) rounding() (int, string, error) {
	n, m := s.opts.RoundingBits, s.opts.RoundingMethod
	if v, ok := s.args["bits"]; ok {
		x, err := strconv.Atoi(v)
		if err != nil || x < 0 {
			return 0, "", fmt.Errorf("pipeline: bits=%q: want a non-negative integer", v)
		}
		n = x
	}
	if v, ok := s.args["method"]; ok {
		m = v
	}
	if m == "" {
		m = "exact"
	}
	if m != "exact" && m != "approximate" {
		return 0, "", fmt.Errorf("rounding method %q: want exact or approximate", m)
	}
	return n, m, nil
}

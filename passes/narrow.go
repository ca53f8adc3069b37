package passes

import (
	"fmt"

	"github.com/fheir/fheir/ir"
)

// narrow sets the range fact of every integer body value (constants aside)
// and rewrites its type to the minimal width holding it.
//
// Ranges are sound (see analyzeRanges) unless Options.Calibration is given:
// then each value's range is what the calibration inputs produce (within
// the sound range), as Concrete ML does, and a warning says that other
// inputs may overflow the narrowed types. Analyze marks such layers as
// calibrated (their fact is narrower than the sound range).
func narrow(s *state) error {
	f := s.f
	env := analyzeRanges(f)
	var seen map[*ir.Value]ir.Range
	if len(s.opts.Calibration) > 0 {
		var err error
		if seen, err = calibrate(f, s.opts.Calibration); err != nil {
			return err
		}
		s.logf("narrow: warning: ranges calibrated on %d inputs; other inputs may overflow the narrowed types", len(s.opts.Calibration))
	}
	// Minimal widths demanded by users: round must drop fewer bits than its
	// operand has.
	need := make(map[*ir.Value]int)
	for _, v := range f.Body {
		if v.Op == ir.OpRound {
			need[v.Args[0]] = max(need[v.Args[0]], int(v.Int("bits", 1))+1)
		}
	}
	for _, v := range f.Body {
		iv := env[v]
		if iv == nil || v.Op == ir.OpConst {
			continue
		}
		r := iv.union()
		if c, ok := seen[v]; ok {
			r = c.Intersect(r)
			if r.Lo > r.Hi {
				r = c
			}
		}
		tr := r
		switch v.Op {
		case ir.OpTLU: // every table entry must fit the type
			tr = tr.Union(tensorRange(v.TensorAttr("table").I))
		case ir.OpQuantize: // qmin and qmax must fit the type
			tr = tr.Union(ir.Range{Lo: v.Int("qmin", 0), Hi: v.Int("qmax", 0)})
		}
		e := tr.Elem()
		if n := need[v]; int(e.Bits) < n {
			e.Bits = uint8(n)
		}
		rr := r
		v.Range = &rr
		v.Type.Elem = e
	}
	return nil
}

// calibrate runs f on every sample and returns the range each integer value
// takes.
func calibrate(f *ir.Func, samples [][]*ir.Tensor) (map[*ir.Value]ir.Range, error) {
	seen := make(map[*ir.Value]ir.Range)
	for i, in := range samples {
		env, err := ir.Eval(f, in)
		if err != nil {
			return nil, fmt.Errorf("narrow: calibration input %d: %w", i, err)
		}
		for v, t := range env {
			if t.Float || t.Len() == 0 {
				continue
			}
			r := tensorRange(t.I)
			if old, ok := seen[v]; ok {
				r = r.Union(old)
			}
			seen[v] = r
		}
	}
	return seen, nil
}

// soundRanges returns the union range of every integer value.
func soundRanges(f *ir.Func) map[*ir.Value]ir.Range {
	out := make(map[*ir.Value]ir.Range)
	for v, iv := range analyzeRanges(f) {
		out[v] = iv.union()
	}
	return out
}

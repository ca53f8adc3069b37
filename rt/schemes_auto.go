package rt

import (
	"strings"
	"time"
)

// SchemeEstimate is one crypto scheme's fit for a circuit (see
// EstimateSchemes).
type SchemeEstimate struct {
	Scheme string
	// Info describes the parameters the scheme would use (zero with Err).
	Info ParamsInfo
	// Samples is how many samples one evaluation carries (1 for TFHE, the
	// slot count for batch-major BGV, the interleaved layout's samples for
	// vector-major BGV).
	Samples int
	// Latency is the estimated single-core time of one evaluation;
	// PerSample the estimated single-core time per sample for the batch
	// asked (evaluations needed × Latency / batch).
	Latency, PerSample time.Duration
	// Err says why the scheme does not fit (DepthExceeded,
	// NoCryptoParameters, AccumulatorTooWide, ...).
	Err error
}

// AutoSchemes lists the schemes ChooseScheme considers; on equal
// estimates the earlier wins.
var AutoSchemes = []string{"tfhe", "bgv-vector", "bgv"}

// BGVSchemes lists the two packings of the BGV backend: vector-major
// (latency) and batch-major (throughput).
var BGVSchemes = []string{"bgv-vector", "bgv"}

// EstimateSchemes selects parameters for c under each of the schemes
// among names (all of AutoSchemes when empty) on copies (c is not
// modified), and estimates the cost of evaluating batch samples (batch ≤
// 1: one).
func (c *Circuit) EstimateSchemes(opts SelectOptions, batch int, among ...string) []SchemeEstimate {
	batch = max(batch, 1)
	if len(among) == 0 {
		among = AutoSchemes
	}
	var out []SchemeEstimate
	for _, name := range among {
		if _, ok := schemes[name]; !ok {
			continue
		}
		d := *c
		d.Scheme, d.Params = name, ""
		e := SchemeEstimate{Scheme: name}
		pi, err := d.SelectParams(opts)
		if err != nil {
			e.Err = err
			out = append(out, e)
			continue
		}
		e.Info, e.Samples, e.Latency = pi, d.samplesPerEvaluation(), pi.Estimate
		evals := (batch + e.Samples - 1) / e.Samples
		e.PerSample = time.Duration(evals) * e.Latency / time.Duration(batch)
		out = append(out, e)
	}
	return out
}

// samplesPerEvaluation returns how many samples one evaluation of c (with
// parameters chosen) carries.
func (c *Circuit) samplesPerEvaluation() int {
	switch c.Scheme {
	case "bgv":
		if p, err := bgvParams(c); err == nil {
			return p.Slots()
		}
	case "bgv-vector":
		if p, err := bgvParams(c); err == nil {
			if l, err := bgvLayout(c, p); err == nil {
				return l.Samples()
			}
		}
	}
	return 1
}

// ChooseScheme picks among the named schemes (all of AutoSchemes when
// empty) the one that fits c with the lowest estimated latency (batch ≤ 1)
// or time per sample (batch > 1), records its parameters in c (as
// SelectParams does) and returns its estimate with all of them. When none
// fits the error (NoCryptoParameters) lists each scheme's reason.
func (c *Circuit) ChooseScheme(opts SelectOptions, batch int, among ...string) (SchemeEstimate, []SchemeEstimate, error) {
	all := c.EstimateSchemes(opts, batch, among...)
	best := -1
	for i, e := range all {
		if e.Err != nil {
			continue
		}
		cost, bestCost := e.Latency, time.Duration(0)
		if batch > 1 {
			cost = e.PerSample
		}
		if best >= 0 {
			bestCost = all[best].Latency
			if batch > 1 {
				bestCost = all[best].PerSample
			}
		}
		if best < 0 || cost < bestCost {
			best = i
		}
	}
	if best < 0 {
		var why []string
		for _, e := range all {
			why = append(why, e.Scheme+": "+e.Err.Error())
		}
		return SchemeEstimate{}, all, errf(NoCryptoParameters, "circuit %q fits no crypto scheme (%s)", c.Name, strings.Join(why, "; "))
	}
	c.Scheme = all[best].Scheme
	if _, err := c.SelectParams(opts); err != nil {
		panic("BUG: a scheme that fitted a copy does not fit the circuit: " + err.Error())
	}
	return all[best], all, nil
}

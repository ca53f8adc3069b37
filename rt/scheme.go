package rt

import (
	"encoding"
	"fmt"
	"math"
	"time"
)

// scheme is a family of crypto backends (TFHE-style today; BGV later).
// Everything scheme specific hides behind it: parameter selection, keys,
// the server Backend, ciphertext serialization and the error model.
type scheme interface {
	name() string
	// selectParams chooses parameters for c at per-lookup failure
	// probability pe (0: the scheme's default) and returns their name.
	selectParams(c *Circuit, req Requirements, pe float64) (string, error)
	// info describes the parameters c names.
	info(c *Circuit) (ParamsInfo, error)
	// sigma returns the Simulate error model of c's parameters.
	sigma(c *Circuit) (func(op *Op) float64, error)
	// newKeys generates fresh client keys for c.
	newKeys(c *Circuit) (clientKeys, error)
	// loadKeys restores client keys from their MarshalBinary form.
	loadKeys(c *Circuit, secret []byte) (clientKeys, error)
	// newServer makes a Backend for c from serialized evaluation keys.
	newServer(c *Circuit, evalKeys []byte, workers int) (serverBackend, error)
}

// clientKeys hold a secret key and encrypt, decrypt and serialize.
type clientKeys interface {
	encrypt(v ValueID, x []int64) (Tensor, error)
	decrypt(v ValueID, t Tensor) ([]int64, error)
	marshalTensor(t Tensor) ([]byte, error)
	unmarshalTensor(v ValueID, data []byte) (Tensor, error)
	evalKeys() ([]byte, error)
	secretKey() ([]byte, error)
	sizes() KeySizes
}

// serverBackend is a Backend that also (de)serializes its tensors.
type serverBackend interface {
	Backend
	marshalTensor(t Tensor) ([]byte, error)
	unmarshalTensor(v ValueID, data []byte) (Tensor, error)
}

var schemes = map[string]scheme{"tfhe": tfheScheme{}}

// DefaultScheme is the scheme SelectParams uses when the circuit names none.
const DefaultScheme = "tfhe"

func schemeOf(c *Circuit) (scheme, error) {
	name := c.Scheme
	if name == "" {
		name = DefaultScheme
	}
	s, ok := schemes[name]
	if !ok {
		return nil, errf(UnknownScheme, "circuit %q uses crypto scheme %q, this runtime has %q", c.Name, c.Scheme, DefaultScheme)
	}
	return s, nil
}

// KeySizes are the sizes in bytes of a client's keys.
type KeySizes struct {
	Secret        int64 // the client's secret key
	Eval          int64 // all evaluation keys (what the server loads)
	Bootstrapping int64 // part of Eval
	KeySwitching  int64 // part of Eval
	Ciphertext    int64 // one encrypted element
}

// ParamsInfo describes the crypto parameters chosen for a circuit.
type ParamsInfo struct {
	Scheme, Name string
	// Desc is a one-line summary of the full parameter set.
	Desc string
	// MsgBits and PBSBits: message width and widest lookup precision.
	MsgBits, PBSBits int
	// SecurityBits is the estimated security level.
	SecurityBits int
	// PError is the largest per-lookup failure probability of the circuit
	// under these parameters (at its noisiest lookup); GlobalPError the
	// probability that at least one lookup of an evaluation fails.
	PError, GlobalPError float64
	// TLUs is the number of encrypted lookups per evaluation, CostPerTLU
	// the estimated time of one on one core (on average: under TFHE an
	// exactly rounded lookup costs one bootstrap per rounded bit more),
	// Estimate their product (single core; Execute divides it by about the
	// worker count).
	TLUs       int
	CostPerTLU time.Duration
	// Bootstraps is the number of TFHE programmable bootstraps per
	// evaluation (TLUs plus exact rounding's bit extractions; 0 for BGV).
	Bootstraps int
	Estimate   time.Duration
	// Keys are the key and ciphertext sizes these parameters give.
	Keys KeySizes
	// Memory estimates the server's peak memory for one evaluation with
	// one worker: evaluation keys as held in memory, encoded constants and
	// the ciphertexts alive at once (values are freed after their last
	// use).
	Memory int64
}

func (pi ParamsInfo) String() string {
	extra := ""
	if pi.Bootstraps > pi.TLUs {
		extra = fmt.Sprintf(" (%d bootstraps with exact rounding)", pi.Bootstraps)
	}
	return fmt.Sprintf("%s/%s: msg %d bits, lookups %d bits, %d-bit security, p_error %.3g per lookup (%.3g per run), %d lookups%s × %v = %v per run (one core), evaluation keys %s",
		pi.Scheme, pi.Name, pi.MsgBits, pi.PBSBits, pi.SecurityBits, pi.PError, pi.GlobalPError,
		pi.TLUs, extra, pi.CostPerTLU.Round(time.Microsecond), pi.Estimate.Round(time.Millisecond), FormatBytes(pi.Keys.Eval))
}

// FormatBytes prints n bytes with a binary unit (KiB, MiB, GiB).
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, u := float64(n), 0
	for f >= unit && u < 3 {
		f /= unit
		u++
	}
	return fmt.Sprintf("%.1f %ciB", f, "KMGT"[u-1])
}

// SelectOptions set the failure probability parameter selection aims at:
// PError per lookup, or GlobalPError per evaluation (spread evenly over the
// lookups); at most one may be set, neither means the scheme's default
// (2^-40 per lookup for TFHE).
type SelectOptions struct {
	PError       float64
	GlobalPError float64
	// MemoryLimit, when positive, rejects parameters whose estimated
	// server memory (ParamsInfo.Memory) exceeds it (MemoryExceeded).
	MemoryLimit int64
}

// SelectParams chooses the cheapest crypto parameters that run c within
// the requested failure probability and records them in c (Scheme, Params,
// MsgBits, PError). Errors: NoCryptoParameters or AccumulatorTooWide,
// naming the lookup that needs them.
func (c *Circuit) SelectParams(opts SelectOptions) (ParamsInfo, error) {
	if opts.PError < 0 || opts.PError >= 1 || opts.GlobalPError < 0 || opts.GlobalPError >= 1 {
		return ParamsInfo{}, errf(BadInput, "p_error %v, global_p_error %v: want in [0,1)", opts.PError, opts.GlobalPError)
	}
	if opts.PError > 0 && opts.GlobalPError > 0 {
		return ParamsInfo{}, errf(BadInput, "set p_error or global_p_error, not both")
	}
	sch, err := schemeOf(c)
	if err != nil {
		return ParamsInfo{}, err
	}
	req := c.analyze().req
	pe := opts.PError
	if opts.GlobalPError > 0 {
		pe = perLookup(opts.GlobalPError, req.TLUs)
	}
	name, err := sch.selectParams(c, req, pe)
	if err != nil {
		return ParamsInfo{}, err
	}
	old := [4]any{c.Scheme, c.Params, c.MsgBits, c.PError}
	c.Scheme, c.Params, c.MsgBits, c.PError = sch.name(), name, req.MsgBits, pe
	pi, err := sch.info(c)
	if err == nil && opts.MemoryLimit > 0 && pi.Memory > opts.MemoryLimit {
		err = errf(MemoryExceeded, "circuit %q needs about %s of server memory under %s/%s (evaluation keys %s), more than the limit of %s: raise the limit or use another backend",
			c.Name, FormatBytes(pi.Memory), pi.Scheme, pi.Name, FormatBytes(pi.Keys.Eval), FormatBytes(opts.MemoryLimit))
	}
	if err != nil {
		c.Scheme, c.Params, c.MsgBits, c.PError = old[0].(string), old[1].(string), old[2].(int), old[3].(float64)
		return ParamsInfo{}, err
	}
	return pi, nil
}

// peakLive returns the largest total of bytes(v) over the values alive at
// once when c's ops run in order and each value is freed after its last
// use (inputs live until their last use, outputs to the end).
func (c *Circuit) peakLive(bytes func(ValueID) int64) int64 {
	last := make([]int, len(c.Values))
	for i := range last {
		last[i] = -1
	}
	for k := range c.Ops {
		for _, id := range c.Ops[k].In {
			last[id] = k
		}
	}
	for _, o := range c.Outputs {
		last[o.Value] = len(c.Ops)
	}
	var live, peak int64
	for _, in := range c.Inputs {
		live += bytes(in.Value)
	}
	peak = live
	for k := range c.Ops {
		op := &c.Ops[k]
		live += bytes(op.Out)
		peak = max(peak, live)
		for _, id := range op.In {
			if last[id] == k {
				live -= bytes(id)
				last[id] = -2 // an op may read a value twice
			}
		}
	}
	return peak
}

// perLookup spreads a global failure probability g over n lookups:
// 1 - (1-g)^(1/n).
func perLookup(g float64, n int) float64 {
	if n <= 1 {
		return g
	}
	return -math.Expm1(math.Log1p(-g) / float64(n))
}

// ParamsInfo describes the parameters recorded in c (NoParams when none).
func (c *Circuit) ParamsInfo() (ParamsInfo, error) {
	if c.Params == "" {
		return ParamsInfo{}, errf(NoParams, "circuit %q has no crypto parameters (run SelectParams)", c.Name)
	}
	sch, err := schemeOf(c)
	if err != nil {
		return ParamsInfo{}, err
	}
	return sch.info(c)
}

// marshalKey serializes a scheme's key, turning the scheme's error into
// one of ours with wrap.
func marshalKey(k encoding.BinaryMarshaler, wrap func(error, string) error, what string) ([]byte, error) {
	b, err := k.MarshalBinary()
	if err != nil {
		return nil, wrap(err, what)
	}
	return b, nil
}

package rt

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fheir/fheir/rt/tfhe"
)

// tfheScheme adapts package rt/tfhe: one LWE ciphertext per element, every
// element x of value v stored as the signed MsgBits-wide message
// (x − offset[v])·2^scale[v] (see plan), linear ops as weighted sums with
// weights scaled by 2^(scale[out]−scale[in]) and offsets folded into the
// bias, lookups as programmable bootstraps dropping scale+d bits.
type tfheScheme struct{}

func (tfheScheme) name() string { return "tfhe" }

// tfheParams returns the parameter set c names, with c's MsgBits.
func tfheParams(c *Circuit) (tfhe.Params, error) {
	if c.Params == "" {
		return tfhe.Params{}, errf(NoParams, "circuit %q has no crypto parameters (run SelectParams)", c.Name)
	}
	for _, p := range tfheCatalog() {
		if p.Name == c.Params {
			return p.WithMsgBits(c.MsgBits), nil
		}
	}
	return tfhe.Params{}, errf(WrongParams, "circuit %q names parameter set %q, which this runtime's catalog lacks", c.Name, c.Params)
}

// tfheCatalog is the catalog parameter lookup uses; tests may extend it
// with insecure sets.
var tfheCatalog = tfhe.Catalog

func tfheErr(err error, what string) error {
	var te *tfhe.Error
	if errors.As(err, &te) {
		switch te.Code {
		case tfhe.CodeCorruptData:
			return wrapErr(CorruptData, err, "%s", what)
		case tfhe.CodeParamsMismatch:
			return wrapErr(WrongParams, err, "%s", what)
		case tfhe.CodeNoCryptoParameters:
			return wrapErr(NoCryptoParameters, err, "%s", what)
		case tfhe.CodeAccumulatorTooWide:
			return wrapErr(AccumulatorTooWide, err, "%s", what)
		}
	}
	return wrapErr(Unsupported, err, "%s", what)
}

func (tfheScheme) selectParams(c *Circuit, req Requirements, pe float64) (string, error) {
	if req.TLUs == 0 {
		// No lookup: the cheapest set wide enough for the messages.
		req.PBSBits = 1
	}
	treq := tfhe.Requirements{MsgBits: req.MsgBits, PBSBits: max(req.PBSBits, 1), MaxNorm2: req.MaxNorm2, PError: pe}
	p, err := tfhe.Select(treq)
	if err != nil {
		return "", tfheErr(err, "circuit "+c.Name+": lookup "+quoteOr(req.WidestOp, "(none)")+" needs "+itoa(req.PBSBits)+" bits, noisiest "+quoteOr(req.NoisiestOp, "(none)")+" has weight norm "+ftoa(req.MaxNorm2))
	}
	// Select checks the lookups; decrypting the outputs reads all their
	// bits, so the noise of the outputs must fit too. Take the first set
	// from Select's choice on (cheapest first) that also decrypts them.
	if pe <= 0 {
		pe = tfhe.DefaultPError
	}
	pl := c.analyze()
	seen := false
	exactBlocked, exactOK := false, false // some set failed (passed) the exact lookups
	for _, cand := range tfheCatalog() {
		seen = seen || cand.Name == p.Name
		if !seen || cand.PBSBits < treq.PBSBits || cand.SecurityBits < 128 {
			continue
		}
		q := cand.WithMsgBits(req.MsgBits)
		if q.PFail(treq.MaxNorm2, req.MsgBits-treq.PBSBits) > pe {
			continue
		}
		if f, _ := exactFail(c, pl, q); f > pe {
			exactBlocked = true
			continue
		}
		exactOK = true
		if f, _ := outputFail(c, pl, q); f <= pe {
			return q.Name, nil
		}
	}
	if exactBlocked && !exactOK {
		// Report the exact lookup that the most accurate wide enough set
		// still fails.
		best, name, k := math.Inf(1), "", 0
		for _, cand := range tfheCatalog() {
			if cand.PBSBits < treq.PBSBits || cand.SecurityBits < 128 {
				continue
			}
			if f, n := exactFail(c, pl, cand.WithMsgBits(req.MsgBits)); f < best {
				best, name = f, n
			}
		}
		for i := range c.Ops {
			if c.Ops[i].Name == name {
				k = i
			}
		}
		return "", errf(NoCryptoParameters, "circuit %s: lookup %q rounds exactly: removing its %d low bits (%d not known to be zero) one at a time needs %d-bit values correct to the last bit, and the best parameter set fails with probability %.3g > p_error %.3g (weight norm %s): use approximate rounding, keep fewer bits before the lookup, or raise p_error",
			c.Name, name, pl.opDrop[k], pl.extractions(k), req.MsgBits, best, pe, ftoa(pl.opNorm2[k]))
	}
	_, name := outputFail(c, pl, p)
	return "", errf(NoCryptoParameters, "circuit %s: no parameter set decrypts output %q (%d bits, weight norm %s) at p_error %.3g: lower the output bit width or raise p_error",
		c.Name, name, req.MsgBits, ftoa(req.MaxNorm2), pe)
}

// exactFail returns the largest failure probability under p of an
// encrypted lookup that rounds exactly (bit extractions and final lookup,
// tfhe.Params.PFailExact), and that lookup's name (0, "" when none).
func exactFail(c *Circuit, pl *plan, p tfhe.Params) (float64, string) {
	worst, name := 0.0, ""
	for k := range c.Ops {
		op := &c.Ops[k]
		if op.Kind != OpTLU || !pl.opExact[k] || !c.Values[op.Out].Encrypted {
			continue
		}
		if f := p.PFailExactZeros(pl.opNorm2[k], pl.opDrop[k], pl.opZero[k]); f > worst || name == "" {
			worst, name = f, op.Name
		}
	}
	return worst, name
}

// lookupFail is the failure probability of lookup k under p.
func (pl *plan) lookupFail(p tfhe.Params, k int) float64 {
	if pl.opExact[k] {
		return p.PFailExactZeros(pl.opNorm2[k], pl.opDrop[k], pl.opZero[k])
	}
	return p.PFail(pl.opNorm2[k], pl.opDrop[k])
}

// outputFail returns the largest probability that decrypting an element of
// an encrypted output gives a wrong value under p, and that output's name.
// An output carries the noise of the lookups (or fresh encryptions) feeding
// it times its weight norm, and its value fills MsgBits − scale bits.
func outputFail(c *Circuit, pl *plan, p tfhe.Params) (float64, string) {
	worst, name := 0.0, ""
	v0 := max(p.VarBootstrap(), p.VarFresh())
	for _, o := range c.Outputs {
		if !c.Values[o.Value].Encrypted {
			continue
		}
		n := pl.norm2[o.Value]
		prec := p.MsgBits - pl.scale[o.Value]
		half := math.Ldexp(1, -(prec + 2))
		f := math.Erfc(half / (math.Sqrt(n*n*v0) * math.Sqrt2))
		if f >= worst {
			worst, name = f, o.Name
		}
	}
	return worst, name
}

func (s tfheScheme) info(c *Circuit) (ParamsInfo, error) {
	p, err := tfheParams(c)
	if err != nil {
		return ParamsInfo{}, err
	}
	pl := c.analyze()
	worst := 0.0
	sumFail := 0.0
	for k := range c.Ops {
		op := &c.Ops[k]
		if op.Kind != OpTLU || !c.Values[op.Out].Encrypted {
			continue
		}
		f := pl.lookupFail(p, k)
		worst = max(worst, f)
		sumFail += f * float64(c.Values[op.Out].Size())
	}
	for _, o := range c.Outputs {
		if c.Values[o.Value].Encrypted {
			f, _ := outputFail(&Circuit{Values: c.Values, Outputs: []Output{o}}, pl, p)
			worst = max(worst, f)
			sumFail += f * float64(c.Values[o.Value].Size())
		}
	}
	// One lookup costs one bootstrap, plus one per bit an exact rounding
	// removes: CostPerTLU is the average over the circuit's lookups.
	pbs := time.Duration(p.Cost() * float64(time.Second))
	cost := pbs
	if pl.req.TLUs > 0 {
		cost = pbs * time.Duration(pl.req.Bootstraps) / time.Duration(pl.req.TLUs)
	}
	// Key sizes follow rt/tfhe's layout (TestTFHEBackendDirect checks them
	// against generated keys).
	kN := int64(p.GLWEDim * p.PolyDegree)
	g := p.GroupSize
	steps := int64((p.LWEDim + g - 1) / g)
	combos := int64(1)<<g - 1
	kk := int64(p.GLWEDim + 1)
	bsk := 8 * steps * combos * kk * int64(p.PBSLevels) * kk * int64(p.PolyDegree)
	ksk := 4 * kN * int64(p.KSLevels) * int64(p.LWEDim+1) // modulo 2^32
	ct := 8 * (kN + 1)
	live := c.peakLive(func(v ValueID) int64 { return int64(c.Values[v].Size()) * ct })
	return ParamsInfo{
		Memory: bsk + ksk + live,
		Scheme: s.name(), Name: p.Name, Desc: p.String(),
		MsgBits: p.MsgBits, PBSBits: pl.req.PBSBits, SecurityBits: p.SecurityBits,
		PError: worst, GlobalPError: -math.Expm1(-sumFail),
		TLUs: pl.req.TLUs, Bootstraps: pl.req.Bootstraps, CostPerTLU: cost, Estimate: pbs * time.Duration(pl.req.Bootstraps),
		Keys: KeySizes{Secret: 8 * (int64(p.LWEDim) + kN), Eval: bsk + ksk, Bootstrapping: bsk, KeySwitching: ksk, Ciphertext: 8 * (kN + 1)},
	}, nil
}

func (tfheScheme) sigma(c *Circuit) (func(op *Op) float64, error) {
	p, err := tfheParams(c)
	if err != nil {
		return nil, err
	}
	pl := c.analyze()
	sig := make(map[*Op]float64)
	for k := range c.Ops {
		op := &c.Ops[k]
		switch {
		case op.Kind == OpTLU && pl.opExact[k]:
			// Exact rounding reads the right entry unless a bit
			// extraction or the lookup fails: perturb moves the rounded
			// read by round(e), which happens with that probability.
			sig[op] = SigmaForPError(pl.lookupFail(p, k))
		case op.Kind == OpTLU:
			// The bootstrap reads m/2^(scale+d); perturb works in units of
			// x/2^d, the same steps.
			sig[op] = p.InputNoiseStdDev(pl.opNorm2[k], pl.opDrop[k])
		}
	}
	return func(op *Op) float64 { return sig[op] }, nil
}

// tfheKeys are a client's keys.
type tfheKeys struct {
	mu sync.Mutex // the secret key's random source is not goroutine-safe
	c  *Circuit
	p  tfhe.Params
	pl *plan
	sk *tfhe.SecretKey
	ek *tfhe.EvalKey
}

func (s tfheScheme) newKeys(c *Circuit) (clientKeys, error) {
	p, err := tfheParams(c)
	if err != nil {
		return nil, err
	}
	sk, err := tfhe.GenSecretKey(p)
	if err != nil {
		return nil, tfheErr(err, "generating the secret key")
	}
	ek, err := sk.GenEvalKey()
	if err != nil {
		return nil, tfheErr(err, "generating the evaluation keys")
	}
	return &tfheKeys{c: c, p: p, pl: c.analyze(), sk: sk, ek: ek}, nil
}

func (s tfheScheme) loadKeys(c *Circuit, secret []byte) (clientKeys, error) {
	p, err := tfheParams(c)
	if err != nil {
		return nil, err
	}
	sk := new(tfhe.SecretKey)
	if err := sk.UnmarshalBinary(secret); err != nil {
		return nil, tfheErr(err, "secret key")
	}
	if sk.Params().Fingerprint() != p.Fingerprint() {
		return nil, errf(WrongParams, "secret key is for parameters %s, circuit %q uses %s", sk.Params().Name, c.Name, p.Name)
	}
	ek, err := sk.GenEvalKey()
	if err != nil {
		return nil, tfheErr(err, "generating the evaluation keys")
	}
	return &tfheKeys{c: c, p: p, pl: c.analyze(), sk: sk, ek: ek}, nil
}

// tfheTensor holds one ciphertext per element; it is never modified after
// creation, so elements may be shared between tensors.
type tfheTensor []*tfhe.Ciphertext

func (t tfheTensor) Len() int { return len(t) }

// encode returns the message of element x of value v.
func (pl *plan) encode(v ValueID, x int64) int64 { return (x - pl.offset[v]) << pl.scale[v] }

// decode returns the element of value v a decrypted message m stands for
// (rounding away the noise below the scale).
func (pl *plan) decode(v ValueID, m int64) int64 { return roundShift(m, pl.scale[v]) + pl.offset[v] }

func (k *tfheKeys) encrypt(v ValueID, x []int64) (Tensor, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	t := make(tfheTensor, len(x))
	for i, m := range x {
		t[i] = k.sk.Encrypt(k.pl.encode(v, m))
	}
	return t, nil
}

func (k *tfheKeys) decrypt(v ValueID, t Tensor) ([]int64, error) {
	ct, ok := t.(tfheTensor)
	if !ok {
		return nil, errf(BadInput, "not a tfhe tensor")
	}
	out := make([]int64, len(ct))
	for i, c := range ct {
		if c.Fingerprint() != k.p.Fingerprint() {
			return nil, errf(WrongParams, "ciphertext %d is for other parameters", i)
		}
		out[i] = k.pl.decode(v, k.sk.Decrypt(c))
	}
	return out, nil
}

func marshalTFHE(t Tensor) ([]byte, error) {
	ct, ok := t.(tfheTensor)
	if !ok {
		panic("BUG: marshalling a non-tfhe tensor with the tfhe scheme")
	}
	var w encoder
	w.uvarint(uint64(len(ct)))
	for _, c := range ct {
		b, err := c.MarshalBinary()
		if err != nil {
			return nil, tfheErr(err, "marshalling a ciphertext")
		}
		w.bytes(b)
	}
	return w.buf, nil
}

func unmarshalTFHE(p tfhe.Params, c *Circuit, v ValueID, data []byte) (Tensor, error) {
	r := decoder{buf: data}
	n := r.count(1)
	if r.err == nil && n != c.Values[v].Size() {
		return nil, errf(BadInput, "value %s: %d ciphertexts, want %d", c.vname(v), n, c.Values[v].Size())
	}
	t := make(tfheTensor, n)
	for i := range t {
		b := r.bytes()
		if r.err != nil {
			break
		}
		ct, err := p.UnmarshalCiphertext(b)
		if err != nil {
			return nil, tfheErr(err, "ciphertext "+itoa(i)+" of value "+c.vname(v))
		}
		t[i] = ct
	}
	if r.err != nil || len(r.buf) != 0 {
		return nil, errf(CorruptData, "value %s: bad ciphertext list", c.vname(v))
	}
	return t, nil
}

func (k *tfheKeys) marshalTensor(t Tensor) ([]byte, error) { return marshalTFHE(t) }
func (k *tfheKeys) unmarshalTensor(v ValueID, data []byte) (Tensor, error) {
	return unmarshalTFHE(k.p, k.c, v, data)
}

func (k *tfheKeys) evalKeys() ([]byte, error) {
	return marshalKey(k.ek, tfheErr, "marshalling the evaluation keys")
}

func (k *tfheKeys) secretKey() ([]byte, error) {
	return marshalKey(k.sk, tfheErr, "marshalling the secret key")
}

func (k *tfheKeys) sizes() KeySizes {
	kN := int64(k.p.GLWEDim * k.p.PolyDegree)
	return KeySizes{
		Secret:        8 * (int64(k.p.LWEDim) + kN),
		Eval:          int64(k.ek.SizeBytes()),
		Bootstrapping: int64(k.ek.BootstrapKeyBytes()),
		KeySwitching:  int64(k.ek.KeySwitchKeyBytes()),
		Ciphertext:    8 * (kN + 1),
	}
}

// tfheServer is the Execute backend: evaluation keys, one evaluator per
// worker goroutine and the lookup tables of every lookup op.
type tfheServer struct {
	c    *Circuit
	p    tfhe.Params
	pl   *plan
	evs  []*tfhe.Evaluator
	luts map[*Op][]*tfhe.LUT
}

func (s tfheScheme) newServer(c *Circuit, evalKeys []byte, workers int) (serverBackend, error) {
	p, err := tfheParams(c)
	if err != nil {
		return nil, err
	}
	ek := new(tfhe.EvalKey)
	if err := ek.UnmarshalBinary(evalKeys); err != nil {
		return nil, tfheErr(err, "evaluation keys")
	}
	if ek.Params().Fingerprint() != p.Fingerprint() {
		return nil, errf(WrongParams, "evaluation keys are for parameters %s, circuit %q uses %s", ek.Params(), c.Name, p)
	}
	return newTFHEServer(c, p, ek, workers)
}

func newTFHEServer(c *Circuit, p tfhe.Params, ek *tfhe.EvalKey, workers int) (*tfheServer, error) {
	srv := &tfheServer{c: c, p: p, pl: c.analyze(), luts: make(map[*Op][]*tfhe.LUT)}
	for range max(workers, 1) {
		ev, err := tfhe.NewEvaluator(p, ek)
		if err != nil {
			return nil, tfheErr(err, "evaluator")
		}
		srv.evs = append(srv.evs, ev)
	}
	for k := range c.Ops {
		op := &c.Ops[k]
		if op.Kind != OpTLU {
			continue
		}
		luts, err := srv.buildLUTs(k, op)
		if err != nil {
			return nil, err
		}
		srv.luts[op] = luts
	}
	return srv, nil
}

// buildLUTs makes one LUT per table of op. The bootstrap reads the input's
// message m = (x - offset)·2^scale with scale+d low bits dropped (offset a
// multiple of 2^d), d = op.DropBits: approximately, or exactly with
// NewLUTExactZeros's bit extractions (none for the known zero bits). Reads beyond the table (approximate
// rounding at the edges) take the nearest entry.
func (s *tfheServer) buildLUTs(k int, op *Op) ([]*tfhe.LUT, error) {
	in, out := op.In[0], op.Out
	inOff := s.pl.offset[in]
	d := op.DropBits
	size := int64(len(op.Tables[0]))
	luts := make([]*tfhe.LUT, len(op.Tables))
	for i, t := range op.Tables {
		f := func(v int64) int64 {
			j := min(max(v+inOff>>d-op.Lo, 0), size-1)
			return s.pl.encode(out, t[j])
		}
		lut, err := s.p.NewLUT(f, s.pl.opDrop[k])
		if s.pl.opExact[k] {
			lut, err = s.p.NewLUTExactZeros(f, s.pl.opDrop[k], s.pl.opZero[k])
		}
		if err != nil {
			return nil, tfheErr(err, "lookup "+quoteOr(op.Name, "?")+" table "+itoa(i))
		}
		luts[i] = lut
	}
	return luts, nil
}

func (s *tfheServer) Trivial(v ValueID, x []int64) (Tensor, error) {
	t := make(tfheTensor, len(x))
	for i, m := range x {
		t[i] = s.p.NewCiphertext()
		s.evs[0].Trivial(t[i], s.pl.encode(v, m))
	}
	return t, nil
}

// parallel runs f(ev, i) for 0 ≤ i < n on the evaluators' goroutines,
// handing out chunks of the given size; it stops early when ctx is done.
func (s *tfheServer) parallel(ctx context.Context, n, chunk int, f func(ev *tfhe.Evaluator, i int)) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	workers := min(len(s.evs), (n+chunk-1)/chunk)
	for w := range workers {
		wg.Add(1)
		go func(ev *tfhe.Evaluator) {
			defer wg.Done()
			for ctx.Err() == nil {
				lo := int(next.Add(int64(chunk))) - chunk
				if lo >= n {
					return
				}
				for i := lo; i < min(lo+chunk, n); i++ {
					f(ev, i)
				}
			}
		}(s.evs[w])
	}
	wg.Wait()
	return ctx.Err()
}

func (s *tfheServer) Linear(ctx context.Context, op *Op, in []Tensor) (Tensor, error) {
	// Per concatenated source: its ciphertext, its value's offset and the
	// weight factor 2^(scale[out] - scale[in]).
	var x tfheTensor
	var xoff, xmul []int64
	so := s.pl.scale[op.Out]
	for i, t := range in {
		ct := t.(tfheTensor)
		x = append(x, ct...)
		id := op.In[i]
		for range ct {
			xoff = append(xoff, s.pl.offset[id])
			xmul = append(xmul, int64(1)<<(so-s.pl.scale[id]))
		}
	}
	outOff := s.pl.offset[op.Out]
	rows := len(op.RowPtr) - 1
	out := make(tfheTensor, rows)
	type buf struct {
		cts []*tfhe.Ciphertext
		w   []int64
	}
	var scratch sync.Pool
	err := s.parallel(ctx, rows, 64, func(ev *tfhe.Evaluator, j int) {
		lo, hi := op.RowPtr[j], op.RowPtr[j+1]
		bias := -outOff
		if op.Bias != nil {
			bias += op.Bias[j]
		}
		for t := lo; t < hi; t++ {
			bias += op.W[t] * xoff[op.Src[t]]
		}
		bias <<= so
		if hi-lo == 1 && op.W[lo]*xmul[op.Src[lo]] == 1 && bias == 0 {
			out[j] = x[op.Src[lo]] // pure data movement: share the ciphertext
			return
		}
		dst := s.p.NewCiphertext()
		if hi == lo {
			ev.Trivial(dst, bias)
			out[j] = dst
			return
		}
		b, _ := scratch.Get().(*buf)
		if b == nil {
			b = new(buf)
		}
		b.cts, b.w = b.cts[:0], b.w[:0]
		for t := lo; t < hi; t++ {
			b.cts = append(b.cts, x[op.Src[t]])
			b.w = append(b.w, op.W[t]*xmul[op.Src[t]])
		}
		ev.WeightedSum(dst, b.cts, b.w, bias)
		scratch.Put(b)
		out[j] = dst
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *tfheServer) TLU(ctx context.Context, op *Op, in Tensor, tick func(int)) (Tensor, error) {
	x := in.(tfheTensor)
	luts := s.luts[op]
	out := make(tfheTensor, len(x))
	err := s.parallel(ctx, len(x), 1, func(ev *tfhe.Evaluator, j int) {
		t := 0
		if op.TableOf != nil {
			t = int(op.TableOf[j])
		}
		dst := s.p.NewCiphertext()
		ev.Bootstrap(dst, x[j], luts[t])
		out[j] = dst
		tick(1)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *tfheServer) marshalTensor(t Tensor) ([]byte, error) { return marshalTFHE(t) }
func (s *tfheServer) unmarshalTensor(v ValueID, data []byte) (Tensor, error) {
	return unmarshalTFHE(s.p, s.c, v, data)
}

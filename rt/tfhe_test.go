package rt

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/fheir/fheir/rt/tfhe"
	"github.com/google/go-cmp/cmp"
)

// toyName names an INSECURE parameter set (small LWE dimension) that the
// tests add to the catalog so that the adapter is exercised in seconds.
// N = 4096 keeps 7-bit exact lookups failing with probability ~1e-20.
const toyName = "toy-insecure-test"

func toyParams() tfhe.Params {
	return tfhe.Params{Name: toyName, MsgBits: 1, PBSBits: 8, LWEDim: 64, GLWEDim: 1, PolyDegree: 4096,
		Q: 0x3ffffffffbe0001, GroupSize: 2, PBSBaseLog: 12, PBSLevels: 2, KSBaseLog: 4, KSLevels: 5,
		LWEStdDev: math.Exp2(-26), GLWEStdDev: math.Exp2(-40), SecurityNote: "insecure: rt tests only"}
}

func init() {
	real := tfheCatalog
	tfheCatalog = func() []tfhe.Params { return append(real(), toyParams()) }
}

// withToyParams records the toy set in c (bypassing Select, which only
// picks secure sets).
func withToyParams(t testing.TB, c *Circuit) *Circuit {
	c.Scheme, c.Params, c.MsgBits = "tfhe", toyName, c.Requirements().MsgBits
	p, err := tfheParams(c)
	if err != nil {
		t.Fatal(err)
	}
	req := c.Requirements()
	if pf := p.PFail(req.MaxNorm2, req.MsgBits-req.PBSBits); pf > 1e-9 {
		t.Fatalf("toy set too noisy for %s: p_fail %g", c.Name, pf)
	}
	if pf, name := exactFail(c, c.analyze(), p); pf > 1e-9 {
		t.Fatalf("toy set too noisy for exact rounding in %s (lookup %q): p_fail %g", c.Name, name, pf)
	}
	return c
}

// notReady skips when rt/tfhe still lacks a feature (stubs return
// NotImplemented while it is being written).
func notReady(t testing.TB, err error) {
	var te *tfhe.Error
	if errors.As(err, &te) && te.Code == tfhe.CodeNotImplemented {
		t.Skipf("rt/tfhe not ready: %v", err)
	}
}

func randInput(rng *rand.Rand) []int64 {
	x := make([]int64, 6)
	for i := range x {
		x[i] = rng.Int64N(8)
	}
	return x
}

// TestTFHEBackendDirect runs the adapter without serialization: execute
// equals disable bit for bit on random inputs.
func TestTFHEBackendDirect(t *testing.T) {
	c := withToyParams(t, twoLayer(t, RoundExact))
	k, err := tfheScheme{}.newKeys(c)
	if err != nil {
		notReady(t, errors.Unwrap(err))
		t.Fatal(err)
	}
	keys := k.(*tfheKeys)
	srv, err := newTFHEServer(c, keys.p, keys.ek, 2)
	if err != nil {
		notReady(t, errors.Unwrap(err))
		t.Fatal(err)
	}
	info, err := c.ParamsInfo()
	if err != nil {
		t.Fatal(err)
	}
	if got := keys.sizes(); info.Keys != got {
		t.Errorf("ParamsInfo key sizes %+v, generated keys %+v", info.Keys, got)
	}
	t.Logf("%s", info)
	rng := rand.New(rand.NewPCG(11, 12))
	ctx := context.Background()
	for range 6 {
		x := randInput(rng)
		in, err := keys.encrypt(c.Inputs[0].Value, x)
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.evaluate(ctx, srv, []Tensor{in}, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := keys.decrypt(c.Outputs[0].Value, out[0])
		if err != nil {
			t.Fatal(err)
		}
		want, _ := c.Run(ctx, Disable, [][]int64{x}, nil)
		if !cmp.Equal(got, want[0]) {
			t.Fatalf("x=%v: execute %v, disable %v", x, got, want[0])
		}
		if ref := refTwoLayer(x); !cmp.Equal(got, ref) {
			t.Fatalf("x=%v: execute %v, reference %v", x, got, ref)
		}
	}
}

// TestTFHEClientServer is the deployment path: serialized evaluation keys,
// ciphertexts in and out, execute equal to disable; then the failure
// cases (another model, other parameters, corrupted ciphertexts).
func TestTFHEClientServer(t *testing.T) {
	c := withToyParams(t, twoLayer(t, RoundExact))
	cl, err := NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.GenerateKeys(nil); err != nil {
		notReady(t, errors.Unwrap(err))
		t.Fatal(err)
	}
	ek, err := cl.EvaluationKeys()
	if err != nil {
		notReady(t, errors.Unwrap(err))
		t.Fatal(err)
	}
	srv, err := NewServer(c, ek, nil)
	if err != nil {
		notReady(t, errors.Unwrap(err))
		t.Fatal(err)
	}
	sizes := cl.KeySizes()
	t.Logf("toy keys: eval %s (bootstrapping %s, key switching %s), ciphertext %s, evaluation-key message %s",
		FormatBytes(sizes.Eval), FormatBytes(sizes.Bootstrapping), FormatBytes(sizes.KeySwitching), FormatBytes(sizes.Ciphertext), FormatBytes(int64(len(ek))))
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(13, 14))
	var in []byte
	for range 3 {
		x := randInput(rng)
		in, err = cl.EncryptQuantized(x)
		if err != nil {
			t.Fatal(err)
		}
		out, err := srv.Run(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := cl.DecryptQuantized(out)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := c.Run(ctx, Disable, [][]int64{x}, nil)
		if !cmp.Equal(got, want) {
			t.Fatalf("x=%v: execute %v, disable %v", x, got, want)
		}
	}
	// Another client's key decrypts to garbage, without error or panic.
	out, err := srv.Run(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	intruder, _ := NewClient(c)
	if err := intruder.GenerateKeys(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := intruder.DecryptQuantized(out); err != nil {
		t.Errorf("decrypting with another key: %v, want garbage without error", err)
	}
	// Keys of this model refused by another one.
	other := withToyParams(t, twoLayer(t, RoundExact))
	other.Ops[2].W[0]++
	if _, err := NewServer(other, ek, nil); CodeOf(err) != WrongModel {
		t.Errorf("another model's keys: %v, want WrongModel", err)
	}
	// A corrupted ciphertext byte (inside a ciphertext, past the envelope's
	// own checksum, which is recomputed) is caught by the ciphertext's.
	body, err := readMsg(c, KindInputs, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, pos := range []int{len(body) / 3, len(body) / 2, len(body) - 3} {
		bad := append([]byte(nil), body...)
		bad[pos] ^= 0x08
		if _, err := srv.Run(ctx, writeMsg(c, KindInputs, bad)); err == nil {
			t.Errorf("corrupted ciphertext byte %d: no error", pos)
		}
	}
	// Another parameter set (same model): WrongParams, from the envelope
	// and, if it is bypassed, from the ciphertext fingerprint.
	p2 := twoLayer(t, RoundExact)
	withToyParams(t, p2)
	p2.MsgBits++
	if _, err := NewServer(p2, ek, nil); CodeOf(err) != WrongParams {
		t.Errorf("other parameters: %v, want WrongParams", err)
	}
	r := decoder{buf: body}
	r.count(1)
	r.bool()
	blob := r.bytes()
	if r.err != nil {
		t.Fatal(r.err)
	}
	if _, err := unmarshalTFHE(toyParams().WithMsgBits(c.MsgBits), c, c.Inputs[0].Value, blob); err != nil {
		t.Errorf("the ciphertexts themselves: %v", err)
	}
	if _, err := unmarshalTFHE(toyParams().WithMsgBits(c.MsgBits+1), c, c.Inputs[0].Value, blob); CodeOf(err) != WrongParams {
		t.Errorf("ciphertexts of another parameter set: %v, want WrongParams", err)
	}
}

// TestTFHEApproxRounding checks the adapter's offsets and dropped bits on
// one approximately rounded lookup over the whole input range: inputs off
// a rounding boundary read exactly, inputs on one read either neighbour.
func TestTFHEApproxRounding(t *testing.T) {
	f := func(v int64) int64 { return 5*v - 17 }
	c := withToyParams(t, lookupCircuit(t, 64, 2, RoundApprox, f))
	k, err := tfheScheme{}.newKeys(c)
	if err != nil {
		notReady(t, errors.Unwrap(err))
		t.Fatal(err)
	}
	keys := k.(*tfheKeys)
	srv, err := newTFHEServer(c, keys.p, keys.ek, 2)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]int64, 64)
	for i := range x {
		x[i] = int64(i)
	}
	in, _ := keys.encrypt(c.Inputs[0].Value, x)
	out, err := c.evaluate(context.Background(), srv, []Tensor{in}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := keys.decrypt(c.Outputs[0].Value, out[0])
	for i, v := range x {
		exact := f((v + 2) >> 2)
		switch {
		case got[i] == exact:
		case v%4 == 2 && (got[i] == f(v>>2)):
			// On the boundary: the lower neighbour is allowed.
		default:
			t.Errorf("x=%d: got %d, want %d (or %d on a boundary)", v, got[i], exact, f(v>>2))
		}
	}
}

// benchLayer is QATSimpleNet's first layer: 12 inputs (3-bit) → dense
// 12×30 with 3-bit weights → ReLU rounded to 4 bits (approximate).
func benchLayer(b *testing.B) *Circuit {
	rng := rand.New(rand.NewPCG(21, 22))
	bl := NewBuilder("layer_30x12")
	x := bl.Input("x", []int{1, 12}, true, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}, QMin: 0, QMax: 7})
	h := bl.MatMul("fc1", x, randInts(rng, 12*30, -4, 3), 12, 30, randInts(rng, 30, -8, 8))
	lo, hi := bl.Domain(h, 0)
	drop := max(0, rangeBits(lo, hi)-4)
	y := bl.Apply("relu", h, func(v int64) int64 { return min(max(v, 0), 7) }, drop, RoundApprox)
	bl.Output("y", y, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}})
	c, err := bl.Build()
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkTFHELayer30x12 runs the layer in Execute mode (30 lookups) with
// the cheapest secure parameters, GOMAXPROCS workers.
func BenchmarkTFHELayer30x12(b *testing.B) {
	c := benchLayer(b)
	info, err := c.SelectParams(SelectOptions{})
	if err != nil {
		b.Skipf("no secure parameters yet: %v", err)
	}
	b.Logf("%s", info)
	k, err := tfheScheme{}.newKeys(c)
	if err != nil {
		notReady(b, errors.Unwrap(err))
		b.Fatal(err)
	}
	keys := k.(*tfheKeys)
	srv, err := newTFHEServer(c, keys.p, keys.ek, (&Options{}).workers())
	if err != nil {
		b.Fatal(err)
	}
	x := make([]int64, 12)
	in, _ := keys.encrypt(c.Inputs[0].Value, x)
	ctx := context.Background()
	b.Run("linear", func(b *testing.B) {
		for b.Loop() {
			if _, err := srv.Linear(ctx, &c.Ops[0], []Tensor{in}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("linear+tlu", func(b *testing.B) {
		start := cpuTime()
		for b.Loop() {
			if _, err := c.evaluate(ctx, srv, []Tensor{in}, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric((cpuTime()-start).Seconds()/float64(b.N), "cpu-s/op")
	})
	one, err := newTFHEServer(c, keys.p, keys.ek, 1)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("linear+tlu-1worker", func(b *testing.B) {
		// CPU time per op is less sensitive than wall time to the other
		// processes sharing the machine.
		start := cpuTime()
		for b.Loop() {
			if _, err := c.evaluate(ctx, one, []Tensor{in}, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric((cpuTime()-start).Seconds()/float64(b.N), "cpu-s/op")
	})
	b.Run("disable", func(b *testing.B) {
		q := [][]int64{make([]int64, 12)}
		for b.Loop() {
			if _, err := c.Run(ctx, Disable, q, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestSimulateUsesParams checks that Simulate perturbs lookups at the
// failure probability the parameters' noise model gives.
func TestSimulateUsesParams(t *testing.T) {
	const n = 40000
	noisy := toyParams()
	noisy.Name, noisy.PolyDegree = "toy-noisy-test", 512
	real := tfheCatalog
	defer func() { tfheCatalog = real }()
	tfheCatalog = func() []tfhe.Params { return append(real(), noisy) }

	f := func(v int64) int64 { return 2*v - 5 }
	c := lookupCircuit(t, n, 0, RoundExact, f)
	c.Scheme, c.Params, c.MsgBits = "tfhe", noisy.Name, c.Requirements().MsgBits
	p, _ := tfheParams(c)
	pf := p.PFail(1, c.analyze().opDrop[0])
	if pf < 0.005 || pf > 0.5 {
		t.Fatalf("noisy set fails with probability %g: pick another to test", pf)
	}
	x := make([]int64, n)
	for i := range x {
		x[i] = 1 + int64(i)%62
	}
	ctx := context.Background()
	want, _ := c.Run(ctx, Disable, [][]int64{x}, nil)
	got, err := c.Run(ctx, Simulate, [][]int64{x}, &Options{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	diff := 0
	for i := range x {
		if got[0][i] != want[0][i] {
			diff++
		}
	}
	checkRate(t, "simulate with the parameters' noise", diff, n, pf)
	info, err := c.ParamsInfo()
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(info.PError-pf) > 1e-12 || info.TLUs != n {
		t.Errorf("ParamsInfo: p_error %g (want %g), TLUs %d", info.PError, pf, info.TLUs)
	}
}

// TestTFHEScaledLookups: a wide accumulator sets MsgBits, then narrow
// values (ReLU outputs and their differences inside Max) are read by
// lookups that resolve only their own bits thanks to the scale.
func TestTFHEScaledLookups(t *testing.T) {
	b := NewBuilder("scaled")
	x := b.Input("x", []int{1, 4}, true, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}, QMin: 0, QMax: 7})
	h := b.MatMul("fc", x, []int64{
		40, -30, 25, 7,
		-12, 33, 41, -50,
		19, 8, -27, 36,
		-44, 21, 15, 9,
	}, 4, 4, []int64{5, -7, 0, 3})
	a := b.Apply("relu", h, func(v int64) int64 { return min(max(v, 0), 7) }, 6, RoundApprox)
	m := b.Max("max", b.Slice("even", a, []int{0, 0}, []int{1, 2}, []int{1, 2}), b.Slice("odd", a, []int{0, 1}, []int{1, 2}, []int{1, 2}))
	b.Output("y", m, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}})
	c, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	req := c.Requirements()
	t.Logf("%+v", req)
	if req.MsgBits < 10 || req.PBSBits > 5 {
		t.Fatalf("MsgBits %d, PBSBits %d: want a wide message and lookups of at most 5 bits", req.MsgBits, req.PBSBits)
	}
	withToyParams(t, c)
	k, err := tfheScheme{}.newKeys(c)
	if err != nil {
		notReady(t, errors.Unwrap(err))
		t.Fatal(err)
	}
	keys := k.(*tfheKeys)
	srv, err := newTFHEServer(c, keys.p, keys.ek, 2)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(15, 16))
	ctx := context.Background()
	compared := 0
	for range 6 {
		x := randInts(rng, 4, 0, 7)
		in, _ := keys.encrypt(c.Inputs[0].Value, x)
		out, err := c.evaluate(ctx, srv, []Tensor{in}, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := keys.decrypt(c.Outputs[0].Value, out[0])
		// The approximate relu may differ near its rounding boundaries; the
		// rest is exact: compare with Simulate-free Disable only when no
		// accumulator sits within one unit of a boundary.
		want, _ := c.Run(ctx, Disable, [][]int64{x}, nil)
		if nearBoundary(c, x, 6) {
			continue
		}
		compared++
		if !cmp.Equal(got, want[0]) {
			t.Fatalf("x=%v: execute %v, disable %v", x, got, want[0])
		}
	}
	if compared < 2 {
		t.Errorf("only %d inputs away from rounding boundaries", compared)
	}
}

// nearBoundary reports whether an accumulator of op 0 for input x lies
// within 2 of a rounding boundary of d dropped bits.
func nearBoundary(c *Circuit, x []int64, d int) bool {
	op := &c.Ops[0]
	for j := range len(op.RowPtr) - 1 {
		s := op.Bias[j]
		for t := op.RowPtr[j]; t < op.RowPtr[j+1]; t++ {
			s += op.W[t] * x[op.Src[t]]
		}
		r := ((s % (1 << d)) + (1 << d)) % (1 << d)
		if h := int64(1) << (d - 1); r >= h-2 && r <= h+1 {
			return true
		}
	}
	return false
}

// A small two-layer network whose lookups fit the cheapest secure sets:
// 4 inputs (2-bit) → dense 4×3 → relu clamped to 2 bits → dense 3×2 →
// clamp(v−2, −4, 3). Exact lookups (no dropped bits).
var (
	sw1 = []int64{1, -1, 0, 0, 1, -1, 1, 0, 1, -1, 1, 1} // [4, 3]
	sb1 = []int64{0, 1, -1}
	sw2 = []int64{2, -1, -1, 2, 1, 1} // [3, 2]
	sb2 = []int64{0, -1}
)

func smallAct1(v int64) int64 { return min(max(v, 0), 3) }
func smallAct2(v int64) int64 { return min(max(v-2, -4), 3) }

func smallTwoLayer(t testing.TB) *Circuit {
	b := NewBuilder("small_two_layer")
	x := b.Input("x", []int{1, 4}, true, Quant{Scale: []float64{0.25}, ZeroPoint: []int64{0}, QMin: 0, QMax: 3})
	h := b.Apply("act1", b.MatMul("fc1", x, sw1, 4, 3, sb1), smallAct1, 0, RoundExact)
	y := b.Apply("act2", b.MatMul("fc2", h, sw2, 3, 2, sb2), smallAct2, 0, RoundExact)
	b.Output("y", y, Quant{Scale: []float64{0.5}, ZeroPoint: []int64{0}})
	c, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func refSmallTwoLayer(x []int64) []int64 {
	h := make([]int64, 3)
	for j := range 3 {
		s := sb1[j]
		for i := range 4 {
			s += x[i] * sw1[i*3+j]
		}
		h[j] = smallAct1(s)
	}
	y := make([]int64, 2)
	for j := range 2 {
		s := sb2[j]
		for i := range 3 {
			s += h[i] * sw2[i*2+j]
		}
		y[j] = smallAct2(s)
	}
	return y
}

// TestTFHESecureParams runs the deployment path with the cheapest secure
// (128-bit) parameters SelectParams picks: serialized evaluation keys and
// ciphertexts; execute equals disable and the direct computation.
func TestTFHESecureParams(t *testing.T) {
	c := smallTwoLayer(t)
	info, err := c.SelectParams(SelectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", info)
	if info.SecurityBits < 128 || info.PError > tfhe.DefaultPError {
		t.Fatalf("selected %s: security %d, p_error %g", info.Name, info.SecurityBits, info.PError)
	}
	cl, err := NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.GenerateKeys(nil); err != nil {
		t.Fatal(err)
	}
	ek, err := cl.EvaluationKeys()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(c, ek, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := cl.KeySizes(); got != info.Keys {
		t.Errorf("key sizes %+v, ParamsInfo says %+v", got, info.Keys)
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(17, 18))
	inputs := [][]int64{{0, 0, 0, 0}, {3, 3, 3, 3}, randInts(rng, 4, 0, 3), randInts(rng, 4, 0, 3)}
	for _, x := range inputs {
		in, err := cl.EncryptQuantized(x)
		if err != nil {
			t.Fatal(err)
		}
		out, err := srv.Run(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := cl.DecryptQuantized(out)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := c.Run(ctx, Disable, [][]int64{x}, nil)
		if !cmp.Equal(got, want) || !cmp.Equal(got[0], refSmallTwoLayer(x)) {
			t.Fatalf("x=%v: execute %v, disable %v, reference %v", x, got, want, refSmallTwoLayer(x))
		}
	}
}

// TestSelectChecksOutputs: lookups of 2 bits feed a wide output (logits).
// tfhe.Select alone sizes the sets for the lookups; SelectParams must also
// make the outputs decryptable.
func TestSelectChecksOutputs(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	b := NewBuilder("wide_logits")
	x := b.Input("x", []int{1, 30}, true, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}, QMin: 0, QMax: 3})
	a := b.Apply("act", x, func(v int64) int64 { return 3 - v }, 0, RoundExact)
	y := b.MatMul("logits", a, randInts(rng, 30*4, -4, 3), 30, 4, nil)
	b.Output("y", y, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}})
	c, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	req := c.Requirements()
	plain, err := tfhe.Select(tfhe.Requirements{MsgBits: req.MsgBits, PBSBits: req.PBSBits, MaxNorm2: req.MaxNorm2})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.SelectParams(SelectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := tfheParams(c)
	f, name := outputFail(c, c.analyze(), p)
	t.Logf("lookups alone: %s; with outputs: %s (output %q fails with %g)", plain.Name, info, name, f)
	if f > tfhe.DefaultPError || info.PError > tfhe.DefaultPError {
		t.Errorf("selected %s: output fails with probability %g", p.Name, f)
	}
	if pf, _ := outputFail(c, c.analyze(), plain.WithMsgBits(c.MsgBits)); pf <= tfhe.DefaultPError {
		t.Fatalf("the lookup-only choice %s decrypts the outputs too (p %g): the test does not exercise the check", plain.Name, pf)
	}
}

// TestModelExecuteProgress: Model.Forward in Execute mode (keys made on
// first use) reports every lookup from the worker goroutines.
func TestModelExecuteProgress(t *testing.T) {
	c := withToyParams(t, twoLayer(t, RoundExact))
	var last Progress
	var stages []string
	m := &Model{C: c, Opts: Options{Workers: 2, Progress: func(p Progress) {
		if p.Done {
			stages = append(stages, p.Stage)
		}
		last = p
	}}}
	x := []float64{0.5, 3, 1, 0, 2.5, 1.5}
	got, err := m.Forward(context.Background(), Execute, x)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := m.Forward(context.Background(), Disable, x)
	if !cmp.Equal(got, want) {
		t.Errorf("execute %v, disable %v", got, want)
	}
	if !cmp.Equal(stages, []string{"keygen", "run", "run"}) || last.TLUs != 7 || m.KeygenTime <= 0 {
		t.Errorf("stages %v, last report %+v, keygen time %v", stages, last, m.KeygenTime)
	}
}

// TestTFHEClearInput: a clear input travels in the clear and enters the
// encrypted computation as trivial ciphertexts.
func TestTFHEClearInput(t *testing.T) {
	b := NewBuilder("mixed")
	x := b.Input("x", []int{3}, true, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}, QMin: -4, QMax: 3})
	z := b.Input("z", []int{3}, false, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}, QMin: 0, QMax: 3})
	y := b.Apply("sq", b.Add("add", x, z), func(v int64) int64 { return v * v }, 0, RoundExact)
	b.Output("y", y, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}})
	c, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	withToyParams(t, c)
	m := &Model{C: c}
	got, err := m.ForwardQuantized(context.Background(), Execute, []int64{-4, 1, 3}, []int64{0, 3, 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{16, 16, 25}; !cmp.Equal(got[0], want) {
		t.Errorf("got %v, want %v", got[0], want)
	}
}

// cpuTime returns the user+system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

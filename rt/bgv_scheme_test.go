package rt

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/fheir/fheir/rt/bgv"
	"github.com/google/go-cmp/cmp"
)

// bgvTwoLayer is a two-layer network small enough for N=2^14 (10 levels):
// 3 inputs in [0,3] → dense 3×4 (weights in {-1,0,1}) → per-channel
// lookups clamp(round(v/2) + ch - 1, 0, 3) → dense 4×2 → lookup.
func bgvTwoLayer(t testing.TB) *Circuit { return bgvTwoLayerScheme(t, "bgv") }

func bgvTwoLayerScheme(t testing.TB, scheme string) *Circuit {
	b := NewBuilder("bgv_two_layer")
	x := b.Input("x", []int{1, 3}, true, Quant{Scale: []float64{0.5}, ZeroPoint: []int64{0}, QMin: 0, QMax: 3})
	h := b.MatMul("fc1", x, []int64{
		1, -1, 0, 1,
		-1, 1, 1, 0,
		1, 0, -1, 1,
	}, 3, 4, []int64{0, 1, -1, 0})
	a := b.ApplyPerChannel("act1", h, 1, func(ch int, v int64) int64 { return min(max(v+int64(ch)-1, 0), 3) }, 1, RoundExact)
	o := b.MatMul("fc2", a, []int64{
		1, 0,
		-1, 1,
		0, -1,
		0, 0,
	}, 4, 2, nil)
	y := b.Apply("act2", o, func(v int64) int64 { return v*v - 2*v }, 0, RoundExact)
	b.Output("y", y, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}})
	return bgvBuild(t, b, scheme)
}

// bgvBuild builds b's circuit and selects its parameters under scheme.
func bgvBuild(t testing.TB, b *Builder, scheme string) *Circuit {
	t.Helper()
	c, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	c.Scheme = scheme
	if _, err := c.SelectParams(SelectOptions{}); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBGVPlan(t *testing.T) {
	c := bgvTwoLayer(t)
	pl := c.bgvPlan()
	// fc1's rows have 1-norm ≤ 3 (≤ maxExcess): no rescale, no level; its
	// columns span [-3,6], [-2,4], [-4,2] and [0,6], so act1 reads
	// [-4,6]: degree 10, 4 levels. fc2 (1-norm ≤ 2, no level), act2
	// reads [-3,3]: degree 6, 3 levels.
	if pl.total != 7 {
		t.Errorf("depth %d, want 7 (path %s)", pl.total, c.bgvPath(pl))
	}
	if c.Params != "n14-t65537-l7" {
		t.Errorf("params %q, want n14-t65537-l7", c.Params)
	}
	for k, op := range c.Ops {
		if op.Kind == OpLinear && pl.rescale[k] {
			t.Errorf("%s rescales", op.Name)
		}
	}
	// Weights of 1-norm 5 exceed maxExcess: that sum rescales (1 level).
	b := NewBuilder("wide")
	x := b.Input("x", []int{1, 2}, true, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}, QMin: 0, QMax: 3})
	h := b.MatMul("fc", x, []int64{3, 1, -2, 1}, 2, 2, nil)
	b.Output("y", b.Apply("act", h, func(v int64) int64 { return v / 2 }, 0, RoundExact), Quant{Scale: []float64{1}, ZeroPoint: []int64{0}})
	w, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	w.Scheme = "bgv"
	wpl := w.bgvPlan()
	if !wpl.rescale[0] || wpl.cost[0] != 1 || wpl.excess[w.Ops[0].Out] != 1 {
		t.Errorf("1-norm-5 sum: rescale %v, cost %d, excess %d; want true, 1, 1", wpl.rescale[0], wpl.cost[0], wpl.excess[w.Ops[0].Out])
	}
	pi, err := c.ParamsInfo()
	if err != nil {
		t.Fatal(err)
	}
	if pi.Scheme != "bgv" || pi.SecurityBits != 128 || pi.TLUs != 6 || pi.Estimate <= 0 {
		t.Errorf("info %+v", pi)
	}
}

// TestBGVExecuteEqualsDisable runs the two-layer circuit through a Client
// and a Server on a batch of samples and on a single sample: every output
// equals the clear run.
func TestBGVExecuteEqualsDisable(t *testing.T) {
	c := bgvTwoLayer(t)
	cl, srv, ek := bgvDeploy(t, c, &Options{Workers: 2})
	if cl.MaxBatch() != 1<<14 {
		t.Errorf("MaxBatch %d, want 2^14", cl.MaxBatch())
	}
	// All 64 inputs of the domain, then random ones.
	rng := rand.New(rand.NewPCG(9, 10))
	var samples [][][]int64
	for i := range 200 {
		x := []int64{int64(i & 3), int64(i >> 2 & 3), int64(i >> 4 & 3)}
		if i >= 64 {
			x = []int64{rng.Int64N(4), rng.Int64N(4), rng.Int64N(4)}
		}
		samples = append(samples, [][]int64{x})
	}
	got := bgvRunBatch(t, cl, srv, samples)
	bgvCheckDisable(t, c, samples, got)
	distinct := map[int64]bool{}
	for s := range samples {
		for _, v := range got[s][0] {
			distinct[v] = true
		}
	}
	if len(distinct) < 3 {
		t.Errorf("only %d distinct outputs: the test network is degenerate", len(distinct))
	}
	// One sample through the plain API.
	x := []int64{3, 0, 2}
	in, err := cl.EncryptQuantized(x)
	if err != nil {
		t.Fatal(err)
	}
	out, err := srv.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	one, err := cl.DecryptQuantized(out)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := c.Run(context.Background(), Disable, [][]int64{x}, nil)
	if !cmp.Equal(one, want) {
		t.Errorf("single sample: execute %v, disable %v", one, want)
	}

	// Corrupted evaluation keys and ciphertexts give errors, not panics.
	for _, pos := range []int{len(ek) / 2, len(ek) - 1, 12} {
		bad := append([]byte(nil), ek...)
		bad[pos] ^= 0x20
		if _, err := NewServer(c, bad, nil); CodeOf(err) != CorruptData && CodeOf(err) != UnsupportedVersion {
			t.Errorf("eval keys with byte %d flipped: %v, want CorruptData", pos, err)
		}
	}
	bad := append([]byte(nil), in...)
	bad[len(bad)/2] ^= 1
	if _, err := srv.Run(context.Background(), bad); CodeOf(err) != CorruptData {
		t.Errorf("inputs with a flipped byte: %v, want CorruptData", err)
	}
	if _, err := cl.DecryptQuantized(out[:len(out)-5]); CodeOf(err) != CorruptData {
		t.Errorf("truncated outputs: %v, want CorruptData", err)
	}
	// The secret key round-trips.
	skb, err := cl.SecretKey()
	if err != nil {
		t.Fatal(err)
	}
	cl2, _ := NewClient(c)
	if err := cl2.LoadSecretKey(skb); err != nil {
		t.Fatal(err)
	}
	if again, err := cl2.DecryptQuantized(out); err != nil || !cmp.Equal(again, want) {
		t.Errorf("reloaded key decrypts %v, %v; want %v", again, err, want)
	}
}

func TestBGVDepthExceeded(t *testing.T) {
	b := NewBuilder("deep")
	x := b.Input("x", []int{4}, true, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}, QMin: -100, QMax: 100})
	for i := range 6 {
		h := b.MatMul("fc"+itoa(i), x, []int64{1, 2, -1, 3, 2, 1, 1, -2, 1, 1, 1, 1, 3, 0, 0, 1}, 4, 4, nil)
		x = b.Apply("act"+itoa(i), h, func(v int64) int64 { return min(max(v, -100), 100) }, 0, RoundExact)
	}
	b.Output("y", x, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}})
	c, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	c.Scheme = "bgv"
	_, err = c.SelectParams(SelectOptions{})
	if !errors.Is(err, DepthExceeded) {
		t.Fatalf("got %v, want DepthExceeded", err)
	}
	for _, want := range []string{`"fc0"`, `"act5"`, "TFHE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

// bgvMLP builds a 64→16→10 MLP on 2-bit inputs: dense with weights drawn
// from ws, a ReLU-like lookup clamp(round(v/4), 0, 7), dense, logits out.
func bgvMLP(t testing.TB, ws []int64, seed uint64) *Circuit {
	rng := rand.New(rand.NewPCG(seed, 1))
	draw := func(n int) []int64 {
		w := make([]int64, n)
		for i := range w {
			w[i] = ws[rng.IntN(len(ws))]
		}
		return w
	}
	b := NewBuilder("mlp64")
	x := b.Input("x", []int{1, 64}, true, Quant{Scale: []float64{0.25}, ZeroPoint: []int64{0}, QMin: 0, QMax: 3})
	h := b.MatMul("fc1", x, draw(64*16), 64, 16, draw(16))
	a := b.Apply("relu", h, func(v int64) int64 { return min(max(v, 0), 7) }, 2, RoundExact)
	y := b.MatMul("fc2", a, draw(16*10), 16, 10, draw(10))
	b.Output("logits", y, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}})
	c, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	c.Scheme = "bgv"
	if _, err := c.SelectParams(SelectOptions{}); err != nil {
		t.Fatal(err)
	}
	return c
}

// BenchmarkBGVMLP measures Server.Run of a 64→16→10 MLP on a full batch
// (batch-major: one sample per slot; vector-major: the interleaved
// layout's samples) and reports samples per second; the client's batch
// encryption and decryption are reported separately.
func BenchmarkBGVMLP(b *testing.B) {
	for _, tc := range []struct {
		name, scheme string
		ws           []int64
	}{
		{"ternary/batch-major", "bgv", []int64{-1, 0, 1}},
		{"int2/batch-major", "bgv", []int64{-2, -1, 0, 1}},
		{"ternary/vector-major", "bgv-vector", []int64{-1, 0, 1}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := bgvMLP(b, tc.ws, 1)
			if tc.scheme != c.Scheme {
				c.Scheme, c.Params = tc.scheme, ""
				if _, err := c.SelectParams(SelectOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			pi, _ := c.ParamsInfo()
			b.Logf("%s", pi.Desc)
			cl, srv, ek := bgvDeploy(b, c, nil)
			rng := rand.New(rand.NewPCG(2, 2))
			samples := make([][][]int64, cl.MaxBatch())
			for s := range samples {
				x := make([]int64, 64)
				for i := range x {
					x[i] = rng.Int64N(4)
				}
				samples[s] = [][]int64{x}
			}
			t0 := time.Now()
			in, err := cl.EncryptQuantizedBatch(samples)
			if err != nil {
				b.Fatal(err)
			}
			enc := time.Since(t0)
			b.ResetTimer()
			var out []byte
			for range b.N {
				if out, err = srv.Run(context.Background(), in); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			run := b.Elapsed() / time.Duration(b.N)
			t0 = time.Now()
			got, err := cl.DecryptQuantizedBatch(out)
			if err != nil {
				b.Fatal(err)
			}
			dec := time.Since(t0)
			for _, s := range []int{0, len(samples) / 2, len(samples) - 1} {
				want, _ := c.Run(context.Background(), Disable, samples[s], nil)
				if !cmp.Equal(got[s], want) {
					b.Fatalf("sample %d: execute %v, disable %v", s, got[s], want)
				}
			}
			b.ReportMetric(float64(len(samples))/run.Seconds(), "samples/s")
			b.Logf("batch %d: encrypt %v, server run %v, decrypt %v, inputs %s, eval keys %s",
				len(samples), enc.Round(time.Millisecond), run.Round(time.Millisecond), dec.Round(time.Millisecond), FormatBytes(int64(len(in))), FormatBytes(int64(len(ek))))
		})
	}
}

// TestBGVVectorExecuteEqualsDisable runs the two-layer circuit with
// vector-major packing through a Client and a Server: a full interleaved
// batch (every input of the domain, then random ones) and a single sample,
// compared with the clear run.
func TestBGVVectorExecuteEqualsDisable(t *testing.T) {
	c := bgvTwoLayerScheme(t, "bgv-vector")
	if pl := c.bgvPlan(); pl.total != 9 {
		t.Errorf("vector-major depth %d, want 9 (path %s)", pl.total, c.bgvPath(pl))
	}
	cl, srv, _ := bgvDeploy(t, c, nil)
	// Values have at most 4 elements: 2048 samples per slot row.
	if cl.MaxBatch() != 4096 {
		t.Errorf("MaxBatch %d, want 4096", cl.MaxBatch())
	}
	pi, _ := c.ParamsInfo()
	if sz := cl.KeySizes(); sz.Eval < pi.Keys.Eval/2 || sz.Eval > pi.Keys.Eval*2 {
		t.Errorf("eval keys %d bytes, estimated %d", sz.Eval, pi.Keys.Eval)
	}
	rng := rand.New(rand.NewPCG(9, 11))
	samples := make([][][]int64, cl.MaxBatch())
	for i := range samples {
		x := []int64{int64(i & 3), int64(i >> 2 & 3), int64(i >> 4 & 3)}
		if i >= 64 {
			x = []int64{rng.Int64N(4), rng.Int64N(4), rng.Int64N(4)}
		}
		samples[i] = [][]int64{x}
	}
	for _, batch := range [][][][]int64{samples, samples[5:6]} {
		bgvCheckDisable(t, c, batch, bgvRunBatch(t, cl, srv, batch))
	}
	// Keys without the rotations are refused up front.
	p, _ := bgvParams(c)
	sk, err := bgv.GenSecretKey(p)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := sk.GenEvalKey().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewServer(c, writeMsg(c, KindEvalKeys, plain), nil); CodeOf(err) != WrongParams {
		t.Errorf("keys without rotations: %v, want WrongParams", err)
	}
}

// bgvRunBatch encrypts batch (samples[s] holds one quantized slice per
// input), evaluates it once on srv and decrypts it.
func bgvRunBatch(t testing.TB, cl *Client, srv *Server, batch [][][]int64) [][][]int64 {
	t.Helper()
	in, err := cl.EncryptQuantizedBatch(batch)
	if err != nil {
		t.Fatal(err)
	}
	out, err := srv.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cl.DecryptQuantizedBatch(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(batch) {
		t.Fatalf("%d samples back, want %d", len(got), len(batch))
	}
	return got
}

// bgvCheckDisable requires every sample's decrypted outputs to equal c's
// clear (Disable) run on it.
func bgvCheckDisable(t testing.TB, c *Circuit, batch, got [][][]int64) {
	t.Helper()
	for s := range batch {
		want, err := c.Run(context.Background(), Disable, batch[s], nil)
		if err != nil {
			t.Fatal(err)
		}
		if !cmp.Equal(got[s], want) {
			t.Fatalf("sample %d x=%v: execute %v, disable %v", s, batch[s][0], got[s], want)
		}
	}
}

// bgvDeploy generates keys for c and loads its evaluation keys in a server.
func bgvDeploy(t testing.TB, c *Circuit, opts *Options) (*Client, *Server, []byte) {
	t.Helper()
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
	srv, err := NewServer(c, ek, opts)
	if err != nil {
		t.Fatal(err)
	}
	return cl, srv, ek
}

// BenchmarkMLPLatency measures one sample through the 64→16→10 MLP
// (ternary weights) under each packing and, for comparison in the same
// run, the TFHE-style backend.
func BenchmarkMLPLatency(b *testing.B) {
	for _, scheme := range []string{"bgv-vector", "bgv", "tfhe"} {
		b.Run(scheme, func(b *testing.B) {
			c := bgvMLP(b, []int64{-1, 0, 1}, 1)
			c.Scheme, c.Params = scheme, ""
			pi, err := c.SelectParams(SelectOptions{})
			if err != nil {
				b.Skipf("%s: %v", scheme, err)
			}
			b.Logf("%s", pi)
			t0 := time.Now()
			cl, srv, ek := bgvDeploy(b, c, nil)
			b.Logf("keygen+load %v, eval keys %s", time.Since(t0).Round(time.Millisecond), FormatBytes(int64(len(ek))))
			rng := rand.New(rand.NewPCG(3, 3))
			x := make([]int64, 64)
			for i := range x {
				x[i] = rng.Int64N(4)
			}
			in, err := cl.EncryptQuantized(x)
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			var out []byte
			for range b.N {
				if out, err = srv.Run(context.Background(), in); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			got, err := cl.DecryptQuantized(out)
			if err != nil {
				b.Fatal(err)
			}
			want, _ := c.Run(context.Background(), Disable, [][]int64{x}, nil)
			if !cmp.Equal(got, want) {
				b.Fatalf("execute %v, disable %v", got, want)
			}
		})
	}
}

// TestBGVClearInput mixes an encrypted and a clear input (the server
// encodes the clear one in every slot): y = (x + z)² for a batch.
func TestBGVClearInput(t *testing.T) {
	b := NewBuilder("clear_mix")
	q := Quant{Scale: []float64{1}, ZeroPoint: []int64{0}, QMin: -3, QMax: 3}
	x := b.Input("x", []int{2}, true, q)
	z := b.Input("z", []int{2}, false, q)
	y := b.Apply("sq", b.Add("sum", x, z), func(v int64) int64 { return v * v }, 0, RoundExact)
	b.Output("y", y, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}})
	c, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	c.Scheme = "bgv"
	if _, err := c.SelectParams(SelectOptions{}); err != nil {
		t.Fatal(err)
	}
	cl, srv, _ := bgvDeploy(t, c, nil)
	zc := []int64{2, -3}
	var samples [][][]int64
	for a := int64(-3); a <= 3; a++ {
		samples = append(samples, [][]int64{{a, -a}, zc})
	}
	got := bgvRunBatch(t, cl, srv, samples)
	for s, smp := range samples {
		a := smp[0][0]
		want := []int64{(a + 2) * (a + 2), (-a - 3) * (-a - 3)}
		if !cmp.Equal(got[s][0], want) {
			t.Errorf("x=%v z=%v: %v, want %v", smp[0], zc, got[s][0], want)
		}
	}
	samples[1][1] = []int64{0, 0}
	if _, err := cl.EncryptQuantizedBatch(samples); CodeOf(err) != BadInput {
		t.Errorf("clear inputs differing between samples: %v, want BadInput", err)
	}
}

func TestChooseScheme(t *testing.T) {
	c := bgvTwoLayer(t)
	c.Scheme, c.Params = "", ""
	best, all, err := c.ChooseScheme(SelectOptions{}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	// A million samples: batch-major BGV carries 16384 per evaluation, far
	// more than any other scheme, for a similar evaluation cost.
	if best.Scheme != "bgv" || c.Scheme != "bgv" || c.Params == "" {
		t.Errorf("batch 2^20 chose %s (circuit %s/%s), want bgv; estimates %+v", best.Scheme, c.Scheme, c.Params, all)
	}
	if best.Samples != 1<<14 || best.PerSample >= best.Latency {
		t.Errorf("bgv estimate %+v", best)
	}
	// One sample: batch-major evaluates every lookup element separately
	// where vector-major evaluates one polynomial per op, so it never wins.
	best, _, err = c.ChooseScheme(SelectOptions{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if best.Scheme == "bgv" {
		t.Errorf("batch 1 chose batch-major bgv")
	}
	// Too deep for BGV: both BGV packings report DepthExceeded.
	b := NewBuilder("deep")
	x := b.Input("x", []int{2}, true, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}, QMin: -100, QMax: 100})
	for i := range 5 { // 5 lookups of degree 600: 50 levels
		x = b.Apply("act"+itoa(i), b.MatMul("fc"+itoa(i), x, []int64{1, 2, -1, 1}, 2, 2, nil), func(v int64) int64 { return min(max(v, -100), 100) }, 0, RoundExact)
	}
	b.Output("y", x, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}})
	deep, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range deep.EstimateSchemes(SelectOptions{}, 1) {
		if strings.HasPrefix(e.Scheme, "bgv") && !errors.Is(e.Err, DepthExceeded) {
			t.Errorf("%s on a deep circuit: %v, want DepthExceeded", e.Scheme, e.Err)
		}
	}
	if deep.Scheme != "" || deep.Params != "" {
		t.Errorf("EstimateSchemes modified the circuit: %s/%s", deep.Scheme, deep.Params)
	}
}

// bgvMaxPool is a 2-way max through a difference, a ReLU lookup and a sum
// (the lowering of MaxPool), then an identity reshape and a dense layer:
// x ∈ [0,7]^8, m = max(x[0:4], x[4:8]) = x[0:4] + relu(x[4:8] − x[0:4]).
func bgvMaxPool(t testing.TB, scheme string) *Circuit {
	b := NewBuilder("bgv_maxpool")
	x := b.Input("x", []int{1, 8}, true, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}, QMin: 0, QMax: 7})
	lo := b.Slice("lo", x, []int{0, 0}, []int{1, 1}, []int{1, 4})
	hi := b.Slice("hi", x, []int{0, 4}, []int{1, 1}, []int{1, 4})
	r := b.Apply("relu", b.Sub("diff", hi, lo), func(v int64) int64 { return max(v, 0) }, 0, RoundExact)
	m := b.Reshape("flat", b.Add("max", lo, r), []int{4})
	y := b.Apply("act", b.MatMul("fc", b.Reshape("row", m, []int{1, 4}), []int64{2, -1, 1, 3, -2, 1, 1, 1}, 4, 2, []int64{1, -3}), func(v int64) int64 { return v / 4 }, 0, RoundExact)
	b.Output("y", y, Quant{Scale: []float64{1}, ZeroPoint: []int64{0}})
	return bgvBuild(t, b, scheme)
}

// TestBGVSlotSums checks that differences and sums of aligned values
// (MaxPool's lowering) and identity reshapes use no level in both
// packings, and that execute equals disable with them, with lattigo's
// hoisted products and with two-key ones.
func TestBGVSlotSums(t *testing.T) {
	for _, tc := range []struct {
		scheme string
		twoKey bool
	}{{"bgv", false}, {"bgv-vector", false}, {"bgv-vector", true}} {
		t.Run(tc.scheme+map[bool]string{true: "/two-key"}[tc.twoKey], func(t *testing.T) {
			if tc.twoKey {
				old := maxHoistedKeyBytes
				maxHoistedKeyBytes = 0
				defer func() { maxHoistedKeyBytes = old }()
			}
			c := bgvMaxPool(t, tc.scheme)
			pl := c.bgvPlan()
			for k, op := range c.Ops {
				switch op.Name {
				case "diff", "max", "flat", "row":
					if pl.cost[k] != 0 || (tc.scheme == "bgv-vector" && pl.slotw[k] == nil) {
						t.Errorf("%s: cost %d, slot weights %v; want 0 levels and a slot-wise sum", op.Name, pl.cost[k], pl.slotw[k])
					}
				}
			}
			// diff has excess 1+1, relu (degree 14: 4 levels), max excess
			// 1+1, fc (1-norm up to 5·2) rescales (1 level), act reads the
			// builder's sound range [-27,67] (m ∈ [0,14]): degree 94, 7
			// levels. In vector-major the slices are products (1 level).
			want := 12
			if tc.scheme == "bgv-vector" {
				want = 13
			}
			if pl.total != want {
				t.Errorf("depth %d, want %d (path %s)", pl.total, want, c.bgvPath(pl))
			}
			cl, srv, _ := bgvDeploy(t, c, nil)
			if p, _ := bgvParams(c); tc.twoKey {
				if l, _ := bgvLayout(c, p); l.Giant == 0 {
					t.Fatal("layout without two-key products")
				}
			}
			rng := rand.New(rand.NewPCG(3, 4))
			batch := make([][][]int64, min(cl.MaxBatch(), 300))
			for s := range batch {
				x := make([]int64, 8)
				for i := range x {
					x[i] = rng.Int64N(8)
				}
				batch[s] = [][]int64{x}
			}
			bgvCheckDisable(t, c, batch, bgvRunBatch(t, cl, srv, batch))
		})
	}
}

// TestMemoryLimit checks the server memory estimate's parts and that
// SelectParams refuses parameters above SelectOptions.MemoryLimit
// (MemoryExceeded) without touching the circuit.
func TestMemoryLimit(t *testing.T) {
	for _, scheme := range []string{"bgv", "bgv-vector", "tfhe"} {
		c := bgvTwoLayerScheme(t, scheme)
		pi, err := c.ParamsInfo()
		if err != nil {
			t.Fatal(err)
		}
		// At least the keys and the input's ciphertexts.
		if pi.Memory < pi.Keys.Eval+pi.Keys.Ciphertext {
			t.Errorf("%s: memory %d below keys %d + a ciphertext %d", scheme, pi.Memory, pi.Keys.Eval, pi.Keys.Ciphertext)
		}
		before := *c
		_, err = c.SelectParams(SelectOptions{MemoryLimit: pi.Memory - 1})
		if CodeOf(err) != MemoryExceeded || !strings.Contains(err.Error(), "server memory") {
			t.Errorf("%s: limit below the estimate: %v, want MemoryExceeded", scheme, err)
		}
		if c.Scheme != before.Scheme || c.Params != before.Params {
			t.Errorf("%s: a refused selection changed the circuit to %s/%s", scheme, c.Scheme, c.Params)
		}
		if _, err := c.SelectParams(SelectOptions{MemoryLimit: pi.Memory}); err != nil {
			t.Errorf("%s: limit at the estimate: %v", scheme, err)
		}
	}
}

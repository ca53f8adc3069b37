package codegen

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fheir/fheir/frontend"
	"github.com/fheir/fheir/internal/npy"
	"github.com/fheir/fheir/passes"
	"github.com/fheir/fheir/rt"
)

// benchMemoryLimit is the server memory limit parameter selection gets in
// BenchmarkBackends: fheir compile's default --memory-limit.
const benchMemoryLimit = 16 << 30

// backendCase is one row of the backend comparison: a committed model
// compiled with some rounding for one backend, run on batch samples per
// evaluation.
type backendCase struct {
	model  string // path prefix of the ONNX file and its .input.npy
	round  int    // rounding threshold bits (0: none)
	method string // rounding method when round > 0: "approximate" or "exact"
	// backend is fheir compile's --backend: tfhe, bgv-vector, bgv-batch,
	// or bgv (the compiler picks the BGV packing with the lowest
	// estimated latency that fits).
	backend string
	// batch: samples per evaluation. 1: one sample; fullBatch: as many as
	// one evaluation carries, the committed rows repeated to fill it;
	// committedRows: the committed rows, up to what one evaluation carries
	// (samples/s is still reported for a full evaluation, whose cost does
	// not depend on how many slots hold samples).
	batch int
	// estimateOnly: select parameters and report the estimate (or why
	// they are refused) without generating keys or running.
	estimateOnly bool
}

const (
	fullBatch     = 0
	committedRows = -1
)

func (bc backendCase) name() string {
	round := "none"
	if bc.round > 0 {
		round = fmt.Sprintf("%d%c", bc.round, bc.method[0])
	}
	batch := strconv.Itoa(bc.batch)
	switch bc.batch {
	case fullBatch:
		batch = "full"
	case committedRows:
		batch = "rows"
	}
	return fmt.Sprintf("model=%s/backend=%s/round=%s/batch=%s", lastElem(bc.model), bc.backend, round, batch)
}

// BenchmarkBackends compares the backends on the same models in the same
// run: the demo MLP (16 lookups), QATSimpleNet (wine fixture, 60 lookups)
// and the committed digits CNN (664 lookups, up to 10 bits). Each
// sub-benchmark compiles the model as fheir compile does (--backend B,
// --rounding-threshold-bits R:method, --memory-limit 16GiB), generates
// keys, loads them into a server, encrypts committed rows and measures
// Server.Run; the decrypted integer outputs are compared with the clear
// (Disable) run: with exact lookups every one must be equal, with
// approximate rounding the differences are counted. Run it with
// -benchtime=1x (one evaluation of the CNN takes minutes); select models
// or backends by sub-benchmark name, e.g.
//
//	go test ./codegen -run '^$' -bench 'Backends/model=qat_cnn_digits/backend=bgv$' -benchtime 1x
//
// Metrics: s/eval (server time of one evaluation), samples/eval (what one
// evaluation carries), rows/eval (samples actually encrypted), samples/s
// (samples/eval / s/eval), keygen-s (key generation and serialization),
// load-s (NewServer: key loading and constant encoding), evalkeys-MiB
// (serialized evaluation keys), lookups, est-s (the single-core estimate
// of one evaluation), est-mem-MiB (ParamsInfo.Memory), heap-MiB (largest
// sampled HeapInuse), rss-MiB (peak resident set of the process during the
// sub-benchmark: client, server and clear check together), diff-values /
// values (decrypted integers differing from the clear run / compared),
// diff-argmax (samples whose first output's argmax differs), clear-acc
// (the clear run's accuracy on all committed rows against their labels).
func BenchmarkBackends(b *testing.B) {
	const (
		mlp  = "../testdata/models/qat_mlp_demo"
		wine = "../testdata/fixtures/qat_simplenet_wine"
		cnn  = "../testdata/models/qat_cnn_digits"
	)
	var cases []backendCase
	for _, m := range []struct {
		prefix string
		round  int
	}{{mlp, 4}, {wine, 6}} {
		cases = append(cases,
			backendCase{model: m.prefix, backend: "tfhe", batch: 1},
			backendCase{model: m.prefix, round: m.round, method: "approximate", backend: "tfhe", batch: 1},
			backendCase{model: m.prefix, backend: "bgv-vector", batch: 1},
			backendCase{model: m.prefix, backend: "bgv-vector", batch: fullBatch},
			backendCase{model: m.prefix, backend: "bgv-batch", batch: 1},
			backendCase{model: m.prefix, backend: "bgv-batch", batch: fullBatch},
		)
	}
	// The CNN's 10-bit lookups need rounding under TFHE (exact rounding
	// to 6 bits is the narrowest that keeps the approximate case's lookup
	// width); one BGV evaluation is minutes, so it runs once, and
	// batch-major BGV needs more than the memory limit.
	cases = append(cases,
		backendCase{model: cnn, backend: "bgv", batch: committedRows},
		backendCase{model: cnn, backend: "bgv-batch", batch: committedRows, estimateOnly: true},
		backendCase{model: cnn, round: 6, method: "approximate", backend: "tfhe", batch: 1},
		backendCase{model: cnn, round: 6, method: "exact", backend: "tfhe", batch: 1},
	)
	for _, bc := range cases {
		b.Run(bc.name(), func(b *testing.B) { benchBackend(b, bc) })
	}
}

func lastElem(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

// compileCase runs the front end, the default pipeline, the lowering and
// the backend choice and parameter selection for bc.
func compileCase(b *testing.B, bc backendCase, sel rt.SelectOptions) (*rt.Circuit, rt.ParamsInfo, error) {
	model := bc.model + ".qonnx.op14.onnx"
	f, err := frontend.Import(model, frontend.Options{})
	if err != nil {
		b.Skipf("%s: %v", model, err)
	}
	popts := &passes.Options{}
	if bc.round > 0 {
		popts.RoundingBits, popts.RoundingMethod = bc.round, bc.method
	}
	if err := passes.Run(f, passes.DefaultPipeline, popts); err != nil {
		b.Fatal(err)
	}
	c, _, err := Lower(f)
	if err != nil {
		b.Fatal(err)
	}
	c.Name = "bench"
	switch bc.backend {
	case "bgv":
		if _, _, err := c.ChooseScheme(sel, 1, rt.BGVSchemes...); err != nil {
			return c, rt.ParamsInfo{}, err
		}
	case "bgv-batch":
		c.Scheme = "bgv"
	default:
		c.Scheme = bc.backend
	}
	info, err := SelectParams(c, sel)
	return c, info, err
}

func benchBackend(b *testing.B, bc backendCase) {
	sel := rt.SelectOptions{MemoryLimit: benchMemoryLimit}
	c, info, err := compileCase(b, bc, sel)
	if bc.estimateOnly {
		_, nolimit, err2 := compileCase(b, bc, rt.SelectOptions{})
		if err2 != nil {
			b.Fatalf("without a memory limit: %v", err2)
		}
		reason := "fits the limit"
		if err != nil {
			reason = err.Error()
		}
		b.Skipf("not run: %s/%s, %d lookups, estimate %v per evaluation (one core), server memory %s, evaluation keys %s; with --memory-limit %s: %s",
			nolimit.Scheme, nolimit.Name, nolimit.TLUs, nolimit.Estimate.Round(time.Second), rt.FormatBytes(nolimit.Memory),
			rt.FormatBytes(nolimit.Keys.Eval), rt.FormatBytes(benchMemoryLimit), reason)
	}
	if err != nil {
		b.Skipf("%s does not fit %s: %v", bc.model, bc.backend, err)
	}
	b.Logf("%s/%s, %d lookups, estimate %v per evaluation (one core), server memory estimate %s",
		info.Scheme, info.Name, info.TLUs, info.Estimate.Round(time.Millisecond), rt.FormatBytes(info.Memory))
	rows, err := npy.ReadFile(bc.model + ".input.npy")
	if err != nil {
		b.Fatal(err)
	}
	size := c.Values[c.Inputs[0].Value].Size()

	runtime.GC()
	debug.FreeOSMemory()
	peak := startMemSampler()
	defer peak.stop()

	client, err := rt.NewClient(c)
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	if err := client.GenerateKeys(nil); err != nil {
		b.Fatal(err)
	}
	ek, err := client.EvaluationKeys()
	if err != nil {
		b.Fatal(err)
	}
	keygen := time.Since(t0)
	ekBytes := len(ek)
	t0 = time.Now()
	server, err := rt.NewServer(c, ek, nil)
	if err != nil {
		b.Fatal(err)
	}
	load := time.Since(t0)
	ek = nil

	nRows := rows.Len() / size
	capacity := client.MaxBatch()
	batch := bc.batch
	switch batch {
	case fullBatch:
		batch = capacity
	case committedRows:
		batch = min(nRows, capacity)
	}
	samples := make([][][]int64, batch)
	for s := range samples {
		r := s % nRows
		q, err := c.Quantize([][]float64{rows.F[r*size : (r+1)*size]})
		if err != nil {
			b.Fatal(err)
		}
		samples[s] = q
	}
	ctx := context.Background()
	var ct []byte
	if batch == 1 {
		ct, err = client.EncryptQuantized(samples[0]...)
	} else {
		ct, err = client.EncryptQuantizedBatch(samples)
	}
	if err != nil {
		b.Fatal(err)
	}
	var out []byte
	b.ResetTimer()
	for b.Loop() {
		if out, err = server.Run(ctx, ct); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	perEval := b.Elapsed().Seconds() / float64(b.N)

	var got [][][]int64
	if batch == 1 {
		y, err := client.DecryptQuantized(out)
		if err != nil {
			b.Fatal(err)
		}
		got = [][][]int64{y}
	} else if got, err = client.DecryptQuantizedBatch(out); err != nil {
		b.Fatal(err)
	}
	if len(got) != batch {
		b.Fatalf("%d samples decrypted, %d encrypted", len(got), batch)
	}
	// Each distinct row once: the repeats are the same computation.
	diff, values, diffArgmax := 0, 0, 0
	for s := range min(batch, nRows) {
		want, err := c.Run(ctx, rt.Disable, samples[s], nil)
		if err != nil {
			b.Fatal(err)
		}
		for k := range want {
			for i := range want[k] {
				values++
				if got[s][k][i] != want[k][i] {
					diff++
				}
			}
			if bc.round == 0 || bc.method == "exact" {
				if !slices.Equal(got[s][k], want[k]) {
					b.Errorf("sample %d output %d: execute %v, disable %v", s, k, got[s][k], want[k])
				}
			} else if !slices.Equal(got[s][k], want[k]) {
				b.Logf("sample %d output %d (approximate rounding): execute %v, disable %v", s, k, got[s][k], want[k])
			}
		}
		if argmax(got[s][0]) != argmax(want[0]) {
			diffArgmax++
		}
	}
	// Repeated rows must decrypt to their first copy's outputs.
	for s := nRows; s < batch; s++ {
		for k := range got[s] {
			if !slices.Equal(got[s][k], got[s%nRows][k]) {
				b.Fatalf("sample %d (a copy of row %d) output %d: %v, the row gave %v", s, s%nRows, k, got[s][k], got[s%nRows][k])
			}
		}
	}
	heap, rss := peak.stop()
	acc, accOK := clearAccuracy(b, c, bc.model, rows, size)
	full := batch
	if bc.batch == committedRows {
		full = capacity
	}
	b.ReportMetric(perEval, "s/eval")
	b.ReportMetric(float64(full), "samples/eval")
	b.ReportMetric(float64(batch), "rows/eval")
	b.ReportMetric(float64(full)/perEval, "samples/s")
	b.ReportMetric(keygen.Seconds(), "keygen-s")
	b.ReportMetric(load.Seconds(), "load-s")
	b.ReportMetric(float64(ekBytes)/(1<<20), "evalkeys-MiB")
	b.ReportMetric(float64(info.TLUs), "lookups")
	b.ReportMetric(info.Estimate.Seconds(), "est-s")
	b.ReportMetric(float64(info.Memory)/(1<<20), "est-mem-MiB")
	b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
	if rss > 0 {
		b.ReportMetric(float64(rss)/(1<<20), "rss-MiB")
	}
	b.ReportMetric(float64(diff), "diff-values")
	b.ReportMetric(float64(values), "values")
	b.ReportMetric(float64(diffArgmax), "diff-argmax")
	if accOK {
		b.ReportMetric(acc, "clear-acc")
	}
}

// clearAccuracy returns the fraction of the committed rows whose clear
// (Disable) run's first output has its argmax at the row's label (false
// when the model has no .label.npy): what the compiled circuit, rounding
// included, predicts.
func clearAccuracy(b *testing.B, c *rt.Circuit, prefix string, rows *npy.Array, size int) (float64, bool) {
	labels, err := npy.ReadFile(prefix + ".label.npy")
	if err != nil {
		return 0, false
	}
	lab := labels.Floats()
	n := rows.Len() / size
	if len(lab) != n {
		b.Fatalf("%d labels for %d rows", len(lab), n)
	}
	right := 0
	for r := range n {
		q, err := c.Quantize([][]float64{rows.F[r*size : (r+1)*size]})
		if err != nil {
			b.Fatal(err)
		}
		y, err := c.Run(context.Background(), rt.Disable, q, nil)
		if err != nil {
			b.Fatal(err)
		}
		if float64(argmax(y[0])) == lab[r] {
			right++
		}
	}
	return float64(right) / float64(n), true
}

func argmax(v []int64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// memSampler records the largest HeapInuse seen (sampled every 200 ms)
// and the process's peak resident set since it started (Linux: VmHWM
// after resetting it through /proc/self/clear_refs; 0 elsewhere).
type memSampler struct {
	done    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
	heap    uint64
	rssOK   bool
	rssPeak uint64
}

func startMemSampler() *memSampler {
	m := &memSampler{done: make(chan struct{})}
	m.rssOK = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			m.heap = max(m.heap, ms.HeapInuse)
			select {
			case <-m.done:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

// stop ends the sampling (once; later calls return the same figures).
func (m *memSampler) stop() (heap, rss uint64) {
	m.once.Do(func() {
		close(m.done)
		m.wg.Wait()
		if m.rssOK {
			m.rssPeak = vmHWM()
		}
	})
	return m.heap, m.rssPeak
}

// vmHWM returns the process's peak resident set in bytes (0 when
// /proc/self/status cannot be read).
func vmHWM() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

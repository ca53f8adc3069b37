package codegen

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/fheir/fheir/frontend"
	"github.com/fheir/fheir/internal/npy"
	"github.com/fheir/fheir/passes"
	"github.com/fheir/fheir/rt"
)

// backendCase is one row of the backend comparison: a committed model
// compiled with some rounding for one scheme, run on batch samples per
// evaluation (0: as many as one evaluation carries).
type backendCase struct {
	model  string // path prefix of the ONNX file and its .input.npy
	round  int    // approximate rounding to this many bits (0: exact lookups)
	scheme string
	batch  int
}

// BenchmarkBackends compares the backends on the same models in the same
// run: QATSimpleNet (wine fixture, 60 lookups) and the demo MLP (16
// lookups). Each sub-benchmark compiles the model as fheir compile does
// (--backend scheme, --rounding-threshold-bits round:approximate),
// generates keys, encrypts batch committed rows (repeated to fill the
// batch) and measures Server.Run; every decrypted integer output must
// equal the clear run's (exact lookups; approximate rounding reports the
// mismatches instead). Run it with -benchtime=1x: one evaluation of
// QATSimpleNet takes minutes on the TFHE-style backend without rounding
// and on batch-major BGV.
//
// Metrics: s/eval (server time of one evaluation), samples/eval,
// samples/s, keygen-s (client key generation), evalkeys-MiB (serialized
// evaluation keys), mismatches (outputs differing from the clear run).
func BenchmarkBackends(b *testing.B) {
	const (
		wine = "../testdata/fixtures/qat_simplenet_wine"
		mlp  = "../testdata/models/qat_mlp_demo"
	)
	var cases []backendCase
	for _, m := range []struct {
		prefix string
		round  int
	}{{mlp, 4}, {wine, 6}} {
		cases = append(cases,
			backendCase{m.prefix, 0, "tfhe", 1},
			backendCase{m.prefix, m.round, "tfhe", 1},
			backendCase{m.prefix, 0, "bgv-vector", 1},
			backendCase{m.prefix, 0, "bgv-vector", 0},
			backendCase{m.prefix, 0, "bgv", 1},
			backendCase{m.prefix, 0, "bgv", 0},
		)
	}
	for _, bc := range cases {
		name := fmt.Sprintf("model=%s/scheme=%s/round=%d/batch=%d", lastElem(bc.model), bc.scheme, bc.round, bc.batch)
		b.Run(name, func(b *testing.B) { benchBackend(b, bc) })
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

func benchBackend(b *testing.B, bc backendCase) {
	model := bc.model + ".qonnx.op14.onnx"
	f, err := frontend.Import(model, frontend.Options{})
	if err != nil {
		b.Skipf("%s: %v", model, err)
	}
	popts := &passes.Options{}
	if bc.round > 0 {
		popts.RoundingBits, popts.RoundingMethod = bc.round, "approximate"
	}
	if err := passes.Run(f, passes.DefaultPipeline, popts); err != nil {
		b.Fatal(err)
	}
	c, _, err := Lower(f)
	if err != nil {
		b.Fatal(err)
	}
	c.Name, c.Scheme = "bench", bc.scheme
	info, err := SelectParams(c, rt.SelectOptions{})
	if err != nil {
		b.Skipf("%s does not fit %s: %v", model, bc.scheme, err)
	}
	b.Logf("%s: %s/%s, %d lookups, estimate %v per evaluation", model, info.Scheme, info.Name, info.TLUs, info.Estimate.Round(time.Millisecond))
	rows, err := npy.ReadFile(bc.model + ".input.npy")
	if err != nil {
		b.Fatal(err)
	}
	size := c.Values[c.Inputs[0].Value].Size()

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
	server, err := rt.NewServer(c, ek, nil)
	if err != nil {
		b.Fatal(err)
	}
	ek = nil

	batch := bc.batch
	if batch == 0 {
		batch = client.MaxBatch()
	}
	nRows := rows.Len() / size
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
	if bc.batch == 1 {
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
	if bc.batch == 1 {
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
	mismatches := 0
	for s := range min(batch, nRows) {
		want, err := c.Run(ctx, rt.Disable, samples[s], nil)
		if err != nil {
			b.Fatal(err)
		}
		for k := range want {
			if !slices.Equal(got[s][k], want[k]) {
				mismatches++
				if bc.round == 0 {
					b.Errorf("sample %d output %d: execute %v, disable %v", s, k, got[s][k], want[k])
				}
			}
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
	b.ReportMetric(perEval, "s/eval")
	b.ReportMetric(float64(batch), "samples/eval")
	b.ReportMetric(float64(batch)/perEval, "samples/s")
	b.ReportMetric(keygen.Seconds(), "keygen-s")
	b.ReportMetric(float64(ekBytes)/(1<<20), "evalkeys-MiB")
	b.ReportMetric(float64(mismatches), "mismatches")
}

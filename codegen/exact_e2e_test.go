package codegen

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/fheir/fheir/frontend"
	"github.com/fheir/fheir/internal/npy"
	"github.com/fheir/fheir/passes"
	"github.com/fheir/fheir/rt"
)

const demoPrefix = "../testdata/models/qat_mlp_demo"

// demoTFHE compiles the committed demo model for TFHE with rounding to
// roundBits ("exact" or "approximate"; 0 bits: no rounding), generates
// keys and returns the circuit, client, server (built from serialized
// evaluation keys) and the quantized committed rows.
func demoTFHE(tb testing.TB, roundBits int, method string) (*rt.Circuit, *rt.Client, *rt.Server, [][]int64) {
	tb.Helper()
	f, err := frontend.Import(demoPrefix+".qonnx.op14.onnx", frontend.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	if err := passes.Run(f, passes.DefaultPipeline, &passes.Options{RoundingBits: roundBits, RoundingMethod: method}); err != nil {
		tb.Fatal(err)
	}
	c, _, err := Lower(f)
	if err != nil {
		tb.Fatal(err)
	}
	c.Scheme = "tfhe"
	info, err := SelectParams(c, rt.SelectOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Logf("%s", info)
	rows, err := npy.ReadFile(demoPrefix + ".input.npy")
	if err != nil {
		tb.Fatal(err)
	}
	n := c.Values[c.Inputs[0].Value].Size()
	var qs [][]int64
	for r := 0; r < rows.Len()/n; r++ {
		q, err := c.Quantize([][]float64{rows.F[r*n : (r+1)*n]})
		if err != nil {
			tb.Fatal(err)
		}
		qs = append(qs, q[0])
	}
	cl, err := rt.NewClient(c)
	if err != nil {
		tb.Fatal(err)
	}
	if err := cl.GenerateKeys(nil); err != nil {
		tb.Fatal(err)
	}
	ek, err := cl.EvaluationKeys()
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := rt.NewServer(c, ek, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return c, cl, srv, qs
}

// TestDemoExactRoundingTFHE compiles the committed demo model with exact
// rounding to 4 bits for TFHE and runs two of its committed rows through
// serialized keys and ciphertexts: execute equals disable bit for bit
// (exact rounding has no off-by-one near rounding boundaries).
func TestDemoExactRoundingTFHE(t *testing.T) {
	c, cl, srv, rows := demoTFHE(t, 4, "exact")
	info, err := c.ParamsInfo()
	if err != nil {
		t.Fatal(err)
	}
	if req := c.Requirements(); info.PBSBits > 5 || req.ExactDropBits == 0 || info.Bootstraps <= info.TLUs {
		t.Fatalf("exact 4-bit rounding: %d-bit lookups, %d bootstraps for %d lookups (requirements %+v)", info.PBSBits, info.Bootstraps, info.TLUs, req)
	}
	ctx := context.Background()
	for r, x := range rows[:2] {
		want, err := c.Run(ctx, rt.Disable, [][]int64{x}, nil)
		if err != nil {
			t.Fatal(err)
		}
		in, err := cl.EncryptQuantized(x)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		out, err := srv.Run(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("row %d: %v encrypted", r, time.Since(start).Round(time.Millisecond))
		got, err := cl.DecryptQuantized(out)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if !slices.Equal(got[i], want[i]) {
				t.Errorf("row %d output %d: execute %v, disable %v", r, i, got[i], want[i])
			}
		}
	}
}

// BenchmarkDemoRoundingTFHE: one encrypted inference of the demo model on
// TFHE with 4-bit exact rounding, 4-bit approximate rounding, and none
// (7-bit lookups; slow: keys take ~20 s).
func BenchmarkDemoRoundingTFHE(b *testing.B) {
	for _, bc := range []struct {
		name   string
		bits   int
		method string
	}{{"exact4", 4, "exact"}, {"approx4", 4, "approximate"}, {"none", 0, ""}} {
		b.Run(bc.name, func(b *testing.B) {
			_, cl, srv, rows := demoTFHE(b, bc.bits, bc.method)
			in, err := cl.EncryptQuantized(rows[0])
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := srv.Run(context.Background(), in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

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

// TestDemoExactRoundingTFHE compiles the committed demo model with exact
// rounding to 4 bits for TFHE and runs two of its committed rows through
// serialized keys and ciphertexts: execute equals disable bit for bit
// (exact rounding has no off-by-one near rounding boundaries).
func TestDemoExactRoundingTFHE(t *testing.T) {
	const prefix = "../testdata/models/qat_mlp_demo"
	f, err := frontend.Import(prefix+".qonnx.op14.onnx", frontend.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := passes.Run(f, passes.DefaultPipeline, &passes.Options{RoundingBits: 4, RoundingMethod: "exact"}); err != nil {
		t.Fatal(err)
	}
	c, _, err := Lower(f)
	if err != nil {
		t.Fatal(err)
	}
	c.Scheme = "tfhe"
	info, err := SelectParams(c, rt.SelectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", info)
	req := c.Requirements()
	if info.PBSBits > 5 || req.ExactDropBits == 0 || info.Bootstraps <= info.TLUs {
		t.Fatalf("exact 4-bit rounding: %d-bit lookups, %d bootstraps for %d lookups (requirements %+v)", info.PBSBits, info.Bootstraps, info.TLUs, req)
	}
	rows, err := npy.ReadFile(prefix + ".input.npy")
	if err != nil {
		t.Fatal(err)
	}
	n := c.Values[c.Inputs[0].Value].Size()
	cl, err := rt.NewClient(c)
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
	srv, err := rt.NewServer(c, ek, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for r := range 2 {
		q, err := c.Quantize([][]float64{rows.F[r*n : (r+1)*n]})
		if err != nil {
			t.Fatal(err)
		}
		want, err := c.Run(ctx, rt.Disable, q, nil)
		if err != nil {
			t.Fatal(err)
		}
		in, err := cl.EncryptQuantized(q...)
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

package rt

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "update golden files")

// TestFormatGolden pins the circuit encoding: a blob written by an earlier
// build must still decode to the same circuit. A deliberate format change
// bumps circuitVersion and regenerates the file with -update.
func TestFormatGolden(t *testing.T) {
	c := twoLayer(t, RoundApprox)
	c.Scheme, c.Params, c.PError = "tfhe", "p5", 1.0/(1<<40)
	path := filepath.Join("testdata", "two_layer.v1.circuit")
	if *update {
		data, _ := c.MarshalBinary()
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d Circuit
	if err := d.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, &d, equateEmpty); diff != "" {
		t.Errorf("golden circuit decodes differently (-built +decoded):\n%s", diff)
	}
}

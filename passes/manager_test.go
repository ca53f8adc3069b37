package passes

import (
	"bytes"
	"strings"
	"testing"

	"github.com/fheir/fheir/ir"
)

const tiny = `func main(v0: enc<4xi4>) {
  v1 = neg <enc<4xi5>> v0
  v2 = neg <enc<4xi5>> v0
  v3 = add <enc<4xi6>> v1 v2
  v4 = relu <enc<4xi4>> v0
  return v3
}`

func parseTiny(t *testing.T) *ir.Func {
	t.Helper()
	f, err := ir.Parse("tiny.fir", []byte(tiny))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestNamesAndSummaries(t *testing.T) {
	names := Names()
	want := []string{"canonicalize", "fold-batchnorm", "narrow", "fuse-tlu", "merge-linear", "cse", "dce", "round"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("Names() = %v, want %v", names, want)
	}
	for _, n := range names {
		if Summary(n) == "" {
			t.Errorf("pass %s has no summary", n)
		}
	}
	if Summary("nope") != "" {
		t.Error("summary of an unknown pass")
	}
	for _, c := range orderConstraints {
		if c.reason == "" {
			t.Errorf("constraint %s < %s has no reason", c.before, c.after)
		}
	}
}

func TestPipelineErrors(t *testing.T) {
	for _, tc := range []struct{ pipeline, want string }{
		{"cse,nope", `unknown pass "nope"`},
		{"cse,,dce", "empty pass name"},
		{"round{bits=2", "missing '}'"},
		{"round{bits}", `want key=value`},
		{"dce{bits=2}", `pass dce has no option "bits"`},
		{"round{bits=x}", `bits="x"`},
		{"round{method=fast}", `rounding method "fast"`},
	} {
		err := Run(parseTiny(t), tc.pipeline, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error containing %q", tc.pipeline, err, tc.want)
		}
	}
}

func TestPrintAfterAndTime(t *testing.T) {
	var log bytes.Buffer
	f := parseTiny(t)
	if err := Run(f, "cse,dce", &Options{PrintAfter: "cse", Time: true, Log: &log}); err != nil {
		t.Fatal(err)
	}
	out := log.String()
	if strings.Count(out, "// after pass") != 1 || !strings.Contains(out, "// after pass cse\nfunc main") {
		t.Errorf("print-after cse:\n%s", out)
	}
	if !strings.Contains(out, "pass cse") || !strings.Contains(out, "pass dce") {
		t.Errorf("no timings:\n%s", out)
	}
	// After cse, the relu is still there (dead); after dce it is gone.
	if !strings.Contains(out, "relu") || strings.Contains(ir.Print(f), "relu") {
		t.Errorf("print-after did not print the state after cse:\n%s", out)
	}
	log.Reset()
	if err := Run(parseTiny(t), "cse,dce", &Options{PrintAfter: "all", Log: &log}); err != nil {
		t.Fatal(err)
	}
	if strings.Count(log.String(), "// after pass") != 2 {
		t.Errorf("print-after all:\n%s", log.String())
	}
	if err := Run(parseTiny(t), "dce", &Options{PrintAfter: "fuse"}); err == nil || !strings.Contains(err.Error(), `print-after: unknown pass "fuse"`) {
		t.Errorf("print-after of an unknown pass: %v", err)
	}
}

// withPass temporarily adds a pass to the table.
func withPass(t *testing.T, p pass) {
	old := passTable
	passTable = append(append([]pass(nil), old...), p)
	t.Cleanup(func() { passTable = old })
}

func TestPanicBecomesError(t *testing.T) {
	withPass(t, pass{"explode", "test pass", func(*state) error { panic("boom") }})
	err := Run(parseTiny(t), "dce,explode", nil)
	if err == nil || err.Error() != "panic during pass explode on func main: boom" {
		t.Errorf("got %v", err)
	}
}

func TestVerifyAfterEachPass(t *testing.T) {
	withPass(t, pass{"break-types", "test pass", func(s *state) error {
		s.f.Body[0].Type.Secret = false // an encrypted operand with a clear result
		return nil
	}})
	err := Run(parseTiny(t), "break-types,dce", nil)
	if err == nil || !strings.HasPrefix(err.Error(), "after pass break-types: ") || !ir.HasCode(errorsUnwrap(err), ir.SecrecyViolation) {
		t.Errorf("got %v", err)
	}
	if err := Run(parseTiny(t), "break-types", &Options{NoVerify: true}); err != nil {
		t.Errorf("NoVerify: %v", err)
	}
}

func errorsUnwrap(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestDefaultPipelineNames(t *testing.T) {
	for _, p := range []string{"", "default"} {
		f := parseTiny(t)
		if err := Run(f, p, nil); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(ir.Print(f), "relu") {
			t.Errorf("%q did not run the default pipeline", p)
		}
	}
}

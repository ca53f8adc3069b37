// Package golden holds fheir's golden-file tests: one .txtar file per case
// under testdata/, each with a comment and the sections
//
//	-- pipeline --   passes to run (empty: parse, verify and print only)
//	-- in.fir --     the input IR
//	-- want.fir --   the expected IR after the pipeline, or
//	-- errors --     expected diagnostics, one per line: "line:col: regexp"
//
// Errors are matched both ways: every expected line must match an actual
// error at that position, and every actual error must be expected.
// `go test ./golden -update` rewrites the want.fir sections (never errors).
package golden

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fheir/fheir/ir"
	"github.com/fheir/fheir/passes"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite the want.fir sections of golden files")

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden files found")
	}
	for _, file := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(file, "testdata/"), ".txtar")
		t.Run(name, func(t *testing.T) { runCase(t, file) })
	}
}

func section(a *txtar.Archive, name string) (string, bool) {
	for _, f := range a.Files {
		if f.Name == name {
			return string(f.Data), true
		}
	}
	return "", false
}

func runCase(t *testing.T, file string) {
	a, err := txtar.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	in, ok := section(a, "in.fir")
	if !ok {
		t.Fatalf("%s: no in.fir section", file)
	}
	pipeline, _ := section(a, "pipeline")
	pipeline = strings.TrimSpace(pipeline)
	wantErrs, hasErrs := section(a, "errors")
	want, hasWant := section(a, "want.fir")
	if hasErrs == hasWant && !*update {
		t.Fatalf("%s: want exactly one of want.fir and errors", file)
	}

	got, runErr := compile(in, pipeline)
	if hasErrs {
		checkErrors(t, file, runErr, wantErrs)
		return
	}
	if runErr != nil {
		t.Fatalf("%s: unexpected error:\n%v", file, runErr)
	}
	// Every golden IR round-trips through the parser.
	if g, err := ir.Parse("want.fir", []byte(got)); err != nil {
		t.Fatalf("output does not parse: %v\n%s", err, got)
	} else if again := ir.Print(g); again != got {
		t.Fatalf("print(parse(print(f))) != print(f):\n%s", cmp.Diff(got, again))
	}
	if *update {
		setSection(a, "want.fir", got)
		if err := os.WriteFile(file, txtar.Format(a), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s: output differs (-want +got), run with -update to accept:\n%s", file, d)
	}
}

// compile parses, verifies and runs the pipeline; it returns the printed IR.
func compile(src, pipeline string) (string, error) {
	f, err := ir.Parse("in.fir", []byte(src))
	if err != nil {
		return "", err
	}
	if err := ir.Verify(f); err != nil {
		return "", err
	}
	if pipeline != "" {
		if err := passes.Run(f, pipeline, nil); err != nil {
			return "", err
		}
	}
	return ir.Print(f), nil
}

func setSection(a *txtar.Archive, name, data string) {
	for i := range a.Files {
		if a.Files[i].Name == name {
			a.Files[i].Data = []byte(data)
			return
		}
	}
	a.Files = append(a.Files, txtar.File{Name: name, Data: []byte(data)})
}

// checkErrors matches actual diagnostics against "line:col: regexp" lines,
// both ways.
func checkErrors(t *testing.T, file string, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: want errors, got none", file)
	}
	type diag struct{ pos, msg string }
	var got []diag
	var list ir.ErrorList
	switch e := err.(type) {
	case ir.ErrorList:
		list = e
	case *ir.Error:
		list = ir.ErrorList{e}
	}
	for _, e := range list {
		c := *e
		c.File = ""
		pos := fmt.Sprintf("%d:%d", e.Pos.Line, e.Pos.Col)
		c.Pos = ir.Pos{}
		got = append(got, diag{pos, c.Error()})
	}
	if list == nil {
		got = append(got, diag{"0:0", err.Error()})
	}
	used := make([]bool, len(got))
	for _, line := range strings.Split(strings.TrimSpace(want), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		m := regexp.MustCompile(`^(\d+:\d+): (.*)$`).FindStringSubmatch(line)
		if m == nil {
			t.Errorf("%s: bad errors line %q: want \"line:col: regexp\"", file, line)
			continue
		}
		rx, rxErr := regexp.Compile(m[2])
		if rxErr != nil {
			t.Errorf("%s: bad regexp in %q: %v", file, line, rxErr)
			continue
		}
		found := false
		for i, g := range got {
			if !used[i] && g.pos == m[1] && rx.MatchString(g.msg) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("%s: missing error %s: %s\ngot:\n%v", file, m[1], m[2], err)
		}
	}
	for i, g := range got {
		if !used[i] {
			t.Errorf("%s: unexpected error %s: %s", file, g.pos, g.msg)
		}
	}
}

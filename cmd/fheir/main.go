// Command fheir compiles quantized neural networks (ONNX from PyTorch or
// Brevitas) into encrypted inference, and works on fheir's text IR.
//
// Run "fheir help" for the commands and "fheir COMMAND -h" for one command.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Version is fheir's version, printed by "fheir version" and stamped into
// generated packages.
const Version = "0.1.0"

type command struct {
	name    string
	summary string
	usage   string // argument synopsis
	example string
	run     func(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error
	flags   func(fs *flag.FlagSet)
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// exitError carries an exit status without more output.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				fs := newFlagSet(c, stderr)
				fs.SetOutput(stdout)
				fs.Usage()
				return 0
			}
		}
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "fheir: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	fs := newFlagSet(c, stderr)
	rest, err := parseInterspersed(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := c.run(fs, rest, stdout, stderr); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			return int(ee)
		}
		fmt.Fprintf(stderr, "fheir %s: %v\n", c.name, err)
		return 1
	}
	return 0
}

func newFlagSet(c *command, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if c.flags != nil {
		c.flags(fs)
	}
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: fheir %s %s\n\n%s\n", c.name, c.usage, c.summary)
		if hasFlags(fs) {
			fmt.Fprintf(w, "\nflags:\n")
			fs.PrintDefaults()
		}
		if c.example != "" {
			fmt.Fprintf(w, "\nexamples:\n%s\n", c.example)
		}
	}
	return fs
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// parseInterspersed parses flags that may come before or after positional
// arguments ("fheir opt in.fir -p cse" works like "fheir opt -p cse in.fir").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "fheir %s: compile quantized neural networks into encrypted inference\n\nusage: fheir COMMAND [flags] [args]\n\ncommands:\n", Version)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, firstLine(commands[n].summary))
	}
	fmt.Fprintf(w, "\nRun \"fheir help COMMAND\" or \"fheir COMMAND -h\" for a command's flags and examples.\n")
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func init() {
	register(&command{
		name:    "version",
		summary: "Print fheir's version.",
		run: func(_ *flag.FlagSet, _ []string, stdout, _ io.Writer) error {
			fmt.Fprintf(stdout, "fheir %s\n", Version)
			return nil
		},
	})
}

package rt

import (
	"fmt"
	"io"
	"os"
	"time"
)

// IsTerminal reports whether f is a character device (a terminal), where
// progress lines make sense.
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// ProgressPrinter returns a ProgressFunc that redraws one status line on w
// (a terminal), e.g.
//
//	run: op 12/31 "fc2.relu"  lookups 840/1290 (65%)  3.1s elapsed, ETA 1.7s
//
// and ends it with a newline when the stage is done.
func ProgressPrinter(w io.Writer) ProgressFunc {
	return func(p Progress) {
		line := fmt.Sprintf("%s: op %d/%d", p.Stage, p.Op, p.Ops)
		if p.OpName != "" && !p.Done {
			line += fmt.Sprintf(" %q", p.OpName)
		}
		if p.TLUsTotal > 0 {
			line += fmt.Sprintf("  lookups %d/%d (%d%%)", p.TLUs, p.TLUsTotal, 100*p.TLUs/p.TLUsTotal)
		}
		line += fmt.Sprintf("  %s elapsed", p.Elapsed.Round(100*time.Millisecond))
		if p.ETA > 0 {
			line += fmt.Sprintf(", ETA %s", p.ETA.Round(100*time.Millisecond))
		}
		end := ""
		if p.Done {
			end = "\n"
		}
		fmt.Fprintf(w, "\r\033[K%s%s", line, end)
	}
}

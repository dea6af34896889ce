package lab

import (
	"fmt"
	"io"
	"time"
)

// progress prints the steps of a long command with their durations.
type progress struct {
	w     io.Writer
	start time.Time
}

func newProgress(w io.Writer) *progress { return &progress{w: w, start: time.Now()} }

// step runs fn under a heading and reports how long it took; fn may return
// a short detail for the report.
func (p *progress) step(name string, fn func() (string, error)) error {
	_, _ = fmt.Fprintf(p.w, "==> %s\n", name)
	t := time.Now()
	detail, err := fn()
	d := time.Since(t).Round(100 * time.Millisecond)
	if err != nil {
		_, _ = fmt.Fprintf(p.w, "==> %s: FAILED after %s\n", name, d)
		return err
	}
	if detail != "" {
		detail = ": " + detail
	}
	_, _ = fmt.Fprintf(p.w, "    done in %s%s\n", d, detail)
	return nil
}

// total is the time since the progress began.
func (p *progress) total() time.Duration { return time.Since(p.start).Round(100 * time.Millisecond) }

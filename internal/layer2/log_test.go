package layer2

import (
	"context"
	"log/slog"
	"testing"
)

// testLogger logs through t at debug level, tagged with a host name.
func testLogger(t *testing.T, host string) *slog.Logger {
	return slog.New(&testHandler{t: t}).With("host", host)
}

// testHandler writes records with t.Log. Interfaces are closed in
// t.Cleanup, which waits for their goroutines, so nothing logs after the
// test ends.
type testHandler struct {
	t     *testing.T
	attrs []slog.Attr
}

func (h *testHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *testHandler) Handle(_ context.Context, r slog.Record) error {
	msg := r.Level.String() + " " + r.Message
	for _, a := range h.attrs {
		msg += " " + a.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		msg += " " + a.String()
		return true
	})
	h.t.Log(msg)
	return nil
}

func (h *testHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &testHandler{t: h.t, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}

func (h *testHandler) WithGroup(string) slog.Handler { return h }

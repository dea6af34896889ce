package bgp

import (
	"context"
	"log/slog"
	"strings"

	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
)

// slogLogger passes GoBGP's log lines to a slog.Logger. GoBGP's Info lines
// are demoted to Debug: they narrate every FSM step. So is its warning that
// a withdrawn path was not in the table (noisyWarning): withdrawing a route
// twice is harmless and happens whenever a route is withdrawn while its
// session is down.
type slogLogger struct{ l *slog.Logger }

var _ gobgplog.Logger = slogLogger{}

func (s slogLogger) log(level slog.Level, msg string, fields gobgplog.Fields) {
	if !s.l.Enabled(context.Background(), level) {
		return
	}
	attrs := make([]slog.Attr, 0, len(fields))
	for k, v := range fields {
		attrs = append(attrs, slog.Any(k, v))
	}
	s.l.LogAttrs(context.Background(), level, "gobgp: "+msg, attrs...)
}

// noisyWarning begins GoBGP's warning that a withdrawn path was not found
// in its table.
const noisyWarning = "No matching path for withdraw found"

func (s slogLogger) Panic(msg string, f gobgplog.Fields) { s.log(slog.LevelError, msg, f) }
func (s slogLogger) Fatal(msg string, f gobgplog.Fields) { s.log(slog.LevelError, msg, f) }
func (s slogLogger) Error(msg string, f gobgplog.Fields) { s.log(slog.LevelError, msg, f) }
func (s slogLogger) Warn(msg string, f gobgplog.Fields) {
	level := slog.LevelWarn
	if strings.HasPrefix(msg, noisyWarning) {
		level = slog.LevelDebug
	}
	s.log(level, msg, f)
}

func (s slogLogger) Info(msg string, f gobgplog.Fields)  { s.log(slog.LevelDebug, msg, f) }
func (s slogLogger) Debug(msg string, f gobgplog.Fields) { s.log(slog.LevelDebug-4, msg, f) }

// SetLevel is ignored: the slog handler decides.
func (slogLogger) SetLevel(gobgplog.LogLevel) {}

// GetLevel reports Info so GoBGP skips building its Debug lines.
func (slogLogger) GetLevel() gobgplog.LogLevel { return gobgplog.InfoLevel }

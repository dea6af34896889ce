package bgp

import (
	"context"
	"log/slog"

	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
)

// slogLogger passes GoBGP's log lines to a slog.Logger. GoBGP's Info lines
// are demoted to Debug: they narrate every FSM step.
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

func (s slogLogger) Panic(msg string, f gobgplog.Fields) { s.log(slog.LevelError, msg, f) }
func (s slogLogger) Fatal(msg string, f gobgplog.Fields) { s.log(slog.LevelError, msg, f) }
func (s slogLogger) Error(msg string, f gobgplog.Fields) { s.log(slog.LevelError, msg, f) }
func (s slogLogger) Warn(msg string, f gobgplog.Fields)  { s.log(slog.LevelWarn, msg, f) }
func (s slogLogger) Info(msg string, f gobgplog.Fields)  { s.log(slog.LevelDebug, msg, f) }
func (s slogLogger) Debug(msg string, f gobgplog.Fields) { s.log(slog.LevelDebug-4, msg, f) }

// SetLevel is ignored: the slog handler decides.
func (slogLogger) SetLevel(gobgplog.LogLevel) {}

// GetLevel reports Info so GoBGP skips building its Debug lines.
func (slogLogger) GetLevel() gobgplog.LogLevel { return gobgplog.InfoLevel }

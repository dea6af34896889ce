package bgp

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
)

func TestSlogLoggerLevels(t *testing.T) {
	var buf bytes.Buffer
	l := slogLogger{slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	f := gobgplog.Fields{"Topic": "Table"}
	l.Warn("No matching path for withdraw found, may be path was not installed into table", f)
	l.Warn("Peer is down", f)
	l.Info("state changed", f)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		`level=DEBUG msg="gobgp: No matching path for withdraw found`,
		`level=WARN msg="gobgp: Peer is down"`,
		`level=DEBUG msg="gobgp: state changed"`,
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d = %q, want it to contain %q", i, lines[i], w)
		}
	}
}

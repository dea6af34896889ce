// Package logging sets up the one logging stack of ironlb: log/slog, with
// logr (controller-runtime) and klog (client-go) bridged into the same
// handler so every line has one format.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// Options select the level and format of the logs.
type Options struct {
	// Level is one of debug, info, warn, error.
	Level string
	// Format is json or text.
	Format string
}

// ParseLevel turns a level name into a slog.Level.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log level %q: want one of debug, info, warn, error", s)
}

// New builds a slog.Logger writing to w.
func New(w io.Writer, o Options) (*slog.Logger, error) {
	lvl, err := ParseLevel(o.Level)
	if err != nil {
		return nil, err
	}
	ho := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler
	switch strings.ToLower(o.Format) {
	case "", "json":
		h = slog.NewJSONHandler(w, ho)
	case "text":
		h = slog.NewTextHandler(w, ho)
	default:
		return nil, fmt.Errorf("log format %q: want json or text", o.Format)
	}
	return slog.New(h), nil
}

// Install makes l the default logger of slog, controller-runtime and klog.
// It returns the logr view of l for libraries that want one.
func Install(l *slog.Logger) logr.Logger {
	slog.SetDefault(l)
	lr := logr.FromSlogHandler(l.Handler())
	ctrllog.SetLogger(lr)
	klog.SetSlogLogger(l)
	return lr
}

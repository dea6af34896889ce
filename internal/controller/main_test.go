package controller

import (
	"log/slog"
	"os"
	"testing"

	"github.com/ironlb/ironlb/internal/logging"
	"github.com/ironlb/ironlb/internal/testenv"
)

func TestMain(m *testing.M) {
	// Warnings and errors only, unless IRONLB_TEST_LOG names another
	// level: the controllers' start-up chatter would drown the output.
	level := slog.LevelWarn
	if v := os.Getenv("IRONLB_TEST_LOG"); v != "" {
		if l, err := logging.ParseLevel(v); err == nil {
			level = l
		}
	}
	logging.Install(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	testenv.Main(m)
}

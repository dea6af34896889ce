package testkit

import (
	"fmt"
	"os"
	"strconv"
	"testing"
)

// InCI reports whether the environment variable CI holds a true value
// ("true", "1", "TRUE", ... as strconv.ParseBool reads it). CI sets it;
// under CI a missing prerequisite fails instead of skipping.
func InCI() bool {
	v, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && v
}

// Unavailable ends t because a prerequisite is missing: it fails t under CI
// and skips it otherwise, with the same message (which should say what is
// missing and how to get it).
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("%s (CI is set: a missing prerequisite fails instead of skipping)", msg)
	}
	t.Skipf("%s (under CI this fails)", msg)
}

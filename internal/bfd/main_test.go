package bfd

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when a goroutine outlives the tests: a Manager's
// Close and Remove wait for the goroutines they end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

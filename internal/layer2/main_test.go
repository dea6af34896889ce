package layer2

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when a goroutine outlives the tests: an
// Interface's Close waits for every goroutine it started (receive loops,
// announcements).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

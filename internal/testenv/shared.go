package testenv

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// shared is the package-wide control plane of one test binary. It is the one
// piece of package state here, and it exists because a test binary is the
// unit that owns it: Shared starts it at most once, Main stops it.
var shared struct {
	mu      sync.Mutex
	inMain  bool  // Main is running the tests, so the plane will be stopped
	started bool  // start was attempted; env and err hold its outcome
	env     *Env  // the running plane, nil until started or when start failed
	err     error // why start failed, reported to every caller of Shared
}

// Main runs the package's tests and then stops the control plane that Shared
// started, if any. Call it from TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// When TestMain returns, the test binary exits with the tests' status.
func Main(m *testing.M) {
	shared.mu.Lock()
	shared.inMain = true
	shared.mu.Unlock()

	m.Run()

	shared.mu.Lock()
	defer shared.mu.Unlock()
	shared.inMain = false
	if shared.env != nil {
		if err := shared.env.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testenv.Main: %v\n", err)
		}
		shared.env = nil
	}
}

// Shared returns the control plane shared by all tests of the package,
// starting it on first use. It skips t (or, with CI=true, fails it) when the
// binaries are missing, and fails t when the plane did not come up; a failed
// start is not retried, every later caller gets the same report. It fails t
// when the package's TestMain does not call Main.
func Shared(t testing.TB) *Env {
	t.Helper()
	if testing.Short() {
		t.Skip("testenv: -short skips tests that need a control plane")
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.inMain {
		t.Fatalf("testenv.Shared: the package's TestMain must call testenv.Main(m), which stops the shared control plane")
		return nil
	}
	if !shared.started {
		shared.started = true
		begin := time.Now()
		shared.env, shared.err = start()
		if shared.err == nil {
			t.Logf("testenv: shared control plane from %s up in %v", shared.env.AssetsDir, time.Since(begin).Round(time.Millisecond))
		}
	}
	if shared.err != nil {
		report(t, shared.err)
		return nil
	}
	return shared.env
}

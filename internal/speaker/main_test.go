package speaker

import (
	"fmt"
	"os"
	"testing"

	"github.com/go-logr/logr"
	"go.uber.org/goleak"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// homeNetNS is the network namespace the test binary started in (where
// the API server of the tests listens), opened by TestMain before any test
// ran. The BGP speaker children inherit it (see startBGPSpeaker).
//
// It must be opened before any test enters a node namespace: later,
// /proc/<pid>/ns/net may name a node's namespace. That path is the
// namespace of the process's main thread, and netnstest.Host.Do runs its
// function on a thread that switched namespaces and is never given back;
// when that thread is the main one, Go's runtime cannot end it and parks
// it for good, still in the node's namespace.
var homeNetNS *os.File

// TestMain runs a BGP speaker child when started as one (bgpHelperEnv; see
// startBGPSpeaker), and otherwise the tests, failing the run when a
// goroutine outlives them.
func TestMain(m *testing.M) {
	if os.Getenv(bgpHelperEnv) != "" {
		os.Exit(runBGPSpeakerHelper())
	}
	ctrllog.SetLogger(logr.Discard()) // controller-runtime's own logs
	var err error
	if homeNetNS, err = os.Open("/proc/thread-self/ns/net"); err != nil {
		fmt.Fprintf(os.Stderr, "opening the test's own network namespace: %v\n", err)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m, leakIgnores()...)
}

// leakIgnores are the goroutines goleak may find after the tests.
func leakIgnores() []goleak.Option {
	return nil
}

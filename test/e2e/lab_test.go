//go:build e2e

package e2e

import (
	"testing"
)

// TestLab runs the lab's own end-to-end checks in order: a workload served
// through NodePorts, node failure and recovery, supervision. Feature suites
// (Layer 2, BGP, install) are Test functions of their own files, and the
// destructive lifecycle checks run last (zz_lifecycle_test.go).
func TestLab(t *testing.T) {
	requireLab(t)
	w, cleanup := newWorkload()
	t.Cleanup(cleanup)
	if !t.Run("workload served through NodePorts", func(t *testing.T) { testWorkload(t, w) }) {
		t.Fatal("no working workload; the remaining checks need it")
	}
	t.Run("node fail and recover", func(t *testing.T) { testNodeFailRecover(t, w) })
	t.Run("supervisor restarts kube-proxy", func(t *testing.T) { testSupervisor(t, w) })
}

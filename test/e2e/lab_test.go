//go:build e2e

package e2e

import (
	"testing"
)

// TestLab runs the lab's end-to-end checks in order on one lab: a workload
// served through NodePorts, node failure and recovery, supervision, and,
// on a lab of this run's own, recovery from a killed lab and a clean
// `lab down`.
func TestLab(t *testing.T) {
	requireLab(t)
	w, cleanup := newWorkload()
	t.Cleanup(cleanup)
	if !t.Run("workload served through NodePorts", func(t *testing.T) { testWorkload(t, w) }) {
		t.Fatal("no working workload; the remaining checks need it")
	}
	t.Run("node fail and recover", func(t *testing.T) { testNodeFailRecover(t, w) })
	t.Run("supervisor restarts kube-proxy", func(t *testing.T) { testSupervisor(t, w) })
	if !e2e.owned {
		t.Log("reusing a running lab: skipping the destructive lifecycle checks")
		return
	}
	t.Run("up recovers from a killed lab", testRecoverKilledLab)
	t.Run("down leaves nothing behind", testDown)
}

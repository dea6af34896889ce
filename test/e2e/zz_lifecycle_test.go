//go:build e2e

package e2e

import "testing"

// TestLifecycle runs the destructive checks on a lab of this run's own:
// recovery from a killed lab, then a clean `lab down`. Go runs the tests of
// a package file by file in name order, so this file's name keeps it last,
// after every suite that needs the lab.
func TestLifecycle(t *testing.T) {
	requireLab(t)
	if !e2e.owned {
		t.Skip("reusing a running lab: skipping the destructive lifecycle checks")
	}
	if !t.Run("up recovers from a killed lab", testRecoverKilledLab) {
		return
	}
	t.Run("down leaves nothing behind", testDown)
}

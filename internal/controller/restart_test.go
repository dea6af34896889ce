package controller

import (
	"fmt"
	"strings"
	"testing"
)

// TestRestartChangesNoAddress allocates a thousand Services, restarts the
// controller and checks that the new one rewrites none of them: same
// addresses, same resourceVersions, no Events. A Service created after the
// restart gets an address nobody holds.
func TestRestartChangesNoAddress(t *testing.T) {
	const n = 1000
	h := newHarness(t)
	h.pool("big", "10.40.0.0/20")
	first := h.start(h.options(), true)
	names := h.createServices("svc", n)
	before := h.waitAllAllocated(names)
	checkUnique(t, before)
	if err := first.stop(); err != nil {
		t.Fatalf("stopping the first controller: %v", err)
	}

	var seen seenSet
	opts := h.options()
	opts.onReconciled = seen.add
	second := h.start(opts, true)
	h.service("after-restart")
	fresh := h.waitIPs("after-restart")
	h.eventually("the new controller to look at every Service", func() (bool, string) {
		m := seen.missing(h.app, names)
		return m == 0, fmt.Sprintf("%d not yet", m)
	})

	after := h.serviceStates()
	changed := 0
	for _, name := range names {
		if after[name] != before[name] {
			if changed < 5 {
				t.Errorf("Service %s changed across the restart: %+v -> %+v", name, before[name], after[name])
			}
			changed++
		}
	}
	if changed > 0 {
		t.Errorf("%d of %d Services changed across the restart", changed, n)
	}
	if w := second.ctrl.stats.writes.Load(); w != 1 {
		t.Errorf("the restarted controller wrote %d Services, want 1 (after-restart)", w)
	}
	for name, st := range before {
		if strings.Contains(","+st.IPs+",", ","+fresh[0]+",") {
			t.Errorf("after-restart got %s, which %s holds", fresh[0], name)
		}
	}
	checkUnique(t, after)
}

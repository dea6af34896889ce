package controller

import (
	"fmt"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestLeaderFailover runs two controllers with leader election on one API
// server. Only the leader allocates; when it stops, the standby takes over
// and keeps allocating while Services keep arriving, and no address is
// ever held by two Services.
func TestLeaderFailover(t *testing.T) {
	h := newHarness(t)
	h.pool("shared", "10.60.0.0/24")
	elect := func() Options {
		o := h.options()
		o.LeaderElection = true
		o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = 4*time.Second, 3*time.Second, 200*time.Millisecond
		return o
	}
	leader := h.start(elect(), true)
	standby := h.start(elect(), false)

	first := h.createServices("before", 30)
	before := h.waitAllAllocated(first)
	checkUnique(t, before)
	select {
	case <-standby.ctrl.Primed():
		t.Fatal("the standby started allocating while the leader held the Lease")
	default:
	}
	if w := standby.ctrl.stats.writes.Load(); w != 0 {
		t.Fatalf("the standby wrote %d Services", w)
	}

	// Stop the leader while Services keep coming.
	during := make(chan []string)
	go func() { during <- h.createServices("during", 30) }()
	if err := leader.stop(); err != nil {
		t.Fatalf("the leader stopped with %v (it should release the Lease cleanly)", err)
	}
	h.eventually("the standby to take over", func() (bool, string) {
		select {
		case <-standby.ctrl.Primed():
			return true, ""
		default:
			lease := &coordinationv1.Lease{}
			err := h.c.Get(t.Context(), types.NamespacedName{Namespace: h.ns, Name: DefaultLeaderElectionID}, lease)
			return false, fmt.Sprintf("lease %+v, %v", lease.Spec, err)
		}
	})
	second := <-during
	after := h.createServices("after", 30)

	all := append(append(append([]string{}, first...), second...), after...)
	st := h.waitAllAllocated(all)
	checkUnique(t, st)
	for _, n := range first {
		if st[n].IPs != before[n].IPs {
			t.Errorf("%s changed its address across the failover: %s -> %s", n, before[n].IPs, st[n].IPs)
		}
	}
}

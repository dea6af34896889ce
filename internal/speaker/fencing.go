package speaker

import (
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/internal/fence"
	"github.com/ironlb/ironlb/internal/speaker/decide"
)

// ReasonLeaseHeldElsewhere is the Warning Event on a Service whose address
// this node elected itself for under leaseFencing while another node keeps
// renewing the address's Lease for longer than twice its duration: the two
// disagree about who answers (a split brain the Lease stops), and the
// holder goes on answering.
const ReasonLeaseHeldElsewhere = "LeaseHeldElsewhere"

// Layer2FencedAddresses counts the addresses this node would answer for
// under leaseFencing, by state: "held" (it holds the Lease and answers) or
// "waiting" (it does not hold it yet, and does not answer).
const Layer2FencedAddresses = "ironlb_layer2_fenced_addresses"

// fenceWait is an address this node wants the Lease of but does not hold.
type fenceWait struct {
	since    time.Time
	reported string // the holder a LeaseHeldElsewhere Event named
}

// fencedCounts are the gauge's values at the last sync.
type fencedCounts struct{ held, waiting atomic.Int64 }

// fenceAddresses applies leaseFencing to res: this node wants the Lease of
// every address it wins under a fencing L2Advertisement, and does not
// answer for those whose Lease it does not hold (yet): in res the Lease's
// holder answers for them, or, while nobody holds it, no node does, with
// the reason. The Fence kicks a recomputation whenever
// it gains or loses one. A wait that outlasts twice the Lease duration
// while another node holds the Lease is reported once per holder with a
// LeaseHeldElsewhere Warning Event on the Services holding the address.
// It returns the addresses nobody is known to hold yet (the Lease not read
// yet, or free and about to be taken): whether they are announced is not
// known, so their Services' Announced condition is left as it is. Called
// by sync, under s.mu.
func (s *Speaker) fenceAddresses(res *decide.Result, byKey map[string]*corev1.Service) (pending map[netip.Addr]bool) {
	want := map[netip.Addr]time.Duration{}
	for i := range res.IPs {
		if ip := &res.IPs[i]; ip.Node == res.Self && ip.LeaseDuration > 0 {
			want[ip.Addr] = ip.LeaseDuration
		}
	}
	s.fence.Want(want)
	now := time.Now()
	waits := map[netip.Addr]*fenceWait{}
	held := 0
	for i := range res.IPs {
		ip := &res.IPs[i]
		d, ok := want[ip.Addr]
		if !ok {
			continue
		}
		if s.fence.Held(ip.Addr) {
			held++
			continue
		}
		w := s.fenceWaits[ip.Addr]
		if w == nil {
			w = &fenceWait{since: now}
			// Look again once the wait is long enough to report.
			time.AfterFunc(2*d, func() { kick(s.trigger) })
		}
		waits[ip.Addr] = w
		holder := s.fence.Holder(ip.Addr)
		ip.Interfaces = nil
		if holder == "" || holder == res.Self {
			ip.Node = ""
			ip.Reason = fmt.Sprintf("%s would answer but waits for Lease %s (leaseFencing)", res.Self, fence.LeaseName(ip.Addr))
			if pending == nil {
				pending = map[netip.Addr]bool{}
			}
			pending[ip.Addr] = true
			continue
		}
		// The holder answers: so this node's view says too, or its
		// Announced condition would fight the holder's (each side of a
		// partition reports its Services).
		ip.Node = holder
		if now.Sub(w.since) < 2*d || w.reported == holder {
			continue
		}
		w.reported = holder
		note := fmt.Sprintf("node %s elected itself for %s, but node %s has held and renewed its Lease %s for %s: the two see different speakers (memberlist cut between them?); %s goes on answering and %s waits (leaseFencing)",
			res.Self, ip.Addr, holder, fence.LeaseName(ip.Addr), now.Sub(w.since).Round(time.Second), holder, res.Self)
		s.log.Warn("another node holds the Lease of an address this node elected itself for",
			"ip", ip.Addr.String(), "holder", holder, "waiting", now.Sub(w.since).Round(time.Second), "services", strings.Join(ip.Services, ","))
		for _, key := range ip.Services {
			if svc := byKey[key]; svc != nil {
				s.recorder.Eventf(svc, nil, corev1.EventTypeWarning, ReasonLeaseHeldElsewhere, actionAnnounce, "%s", note)
			}
		}
	}
	s.fenceWaits = waits
	s.fenced.held.Store(int64(held))
	s.fenced.waiting.Store(int64(len(waits)))
	return pending
}

// newFencedGauges exposes Layer2FencedAddresses, read at scrape time.
func newFencedGauges(c *fencedCounts) []prometheus.Collector {
	help := "Addresses this node would answer for under an L2Advertisement with leaseFencing: " +
		"state held (it holds the address's Lease and answers) or waiting (it does not hold the Lease and does not answer)."
	gauge := func(state string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: Layer2FencedAddresses, Help: help, ConstLabels: prometheus.Labels{"state": state},
		}, func() float64 { return float64(v.Load()) })
	}
	return []prometheus.Collector{gauge("held", &c.held), gauge("waiting", &c.waiting)}
}

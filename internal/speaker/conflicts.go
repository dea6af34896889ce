package speaker

import (
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"

	"github.com/ironlb/ironlb/internal/layer2"
	"github.com/ironlb/ironlb/internal/speaker/decide"
)

// ReasonAddressConflict (Warning Event): another MAC address claims an
// address of the Service that this node answers ARP/NDP for. Recorded by
// the node that saw it, once per (address, MAC) per change.
const ReasonAddressConflict = "AddressConflict"

// conflictQuiet is how long an (address, MAC) pair must go unreported
// before a report of it is a change again, worth another Event. The
// responders report a lasting conflict every probe interval (10 s), so a
// conflict that goes on records one Event.
const conflictQuiet = 5 * time.Minute

// serviceRef names a Service for an Event.
type serviceRef struct {
	namespace, name string
	uid             types.UID
}

// conflictReporter turns the responders' conflict reports into a log
// line and a Warning Event on each Service holding the address. It is
// called on the responders' goroutines and never blocks: recording an
// Event only queues it.
type conflictReporter struct {
	node     string
	recorder events.EventRecorder
	log      *slog.Logger
	// services are the Services of each address this node answers for in
	// layer 2, as the last sync decided.
	services atomic.Pointer[map[netip.Addr][]serviceRef]

	mu sync.Mutex // guards seen
	// seen are the (address, MAC) pairs reported in the last
	// conflictQuiet; quieter ones are dropped.
	seen map[conflictPair]*conflictSeen
}

// conflictSeen is when a pair was last reported and the Services (by
// UID) its Event was recorded on.
type conflictSeen struct {
	last time.Time
	told map[types.UID]bool
}

type conflictPair struct {
	addr netip.Addr
	mac  string
}

// setServices records, from a decision, the Services of each address
// this node answers for.
func (c *conflictReporter) setServices(res decide.Result, byKey map[string]*corev1.Service) {
	m := map[netip.Addr][]serviceRef{}
	for _, ip := range res.IPs {
		if ip.Node != res.Self {
			continue
		}
		for _, key := range ip.Services {
			if svc := byKey[key]; svc != nil {
				m[ip.Addr] = append(m[ip.Addr], serviceRef{svc.Namespace, svc.Name, svc.UID})
			}
		}
	}
	c.services.Store(&m)
}

// observe handles one report of a responder (layer2.Options.OnConflict):
// the first report of a pair (or the first after it was quiet for
// conflictQuiet) is logged and recorded on every Service holding the
// address; later reports record it only on Services not told yet (one
// created meanwhile with the address).
func (c *conflictReporter) observe(cf layer2.Conflict) {
	now := time.Now()
	p := conflictPair{cf.Addr, cf.MAC.String()}
	var svcs []serviceRef
	if m := c.services.Load(); m != nil {
		svcs = (*m)[cf.Addr]
	}
	c.mu.Lock()
	if c.seen == nil {
		c.seen = map[conflictPair]*conflictSeen{}
	}
	for q, s := range c.seen {
		if now.Sub(s.last) > conflictQuiet {
			delete(c.seen, q)
		}
	}
	s := c.seen[p]
	fresh := s == nil
	if fresh {
		s = &conflictSeen{told: map[types.UID]bool{}}
		c.seen[p] = s
	}
	s.last = now
	var tell []serviceRef
	for _, svc := range svcs {
		if !s.told[svc.uid] {
			s.told[svc.uid] = true
			tell = append(tell, svc)
		}
	}
	c.mu.Unlock()
	if fresh {
		keys := make([]string, len(svcs))
		for i, s := range svcs {
			keys[i] = s.namespace + "/" + s.name
		}
		c.log.Warn("another MAC address claims an address this node announces",
			"ip", cf.Addr, "mac", p.mac, "interface", cf.Interface, "seenAs", string(cf.Source), "services", keys)
	}
	for _, s := range tell {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: s.namespace, Name: s.name, UID: s.uid}}
		c.recorder.Eventf(svc, nil, corev1.EventTypeWarning, ReasonAddressConflict, actionAnnounce,
			"%s is claimed by MAC %s too, seen on interface %s of node %s (%s), which answers ARP/NDP for it: "+
				"another host or load balancer holds the address, or the speakers cannot reach each other",
			cf.Addr, p.mac, cf.Interface, c.node, conflictHow(cf.Source))
	}
}

// conflictHow describes how a conflict was seen, for the Event.
func conflictHow(s layer2.ConflictSource) string {
	switch s {
	case layer2.SeenAnnouncement:
		return "it announced the address"
	case layer2.SeenProbeReply:
		return "it answered this node's probe"
	case layer2.SeenSender:
		return "it sent from the address"
	default:
		return string(s)
	}
}

package speaker

import (
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"

	"github.com/ironlb/ironlb/internal/layer2"
	"github.com/ironlb/ironlb/internal/speaker/decide"
)

// TestConflictReporterEventsOncePerPair: the first report of an (address,
// MAC) pair records a Warning Event on every Service holding the address,
// naming the MAC, the interface and the node; the responder's repeated
// reports of the same conflict record nothing more; another MAC, or the
// same one after conflictQuiet, records again. Addresses of no Service
// this node announces record no Event; a Service that takes the address
// while the conflict goes on gets its own Event.
func TestConflictReporterEventsOncePerPair(t *testing.T) {
	rec := events.NewFakeRecorder(20)
	c := &conflictReporter{node: "node1", recorder: rec, log: slog.New(slog.DiscardHandler)}
	vip := netip.MustParseAddr("10.0.0.10")
	byKey := map[string]*corev1.Service{
		"app/web": {ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "web", UID: "u1"}},
		"app/dns": {ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "dns", UID: "u2"}},
	}
	c.setServices(decide.Result{Self: "node1", IPs: []decide.IP{
		{Addr: vip, Services: []string{"app/dns", "app/web"}, Node: "node1"},
		{Addr: netip.MustParseAddr("10.0.0.11"), Services: []string{"app/other"}, Node: "node2"},
	}}, byKey)
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 9}
	report := func(a netip.Addr, m net.HardwareAddr) {
		c.observe(layer2.Conflict{Addr: a, Interface: "eth0", MAC: m, Source: layer2.SeenProbeReply, Frames: 1, First: time.Now()})
	}
	report(vip, mac)
	got := drainEvents(rec)
	if len(got) != 2 {
		t.Fatalf("Events %q, want one per Service holding %s", got, vip)
	}
	for _, e := range got {
		for _, want := range []string{"Warning", ReasonAddressConflict, "10.0.0.10", mac.String(), "eth0", "node1", "probe"} {
			if !strings.Contains(e, want) {
				t.Errorf("Event %q does not contain %q", e, want)
			}
		}
	}
	for range 5 {
		report(vip, mac)
	}
	if got := drainEvents(rec); len(got) != 0 {
		t.Errorf("the same conflict reported again recorded %q", got)
	}
	report(vip, net.HardwareAddr{2, 0, 0, 0, 0, 10})
	if got := drainEvents(rec); len(got) != 2 {
		t.Errorf("another MAC recorded %q, want two Events", got)
	}
	// A Service created meanwhile with the address is told at the next
	// report, the others are not told again.
	byKey["app/new"] = &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "new", UID: "u3"}}
	c.setServices(decide.Result{Self: "node1", IPs: []decide.IP{
		{Addr: vip, Services: []string{"app/dns", "app/new", "app/web"}, Node: "node1"},
	}}, byKey)
	report(vip, mac)
	if got := drainEvents(rec); len(got) != 1 || !strings.Contains(got[0], "10.0.0.10") {
		t.Errorf("after a new Service took the address, Events %q, want one (for it)", got)
	}
	c.mu.Lock()
	c.seen[conflictPair{vip, mac.String()}].last = time.Now().Add(-conflictQuiet - time.Second)
	c.mu.Unlock()
	report(vip, mac)
	if got := drainEvents(rec); len(got) != 3 {
		t.Errorf("the pair after %v quiet recorded %q, want three Events", conflictQuiet, got)
	}
	report(netip.MustParseAddr("10.0.0.11"), mac)
	if got := drainEvents(rec); len(got) != 0 {
		t.Errorf("an address this node does not announce recorded %q", got)
	}
}

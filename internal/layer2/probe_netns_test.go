//go:build linux

package layer2

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/ironlb/ironlb/internal/netnstest"
)

// TestNetnsNeighborProbes: a client holding a STALE entry for a set
// address confirms it with unicast probes (ARP request to the cached MAC,
// neighbor solicitation addressed to the VIP itself) and the entry becomes
// REACHABLE with the node's MAC instead of FAILED. The node does not own
// the VIP: the IPv6 probe never reaches an ICMPv6 socket there.
func TestNetnsNeighborProbes(t *testing.T) {
	n := newTestNetwork(t)
	node := n.AddHost("node", 1)
	client := n.AddHost("client", 2)
	// Probe after 1s in DELAY instead of 5s.
	client.Sysctl("net.ipv4.neigh.eth0.delay_first_probe_time=1", "net.ipv6.neigh.eth0.delay_first_probe_time=1")
	r := startResponder(t, node, Options{})
	ctx := context.Background()
	if err := r.SetAddresses(ctx, []netip.Addr{netnsVIP4, netnsVIP6}); err != nil {
		t.Fatal(err)
	}
	for _, vip := range []netip.Addr{netnsVIP4, netnsVIP6} {
		t.Run(vip.String(), func(t *testing.T) {
			fam := &r.Counters().ARP
			if vip.Is6() {
				fam = &r.Counters().NDP
			}
			before := fam.RequestsReceived.Load()
			client.SetNeighbor(vip, node.MAC, "stale")
			start := time.Now()
			sendUDP(t, client, vip) // STALE -> DELAY -> PROBE (unicast)
			got := waitNeighbor(t, client, vip, 10*time.Second, func(nb netnstest.Neighbor) bool {
				return nb.State == "REACHABLE" || nb.State == "FAILED"
			})
			if got.State != "REACHABLE" || got.MAC.String() != node.MAC.String() {
				t.Fatalf("after a unicast probe the entry is %s %s, want REACHABLE %s", got.State, got.MAC, node.MAC)
			}
			if fam.RequestsReceived.Load() == before {
				t.Error("the responder counted no request: the entry was confirmed by something else")
			}
			t.Logf("%s: STALE -> REACHABLE in %v (including the 1s DELAY)", vip, time.Since(start).Round(time.Millisecond))
		})
	}
}

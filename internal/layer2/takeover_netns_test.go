//go:build linux

package layer2

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/ironlb/ironlb/internal/netnstest"
)

// takeoverBudget is how soon after SetAddresses on the new node a client's
// existing neighbour entry must name the new MAC. Measured flips take well
// under a millisecond; the budget leaves room for a loaded CI machine.
const takeoverBudget = time.Second

// TestNetnsTakeover: a client that learned node A's MAC for both VIPs
// moves to node B's MAC as soon as A's set is emptied and B's gets the
// VIPs — by gratuitous ARP and unsolicited neighbor advertisement alone:
// the client sends nothing meanwhile. The VIPs move back and forth a few
// times to measure the flip.
func TestNetnsTakeover(t *testing.T) {
	n := newTestNetwork(t)
	a := n.AddHost("node-a", 1)
	b := n.AddHost("node-b", 3)
	client := n.AddHost("client", 2)
	ra := startResponder(t, a, Options{})
	rb := startResponder(t, b, Options{})
	ctx := context.Background()
	vips := []netip.Addr{netnsVIP4, netnsVIP6}

	// The client learns A's MAC the ordinary way: by asking.
	if err := ra.SetAddresses(ctx, vips); err != nil {
		t.Fatal(err)
	}
	for _, vip := range vips {
		sendUDP(t, client, vip)
		waitNeighbor(t, client, vip, 5*time.Second, func(nb netnstest.Neighbor) bool {
			return nb.MAC.String() == a.MAC.String()
		})
	}

	events := client.WatchNeighbors(ctx)
	const rounds = 6
	flips := map[netip.Addr][]time.Duration{}
	from, to := struct {
		r *Interface
		h *netnstest.Host
	}{ra, a}, struct {
		r *Interface
		h *netnstest.Host
	}{rb, b}
	for round := range rounds {
		if err := from.r.SetAddresses(ctx, nil); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := to.r.SetAddresses(ctx, vips); err != nil {
			t.Fatal(err)
		}
		for vip, at := range waitFlips(t, events, vips, to.h, takeoverBudget) {
			flips[vip] = append(flips[vip], at.Sub(start))
		}
		for _, vip := range vips {
			nb, ok, err := client.Neighbor(ctx, vip)
			if err != nil || !ok || nb.MAC.String() != to.h.MAC.String() {
				t.Fatalf("round %d: client entry for %s = %+v (ok=%v, err=%v), want %s", round, vip, nb, ok, err, to.h.MAC)
			}
		}
		from, to = to, from
	}
	// Past every announcement round, the last owner still holds the
	// entries: no late announcement of a previous owner moved them back.
	time.Sleep(DefaultAnnounceSchedule()[len(DefaultAnnounceSchedule())-1] + 200*time.Millisecond)
	for _, vip := range vips {
		nb, ok, err := client.Neighbor(ctx, vip)
		if err != nil || !ok || nb.MAC.String() != from.h.MAC.String() {
			t.Errorf("after the announcement schedule the client entry for %s = %+v, want %s", vip, nb, from.h.MAC)
		}
	}
	for _, vip := range vips {
		d := flips[vip]
		slices.Sort(d)
		t.Logf("%s: SetAddresses on the new node -> client entry names its MAC: min %v, median %v, max %v over %d takeovers",
			vip, d[0], d[len(d)/2], d[len(d)-1], len(d))
	}
}

// waitFlips waits until the client's neighbour entry for every vip names
// the new host's MAC and returns when each was seen.
func waitFlips(t *testing.T, events <-chan netnstest.NeighborEvent, vips []netip.Addr, to *netnstest.Host,
	budget time.Duration) map[netip.Addr]time.Time {
	t.Helper()
	seen := map[netip.Addr]time.Time{}
	timeout := time.After(budget)
	for len(seen) < len(vips) {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("neighbour monitor stopped")
			}
			if _, done := seen[ev.Addr]; !done && !ev.Deleted && slices.Contains(vips, ev.Addr) &&
				ev.MAC.String() == to.MAC.String() {
				seen[ev.Addr] = ev.At
			}
		case <-timeout:
			t.Fatalf("within %v the client's entries moved to %s (%s) only for %v", budget, to.Name, to.MAC, seen)
		}
	}
	return seen
}

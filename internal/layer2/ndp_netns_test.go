//go:build linux

package layer2

import (
	"context"
	"net/netip"
	"strings"
	"testing"
)

// TestNetnsNDP: ndisc6 on a client (a multicast solicitation, and it
// accepts only advertisements sent from the target itself) learns the
// node's MAC for a set address and times out for one not set or removed.
func TestNetnsNDP(t *testing.T) {
	n := newTestNetwork(t, "ndisc6")
	node := n.AddHost("node", 1)
	client := n.AddHost("client", 2)
	r := startResponder(t, node, Options{})
	ctx := context.Background()
	if err := r.SetAddresses(ctx, []netip.Addr{netnsVIP6}); err != nil {
		t.Fatal(err)
	}
	// The kernel holds the solicited-node group (so a NIC's multicast
	// filter and MLD-snooping switches pass solicitations to us).
	group := solicitedNode(t, netnsVIP6).String()
	if out := node.Run("ip", "-6", "maddr", "show", "dev", node.Interface); !strings.Contains(out, group) {
		t.Errorf("node is not in %s:\n%s", group, out)
	}
	ndisc6 := func(addr netip.Addr) (string, error) {
		return client.Output(ctx, "ndisc6", "-1", "-n", "-r", "3", "-w", "300", addr.String(), client.Interface)
	}
	out, err := ndisc6(netnsVIP6)
	if err != nil || !hasMAC(out, node.MAC) || !strings.Contains(out, "from "+netnsVIP6.String()) {
		t.Fatalf("ndisc6 %s: want the node's MAC %s from %s, got err=%v:\n%s", netnsVIP6, node.MAC, netnsVIP6, err, out)
	}
	if out, err := ndisc6(netnsUnset6); err == nil || hasMAC(out, node.MAC) {
		t.Errorf("ndisc6 %s (not set): want a timeout, got err=%v:\n%s", netnsUnset6, err, out)
	}
	if err := r.SetAddresses(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if out := node.Run("ip", "-6", "maddr", "show", "dev", node.Interface); strings.Contains(out, group) {
		t.Errorf("node still in %s after the address was removed:\n%s", group, out)
	}
	if out, err := ndisc6(netnsVIP6); err == nil || hasMAC(out, node.MAC) {
		t.Errorf("ndisc6 %s after removal: want a timeout, got err=%v:\n%s", netnsVIP6, err, out)
	}
	c := r.Counters().NDP.Load()
	if c.RequestsReceived < 1 || c.ResponsesSent < 1 || c.GratuitousSent < 1 || c.SendErrors != 0 || c.MalformedDropped != 0 {
		t.Errorf("NDP counters %+v: want requests, responses and gratuitous frames, no errors", c)
	}
}

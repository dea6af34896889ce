//go:build linux

package layer2

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/ironlb/ironlb/internal/netnstest"
)

// TestNetnsARP: a client's arping gets replies from the node's MAC for a
// set address, none for an address not set or removed — also on a node
// whose interface has no IP address at all.
func TestNetnsARP(t *testing.T) {
	n := newTestNetwork(t, "arping")
	node := n.AddHost("node", 1)
	bare := n.AddHost("bare", 3)
	client := n.AddHost("client", 2)
	bare.Run("ip", "addr", "flush", "dev", bare.Interface)
	ctx := context.Background()

	for _, h := range []struct {
		name string
		host *netnstest.Host
		vip  netip.Addr
	}{{"node with addresses", node, netnsVIP4}, {"node without any address", bare, netip.MustParseAddr("10.201.0.103")}} {
		t.Run(h.name, func(t *testing.T) {
			host := h.host
			r := startResponder(t, host, Options{})
			if err := r.SetAddresses(ctx, []netip.Addr{h.vip}); err != nil {
				t.Fatal(err)
			}
			out, err := client.Output(ctx, "arping", "-c", "3", "-W", "0.2", "-w", "5", "-i", client.Interface, h.vip.String())
			if err != nil {
				t.Fatalf("arping %s: %v", h.vip, err)
			}
			if !hasMAC(out, host.MAC) || !strings.Contains(out, "3 packets received") {
				t.Errorf("arping %s: want 3 replies from %s, got:\n%s", h.vip, host.MAC, out)
			}

			if out, err := client.Output(ctx, "arping", "-c", "2", "-W", "0.2", "-w", "1", "-i", client.Interface, netnsUnset4.String()); err == nil || hasMAC(out, host.MAC) || !strings.Contains(out, " 0 packets received") {
				t.Errorf("arping %s (not set): want no reply, got err=%v:\n%s", netnsUnset4, err, out)
			}

			if err := r.SetAddresses(ctx, nil); err != nil {
				t.Fatal(err)
			}
			if out, err := client.Output(ctx, "arping", "-c", "2", "-W", "0.2", "-w", "1", "-i", client.Interface, h.vip.String()); err == nil || hasMAC(out, host.MAC) || !strings.Contains(out, " 0 packets received") {
				t.Errorf("arping %s after removal: want no reply, got err=%v:\n%s", h.vip, err, out)
			}

			c := r.Counters().ARP.Load()
			if c.RequestsReceived < 3 || c.ResponsesSent < 3 || c.GratuitousSent < 2 || c.SendErrors != 0 {
				t.Errorf("ARP counters %+v: want >=3 requests and responses, >=2 gratuitous, no send errors", c)
			}
		})
	}
}

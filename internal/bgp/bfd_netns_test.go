package bgp

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/ironlb/ironlb/internal/netnstest"
)

// hopLab puts a node one routed hop away from the router: each gets an
// address on its loopback that the other reaches only through hop, which
// forwards. Sessions between these addresses are multi-hop (TTL one less
// on arrival). hop sends no ICMP redirects and the ends accept none, so
// they never learn the direct path over the shared bridge.
type hopLab struct {
	nodeV4, routerV4 netip.Addr
}

func newHopLab(t *testing.T, node, hop, router *netnstest.Host) hopLab {
	t.Helper()
	h := hopLab{nodeV4: netip.MustParseAddr("10.202.1.1"), routerV4: netip.MustParseAddr("10.202.3.1")}
	hop.Sysctl("net.ipv4.ip_forward=1", "net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.eth0.send_redirects=0")
	hop.Run("ip", "route", "add", h.nodeV4.String(), "via", node.IPv4.String())
	hop.Run("ip", "route", "add", h.routerV4.String(), "via", router.IPv4.String())
	for _, end := range []struct {
		h         *netnstest.Host
		own, peer netip.Addr
	}{{node, h.nodeV4, h.routerV4}, {router, h.routerV4, h.nodeV4}} {
		end.h.Sysctl("net.ipv4.conf.all.accept_redirects=0", "net.ipv4.conf.eth0.accept_redirects=0")
		end.h.Run("ip", "addr", "add", end.own.String()+"/32", "dev", "lo")
		end.h.Run("ip", "route", "add", end.peer.String(), "via", hop.IPv4.String())
	}
	return h
}

// bfdPeer is one entry of FRR's `show bfd peers json`.
type bfdPeer struct {
	Peer     string `json:"peer"`
	Multihop bool   `json:"multihop"`
	Status   string `json:"status"`
}

// waitBFDPeer waits until FRR's BFD session with peer (multi-hop or not)
// is up, failing the test after d. A vtysh or parse failure fails the
// test at once (Vtysh), so it is never read as a session state.
func (l *lab) waitBFDPeer(t *testing.T, peer netip.Addr, multihop bool, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		out := l.frr.Vtysh("show bfd peers json")
		var peers []bfdPeer
		if err := json.Unmarshal([]byte(out), &peers); err != nil {
			t.Fatalf("show bfd peers json: %v\n%s", err, out)
		}
		for _, p := range peers {
			if a, err := netip.ParseAddr(p.Peer); err == nil && a == peer && p.Multihop == multihop && p.Status == "up" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("FRR's BFD peer %s (multihop %v) not up within %v:\n%s", peer, multihop, d, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

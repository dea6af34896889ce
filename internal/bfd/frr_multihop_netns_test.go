package bfd

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/ironlb/ironlb/internal/netnstest"
	"github.com/ironlb/ironlb/internal/testkit"
)

// hopTopology gives node and router each an address on their loopback
// that the other reaches only through hop, which forwards: packets between
// those addresses cross one routed hop (TTL / hop limit one less). All
// three share the network's bridge, so hop sends no ICMP redirects and the
// ends accept none: a learnt direct path would make the packets arrive
// with one more TTL and the TTL checks below fail. (Linux sends no IPv4
// redirect here anyway, the sources not being on the link; the settings
// are a precaution.)
type hopTopology struct {
	nodeV4, nodeV6, routerV4, routerV6 netip.Addr
}

func newHopTopology(t *testing.T, node, hop, router *netnstest.Host) hopTopology {
	t.Helper()
	h := hopTopology{
		nodeV4: netip.MustParseAddr("10.202.1.1"), nodeV6: netip.MustParseAddr("fd00:202:1::1"),
		routerV4: netip.MustParseAddr("10.202.3.1"), routerV6: netip.MustParseAddr("fd00:202:3::1"),
	}
	hop.Sysctl("net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
		"net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.eth0.send_redirects=0")
	for _, r := range []struct {
		dst, via netip.Addr
	}{{h.nodeV4, node.IPv4}, {h.nodeV6, node.IPv6}, {h.routerV4, router.IPv4}, {h.routerV6, router.IPv6}} {
		hop.Run("ip", "route", "add", r.dst.String(), "via", r.via.String())
	}
	for _, end := range []struct {
		h            *netnstest.Host
		own4, own6   netip.Addr
		peer4, peer6 netip.Addr
	}{{node, h.nodeV4, h.nodeV6, h.routerV4, h.routerV6}, {router, h.routerV4, h.routerV6, h.nodeV4, h.nodeV6}} {
		end.h.Sysctl("net.ipv4.conf.all.accept_redirects=0", "net.ipv4.conf.eth0.accept_redirects=0",
			"net.ipv6.conf.all.accept_redirects=0", "net.ipv6.conf.eth0.accept_redirects=0")
		end.h.Run("ip", "addr", "add", end.own4.String()+"/32", "dev", "lo")
		end.h.Run("ip", "addr", "add", end.own6.String()+"/128", "dev", "lo")
		end.h.Run("ip", "route", "add", end.peer4.String(), "via", hop.IPv4.String())
		end.h.Run("ip", "route", "add", end.peer6.String(), "via", hop.IPv6.String())
	}
	return h
}

// TestAgainstFRRMultihop runs multi-hop sessions (RFC 5883, port 4784)
// against FRR's bfdd one routed hop away, in IPv4 and IPv6, and shows
// Profile.MinimumTTL applied: FRR's packets leave with TTL 255 and arrive
// with 254, which the default minimum (254) accepts; rewritten to leave
// with 254 they arrive with 253, which it drops and a minimum of 253
// accepts.
//
// How it can fail, each seen: with the multi-hop TTL check removed from
// listener.serve, the session stays Up on 253 ("no matching event within
// ..."); with MinimumTTL ignored (254 always), the minimum-253 session
// never comes Up; with the ends routing to each other directly instead of
// through hop, the packets arrive with 254 and the drop check fails the
// same way (so the check also proves the hop). FRR
// itself accepts our packets only with TTL 254 or more (its own
// minimum-ttl, 254 by default): our sessions coming Up shows we send 255
// to port 4784.
func TestAgainstFRRMultihop(t *testing.T) {
	requireFRR(t)
	netnstest.Require(t, "nft")
	n := netnstest.New(t, netnstest.Options{Prefix: "ibfdm"})
	node := n.AddHost("node", 1)
	hop := n.AddHost("hop", 2)
	router := n.AddHost("router", 3)
	topo := newHopTopology(t, node, hop, router)
	conf := "hostname router\n!\nbfd\n"
	for _, p := range [][2]netip.Addr{{topo.nodeV4, topo.routerV4}, {topo.nodeV6, topo.routerV6}} {
		conf += fmt.Sprintf(" %s\n  receive-interval 300\n  transmit-interval 300\n  detect-multiplier 3\n  no shutdown\n !\n", peerBlock(p[0], p[1], true))
	}
	f := startFRRConf(t, router, conf+"!\n")
	defer func() {
		if t.Failed() {
			t.Logf("FRR output:\n%s", f.output())
		}
	}()
	for _, fam := range []struct {
		name        string
		peer, local netip.Addr
		set         string
	}{{"IPv4", topo.routerV4, topo.nodeV4, "ip ttl set 254"}, {"IPv6", topo.routerV6, topo.nodeV6, "ip6 hoplimit set 254"}} {
		t.Run(fam.name, func(t *testing.T) {
			rec := newRecorder()
			// No Device: the session is routed, not bound to a link.
			m := NewManager(Options{OnChange: rec.add})
			t.Cleanup(func() { _ = m.Close() })
			add := func(p Profile) *Session {
				t.Helper()
				var s *Session
				if err := node.Do(func() (err error) { s, err = m.AddMultihop(fam.peer, fam.local, p); return err }); err != nil {
					t.Fatal(err)
				}
				return s
			}
			frrUp := func() bool { return f.peer(t, fam.local).Status == "up" }
			bothUp := func(from int) {
				t.Helper()
				rec.wait(t, testkit.Budget(upTime), from, isState(StateUp))
				waitFor(t, testkit.Budget(frrInterval), "FRR's session up", frrUp)
			}

			s := add(Profile{})
			bothUp(0)
			if p := f.peer(t, fam.local); !p.Multihop || p.MinimumTTL != 254 {
				t.Errorf("FRR's peer: multihop %v, minimum-ttl %d; want a multi-hop peer with minimum-ttl 254: %s", p.Multihop, p.MinimumTTL, p.raw)
			}

			// FRR shuts its peer down: we hear AdminDown.
			from := rec.len()
			f.configure(t, peerBlock(fam.local, fam.peer, true), "shutdown")
			if e := rec.wait(t, testkit.Budget(frrInterval), from, isState(StateDown)); e.Diag != DiagNeighborSignaledDown {
				t.Errorf("Down event %+v, want NeighborSignaledSessionDown", e)
			}
			from = rec.len()
			f.configure(t, peerBlock(fam.local, fam.peer, true), "no shutdown")
			bothUp(from)

			// FRR's packets arrive with 253: dropped, the session expires.
			from = rec.len()
			rewriteTTL(t, router, MultihopControlPort, fam.set)
			if e := rec.wait(t, testkit.Budget(detectTime), from, isState(StateDown)); e.Diag != DiagControlDetectionExpired {
				t.Errorf("Down event %+v, want ControlDetectionTimeExpired", e)
			}
			if c := s.Counters(); c.TTLDropped == 0 {
				t.Errorf("session down but no packet counted as TTL-dropped: %+v", c)
			}
			// A minimum of 253 takes them.
			m.Remove(fam.peer)
			from = rec.len()
			add(Profile{MinimumTTL: 253})
			bothUp(from)
			router.Run("nft", "delete table inet ironlbttl")

			// Our side stops without notice: FRR detects it.
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, testkit.Budget(detectTime), "FRR's session down", func() bool { return !frrUp() })
		})
	}
}

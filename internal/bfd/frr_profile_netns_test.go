package bfd

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/ironlb/ironlb/internal/netnstest"
	"github.com/ironlb/ironlb/internal/testkit"
)

// passiveWindow is how long a passive session must stay silent, and two
// passive ends must stay Down: an active session sends its first packet at
// once and then one a second (the slow rate, RFC 5880 §6.8.3), and two
// active ends come Up within upTime. A window, not a budget: a slow
// machine only sends fewer packets in it.
const passiveWindow = 3 * time.Second

// TestAgainstFRRProfile shows every Profile field applied, as FRR's bfdd
// sees it: the intervals and multiplier in `show bfd peers json`, passive
// mode by who starts the session, and the single-hop TTL check by FRR's
// packets arriving with TTL 254.
func TestAgainstFRRProfile(t *testing.T) {
	requireFRR(t)
	netnstest.Require(t, "nft")
	n := netnstest.New(t, netnstest.Options{Prefix: "ibfdp"})
	node := n.AddHost("node", 1)
	router := n.AddHost("router", 2)
	// FRR starts with no peer: each subtest configures its own.
	f := startFRRConf(t, router, "hostname router\n!\nbfd\n!\n")
	defer func() {
		if t.Failed() {
			t.Logf("FRR output:\n%s", f.output())
		}
	}()
	// frrPeerCfg configures FRR's peer ours (our node's address, seen
	// from the router's address theirs), active, at 300 ms and multiplier
	// 3, then settings, and removes it when the subtest ends.
	frrPeerCfg := func(t *testing.T, ours, theirs netip.Addr, settings ...string) {
		t.Helper()
		block := peerBlock(ours, theirs, false)
		f.configure(t, block, append([]string{"receive-interval 300", "transmit-interval 300", "detect-multiplier 3"}, settings...)...)
		f.configure(t, block, "no shutdown")
		t.Cleanup(func() {
			if _, err := f.vtysh("configure terminal", "bfd", "no "+block); err != nil {
				t.Error(err)
			}
		})
	}
	start := func(t *testing.T, rec *recorder, peer, local netip.Addr, p Profile) (*Manager, *Session) {
		t.Helper()
		m := NewManager(Options{OnChange: rec.add, Device: node.Interface})
		t.Cleanup(func() { _ = m.Close() })
		var s *Session
		if err := node.Do(func() (err error) { s, err = m.Add(peer, local, p); return err }); err != nil {
			t.Fatal(err)
		}
		return m, s
	}

	// Seen failing with Profile.config() giving the state machine the
	// receive interval as DesiredMinTx and the transmit interval as
	// RequiredMinRx: "FRR's view of our session: remote rx 150 tx 200
	// mult 4, want rx 200 tx 150 mult 4".
	t.Run("intervals and multiplier", func(t *testing.T) {
		p := Profile{ReceiveInterval: 200 * time.Millisecond, TransmitInterval: 150 * time.Millisecond, DetectMultiplier: 4}
		for _, fam := range []struct {
			name        string
			peer, local netip.Addr
		}{{"IPv4", router.IPv4, node.IPv4}, {"IPv6", router.IPv6, node.IPv6}} {
			t.Run(fam.name, func(t *testing.T) {
				frrPeerCfg(t, fam.local, fam.peer)
				rec := newRecorder()
				start(t, rec, fam.peer, fam.local, p)
				rec.wait(t, testkit.Budget(upTime), 0, isState(StateUp))
				// Up, our Poll announces the fast transmit interval: FRR
				// shows it a packet later.
				var last frrPeer
				budget := testkit.Budget(upTime)
				deadline := time.Now().Add(budget)
				for {
					last = f.peer(t, fam.local)
					if last.Status == "up" && last.RemoteRx == 200 && last.RemoteTx == 150 && last.RemoteMult == 4 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("FRR's view of our session after %v: status %s, remote rx %d tx %d mult %d, want up, rx 200 tx 150 mult 4\n%s",
							budget, last.Status, last.RemoteRx, last.RemoteTx, last.RemoteMult, last.raw)
					}
					time.Sleep(50 * time.Millisecond)
				}
				t.Logf("FRR: %s", last.raw)
			})
		}
	})

	// Seen failing with Profile.config() dropping PassiveMode: "our
	// passive session sent 4 packets before FRR had the peer".
	t.Run("passive, FRR active", func(t *testing.T) {
		rec := newRecorder()
		_, s := start(t, rec, router.IPv4, node.IPv4, Profile{PassiveMode: true})
		time.Sleep(passiveWindow)
		if c := s.Counters(); c.PacketsSent != 0 {
			t.Fatalf("our passive session sent %d packets before FRR had the peer (counters %+v)", c.PacketsSent, c)
		}
		from := rec.len()
		frrPeerCfg(t, node.IPv4, router.IPv4)
		rec.wait(t, testkit.Budget(upTime), from, isState(StateUp))
		waitFor(t, testkit.Budget(frrInterval), "FRR's session up", func() bool { return f.peer(t, node.IPv4).Status == "up" })
	})

	// Seen failing with Profile.config() dropping PassiveMode: "two
	// passive ends after 3s: FRR "up", ours Up, we sent 14 and received 14
	// packets". The control at the end shows that the same check sees Up
	// when one end is active.
	t.Run("both passive never come up", func(t *testing.T) {
		frrPeerCfg(t, node.IPv4, router.IPv4, "passive-mode")
		if p := f.peer(t, node.IPv4); !p.PassiveMode {
			t.Fatalf("FRR's peer is not passive: %s", p.raw)
		}
		rec := newRecorder()
		m, s := start(t, rec, router.IPv4, node.IPv4, Profile{PassiveMode: true})
		time.Sleep(passiveWindow)
		// f.peer fails the test on any vtysh or parse error, so "down"
		// here is FRR's answer, not a tool failure.
		p := f.peer(t, node.IPv4)
		st, _ := s.State()
		c := s.Counters()
		if p.Status != "down" || st != StateDown || c.PacketsSent != 0 || c.PacketsReceived != 0 {
			t.Fatalf("two passive ends after %v: FRR %q, ours %v, we sent %d and received %d packets; want down, Down, none either way\n%s",
				passiveWindow, p.Status, st, c.PacketsSent, c.PacketsReceived, p.raw)
		}
		// The control: the same FRR peer comes Up with an active end, so
		// the check above could see Up.
		m.Remove(router.IPv4)
		from := rec.len()
		if err := node.Do(func() error { _, err := m.Add(router.IPv4, node.IPv4, Profile{}); return err }); err != nil {
			t.Fatal(err)
		}
		rec.wait(t, testkit.Budget(upTime), from, isState(StateUp))
		waitFor(t, testkit.Budget(frrInterval), "FRR's passive session up with our active end", func() bool { return f.peer(t, node.IPv4).Status == "up" })
	})

	// RFC 5881 §5 allows link-local addresses. Seen failing before
	// listener.serve gave link-local sources the listener's zone: every
	// packet from FRR counted as UnknownDropped (the zone of the source
	// was looked up in the reading thread's namespace, not the node's).
	t.Run("IPv6 link-local", func(t *testing.T) {
		node.Run("ip", "addr", "add", "fe80::1:1/64", "dev", node.Interface, "nodad")
		router.Run("ip", "addr", "add", "fe80::1:2/64", "dev", router.Interface, "nodad")
		ours, theirs := netip.MustParseAddr("fe80::1:1"), netip.MustParseAddr("fe80::1:2")
		block := fmt.Sprintf("peer %v interface %s local-address %v", ours, router.Interface, theirs)
		f.configure(t, block, "receive-interval 300", "transmit-interval 300", "no shutdown")
		t.Cleanup(func() {
			if _, err := f.vtysh("configure terminal", "bfd", "no "+block); err != nil {
				t.Error(err)
			}
		})
		rec := newRecorder()
		m, _ := start(t, rec, theirs.WithZone(node.Interface), ours.WithZone(node.Interface), Profile{})
		rec.wait(t, testkit.Budget(upTime), 0, isState(StateUp))
		waitFor(t, testkit.Budget(frrInterval), "FRR's session up", func() bool { return f.peer(t, ours).Status == "up" })
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, testkit.Budget(detectTime), "FRR's session down", func() bool { return f.peer(t, ours).Status != "up" })
	})

	// FRR sends with TTL 255; an nftables rule in the router rewrites it
	// to 254 (IPv6: hop limit), as if FRR were one routed hop away.
	// Seen failing with the single-hop TTL check removed from
	// listener.serve: "no matching event within ...", the session stayed
	// Up on TTL 254 packets.
	t.Run("single-hop accepts TTL 255 only", func(t *testing.T) {
		for _, fam := range []struct {
			name        string
			peer, local netip.Addr
			set         string
		}{{"IPv4", router.IPv4, node.IPv4, "ip ttl set 254"}, {"IPv6", router.IPv6, node.IPv6, "ip6 hoplimit set 254"}} {
			t.Run(fam.name, func(t *testing.T) {
				frrPeerCfg(t, fam.local, fam.peer)
				rec := newRecorder()
				m, _ := start(t, rec, fam.peer, fam.local, Profile{})
				rec.wait(t, testkit.Budget(upTime), 0, isState(StateUp))
				before := m.Counters().TTLDropped
				from := rec.len()
				rewriteTTL(t, router, ControlPort, fam.set)
				e := rec.wait(t, testkit.Budget(detectTime), from, isState(StateDown))
				if e.Diag != DiagControlDetectionExpired {
					t.Errorf("Down event %+v, want ControlDetectionTimeExpired", e)
				}
				if c := m.Counters(); c.TTLDropped == before {
					t.Errorf("session down but no packet counted as TTL-dropped: %+v", c)
				}
				from = rec.len()
				router.Run("nft", "delete table inet ironlbttl")
				rec.wait(t, testkit.Budget(upTime), from, isState(StateUp))
			})
		}
	})
}

// peerBlock is bfdd's peer command for peer (our node's address) seen
// from local (the router's).
func peerBlock(peer, local netip.Addr, multihop bool) string {
	if multihop {
		return fmt.Sprintf("peer %v multihop local-address %v", peer, local)
	}
	return fmt.Sprintf("peer %v local-address %v", peer, local)
}

// configure runs cmds inside block of bfdd's configuration.
func (f *frr) configure(t *testing.T, block string, cmds ...string) {
	t.Helper()
	args := append([]string{"configure terminal", "bfd", block}, cmds...)
	if _, err := f.vtysh(args...); err != nil {
		t.Fatal(err)
	}
}

// rewriteTTL makes the host's outgoing UDP packets to port set their
// TTL / hop limit as set says (an nftables statement), until the test
// ends or the caller deletes table inet ironlbttl.
func rewriteTTL(t *testing.T, h *netnstest.Host, port int, set string) {
	t.Helper()
	h.Run("nft", "add table inet ironlbttl")
	// Deleted already when the caller did.
	t.Cleanup(func() { _, _ = h.Output(context.Background(), "nft", "delete table inet ironlbttl") })
	h.Run("nft", "add chain inet ironlbttl out { type filter hook output priority 0 ; }")
	h.Run("nft", fmt.Sprintf("add rule inet ironlbttl out udp dport %d %s", port, set))
}

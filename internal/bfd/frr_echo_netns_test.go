package bfd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/ironlb/ironlb/internal/netnstest"
	"github.com/ironlb/ironlb/internal/testkit"
)

// echoInterval is the echo interval of both ends in TestAgainstFRREcho.
const echoInterval = 50 * time.Millisecond

// TestAgainstFRREcho runs the echo function against FRR's bfdd with
// echo-mode, over IPv4 (each side's echo packets looped by the other's
// kernel forwarding; ours sent and read back on a packet socket) and IPv6
// (looped in software by bfdd and by us): the session comes Up, FRR sees
// our Required Min Echo RX Interval, our echo packets come back and FRR's
// come back to it; then the router drops our echo packets alone
// (nftables; control packets and FRR's echo still flow) and our session
// goes Down with EchoFunctionFailed within the echo detection time, 3 × 50
// ms — where control packets alone (300 ms × 3) would never notice.
//
// Seen failing with the echo function off in our profile ("timed out
// after 10s waiting for 20 of our echo packets back, and 20 of FRR's back
// to it"), and with Machine.Advance not checking the echo detection time
// (after the drop: "no matching event within 10s", no Down at all).
func TestAgainstFRREcho(t *testing.T) {
	requireFRR(t)
	netnstest.Require(t, "nft", "sysctl")
	n := netnstest.New(t, netnstest.Options{Prefix: "ibfde"})
	node := n.AddHost("node", 1)
	router := n.AddHost("router", 2)
	// Each side loops the other's IPv4 echo packets in its forwarding
	// plane; new namespaces start with forwarding off.
	for _, h := range []*netnstest.Host{node, router} {
		h.Run("sysctl", "-qw", "net.ipv4.ip_forward=1")
	}
	f := startFRRConf(t, router, "hostname router\n!\nbfd\n!\n")
	defer func() {
		if t.Failed() {
			t.Logf("FRR output:\n%s", f.output())
		}
	}()
	for _, fam := range []struct {
		name        string
		peer, local netip.Addr
	}{{"IPv4", router.IPv4, node.IPv4}, {"IPv6", router.IPv6, node.IPv6}} {
		t.Run(fam.name, func(t *testing.T) {
			block := peerBlock(fam.local, fam.peer, false)
			f.configure(t, block, "receive-interval 300", "transmit-interval 300", "detect-multiplier 3",
				"echo-mode", fmt.Sprintf("echo transmit-interval %d", echoInterval.Milliseconds()),
				fmt.Sprintf("echo receive-interval %d", echoInterval.Milliseconds()), "no shutdown")
			t.Cleanup(func() {
				if _, err := f.vtysh("configure terminal", "bfd", "no "+block); err != nil {
					t.Error(err)
				}
			})
			rec := newRecorder()
			m := NewManager(Options{OnChange: rec.add, Device: node.Interface})
			t.Cleanup(func() { _ = m.Close() })
			var s *Session
			p := Profile{EchoMode: true, EchoInterval: echoInterval}
			if err := node.Do(func() (err error) { s, err = m.Add(fam.peer, fam.local, p); return err }); err != nil {
				t.Fatal(err)
			}
			rec.wait(t, testkit.Budget(upTime), 0, isState(StateUp))

			// Expected: echo starts with Up; 20 packets take a second.
			const want = 20
			waitFor(t, testkit.Budget(2*time.Second), fmt.Sprintf("%d of our echo packets back, and %d of FRR's back to it", want, want), func() bool {
				c := f.echoCounters(t, fam.local)
				return s.Counters().EchoReceived >= want && c.In >= want
			})
			fp := f.peer(t, fam.local)
			if fp.Status != "up" || fp.RemoteEchoRx != int(echoInterval.Milliseconds()) {
				t.Errorf("FRR's view: %s, remote echo receive interval %d, want up, %d\n%s", fp.Status, fp.RemoteEchoRx, echoInterval.Milliseconds(), fp.raw)
			}
			c := s.Counters()
			t.Logf("echo both ways: we sent %d, got %d back, reflected %d of FRR's (IPv6); FRR: %+v", c.EchoSent, c.EchoReceived, m.Counters().EchoReflected, f.echoCounters(t, fam.local))

			// The router drops our echo packets alone, control packets
			// and FRR's echo going on: IPv4 ones where it forwards them
			// back to us, IPv6 ones on their way to bfdd (hop limit 255:
			// ours looping back FRR's arrive with 254).
			router.Run("nft", "add table inet ironlbecho")
			t.Cleanup(func() { _, _ = router.Output(context.Background(), "nft", "delete table inet ironlbecho") })
			rule := fmt.Sprintf("add rule inet ironlbecho ours udp dport %d drop", EchoPort)
			hook := "forward"
			if fam.local.Is6() {
				hook = "input"
				rule = fmt.Sprintf("add rule inet ironlbecho ours udp dport %d ip6 hoplimit %d drop", EchoPort, singleHopTTL)
			}
			router.Run("nft", "add chain inet ironlbecho ours { type filter hook "+hook+" priority 0 ; }")
			from := rec.len()
			cut := time.Now()
			router.Run("nft", rule)
			detect := time.Duration(DefaultDetectMultiplier) * echoInterval
			// Expected: down after the echo detection time.
			e := rec.wait(t, testkit.Budget(detect+echoInterval), from, isState(StateDown))
			if e.Diag != DiagEchoFailed {
				t.Errorf("Down event %+v, want diag EchoFunctionFailed", e)
			}
			t.Logf("echo packets dropped: our session Down (%v) %v after (echo detection time %v)", e.Diag, e.At.Sub(cut).Round(time.Millisecond), detect)
			if c := m.Counters(); c.MalformedDropped != 0 || c.UnknownDropped != 0 {
				t.Errorf("dropped packets: %+v", c)
			}
		})
	}
}

// echoCount is FRR's echo packet counters of one peer.
type echoCount struct{ In, Out int }

// echoCounters returns FRR's echo counters of the peer addr (`show bfd
// peers counters json`), failing the test when vtysh fails or has no such
// peer.
func (f *frr) echoCounters(t *testing.T, addr netip.Addr) echoCount {
	t.Helper()
	out, err := f.vtysh("show bfd peers counters json")
	if err != nil {
		t.Fatal(err)
	}
	var peers []struct {
		Peer string `json:"peer"`
		In   int    `json:"echo-packet-input"`
		Out  int    `json:"echo-packet-output"`
	}
	if err := json.Unmarshal(out, &peers); err != nil {
		t.Fatalf("parse %q: %v", out, err)
	}
	for _, p := range peers {
		if a, err := netip.ParseAddr(p.Peer); err == nil && a == addr {
			return echoCount{p.In, p.Out}
		}
	}
	t.Fatalf("FRR has no peer %v: %s", addr, out)
	return echoCount{}
}

package layer2

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

// conflictSink collects reports.
type conflictSink struct {
	mu  sync.Mutex
	got []Conflict
}

func (s *conflictSink) add(c Conflict) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, c)
}

func (s *conflictSink) all() []Conflict {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Conflict(nil), s.got...)
}

// testGrace is ConflictGrace in these tests.
const testGrace = 150 * time.Millisecond

// garp is a gratuitous ARP request for ip from mac.
func garp(t testing.TB, mac net.HardwareAddr, ip netip.Addr) []byte {
	t.Helper()
	b, err := buildARP(arp.OperationRequest, mac, ip, make(net.HardwareAddr, 6), ip, ethernet.Broadcast)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// unsolicitedNA is an advertisement for ip from mac to all nodes.
func unsolicitedNA(t testing.TB, mac net.HardwareAddr, ip netip.Addr) []byte {
	t.Helper()
	return nsFrame{ethSrc: mac, ethDst: allNodesMAC, src: ip, dst: allNodes, target: ip, sourceLL: mac, advert: true}.bytes(t)
}

func addrConflicts(i *Interface, a netip.Addr) uint64 {
	for _, c := range i.Counters().Addresses() {
		if c.Addr == a {
			return c.Conflicts
		}
	}
	return 0
}

// TestConflictFromAnnouncements: a gratuitous ARP and an unsolicited
// advertisement from another MAC, past the grace period, are reported once
// per pair with the other MAC, counted per address; our own frames and
// frames within the grace period after taking the address are not.
func TestConflictFromAnnouncements(t *testing.T) {
	var sink conflictSink
	f := newFakeIface(t, Options{ConflictGrace: testGrace, OnConflict: sink.add})
	if err := f.SetAddresses(context.Background(), []netip.Addr{vip4, vip6}); err != nil {
		t.Fatal(err)
	}
	// Within the grace period: the previous owner's last announcements.
	f.arp.inject(t, garp(t, peerMAC, vip4))
	f.ndp.inject(t, unsolicitedNA(t, peerMAC, vip6))
	// Our own, at any time.
	f.arp.inject(t, garp(t, ourMAC, vip4))
	time.Sleep(testGrace + 50*time.Millisecond)
	f.arp.inject(t, garp(t, ourMAC, vip4))
	f.ndp.inject(t, unsolicitedNA(t, ourMAC, vip6))
	time.Sleep(testGrace + 3*conflictTick)
	if got := sink.all(); len(got) != 0 {
		t.Fatalf("reported %+v; frames within the grace period and our own are no conflict", got)
	}
	if a, b := addrConflicts(f.Interface, vip4), addrConflicts(f.Interface, vip6); a+b != 0 {
		t.Fatalf("conflicts counted: %d, %d; want none", a, b)
	}

	for range 3 {
		f.arp.inject(t, garp(t, otherMAC, vip4))
		f.ndp.inject(t, unsolicitedNA(t, otherMAC, vip6))
	}
	waitFor(t, "two reports", func() bool { return len(sink.all()) >= 2 })
	time.Sleep(3 * conflictTick)
	got := sink.all()
	if len(got) != 2 {
		t.Fatalf("reports %+v, want one per address", got)
	}
	for _, c := range got {
		if c.MAC.String() != otherMAC.String() || c.Interface != "eth0" || c.Source != SeenAnnouncement || c.Frames != 3 {
			t.Errorf("report %+v, want 3 announcement frames from %s on eth0", c, otherMAC)
		}
	}
	if a, b := addrConflicts(f.Interface, vip4), addrConflicts(f.Interface, vip6); a != 3 || b != 3 {
		t.Errorf("conflicts counted %d (IPv4), %d (IPv6); want 3 each", a, b)
	}
	// More frames within the report interval: counted, reported later, once.
	f.arp.inject(t, garp(t, otherMAC, vip4))
	time.Sleep(3 * conflictTick)
	if n := len(sink.all()); n != 2 {
		t.Errorf("%d reports after one more frame within the report interval, want still 2", n)
	}
	if a := addrConflicts(f.Interface, vip4); a != 4 {
		t.Errorf("conflicts counted %d for %s, want 4", a, vip4)
	}
}

// TestConflictHandOverNotCounted: the node giving an address up sees the
// new owner's announcements until it does; removed within the grace
// period of the first, they are neither counted nor reported.
func TestConflictHandOverNotCounted(t *testing.T) {
	var sink conflictSink
	f := newFakeIface(t, Options{ConflictGrace: testGrace, OnConflict: sink.add})
	ctx := context.Background()
	if err := f.SetAddresses(ctx, []netip.Addr{vip4}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(testGrace + 20*time.Millisecond)
	f.arp.inject(t, garp(t, peerMAC, vip4)) // the new owner's takeover
	if err := f.SetAddresses(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.SetAddresses(ctx, []netip.Addr{vip4}); err != nil { // and back, a new generation
		t.Fatal(err)
	}
	time.Sleep(testGrace + 3*conflictTick)
	if got := sink.all(); len(got) != 0 {
		t.Errorf("reported %+v for an address given up within the grace period", got)
	}
	if n := addrConflicts(f.Interface, vip4); n != 0 {
		t.Errorf("%d conflicts counted, want none", n)
	}
	if n := f.Counters().ARP.ConflictsSeen.Load(); n != 1 {
		t.Errorf("ConflictsSeen %d, want the one frame", n)
	}
}

// TestConflictProbes: each address is probed — an ARP probe (sender
// 0.0.0.0) and a solicitation from :: to the solicited-node group — and
// the answers from another MAC are conflicts seen as probe replies.
func TestConflictProbes(t *testing.T) {
	var sink conflictSink
	f := newFakeIface(t, Options{ConflictGrace: testGrace, ProbeInterval: 200 * time.Millisecond, OnConflict: sink.add})
	if err := f.SetAddresses(context.Background(), []netip.Addr{vip4, vip6}); err != nil {
		t.Fatal(err)
	}
	f.arp.take()
	f.ndp.take()
	var arpProbe, ndpProbe bool
	waitFor(t, "a probe of each address", func() bool {
		for _, s := range f.arp.take() {
			p, err := parseARP(s.frame)
			if err != nil {
				t.Fatalf("probe does not parse: %v", err)
			}
			if p.op == arp.OperationRequest && p.senderIP == netip.IPv4Unspecified() && p.targetIP == vip4 &&
				s.dst.String() == ethernet.Broadcast.String() {
				arpProbe = true
			}
		}
		for _, s := range f.ndp.take() {
			m, err := parseNDP(s.frame)
			if err != nil {
				t.Fatalf("probe does not parse: %v", err)
			}
			snm := solicitedNode(t, vip6)
			if m.icmpType == icmpTypeNS && m.src.IsUnspecified() && m.dst == snm && m.target == vip6 && m.linkAddr == nil &&
				s.dst.String() == multicastMAC(snm).String() {
				ndpProbe = true
			}
		}
		return arpProbe && ndpProbe
	})
	if f.Counters().ARP.ProbesSent.Load() == 0 || f.Counters().NDP.ProbesSent.Load() == 0 {
		t.Errorf("probes not counted: %+v %+v", f.Counters().ARP.Load(), f.Counters().NDP.Load())
	}
	// What a Linux host holding the address answers: an ARP reply to our
	// MAC with target 0.0.0.0, an advertisement to all nodes.
	reply, err := buildARP(arp.OperationReply, otherMAC, vip4, ourMAC, netip.IPv4Unspecified(), ourMAC)
	if err != nil {
		t.Fatal(err)
	}
	f.arp.inject(t, reply)
	f.ndp.inject(t, nsFrame{ethSrc: otherMAC, ethDst: allNodesMAC, src: vip6, dst: allNodes, target: vip6, sourceLL: otherMAC, advert: true}.bytes(t))
	waitFor(t, "two reports", func() bool { return len(sink.all()) >= 2 })
	for _, c := range sink.all() {
		if c.Source != SeenProbeReply || c.MAC.String() != otherMAC.String() {
			t.Errorf("report %+v, want a probe reply from %s", c, otherMAC)
		}
	}
}

// TestProbesDisabledAndRemoved: no probe goes out with ProbeInterval < 0,
// nor for an address removed.
func TestProbesDisabledAndRemoved(t *testing.T) {
	f := newFakeIface(t, Options{ConflictGrace: time.Millisecond, ProbeInterval: -1})
	if err := f.SetAddresses(context.Background(), []netip.Addr{vip4}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * conflictTick)
	if n := f.Counters().ARP.ProbesSent.Load(); n != 0 {
		t.Errorf("%d probes sent with probing disabled", n)
	}
	g := newFakeIface(t, Options{ConflictGrace: time.Millisecond, ProbeInterval: 50 * time.Millisecond})
	if err := g.SetAddresses(context.Background(), []netip.Addr{vip4}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a probe", func() bool { return g.Counters().ARP.ProbesSent.Load() > 0 })
	if err := g.SetAddresses(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	n := g.Counters().ARP.ProbesSent.Load()
	time.Sleep(5 * conflictTick)
	if m := g.Counters().ARP.ProbesSent.Load(); m > n+1 { // one may have been under way
		t.Errorf("%d probes after the address was removed", m-n)
	}
}

// TestConflictPairsBounded: a flood of forged MACs tracks at most
// maxConflicts pairs.
func TestConflictPairsBounded(t *testing.T) {
	f := newFakeIface(t, Options{ConflictGrace: time.Millisecond})
	if err := f.SetAddresses(context.Background(), []netip.Addr{vip4}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	for n := range maxConflicts + 50 {
		mac := net.HardwareAddr{0x02, 0xaa, 0, 0, byte(n >> 8), byte(n)}
		f.arp.inject(t, garp(t, mac, vip4))
	}
	f.cmu.Lock()
	n := len(f.conflicts)
	f.cmu.Unlock()
	if n > maxConflicts {
		t.Errorf("%d pairs tracked, want at most %d", n, maxConflicts)
	}
	if got := f.Counters().ARP.ConflictsSeen.Load(); got != maxConflicts+50 {
		t.Errorf("ConflictsSeen %d, want every frame (%d)", got, maxConflicts+50)
	}
}

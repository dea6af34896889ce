//go:build linux

package layer2

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/packet"

	"github.com/ironlb/ironlb/internal/netnstest"
)

// sendFrom writes the frame build returns (given h's MAC) on h's eth0.
func sendFrom(t *testing.T, h *netnstest.Host, build func(mac net.HardwareAddr) ([]byte, net.HardwareAddr, error)) {
	t.Helper()
	err := h.Do(func() error {
		ifi, err := net.InterfaceByName(h.Interface)
		if err != nil {
			return err
		}
		b, dst, err := build(ifi.HardwareAddr)
		if err != nil {
			return err
		}
		c, err := packet.Listen(ifi, packet.Raw, etherTypeIPv6, nil)
		if err != nil {
			return err
		}
		defer func() { _ = c.Close() }()
		_, err = c.WriteTo(b, &packet.Addr{HardwareAddr: dst})
		return err
	})
	if err != nil {
		t.Fatalf("sending a frame from %s: %v", h.Name, err)
	}
}

// waitConflict waits until sink holds a report for addr from mac seen as
// src, and returns it.
func waitConflict(t *testing.T, sink *conflictSink, addr netip.Addr, h *netnstest.Host, src ConflictSource,
	timeout time.Duration) Conflict {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, c := range sink.all() {
			if c.Addr == addr && c.MAC.String() == h.MAC.String() && c.Source == src {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q conflict for %s from %s (%s) within %v; reports: %+v", src, addr, h.Name, h.MAC, timeout, sink.all())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNetnsConflictAnnouncements: another host announcing a VIP the node
// answers for — arping's gratuitous ARP, an unsolicited neighbor
// advertisement with Override to all nodes — is
// reported with its MAC and counted for the address. Probing is off, so
// nothing else can have revealed it.
//
// Seen to fail: with handleARP not calling sawConflict, "no
// "announcement" conflict for 10.201.0.100 from rogue (02:00:00:00:..:03)".
func TestNetnsConflictAnnouncements(t *testing.T) {
	netnstest.Require(t, "arping")
	n := newTestNetwork(t)
	node := n.AddHost("node", 1)
	rogue := n.AddHost("rogue", 3)
	var sink conflictSink
	r := startResponder(t, node, Options{ConflictGrace: 200 * time.Millisecond, ProbeInterval: -1, OnConflict: sink.add})
	if err := r.SetAddresses(t.Context(), []netip.Addr{netnsVIP4, netnsVIP6}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // past the grace period

	// Habets' arping: -U sends a gratuitous request, sender = target = -S.
	// Nobody answers one, so it exits 1: its statistics say whether it
	// sent.
	out, err := rogue.Output(t.Context(), "arping", "-U", "-c", "2", "-W", "0.1", "-i", rogue.Interface,
		"-S", netnsVIP4.String(), netnsVIP4.String())
	if !strings.Contains(out, "2 packets transmitted") {
		t.Fatalf("arping sent no gratuitous ARP: %v\n%s", err, out)
	}
	c := waitConflict(t, &sink, netnsVIP4, rogue, SeenAnnouncement, 3*time.Second)
	if c.Interface != node.Interface {
		t.Errorf("report %+v names interface %q, want %q", c, c.Interface, node.Interface)
	}

	// No tool at hand sends an unsolicited advertisement (the kernel does
	// only after duplicate address detection, which the node would win):
	// the rogue writes one on its own packet socket.
	sendFrom(t, rogue, func(mac net.HardwareAddr) ([]byte, net.HardwareAddr, error) {
		b, err := buildNA(mac, allNodesMAC, netnsVIP6, allNodes, false)
		return b, allNodesMAC, err
	})
	waitConflict(t, &sink, netnsVIP6, rogue, SeenAnnouncement, 3*time.Second)

	for _, vip := range []netip.Addr{netnsVIP4, netnsVIP6} {
		if n := addrConflicts(r, vip); n == 0 {
			t.Errorf("%s: no conflict counted", vip)
		}
	}
	t.Logf("reports: %+v", sink.all())
}

// TestNetnsConflictProbes: a host that silently holds the VIPs (on its
// eth0, so its kernel answers for them, but announces nothing) is found
// only by the node's probes: with probing off nothing is reported; with
// probes every 300ms its answers are reported as probe replies naming its
// MAC; once it drops the addresses, the conflict counters stop growing.
//
// Seen to fail: with probeOne returning before the write, "no "probe
// reply" conflict for 10.201.0.100 from rogue ... within 3s; reports: []".
func TestNetnsConflictProbes(t *testing.T) {
	n := newTestNetwork(t)
	node := n.AddHost("node", 1)
	rogue := n.AddHost("rogue", 3)
	rogue.Sysctl("net.ipv6.conf.eth0.ndisc_notify=0")
	rogue.Run("ip", "addr", "add", netnsVIP4.String()+"/32", "dev", rogue.Interface)
	rogue.Run("ip", "-6", "addr", "add", netnsVIP6.String()+"/128", "dev", rogue.Interface, "nodad")
	vips := []netip.Addr{netnsVIP4, netnsVIP6}
	const grace, every = 200 * time.Millisecond, 300 * time.Millisecond

	// The control: the same setup without probes sees nothing.
	var quiet conflictSink
	off := startResponder(t, node, Options{ConflictGrace: grace, ProbeInterval: -1, OnConflict: quiet.add})
	if err := off.SetAddresses(t.Context(), vips); err != nil {
		t.Fatal(err)
	}
	time.Sleep(grace + 4*every)
	if got := quiet.all(); len(got) != 0 {
		t.Fatalf("without probes, reports %+v: something else revealed the rogue, the probe check below proves nothing", got)
	}
	if err := off.Close(); err != nil {
		t.Fatal(err)
	}

	var sink conflictSink
	r := startResponder(t, node, Options{ConflictGrace: grace, ProbeInterval: every, OnConflict: sink.add})
	if err := r.SetAddresses(t.Context(), vips); err != nil {
		t.Fatal(err)
	}
	for _, vip := range vips {
		waitConflict(t, &sink, vip, rogue, SeenProbeReply, 3*time.Second)
	}
	if r.Counters().ARP.ProbesSent.Load() == 0 || r.Counters().NDP.ProbesSent.Load() == 0 {
		t.Errorf("probes not counted: IPv4 %+v, IPv6 %+v", r.Counters().ARP.Load(), r.Counters().NDP.Load())
	}

	rogue.Run("ip", "addr", "del", netnsVIP4.String()+"/32", "dev", rogue.Interface)
	rogue.Run("ip", "-6", "addr", "del", netnsVIP6.String()+"/128", "dev", rogue.Interface)
	time.Sleep(every) // a probe answered just before the removal
	before := map[netip.Addr]uint64{}
	for _, vip := range vips {
		before[vip] = addrConflicts(r, vip)
	}
	probes := r.Counters().ARP.ProbesSent.Load()
	time.Sleep(4 * every)
	if r.Counters().ARP.ProbesSent.Load() == probes {
		t.Fatal("no probe sent after the rogue left: the check below proves nothing")
	}
	for _, vip := range vips {
		if got := addrConflicts(r, vip); got != before[vip] {
			t.Errorf("%s: conflicts grew from %d to %d after the rogue dropped the address", vip, before[vip], got)
		}
	}
	t.Logf("reports: %+v", sink.all())
}

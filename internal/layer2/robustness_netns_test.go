//go:build linux

package layer2

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/packet"
)

// TestNetnsMalformedFrames: garbage sent on the wire to the node is
// counted and dropped, and the node keeps answering.
func TestNetnsMalformedFrames(t *testing.T) {
	n := newTestNetwork(t, "arping", "ndisc6")
	node := n.AddHost("node", 1)
	client := n.AddHost("client", 2)
	r := startResponder(t, node, Options{})
	ctx := context.Background()
	if err := r.SetAddresses(ctx, []netip.Addr{netnsVIP4, netnsVIP6}); err != nil {
		t.Fatal(err)
	}

	// Frames from the client's MAC to the node's: an ARP packet cut short,
	// one with a bogus hardware length, a solicitation for the VIP with a
	// broken checksum, one with hop limit 64, one with an option of length
	// zero, one whose ICMPv6 message is cut short.
	arpShort := arpRequest(t, client.MAC, client.IPv4, netnsVIP4)[:14+20]
	arpBadLen := arpRequest(t, client.MAC, client.IPv4, netnsVIP4)
	arpBadLen[14+4] = 200
	ns := nsFrame{ethSrc: client.MAC, ethDst: node.MAC, src: client.IPv6, dst: netnsVIP6, target: netnsVIP6, sourceLL: client.MAC}
	badSum := ns
	badSum.corrupt = true
	hop64 := ns
	hop64.hopLimit = 64
	zeroOpt := ns
	zeroOpt.rawOption = []byte{1, 0, 0, 0, 0, 0, 0, 0}
	short := ns.bytes(t)
	short[14+4], short[14+5] = 0, 16
	arpFrames := [][]byte{arpShort, arpBadLen}
	ndpFrames := [][]byte{badSum.bytes(t), hop64.bytes(t), zeroOpt.bytes(t), short}

	inject := func(etherType int, frames [][]byte) {
		t.Helper()
		err := client.Do(func() error {
			ifi, err := net.InterfaceByName(client.Interface)
			if err != nil {
				return err
			}
			c, err := packet.Listen(ifi, packet.Raw, etherType, nil)
			if err != nil {
				return err
			}
			defer func() { _ = c.Close() }()
			for _, f := range frames {
				if _, err := c.WriteTo(f, &packet.Addr{HardwareAddr: node.MAC}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("injecting frames from the client: %v", err)
		}
	}
	inject(etherTypeARP, arpFrames)
	inject(etherTypeIPv6, ndpFrames)
	waitFor(t, "malformed frames to be counted", func() bool {
		return r.Counters().ARP.MalformedDropped.Load() == uint64(len(arpFrames)) &&
			r.Counters().NDP.MalformedDropped.Load() == uint64(len(ndpFrames))
	})
	if c := r.Counters(); c.ARP.ResponsesSent.Load() != 0 || c.NDP.ResponsesSent.Load() != 0 {
		t.Errorf("malformed frames were answered: ARP %+v NDP %+v", c.ARP.Load(), c.NDP.Load())
	}

	// Still answering.
	if out, err := client.Output(ctx, "arping", "-c", "1", "-w", "2", "-i", client.Interface, netnsVIP4.String()); err != nil || !hasMAC(out, node.MAC) {
		t.Errorf("arping after garbage: err=%v\n%s", err, out)
	}
	if out, err := client.Output(ctx, "ndisc6", "-1", "-n", "-w", "500", netnsVIP6.String(), client.Interface); err != nil || !hasMAC(out, node.MAC) {
		t.Errorf("ndisc6 after garbage: err=%v\n%s", err, out)
	}
}

// TestNetnsLinkDown: Ready reports a link without carrier and recovers
// when it returns, announcing the addresses again; a deleted interface
// is reported for good.
func TestNetnsLinkDown(t *testing.T) {
	n := newTestNetwork(t)
	node := n.AddHost("node", 1)
	r := startResponder(t, node, Options{LinkPollInterval: 20 * time.Millisecond})
	if err := r.SetAddresses(context.Background(), []netip.Addr{netnsVIP4, netnsVIP6}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the announcement schedule to finish", func() bool {
		return r.Counters().ARP.GratuitousSent.Load() == uint64(2*len(DefaultAnnounceSchedule()))
	})

	n.SetPort(node, false) // the node's eth0 loses carrier
	waitFor(t, "Ready to report the link down", func() bool { return errors.Is(r.Ready(), errLinkDown) })
	n.SetPort(node, true)
	waitFor(t, "Ready after carrier returns", func() bool { return r.Ready() == nil })
	waitFor(t, "the addresses to be announced again", func() bool {
		return r.Counters().ARP.GratuitousSent.Load() > uint64(2*len(DefaultAnnounceSchedule())) &&
			r.Counters().NDP.GratuitousSent.Load() > uint64(len(DefaultAnnounceSchedule()))
	})

	// Administratively down, then up: the sockets report ENETDOWN once.
	node.Run("ip", "link", "set", node.Interface, "down")
	waitFor(t, "Ready to report the link down", func() bool { return errors.Is(r.Ready(), errLinkDown) })
	node.Run("ip", "link", "set", node.Interface, "up")
	waitFor(t, "Ready after the link is set up", func() bool { return r.Ready() == nil })
	if got := r.Counters().ARP.ReceiveErrors.Load() + r.Counters().NDP.ReceiveErrors.Load(); got != 0 {
		t.Errorf("ReceiveErrors = %d, want 0: a link going down is not a receive error", got)
	}

	node.Run("ip", "link", "del", node.Interface)
	waitFor(t, "Ready to report the interface gone", func() bool { return errors.Is(r.Ready(), errInterfaceGone) })
	if err := r.Ready(); !strings.Contains(err.Error(), "eth0") {
		t.Errorf("Ready = %v, want it to name the interface", err)
	}
}

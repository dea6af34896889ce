package layer2

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mdlayher/arp"
)

// FuzzParseARP: parseARP never panics, fails only with errMalformed, and
// every request it accepts for an address that could be answered for can
// be answered with a reply that parses back.
func FuzzParseARP(f *testing.F) {
	f.Add(arpRequest(f, peerMAC, peer4, vip4))
	f.Add(arpRequest(f, peerMAC, netip.IPv4Unspecified(), vip4))
	if b, err := buildARP(arp.OperationReply, peerMAC, peer4, ourMAC, vip4, ourMAC); err == nil {
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add(make([]byte, 60))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseARP(b)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("error %v does not wrap errMalformed", err)
			}
			return
		}
		if _, err := normalize(p.targetIP); p.op != arp.OperationRequest || err != nil {
			return // never answered: the target cannot be in the set
		}
		reply, err := buildARP(arp.OperationReply, ourMAC, p.targetIP, p.senderMAC, p.senderIP, p.senderMAC)
		if err != nil {
			t.Fatalf("accepted request %+v cannot be answered: %v", p, err)
		}
		back, err := parseARP(reply)
		if err != nil {
			t.Fatalf("reply to %+v does not parse: %v", p, err)
		}
		if back.senderIP != p.targetIP || back.targetIP != p.senderIP || !bytes.Equal(back.targetMAC, p.senderMAC) {
			t.Fatalf("reply %+v does not answer %+v", back, p)
		}
	})
}

// FuzzParseNDP: parseNDP never panics, fails only with errMalformed, and
// every solicitation it accepts can be answered with an advertisement that
// parses back (hop limit, checksum) with the same target.
func FuzzParseNDP(f *testing.F) {
	snm := solicitedNode(f, vip6)
	f.Add(nsFrame{ethSrc: peerMAC, ethDst: multicastMAC(snm), src: peer6, dst: snm, target: vip6, sourceLL: peerMAC}.bytes(f))
	f.Add(nsFrame{ethSrc: peerMAC, ethDst: ourMAC, src: peer6, dst: vip6, target: vip6}.bytes(f))
	f.Add(nsFrame{ethSrc: peerMAC, ethDst: multicastMAC(snm), src: netip.IPv6Unspecified(), dst: snm, target: vip6}.bytes(f))
	f.Add(nsFrame{ethSrc: otherMAC, ethDst: allNodesMAC, src: vip6, dst: allNodes, target: vip6, sourceLL: otherMAC, advert: true}.bytes(f))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseNDP(b)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("error %v does not wrap errMalformed", err)
			}
			return
		}
		if _, err := normalize(m.target); m.icmpType != icmpTypeNS || err != nil {
			return // never answered: the target cannot be in the set
		}
		dst := m.src
		if dst.IsUnspecified() {
			dst = allNodes
		}
		na, err := buildNA(ourMAC, m.ethSrc, m.target, dst, true)
		if err != nil {
			t.Fatalf("accepted solicitation %+v cannot be answered: %v", m, err)
		}
		back, err := parseNDP(na)
		if err != nil && !dst.IsMulticast() { // solicited NA to multicast is invalid, by design of this check
			t.Fatalf("advertisement answering %+v does not parse: %v", m, err)
		}
		if err == nil && (back.target != m.target || back.src != m.target || !bytes.Equal(back.linkAddr, ourMAC)) {
			t.Fatalf("advertisement %+v does not answer %+v", back, m)
		}
	})
}

// FuzzHandleFrame feeds arbitrary frames to both responders of an
// Interface: nothing panics, and every frame written parses and concerns
// an address being answered for.
func FuzzHandleFrame(f *testing.F) {
	snm := solicitedNode(f, vip6)
	f.Add(arpRequest(f, peerMAC, peer4, vip4))
	f.Add(nsFrame{ethSrc: peerMAC, ethDst: multicastMAC(snm), src: peer6, dst: snm, target: vip6, sourceLL: peerMAC}.bytes(f))
	f.Add(nsFrame{ethSrc: peerMAC, ethDst: multicastMAC(snm), src: netip.IPv6Unspecified(), dst: snm, target: vip6}.bytes(f))
	f.Add([]byte{0xff})
	// Claims on our addresses (conflicts) and an answer to our probe.
	f.Add(garp(f, otherMAC, vip4))
	f.Add(unsolicitedNA(f, otherMAC, vip6))
	if b, err := buildARP(arp.OperationReply, otherMAC, vip4, ourMAC, netip.IPv4Unspecified(), ourMAC); err == nil {
		f.Add(b)
	}
	arpC, ndpC := newFakeConn(), newFakeConn()
	i := newInterface("eth0", ourMAC, sockets{arp: arpC, ndp: ndpC, ctl: &fakeControl{groups: map[netip.Addr]bool{}}},
		Options{AnnounceSchedule: []time.Duration{0}, ProbeInterval: -1, ConflictGrace: time.Nanosecond})
	defer func() { _ = i.Close() }()
	if err := i.SetAddresses(context.Background(), []netip.Addr{vip4, vip6}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		arpC.take()
		ndpC.take()
		i.handleARP(b)
		i.handleNDP(b)
		for _, s := range arpC.take() {
			p, err := parseARP(s.frame)
			if err != nil || p.op != arp.OperationReply || p.senderIP != vip4 {
				t.Fatalf("wrote ARP frame %x (%+v, %v), want a reply for %s", s.frame, p, err, vip4)
			}
		}
		for _, s := range ndpC.take() {
			m, err := parseNDP(s.frame)
			if err != nil || m.icmpType != icmpTypeNA || m.target != vip6 {
				t.Fatalf("wrote NDP frame %x (%+v, %v), want an advertisement for %s", s.frame, m, err, vip6)
			}
		}
		// Conflicts are tracked only for our addresses, never for our MAC,
		// and never beyond the bound.
		i.cmu.Lock()
		defer i.cmu.Unlock()
		if len(i.conflicts) > maxConflicts {
			t.Fatalf("%d conflict pairs tracked, want at most %d", len(i.conflicts), maxConflicts)
		}
		for k := range i.conflicts {
			if (k.addr != vip4 && k.addr != vip6) || net.HardwareAddr(k.mac[:]).String() == ourMAC.String() {
				t.Fatalf("conflict tracked for %s from %s", k.addr, net.HardwareAddr(k.mac[:]))
			}
		}
	})
}

package layer2

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

func TestARPResponder(t *testing.T) {
	zero4 := netip.IPv4Unspecified()
	garp, err := buildARP(arp.OperationRequest, otherMAC, vip4, make(net.HardwareAddr, 6), vip4, ethernet.Broadcast)
	if err != nil {
		t.Fatal(err)
	}
	reply, err := buildARP(arp.OperationReply, otherMAC, peer4, ourMAC, vip4, ourMAC)
	if err != nil {
		t.Fatal(err)
	}
	truncated := arpRequest(t, peerMAC, peer4, vip4)[:30]
	ipv6Type := arpRequest(t, peerMAC, peer4, vip4)
	ipv6Type[14+2], ipv6Type[14+3] = 0x86, 0xdd // protocol type IPv6

	tests := []struct {
		name      string
		frame     []byte
		wantReply bool
		wantTo    netip.Addr // reply's target IP
		want      FamilyCounts
	}{
		{name: "request for a set address", frame: arpRequest(t, peerMAC, peer4, vip4), wantReply: true, wantTo: peer4,
			want: counts(1, 1, 0, 0)},
		{name: "RFC 5227 probe for a set address", frame: arpRequest(t, peerMAC, zero4, vip4), wantReply: true, wantTo: zero4,
			want: counts(1, 1, 0, 0)},
		{name: "request for another address", frame: arpRequest(t, peerMAC, peer4, unset4)},
		{name: "request from our own MAC", frame: arpRequest(t, ourMAC, peer4, vip4)},
		{name: "gratuitous ARP from another node", frame: garp, want: FamilyCounts{ConflictsSeen: 1}},
		{name: "reply", frame: reply},
		{name: "truncated", frame: truncated, want: counts(0, 0, 1, 0)},
		{name: "not IPv4", frame: ipv6Type, want: counts(0, 0, 1, 0)},
		{name: "empty", frame: nil, want: counts(0, 0, 1, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeIface(t, Options{})
			if err := f.SetAddresses(context.Background(), []netip.Addr{vip4}); err != nil {
				t.Fatal(err)
			}
			f.arp.take() // the announcements
			f.arp.inject(t, tt.frame)
			out := f.arp.take()
			if !tt.wantReply {
				if len(out) != 0 {
					t.Fatalf("wrote %d frames, want none", len(out))
				}
			} else {
				if len(out) != 1 {
					t.Fatalf("wrote %d frames, want one reply", len(out))
				}
				p, err := parseARP(out[0].frame)
				if err != nil {
					t.Fatalf("reply does not parse: %v", err)
				}
				if p.op != arp.OperationReply || !bytes.Equal(p.senderMAC, ourMAC) || p.senderIP != vip4 ||
					!bytes.Equal(p.targetMAC, peerMAC) || p.targetIP != tt.wantTo || !bytes.Equal(out[0].dst, peerMAC) {
					t.Errorf("reply = %+v to %s, want reply %s is-at %s to %s at %s", p, out[0].dst, vip4, ourMAC, tt.wantTo, peerMAC)
				}
				if len(out[0].frame) < ethMinFrame {
					t.Errorf("reply frame is %d bytes, want at least %d", len(out[0].frame), ethMinFrame)
				}
			}
			assertCounts(t, f.Counters().ARP.Load(), tt.want, 2)
		})
	}
}

func TestARPConflictCounted(t *testing.T) {
	f := newFakeIface(t, Options{})
	if err := f.SetAddresses(context.Background(), []netip.Addr{vip4}); err != nil {
		t.Fatal(err)
	}
	garp, err := buildARP(arp.OperationRequest, otherMAC, vip4, make(net.HardwareAddr, 6), vip4, ethernet.Broadcast)
	if err != nil {
		t.Fatal(err)
	}
	f.arp.inject(t, garp)
	if got := f.Counters().ARP.ConflictsSeen.Load(); got != 1 {
		t.Errorf("ConflictsSeen = %d, want 1", got)
	}
}

func TestNDPResponder(t *testing.T) {
	snm := solicitedNode(t, vip6)
	tests := []struct {
		name       string
		frame      nsFrame
		wantReply  bool
		wantDst    netip.Addr
		wantDstMAC net.HardwareAddr
		wantSolic  bool
		want       FamilyCounts
		conflicts  uint64
	}{
		{name: "multicast solicitation", frame: nsFrame{ethSrc: peerMAC, ethDst: multicastMAC(snm), src: peer6, dst: snm, target: vip6, sourceLL: peerMAC},
			wantReply: true, wantDst: peer6, wantDstMAC: peerMAC, wantSolic: true, want: counts(1, 1, 0, 0)},
		{name: "unicast NUD probe without source option", frame: nsFrame{ethSrc: peerMAC, ethDst: ourMAC, src: peer6, dst: vip6, target: vip6},
			wantReply: true, wantDst: peer6, wantDstMAC: peerMAC, wantSolic: true, want: counts(1, 1, 0, 0)},
		{name: "link-local asker, option names another MAC", frame: nsFrame{ethSrc: peerMAC, ethDst: ourMAC, src: linkLocal, dst: vip6, target: vip6, sourceLL: otherMAC},
			wantReply: true, wantDst: linkLocal, wantDstMAC: otherMAC, wantSolic: true, want: counts(1, 1, 0, 0)},
		{name: "duplicate address detection", frame: nsFrame{ethSrc: peerMAC, ethDst: multicastMAC(snm), src: netip.IPv6Unspecified(), dst: snm, target: vip6},
			wantReply: true, wantDst: allNodes, wantDstMAC: allNodesMAC, wantSolic: false, want: counts(1, 1, 0, 0)},
		{name: "another target", frame: nsFrame{ethSrc: peerMAC, ethDst: ourMAC, src: peer6, dst: unset6, target: unset6}},
		{name: "from our own MAC", frame: nsFrame{ethSrc: ourMAC, ethDst: ourMAC, src: peer6, dst: vip6, target: vip6}},
		{name: "advertisement from another MAC", frame: nsFrame{ethSrc: otherMAC, ethDst: allNodesMAC, src: vip6, dst: allNodes, target: vip6, sourceLL: otherMAC, advert: true},
			conflicts: 1},
		{name: "hop limit 64", frame: nsFrame{ethSrc: peerMAC, ethDst: ourMAC, src: peer6, dst: vip6, target: vip6, hopLimit: 64}, want: counts(0, 0, 1, 0)},
		{name: "bad checksum", frame: nsFrame{ethSrc: peerMAC, ethDst: ourMAC, src: peer6, dst: vip6, target: vip6, corrupt: true}, want: counts(0, 0, 1, 0)},
		{name: "DAD with a source option", frame: nsFrame{ethSrc: peerMAC, ethDst: multicastMAC(snm), src: netip.IPv6Unspecified(), dst: snm, target: vip6, sourceLL: peerMAC},
			want: counts(0, 0, 1, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeIface(t, Options{})
			if err := f.SetAddresses(context.Background(), []netip.Addr{vip6}); err != nil {
				t.Fatal(err)
			}
			f.ndp.take()
			f.ndp.inject(t, tt.frame.bytes(t))
			out := f.ndp.take()
			if !tt.wantReply {
				if len(out) != 0 {
					t.Fatalf("wrote %d frames, want none", len(out))
				}
			} else {
				if len(out) != 1 {
					t.Fatalf("wrote %d frames, want one advertisement", len(out))
				}
				checkNA(t, out[0], tt.wantDst, tt.wantDstMAC, tt.wantSolic)
			}
			want := tt.want
			want.ConflictsSeen = tt.conflicts
			assertCounts(t, f.Counters().NDP.Load(), want, 1)
		})
	}
}

// checkNA parses a written advertisement and checks it against RFC 4861
// and what ndisc6 and the kernel accept.
func checkNA(t *testing.T, s sentFrame, dst netip.Addr, dstMAC net.HardwareAddr, solicited bool) {
	t.Helper()
	m, err := parseNDP(s.frame) // checks hop limit 255 and the checksum
	if err != nil {
		t.Fatalf("advertisement does not parse: %v", err)
	}
	flags := s.frame[14+40+4]
	if m.icmpType != icmpTypeNA || m.src != vip6 || m.target != vip6 || m.dst != dst ||
		!bytes.Equal(m.ethSrc, ourMAC) || !bytes.Equal(m.linkAddr, ourMAC) || !bytes.Equal(s.dst, dstMAC) ||
		!bytes.Equal(s.frame[0:6], dstMAC) {
		t.Errorf("advertisement %+v to %s, want NA %s -> %s at %s with target option %s", m, s.dst, vip6, dst, dstMAC, ourMAC)
	}
	if gotS, gotO, gotR := flags&0x40 != 0, flags&0x20 != 0, flags&0x80 != 0; gotS != solicited || !gotO || gotR {
		t.Errorf("flags S=%v O=%v R=%v, want S=%v O=true R=false", gotS, gotO, gotR, solicited)
	}
}

func counts(requests, responses, malformed, gratuitous uint64) FamilyCounts {
	return FamilyCounts{RequestsReceived: requests, ResponsesSent: responses, MalformedDropped: malformed, GratuitousSent: gratuitous}
}

// assertCounts compares counters, after discounting the gratuitous frames
// of the initial announcement.
func assertCounts(t *testing.T, got, want FamilyCounts, announced uint64) {
	t.Helper()
	want.GratuitousSent += announced
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
}

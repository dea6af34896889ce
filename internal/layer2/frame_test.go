package layer2

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/mdlayher/ndp"
	"golang.org/x/net/bpf"
)

func TestBuildNAChecksumMatchesNDP(t *testing.T) {
	for _, dst := range []netip.Addr{peer6, allNodes, linkLocal} {
		for _, solicited := range []bool{true, false} {
			b, err := buildNA(ourMAC, peerMAC, vip6, dst, solicited)
			if err != nil {
				t.Fatal(err)
			}
			na := &ndp.NeighborAdvertisement{Solicited: solicited, Override: true, TargetAddress: vip6,
				Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: ourMAC}}}
			want, err := ndp.MarshalMessageChecksum(na, vip6, dst)
			if err != nil {
				t.Fatal(err)
			}
			got := b[ethHeaderLen+ipv6HeaderLen:]
			if string(got) != string(want) {
				t.Errorf("dst %s solicited %v: ICMPv6 message\n got %x\nwant %x", dst, solicited, got, want)
			}
			if plen := binary.BigEndian.Uint16(b[ethHeaderLen+4:]); int(plen) != len(want) {
				t.Errorf("payload length %d, want %d", plen, len(want))
			}
		}
	}
}

func TestICMPv6ChecksumOddLength(t *testing.T) {
	msg := []byte{1, 2, 3}
	sum := icmpv6Checksum(peer6, vip6, msg)
	// Appending the checksum as if at the end must verify to zero when the
	// message is padded: check against a straightforward reference.
	ref := func(b []byte) uint16 {
		s, d := peer6.As16(), vip6.As16()
		var words []byte
		words = append(words, s[:]...)
		words = append(words, d[:]...)
		words = binary.BigEndian.AppendUint32(words, uint32(len(b)))
		words = append(words, 0, 0, 0, 58)
		words = append(words, b...)
		if len(words)%2 == 1 {
			words = append(words, 0)
		}
		var acc uint32
		for i := 0; i < len(words); i += 2 {
			acc += uint32(binary.BigEndian.Uint16(words[i:]))
		}
		for acc > 0xffff {
			acc = acc>>16 + acc&0xffff
		}
		return ^uint16(acc)
	}
	if want := ref(msg); sum != want {
		t.Errorf("checksum %#04x, want %#04x", sum, want)
	}
}

func TestFilters(t *testing.T) {
	snm := solicitedNode(t, vip6)
	ns := nsFrame{ethSrc: peerMAC, ethDst: multicastMAC(snm), src: peer6, dst: snm, target: vip6, sourceLL: peerMAC}.bytes(t)
	na := nsFrame{ethSrc: peerMAC, ethDst: allNodesMAC, src: vip6, dst: allNodes, target: vip6, sourceLL: peerMAC, advert: true}.bytes(t)
	echo := append([]byte(nil), ns...)
	echo[ethHeaderLen+ipv6HeaderLen] = 128 // ICMPv6 echo request
	udp := append([]byte(nil), ns...)
	udp[ethHeaderLen+6] = 17
	req := arpRequest(t, peerMAC, peer4, vip4)

	tests := []struct {
		name       string
		prog       []bpf.Instruction
		frame      []byte
		wantAccept bool
	}{
		{"arp: request", arpFilter(false), req, true},
		{"arp: IPv6 frame", arpFilter(false), ns, false},
		{"ndp: solicitation", ndpFilter(false), ns, true},
		{"ndp: advertisement", ndpFilter(false), na, true},
		{"ndp: echo request", ndpFilter(false), echo, false},
		{"ndp: UDP", ndpFilter(false), udp, false},
		{"ndp: ARP frame", ndpFilter(false), req, false},
		{"ndp: runt", ndpFilter(false), ns[:20], false},
	}
	for _, tt := range tests {
		vm, err := bpf.NewVM(tt.prog)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		n, err := vm.Run(tt.frame)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if (n > 0) != tt.wantAccept {
			t.Errorf("%s: filter kept %d bytes, want accept=%v", tt.name, n, tt.wantAccept)
		}
	}
	// The full programs, with the packet-type test, must assemble, and
	// their jumps must land on the final drop.
	for _, prog := range [][]bpf.Instruction{arpFilter(true), ndpFilter(true)} {
		if _, err := assemble(prog); err != nil {
			t.Fatal(err)
		}
		j := prog[1].(bpf.JumpIf)
		if target := 2 + int(j.SkipTrue); target != len(prog)-1 {
			t.Errorf("packet-type test jumps to %d, want the final drop at %d", target, len(prog)-1)
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"10.0.0.1", "10.0.0.1", true},
		{"::ffff:10.0.0.1", "10.0.0.1", true},
		{"2001:db8::1", "2001:db8::1", true},
		{"fd00::1", "fd00::1", true},
		{"169.254.0.1", "", false},
		{"fe80::1", "", false},
		{"ff05::1", "", false},
		{"::1", "", false},
	}
	for _, tt := range tests {
		got, err := normalize(netip.MustParseAddr(tt.in))
		if (err == nil) != tt.ok || (tt.ok && got.String() != tt.want) {
			t.Errorf("normalize(%s) = %s, %v; want %s ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

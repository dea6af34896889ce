package layer2

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/ndp"
)

// allNodes is ff02::1 and its Ethernet group address 33:33:00:00:00:01.
// Read only.
var (
	allNodes    = netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 15: 0x01})
	allNodesMAC = net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}
)

// ndpFrame is a neighbor solicitation or advertisement that passed the
// validity checks of RFC 4861 sections 7.1.1 and 7.1.2 (as far as they
// concern a responder).
type ndpFrame struct {
	ethSrc   net.HardwareAddr
	src, dst netip.Addr // IPv6 source and destination
	icmpType uint8      // icmpTypeNS or icmpTypeNA
	target   netip.Addr
	// linkAddr is the source link-layer address option of a solicitation
	// or the target link-layer address option of an advertisement; nil
	// when absent.
	linkAddr net.HardwareAddr
}

// parseNDP parses an Ethernet frame carrying an IPv6 neighbor
// solicitation or advertisement without extension headers. Anything else,
// or one failing validation (hop limit 255, code 0, checksum, lengths,
// option rules), is an error wrapping errMalformed.
func parseNDP(b []byte) (ndpFrame, error) {
	if len(b) < ethHeaderLen {
		return ndpFrame{}, malformed("frame of %d bytes is shorter than an Ethernet header", len(b))
	}
	if et := binary.BigEndian.Uint16(b[12:14]); et != etherTypeIPv6 {
		return ndpFrame{}, malformed("ethertype %#04x is not IPv6", et)
	}
	ethSrc := net.HardwareAddr(bytes.Clone(b[6:12]))
	ip := b[ethHeaderLen:]
	if len(ip) < ipv6HeaderLen {
		return ndpFrame{}, malformed("IPv6 packet of %d bytes is shorter than its header", len(ip))
	}
	if v := ip[0] >> 4; v != 6 {
		return ndpFrame{}, malformed("IP version %d", v)
	}
	payloadLen := int(binary.BigEndian.Uint16(ip[4:6]))
	if ipv6HeaderLen+payloadLen > len(ip) { // longer is Ethernet padding
		return ndpFrame{}, malformed("IPv6 payload length %d exceeds the %d bytes received", payloadLen, len(ip)-ipv6HeaderLen)
	}
	if nh := ip[6]; nh != protoICMPv6 {
		return ndpFrame{}, malformed("IPv6 next header %d is not ICMPv6", nh)
	}
	if hl := ip[7]; hl != ndpHopLimit {
		return ndpFrame{}, malformed("hop limit %d, neighbor discovery requires 255", hl)
	}
	src := netip.AddrFrom16([16]byte(ip[8:24]))
	dst := netip.AddrFrom16([16]byte(ip[24:40]))
	icmp := ip[ipv6HeaderLen : ipv6HeaderLen+payloadLen]
	if len(icmp) < icmpNDMinLen {
		return ndpFrame{}, malformed("ICMPv6 message of %d bytes is shorter than %d", len(icmp), icmpNDMinLen)
	}
	if t := icmp[0]; t != icmpTypeNS && t != icmpTypeNA {
		return ndpFrame{}, malformed("ICMPv6 type %d is neither a neighbor solicitation nor an advertisement", t)
	}
	if c := icmp[1]; c != 0 {
		return ndpFrame{}, malformed("ICMPv6 code %d, want 0", c)
	}
	if icmpv6Checksum(src, dst, icmp) != 0 {
		return ndpFrame{}, malformed("bad ICMPv6 checksum %#04x", binary.BigEndian.Uint16(icmp[2:4]))
	}
	if src.IsMulticast() {
		return ndpFrame{}, malformed("multicast source %s", src)
	}
	msg, err := ndp.ParseMessage(icmp)
	if err != nil {
		return ndpFrame{}, malformed("%v", err)
	}
	f := ndpFrame{ethSrc: ethSrc, src: src, dst: dst, icmpType: icmp[0]}
	switch m := msg.(type) {
	case *ndp.NeighborSolicitation:
		f.target = m.TargetAddress
		f.linkAddr, err = linkAddrOption(m.Options, ndp.Source)
		if err != nil {
			return ndpFrame{}, err
		}
		if src.IsUnspecified() {
			// Duplicate address detection: to the solicited-node group, no
			// source link-layer address (RFC 4861 7.1.1).
			if snm, _ := ndp.SolicitedNodeMulticast(f.target); dst != snm || f.linkAddr != nil {
				return ndpFrame{}, malformed("solicitation from :: to %s with link-layer option %v", dst, f.linkAddr)
			}
		}
	case *ndp.NeighborAdvertisement:
		f.target = m.TargetAddress
		f.linkAddr, err = linkAddrOption(m.Options, ndp.Target)
		if err != nil {
			return ndpFrame{}, err
		}
		if dst.IsMulticast() && m.Solicited {
			return ndpFrame{}, malformed("solicited advertisement to multicast %s", dst)
		}
	default: // ParseMessage returned another type for type 135/136: impossible
		return ndpFrame{}, malformed("unexpected message %T", msg)
	}
	if f.target.IsMulticast() {
		return ndpFrame{}, malformed("multicast target %s", f.target)
	}
	return f, nil
}

// linkAddrOption returns the link-layer address option of the given
// direction, nil when absent; a second one or a non-unicast MAC is malformed.
func linkAddrOption(opts []ndp.Option, dir ndp.Direction) (net.HardwareAddr, error) {
	var found net.HardwareAddr
	for _, o := range opts {
		lla, ok := o.(*ndp.LinkLayerAddress)
		if !ok || lla.Direction != dir {
			continue
		}
		if found != nil {
			return nil, malformed("two link-layer address options")
		}
		if !unicastMAC(lla.Addr) {
			return nil, malformed("link-layer address option %s is not a unicast MAC", lla.Addr)
		}
		found = bytes.Clone(lla.Addr)
	}
	return found, nil
}

// buildNA returns an Ethernet frame from srcMAC to ethDst carrying a
// neighbor advertisement for target, sent from target itself (hosts such
// as ndisc6 ignore advertisements whose source is not the target) to dst,
// with Override set, Solicited as given, hop limit 255, a target
// link-layer address option of srcMAC and a correct checksum.
func buildNA(srcMAC, ethDst net.HardwareAddr, target, dst netip.Addr, solicited bool) ([]byte, error) {
	na := &ndp.NeighborAdvertisement{
		Solicited:     solicited,
		Override:      true,
		TargetAddress: target,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: srcMAC}},
	}
	icmp, err := ndp.MarshalMessage(na)
	if err != nil {
		return nil, fmt.Errorf("marshaling neighbor advertisement for %s: %w", target, err)
	}
	b := make([]byte, ethHeaderLen+ipv6HeaderLen+len(icmp))
	writeEthernet(b, ethDst, srcMAC, etherTypeIPv6)
	ip := b[ethHeaderLen:]
	ip[0] = 6 << 4 // version 6, traffic class 0, flow label 0
	binary.BigEndian.PutUint16(ip[4:6], uint16(len(icmp)))
	ip[6] = protoICMPv6
	ip[7] = ndpHopLimit
	s, d := target.As16(), dst.As16()
	copy(ip[8:24], s[:])
	copy(ip[24:40], d[:])
	copy(ip[ipv6HeaderLen:], icmp)
	msg := ip[ipv6HeaderLen:]
	msg[2], msg[3] = 0, 0
	binary.BigEndian.PutUint16(msg[2:4], icmpv6Checksum(target, dst, msg))
	return b, nil
}

// buildDADSolicitation returns an Ethernet frame from srcMAC carrying a
// neighbor solicitation for target as duplicate address detection sends
// it (RFC 4862 5.4.2): from ::, to target's solicited-node group, hop
// limit 255, no source link-layer address option; and the group's
// Ethernet address it goes to.
func buildDADSolicitation(srcMAC net.HardwareAddr, target netip.Addr) ([]byte, net.HardwareAddr, error) {
	group, err := ndp.SolicitedNodeMulticast(target)
	if err != nil {
		return nil, nil, fmt.Errorf("solicited-node group of %s: %w", target, err)
	}
	icmp, err := ndp.MarshalMessage(&ndp.NeighborSolicitation{TargetAddress: target})
	if err != nil {
		return nil, nil, fmt.Errorf("marshaling neighbor solicitation for %s: %w", target, err)
	}
	ethDst := multicastMAC(group)
	b := make([]byte, ethHeaderLen+ipv6HeaderLen+len(icmp))
	writeEthernet(b, ethDst, srcMAC, etherTypeIPv6)
	ip := b[ethHeaderLen:]
	ip[0] = 6 << 4
	binary.BigEndian.PutUint16(ip[4:6], uint16(len(icmp)))
	ip[6] = protoICMPv6
	ip[7] = ndpHopLimit
	d := group.As16()
	copy(ip[24:40], d[:]) // source stays ::
	copy(ip[ipv6HeaderLen:], icmp)
	msg := ip[ipv6HeaderLen:]
	msg[2], msg[3] = 0, 0
	binary.BigEndian.PutUint16(msg[2:4], icmpv6Checksum(netip.IPv6Unspecified(), group, msg))
	return b, ethDst, nil
}

// multicastMAC returns the Ethernet group address of an IPv6 multicast
// address (33:33 followed by its low 32 bits).
func multicastMAC(group netip.Addr) net.HardwareAddr {
	a := group.As16()
	return net.HardwareAddr{0x33, 0x33, a[12], a[13], a[14], a[15]}
}

// icmpv6Checksum returns the Internet checksum of msg under the IPv6
// pseudo-header (RFC 8200 8.1). Over a message whose checksum field is
// zero it is the value to store; over a received message it is 0 when the
// stored checksum is correct.
func icmpv6Checksum(src, dst netip.Addr, msg []byte) uint16 {
	s, d := src.As16(), dst.As16()
	var sum uint64
	sum += onesSum(s[:]) + onesSum(d[:])
	sum += uint64(len(msg)>>16) + uint64(len(msg)&0xffff)
	sum += protoICMPv6
	sum += onesSum(msg)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// onesSum adds b as big-endian 16-bit words (an odd last byte is padded
// with zero).
func onesSum(b []byte) uint64 {
	var sum uint64
	for len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	return sum
}

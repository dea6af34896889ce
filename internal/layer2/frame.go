package layer2

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

// Frame layout constants (Ethernet II without VLAN tags, as an AF_PACKET
// socket on the interface itself delivers them).
const (
	ethHeaderLen  = 14
	ethMinFrame   = 60 // without FCS; shorter frames are padded
	etherTypeARP  = 0x0806
	etherTypeIPv6 = 0x86dd

	arpHardwareEthernet = 1
	arpProtocolIPv4     = 0x0800
	macLen              = 6

	ipv6HeaderLen  = 40
	protoICMPv6    = 58
	ndpHopLimit    = 255
	icmpTypeNS     = 135
	icmpTypeNA     = 136
	icmpNDMinLen   = 24 // type, code, checksum, flags/reserved, target
	icmpNDFlagsOff = 4
)

// errMalformed wraps every parse failure: the frame is counted and dropped.
var errMalformed = errors.New("malformed frame")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errMalformed, fmt.Sprintf(format, args...))
}

// arpFrame is an ARP packet for IPv4 over Ethernet.
type arpFrame struct {
	ethSrc    net.HardwareAddr
	op        arp.Operation
	senderMAC net.HardwareAddr
	senderIP  netip.Addr // may be 0.0.0.0 (an RFC 5227 probe)
	targetMAC net.HardwareAddr
	targetIP  netip.Addr
}

// gratuitous reports whether the packet announces its sender's address
// rather than asking (sender IP = target IP).
func (p arpFrame) gratuitous() bool { return p.senderIP == p.targetIP }

// parseARP parses an Ethernet frame carrying an ARP request or reply for
// IPv4 over Ethernet. Anything else is an error wrapping errMalformed.
func parseARP(b []byte) (arpFrame, error) {
	var f ethernet.Frame
	if err := f.UnmarshalBinary(b); err != nil {
		return arpFrame{}, malformed("ethernet header: %v", err)
	}
	if f.VLAN != nil || f.ServiceVLAN != nil {
		return arpFrame{}, malformed("VLAN-tagged frame")
	}
	if f.EtherType != etherTypeARP {
		return arpFrame{}, malformed("ethertype %#04x is not ARP", uint16(f.EtherType))
	}
	var p arp.Packet
	if err := p.UnmarshalBinary(f.Payload); err != nil {
		return arpFrame{}, malformed("ARP packet: %v", err)
	}
	switch {
	case p.HardwareType != arpHardwareEthernet || p.HardwareAddrLength != macLen:
		return arpFrame{}, malformed("ARP hardware type %d length %d, want Ethernet (1, 6)", p.HardwareType, p.HardwareAddrLength)
	case p.ProtocolType != arpProtocolIPv4 || p.IPLength != 4:
		return arpFrame{}, malformed("ARP protocol %#04x length %d, want IPv4 (0x0800, 4)", p.ProtocolType, p.IPLength)
	case p.Operation != arp.OperationRequest && p.Operation != arp.OperationReply:
		return arpFrame{}, malformed("ARP operation %d", p.Operation)
	case !unicastMAC(p.SenderHardwareAddr) || !unicastMAC(f.Source):
		return arpFrame{}, malformed("ARP sender %s / source %s is not a unicast MAC", p.SenderHardwareAddr, f.Source)
	case p.SenderIP.IsMulticast() || p.SenderIP == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return arpFrame{}, malformed("ARP sender address %s", p.SenderIP)
	}
	return arpFrame{
		ethSrc:    f.Source,
		op:        p.Operation,
		senderMAC: p.SenderHardwareAddr,
		senderIP:  p.SenderIP,
		targetMAC: p.TargetHardwareAddr,
		targetIP:  p.TargetIP,
	}, nil
}

// buildARP returns an Ethernet frame (padded to the minimum size) from
// srcMAC to ethDst carrying an ARP packet.
func buildARP(op arp.Operation, srcMAC net.HardwareAddr, srcIP netip.Addr,
	targetMAC net.HardwareAddr, targetIP netip.Addr, ethDst net.HardwareAddr) ([]byte, error) {
	p, err := arp.NewPacket(op, srcMAC, srcIP, targetMAC, targetIP)
	if err != nil {
		return nil, fmt.Errorf("building ARP packet %s -> %s: %w", srcIP, targetIP, err)
	}
	pb, err := p.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("marshaling ARP packet: %w", err)
	}
	f := ethernet.Frame{Destination: ethDst, Source: srcMAC, EtherType: etherTypeARP, Payload: pb}
	fb, err := f.MarshalBinary() // pads to the minimum payload
	if err != nil {
		return nil, fmt.Errorf("marshaling ARP frame: %w", err)
	}
	return fb, nil
}

// unicastMAC reports whether m is a 6-byte, non-zero, non-group address.
func unicastMAC(m net.HardwareAddr) bool {
	return len(m) == macLen && m[0]&1 == 0 && !bytes.Equal(m, make(net.HardwareAddr, macLen))
}

// writeEthernet fills an Ethernet II header into b[:ethHeaderLen].
func writeEthernet(b []byte, dst, src net.HardwareAddr, etherType uint16) {
	copy(b[0:6], dst)
	copy(b[6:12], src)
	binary.BigEndian.PutUint16(b[12:14], etherType)
}

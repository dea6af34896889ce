package layer2

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// Classic BPF filters attached to the packet sockets, so the kernel hands
// the responders only the frames they may answer: no copies of frames for
// other hosts (promiscuous mode) or of frames this host sends, and on the
// IPv6 socket only ICMPv6 neighbor solicitations and advertisements
// without extension headers — out of all IPv6 traffic on the interface.

// Packet types (skb->pkt_type) at most pktTypeMulticast are for this host:
// PACKET_HOST 0, PACKET_BROADCAST 1, PACKET_MULTICAST 2. PACKET_OTHERHOST 3
// and PACKET_OUTGOING 4 are not.
const pktTypeMulticast = 2

// keepBytes is the snapshot length of accepted frames: all of them.
const keepBytes = 0xffff

// arpFilter accepts ARP frames for this host. withPktType false leaves out
// the packet-type test (an extension bpf.VM cannot run), for tests.
func arpFilter(withPktType bool) []bpf.Instruction {
	return withPktTypeTest(withPktType, []bpf.Instruction{
		bpf.LoadAbsolute{Off: 12, Size: 2}, // ethertype
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: etherTypeARP, SkipTrue: 1},
		bpf.RetConstant{Val: keepBytes},
		bpf.RetConstant{Val: 0},
	})
}

// ndpFilter accepts IPv6 frames for this host carrying, right after the
// IPv6 header, an ICMPv6 neighbor solicitation or advertisement.
func ndpFilter(withPktType bool) []bpf.Instruction {
	return withPktTypeTest(withPktType, []bpf.Instruction{
		bpf.LoadAbsolute{Off: 12, Size: 2}, // ethertype
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: etherTypeIPv6, SkipTrue: 6},
		bpf.LoadAbsolute{Off: ethHeaderLen + 6, Size: 1}, // next header
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: protoICMPv6, SkipTrue: 4},
		bpf.LoadAbsolute{Off: ethHeaderLen + ipv6HeaderLen, Size: 1}, // ICMPv6 type
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: icmpTypeNS, SkipTrue: 1},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: icmpTypeNA, SkipTrue: 1},
		bpf.RetConstant{Val: keepBytes},
		bpf.RetConstant{Val: 0},
	})
}

// withPktTypeTest prefixes prog, whose last instruction drops the frame,
// with a test that jumps there for frames not addressed to this host.
func withPktTypeTest(enabled bool, prog []bpf.Instruction) []bpf.Instruction {
	if !enabled {
		return prog
	}
	return append([]bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: pktTypeMulticast, SkipTrue: uint8(len(prog) - 1)},
	}, prog...)
}

// assemble turns a filter into raw instructions for packet.Config.
func assemble(prog []bpf.Instruction) ([]bpf.RawInstruction, error) {
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("assembling socket filter: %w", err)
	}
	return raw, nil
}

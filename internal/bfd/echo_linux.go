package bfd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// EchoPort is the UDP port of echo packets (RFC 5881 §4).
const EchoPort = 3785

// The echo packet's contents are this system's own (RFC 5880 §6.4): a
// version byte, the length, two reserved bytes, the sending session's
// discriminator, the send time (Unix nanoseconds) and eight zero bytes —
// 24 in all, as FRR's bfdd does not loop back a shorter one.
const (
	echoVersion = 1
	echoLen     = 24
	// loopedTTL is the TTL / hop limit of an echo packet that the peer
	// looped back: sent with 255, one routing hop (or the peer's software
	// reflection) takes one off.
	loopedTTL = singleHopTTL - 1
)

// appendEcho appends an echo packet of the session discr sent at t.
func appendEcho(b []byte, discr uint32, t time.Time) []byte {
	b = append(b, echoVersion, echoLen, 0, 0)
	b = binary.BigEndian.AppendUint32(b, discr)
	b = binary.BigEndian.AppendUint64(b, uint64(t.UnixNano())) //nolint:gosec // a time after 1970
	return append(b, 0, 0, 0, 0, 0, 0, 0, 0)
}

// decodeEcho returns the discriminator of an echo packet of this system's
// format; ok is false for anything else (another system's echo, garbage).
func decodeEcho(b []byte) (discr uint32, ok bool) {
	if len(b) < echoLen || b[0] != echoVersion || b[1] != echoLen {
		return 0, false
	}
	discr = binary.BigEndian.Uint32(b[4:8])
	return discr, discr != 0
}

// echoEndpoint sends a local address's echo packets and receives them
// back, shared by the single-hop sessions on that address with echo mode.
//
// IPv4 (the peer loops the packet in its forwarding plane, as FRR's bfdd
// and routers do): the packet goes out on a packet socket, to the peer's
// MAC, with this system's address as source and destination; the peer
// routes it back. The kernel drops a packet arriving with one of its own
// addresses as source, so the looped packet is read from the same packet
// socket, whose filter passes UDP to ports 3785 and 3784 only; the control
// packets on 3784 tell the peers' MAC addresses. The peer's own echo
// packets, addressed to the peer itself, are looped by this node's
// forwarding (net.ipv4.ip_forward, on on every Kubernetes node).
//
// IPv6 (FRR's bfdd reflects echo packets in software): a UDP socket on
// port 3785 sends to the peer's port 3785 with hop limit 255; a packet
// arriving with hop limit 255 is the peer's, reflected back to its sender
// with 254; one arriving with 254 is one of ours coming back.
type echoEndpoint struct {
	local netip.Addr
	refs  int           // sessions using it; guarded by Manager.mu
	done  chan struct{} // closed when serve returns
	close func() error
	// send sends payload as an echo packet to peer.
	send func(peer netip.Addr, payload []byte) error
	// serve reads until the socket is closed, handing returned echo
	// packets to the session byDiscr finds. Of other systems' packets it
	// heeds only those from a peer of a session with echo (byPeer): their
	// MAC addresses (IPv4), their echo packets to loop back (IPv6).
	serve func(byDiscr func(discr uint32) *Session, byPeer func(netip.Addr) *Session, mgr *counters)
}

// maxPeerMACs bounds the MAC addresses an IPv4 echo endpoint keeps.
const maxPeerMACs = 1024

// echoPeer reports whether src is the peer of a session with echo on
// local, by byPeer; link-local sources take local's zone, as in
// listener.serve.
func echoPeer(src, local netip.Addr, byPeer func(netip.Addr) *Session) bool {
	if src.IsLinkLocalUnicast() {
		src = src.WithZone(local.Zone())
	}
	s := byPeer(src)
	return s != nil && s.local == local && s.echoOn.Load()
}

// errNoPeerMAC is returned by an IPv4 echo send before a control packet
// from the peer told its MAC address.
var errNoPeerMAC = errors.New("bfd: echo: the peer's MAC address is not known yet")

func listenEcho(local netip.Addr, device string) (*echoEndpoint, error) {
	if local.Is4() {
		return listenEcho4(local, device)
	}
	return listenEcho6(local, device)
}

// echoFilter4 passes unfragmented IPv4 UDP packets to port 3785 (echo)
// or 3784 (control, for the sender's MAC address), 256 bytes of each.
var echoFilter4 = func() []bpf.RawInstruction {
	raw, err := bpf.Assemble([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 9, Size: 1},                                      // 0: protocol
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: unix.IPPROTO_UDP, SkipTrue: 7}, // 1: → drop
		bpf.LoadAbsolute{Off: 6, Size: 2},                                      // 2: flags, fragment offset
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1fff, SkipTrue: 5},            // 3: a later fragment → drop
		bpf.LoadMemShift{Off: 0},                                               // 4: X = header length
		bpf.LoadIndirect{Off: 2, Size: 2},                                      // 5: UDP destination port
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: EchoPort, SkipTrue: 1},            // 6: → accept
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: ControlPort, SkipTrue: 1},      // 7: → drop
		bpf.RetConstant{Val: 256},                                              // 8: accept
		bpf.RetConstant{Val: 0},                                                // 9: drop
	})
	if err != nil {
		panic(err)
	}
	return raw
}()

func listenEcho4(local netip.Addr, device string) (*echoEndpoint, error) {
	ifi, err := interfaceOf(local, device)
	if err != nil {
		return nil, err
	}
	conn, err := packet.Listen(ifi, packet.Datagram, unix.ETH_P_IP, &packet.Config{Filter: echoFilter4})
	if err != nil {
		return nil, fmt.Errorf("bfd: echo: packet socket on %s (needs CAP_NET_RAW): %w", ifi.Name, err)
	}
	var mu sync.Mutex
	macs := map[netip.Addr]net.HardwareAddr{}
	// A read on the closed socket fails with an error of its library's
	// own: closing is told by this flag instead.
	var closed atomic.Bool
	e := &echoEndpoint{local: local, done: make(chan struct{}), close: func() error {
		if closed.Swap(true) {
			return nil
		}
		return conn.Close()
	}}
	e.send = func(peer netip.Addr, payload []byte) error {
		mu.Lock()
		mac := macs[peer]
		mu.Unlock()
		if mac == nil {
			return errNoPeerMAC
		}
		_, err := conn.WriteTo(ipv4UDP(local, local, EchoPort, EchoPort, singleHopTTL, payload), &packet.Addr{HardwareAddr: mac})
		return err
	}
	e.serve = func(byDiscr func(uint32) *Session, byPeer func(netip.Addr) *Session, mgr *counters) {
		defer close(e.done)
		b := make([]byte, 512)
		for {
			n, from, err := conn.ReadFrom(b)
			if err != nil {
				if closed.Load() {
					return
				}
				continue
			}
			src, dst, ttl, dport, payload, ok := parseIPv4UDP(b[:n])
			if !ok {
				continue
			}
			switch {
			case dport == ControlPort && src != local && echoPeer(src, local, byPeer):
				if a, ok := from.(*packet.Addr); ok && len(a.HardwareAddr) == 6 {
					mu.Lock()
					if old := macs[src]; (old == nil && len(macs) < maxPeerMACs) || (old != nil && string(old) != string(a.HardwareAddr)) {
						macs[src] = append(net.HardwareAddr(nil), a.HardwareAddr...)
					}
					mu.Unlock()
				}
			case dport == EchoPort && src == local && dst == local:
				handleEcho(payload, ttl, byDiscr, mgr)
			}
		}
	}
	return e, nil
}

func listenEcho6(local netip.Addr, device string) (*echoEndpoint, error) {
	conn, err := udpBind(local, EchoPort, device)
	if err != nil {
		return nil, err
	}
	pc := ipv6.NewPacketConn(conn)
	if err := pc.SetControlMessage(ipv6.FlagHopLimit, true); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("bfd: echo: enable IPV6_RECVHOPLIMIT on %v: %w", local, err)
	}
	e := &echoEndpoint{local: local, done: make(chan struct{}), close: conn.Close}
	e.send = func(peer netip.Addr, payload []byte) error {
		// Without zone, as dialSender: the bound address picks the link.
		dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(peer.WithZone(""), EchoPort))
		_, err := pc.WriteTo(payload, &ipv6.ControlMessage{HopLimit: singleHopTTL}, dst)
		return err
	}
	e.serve = func(byDiscr func(uint32) *Session, byPeer func(netip.Addr) *Session, mgr *counters) {
		defer close(e.done)
		b := make([]byte, 512)
		for {
			n, cm, src, err := pc.ReadFrom(b)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			if cm == nil {
				continue
			}
			if cm.HopLimit == singleHopTTL { // the peer's: loop it back
				u, ok := src.(*net.UDPAddr)
				if !ok {
					continue
				}
				if !echoPeer(u.AddrPort().Addr().Unmap(), local, byPeer) {
					mgr.unknown.Add(1)
					continue
				}
				back := net.UDPAddrFromAddrPort(netip.AddrPortFrom(u.AddrPort().Addr().WithZone(""), u.AddrPort().Port()))
				if _, err := pc.WriteTo(b[:n], &ipv6.ControlMessage{HopLimit: loopedTTL}, back); err == nil {
					mgr.echoReflected.Add(1)
				}
				continue
			}
			handleEcho(b[:n], cm.HopLimit, byDiscr, mgr)
		}
	}
	return e, nil
}

// handleEcho hands an echo packet that came back with TTL / hop limit ttl
// to its session.
func handleEcho(payload []byte, ttl int, lookup func(uint32) *Session, mgr *counters) {
	if ttl != loopedTTL {
		mgr.ttl.Add(1)
		return
	}
	discr, ok := decodeEcho(payload)
	if !ok {
		mgr.malformed.Add(1)
		return
	}
	s := lookup(discr)
	if s == nil {
		mgr.unknown.Add(1)
		return
	}
	s.deliverEcho()
}

// interfaceOf is device, or the interface that has local.
func interfaceOf(local netip.Addr, device string) (*net.Interface, error) {
	if device != "" {
		ifi, err := net.InterfaceByName(device)
		if err != nil {
			return nil, fmt.Errorf("bfd: echo: interface %s: %w", device, err)
		}
		return ifi, nil
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("bfd: echo: listing interfaces: %w", err)
	}
	for i := range ifs {
		addrs, err := ifs[i].Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == local {
					return &ifs[i], nil
				}
			}
		}
	}
	return nil, fmt.Errorf("bfd: echo: no interface has %v", local)
}

// ipv4UDP builds an IPv4 packet (no options) carrying a UDP datagram.
func ipv4UDP(src, dst netip.Addr, sport, dport uint16, ttl uint8, payload []byte) []byte {
	const ipLen, udpLen = 20, 8
	total := ipLen + udpLen + len(payload)
	b := make([]byte, total)
	b[0] = 0x45
	b[1] = 0xc0                                      // DSCP CS6, network control (as control packets)
	binary.BigEndian.PutUint16(b[2:], uint16(total)) //nolint:gosec // a small packet
	b[8] = ttl
	b[9] = unix.IPPROTO_UDP
	s, d := src.As4(), dst.As4()
	copy(b[12:16], s[:])
	copy(b[16:20], d[:])
	binary.BigEndian.PutUint16(b[10:], checksum(b[:ipLen], 0))
	u := b[ipLen:]
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(udpLen+len(payload))) //nolint:gosec // a small packet
	copy(u[udpLen:], payload)
	// The pseudo-header: addresses, protocol, UDP length.
	pseudo := uint32(binary.BigEndian.Uint16(s[0:])) + uint32(binary.BigEndian.Uint16(s[2:])) +
		uint32(binary.BigEndian.Uint16(d[0:])) + uint32(binary.BigEndian.Uint16(d[2:])) +
		unix.IPPROTO_UDP + uint32(udpLen+len(payload)) //nolint:gosec // a small packet
	c := checksum(u, pseudo)
	if c == 0 {
		c = 0xffff // RFC 768: zero means no checksum
	}
	binary.BigEndian.PutUint16(u[6:], c)
	return b
}

// checksum is the Internet checksum (RFC 1071) of b, starting from sum.
func checksum(b []byte, sum uint32) uint16 {
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum) //nolint:gosec // folded to 16 bits
}

// parseIPv4UDP reads an IPv4 packet carrying UDP: the addresses, TTL,
// destination port and UDP payload; ok is false for anything else.
func parseIPv4UDP(b []byte) (src, dst netip.Addr, ttl int, dport uint16, payload []byte, ok bool) {
	if len(b) < 20 || b[0]>>4 != 4 || b[9] != unix.IPPROTO_UDP {
		return
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 || len(b) < ihl+8 {
		return
	}
	src = netip.AddrFrom4([4]byte(b[12:16]))
	dst = netip.AddrFrom4([4]byte(b[16:20]))
	u := b[ihl:]
	ulen := int(binary.BigEndian.Uint16(u[4:]))
	if ulen < 8 || ulen > len(u) {
		return
	}
	return src, dst, int(b[8]), binary.BigEndian.Uint16(u[2:]), u[8:ulen], true
}

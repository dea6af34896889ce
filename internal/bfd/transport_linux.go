package bfd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Ports of RFC 5881 §4 and RFC 5883 §5.
const (
	ControlPort         = 3784 // single-hop control packets
	MultihopControlPort = 4784 // multi-hop control packets
	minSourcePort       = 49152
	maxSourcePort       = 65535
	singleHopTTL        = 255
	maxPacketBytes      = 512
)

// listener receives control packets on one local address, port 3784
// (single-hop) or 4784 (multi-hop), and hands them to sessions by source
// address.
type listener struct {
	key   listenKey
	local netip.Addr
	conn  *net.UDPConn
	read  func(b []byte) (n int, ttl int, src netip.Addr, err error)
	refs  int           // sessions using it; guarded by Manager.mu
	done  chan struct{} // closed when serve returns
}

// listenKey identifies a listener: its local address and kind.
type listenKey struct {
	local    netip.Addr
	multihop bool
}

func (k listenKey) port() uint16 {
	if k.multihop {
		return MultihopControlPort
	}
	return ControlPort
}

func listen(key listenKey, device string) (*listener, error) {
	local := key.local
	conn, err := udpBind(local, key.port(), device)
	if err != nil {
		return nil, err
	}
	l := &listener{key: key, local: local, conn: conn, done: make(chan struct{})}
	if local.Is4() {
		pc := ipv4.NewPacketConn(conn)
		if err := pc.SetControlMessage(ipv4.FlagTTL, true); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("bfd: enable IP_RECVTTL on %v: %w", local, err)
		}
		l.read = func(b []byte) (int, int, netip.Addr, error) {
			n, cm, src, err := pc.ReadFrom(b)
			ttl := -1
			if cm != nil {
				ttl = cm.TTL
			}
			return n, ttl, addrOf(src), err
		}
	} else {
		pc := ipv6.NewPacketConn(conn)
		if err := pc.SetControlMessage(ipv6.FlagHopLimit, true); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("bfd: enable IPV6_RECVHOPLIMIT on %v: %w", local, err)
		}
		l.read = func(b []byte) (int, int, netip.Addr, error) {
			n, cm, src, err := pc.ReadFrom(b)
			hl := -1
			if cm != nil {
				hl = cm.HopLimit
			}
			return n, hl, addrOf(src), err
		}
	}
	return l, nil
}

// serve reads until the socket is closed, then closes l.done. lookup
// returns the session for a source address, or nil.
//
// The TTL / hop limit check: a single-hop listener accepts 255 only (RFC
// 5881 §5), before decoding; a multi-hop listener accepts at least the
// session's Profile.MinimumTTL (RFC 5883 §5), so it checks after finding
// the session. Either drop counts in Counters.TTLDropped.
func (l *listener) serve(lookup func(src netip.Addr) *Session, mgr *counters) {
	defer close(l.done)
	b := make([]byte, maxPacketBytes)
	for {
		n, ttl, src, err := l.read(b)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if !l.key.multihop && ttl != singleHopTTL {
			mgr.ttl.Add(1)
			continue
		}
		c, err := DecodeControl(b[:n])
		if err != nil {
			mgr.malformed.Add(1)
			continue
		}
		if src.IsLinkLocalUnicast() {
			// It came in on the listener's link. The zone the socket
			// reports is an interface name looked up in the reading
			// thread's namespace, which need not be the socket's.
			src = src.WithZone(l.local.Zone())
		}
		s := lookup(src)
		if s == nil || s.local != l.local || s.multihop != l.key.multihop {
			mgr.unknown.Add(1)
			continue
		}
		if l.key.multihop && ttl < int(s.Profile().MinimumTTL) {
			s.cnt.add(func(c *counters) *atomic.Uint64 { return &c.ttl })
			continue
		}
		s.deliver(c)
	}
}

func addrOf(a net.Addr) netip.Addr {
	if u, ok := a.(*net.UDPAddr); ok {
		return u.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// dialSender opens the socket one session sends from: bound to local and a
// free port in 49152–65535, TTL / hop limit 255 (required for single-hop,
// RFC 5881 §5; for multi-hop too, so that the peer's minimum TTL counts
// the hops), sending to peer:dstPort.
func dialSender(local, peer netip.Addr, dstPort uint16, device string) (send func([]byte) error, closeFn func() error, err error) {
	var conn *net.UDPConn
	start := minSourcePort + rand.IntN(maxSourcePort-minSourcePort+1)
	for i := 0; i <= maxSourcePort-minSourcePort; i++ {
		port := minSourcePort + (start-minSourcePort+i)%(maxSourcePort-minSourcePort+1)
		conn, err = udpBind(local, uint16(port), device)
		if err == nil || !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	if err != nil {
		return nil, nil, err
	}
	if local.Is4() {
		err = ipv4.NewConn(conn).SetTTL(singleHopTTL)
	} else {
		err = ipv6.NewConn(conn).SetHopLimit(singleHopTTL)
	}
	if err != nil {
		_ = conn.Close()
		return nil, nil, fmt.Errorf("bfd: set TTL 255 on socket from %v: %w", local, err)
	}
	// A link-local peer goes without zone: the socket, bound to a
	// link-local local address, sends on that address's interface. (A
	// zone name would be looked up in the sending thread's namespace.)
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(peer.WithZone(""), dstPort))
	var closed atomic.Bool
	send = func(b []byte) error {
		_, err := conn.WriteToUDP(b, dst)
		return err
	}
	closeFn = func() error {
		if closed.Swap(true) {
			return nil
		}
		return conn.Close()
	}
	return send, closeFn, nil
}

// udpBind opens a UDP socket bound to local:port, and to device when not
// empty (SO_BINDTODEVICE).
func udpBind(local netip.Addr, port uint16, device string) (*net.UDPConn, error) {
	network := "udp4"
	if local.Is6() {
		network = "udp6"
	}
	lc := net.ListenConfig{}
	if device != "" {
		lc.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = syscall.BindToDevice(int(fd), device)
			}); err != nil {
				return err
			}
			return serr
		}
	}
	pc, err := lc.ListenPacket(context.Background(), network, netip.AddrPortFrom(local, port).String())
	if err != nil {
		return nil, fmt.Errorf("bfd: bind %v port %d: %w", local, port, err)
	}
	return pc.(*net.UDPConn), nil
}

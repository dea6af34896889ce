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

// Ports of RFC 5881 §4.
const (
	ControlPort    = 3784
	minSourcePort  = 49152
	maxSourcePort  = 65535
	singleHopTTL   = 255
	maxPacketBytes = 512
)

// listener receives control packets on one local address, port 3784, and
// hands them to sessions by source address.
type listener struct {
	local netip.Addr
	conn  *net.UDPConn
	read  func(b []byte) (n int, ttl int, src netip.Addr, err error)
	refs  int           // sessions using it; guarded by Manager.mu
	done  chan struct{} // closed when serve returns
}

func listen(local netip.Addr, device string) (*listener, error) {
	conn, err := udpBind(local, ControlPort, device)
	if err != nil {
		return nil, err
	}
	l := &listener{local: local, conn: conn, done: make(chan struct{})}
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
		if ttl != singleHopTTL {
			mgr.ttl.Add(1)
			continue
		}
		c, err := DecodeControl(b[:n])
		if err != nil {
			mgr.malformed.Add(1)
			continue
		}
		s := lookup(src)
		if s == nil || s.local != l.local {
			mgr.unknown.Add(1)
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
// free port in 49152–65535, TTL / hop limit 255, connected to peer:3784.
func dialSender(local, peer netip.Addr, device string) (send func([]byte) error, closeFn func() error, err error) {
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
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(peer, ControlPort))
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

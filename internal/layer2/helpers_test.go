package layer2

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
)

var (
	ourMAC    = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	peerMAC   = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
	otherMAC  = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x03}
	vip4      = netip.MustParseAddr("10.201.0.100")
	vip6      = netip.MustParseAddr("fd00:201::100")
	peer4     = netip.MustParseAddr("10.201.0.2")
	peer6     = netip.MustParseAddr("fd00:201::2")
	unset4    = netip.MustParseAddr("10.201.0.101")
	unset6    = netip.MustParseAddr("fd00:201::101")
	linkLocal = netip.MustParseAddr("fe80::2")
)

// sentFrame is a frame an Interface wrote.
type sentFrame struct {
	frame []byte
	dst   net.HardwareAddr
}

// fakeConn is a frameConn fed by inject, recording writes.
type fakeConn struct {
	in      chan []byte
	done    chan struct{}
	closed  chan struct{}
	once    sync.Once
	pending bool // touched by the reading goroutine only

	mu       sync.Mutex
	out      []sentFrame
	writeErr error
}

func newFakeConn() *fakeConn {
	return &fakeConn{in: make(chan []byte), done: make(chan struct{}), closed: make(chan struct{})}
}

func (c *fakeConn) ReadFrom(b []byte) (int, net.Addr, error) {
	if c.pending {
		c.pending = false
		select {
		case c.done <- struct{}{}:
		case <-c.closed:
		}
	}
	select {
	case f := <-c.in:
		c.pending = true
		return copy(b, f), &packet.Addr{}, nil
	case <-c.closed:
		return 0, nil, net.ErrClosed
	}
}

func (c *fakeConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writeErr != nil {
		return 0, c.writeErr
	}
	c.out = append(c.out, sentFrame{frame: append([]byte(nil), b...), dst: addr.(*packet.Addr).HardwareAddr})
	return len(b), nil
}

func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }

func (c *fakeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

// inject hands a frame to the Interface and returns once it is handled.
func (c *fakeConn) inject(t *testing.T, frame []byte) {
	t.Helper()
	select {
	case c.in <- frame:
	case <-time.After(5 * time.Second):
		t.Fatal("the responder did not read the frame within 5s")
	}
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the responder did not finish the frame within 5s")
	}
}

// take returns and forgets the frames written so far.
func (c *fakeConn) take() []sentFrame {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.out
	c.out = nil
	return out
}

// fakeControl records group membership and reports a settable link state.
type fakeControl struct {
	up   atomic.Bool
	gone atomic.Bool

	mu     sync.Mutex
	groups map[netip.Addr]bool
}

func (c *fakeControl) joinGroup(g netip.Addr) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.groups[g] = true
	return nil
}

func (c *fakeControl) leaveGroup(g netip.Addr) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.groups, g)
	return nil
}

func (c *fakeControl) joined() map[netip.Addr]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[netip.Addr]bool{}
	for g := range c.groups {
		out[g] = true
	}
	return out
}

func (c *fakeControl) linkUp() (bool, error) {
	if c.gone.Load() {
		return false, errInterfaceGone
	}
	return c.up.Load(), nil
}

func (c *fakeControl) Close() error { return nil }

// fakeIface is an Interface over fakes.
type fakeIface struct {
	*Interface
	arp, ndp *fakeConn
	ctl      *fakeControl
}

func newFakeIface(t *testing.T, opts Options) *fakeIface {
	t.Helper()
	f := &fakeIface{arp: newFakeConn(), ndp: newFakeConn(), ctl: &fakeControl{groups: map[netip.Addr]bool{}}}
	f.ctl.up.Store(true)
	if opts.AnnounceSchedule == nil {
		opts.AnnounceSchedule = []time.Duration{0}
	}
	if opts.ProbeInterval == 0 {
		opts.ProbeInterval = -1 // no probes among the frames a test reads
	}
	f.Interface = newInterface("eth0", ourMAC, sockets{arp: f.arp, ndp: f.ndp, ctl: f.ctl}, opts)
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return f
}

// arpRequest is an ARP request frame from mac/ip asking for target.
func arpRequest(t testing.TB, mac net.HardwareAddr, ip, target netip.Addr) []byte {
	t.Helper()
	b, err := buildARP(arp.OperationRequest, mac, ip, make(net.HardwareAddr, 6), target, ethernet.Broadcast)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// nsFrame describes a neighbor solicitation (or advertisement) to build
// independently of buildNA, using ndp's own checksum code.
type nsFrame struct {
	ethSrc, ethDst net.HardwareAddr
	src, dst       netip.Addr
	target         netip.Addr
	sourceLL       net.HardwareAddr // option; nil: none
	hopLimit       uint8            // 0: 255
	advert         bool             // build an NA (Override, TLLA=sourceLL) instead
	corrupt        bool             // break the checksum
	rawOption      []byte           // appended as is, checksum recomputed
}

func (n nsFrame) bytes(t testing.TB) []byte {
	t.Helper()
	var m ndp.Message
	if n.advert {
		na := &ndp.NeighborAdvertisement{Override: true, TargetAddress: n.target}
		if n.sourceLL != nil {
			na.Options = []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: n.sourceLL}}
		}
		m = na
	} else {
		ns := &ndp.NeighborSolicitation{TargetAddress: n.target}
		if n.sourceLL != nil {
			ns.Options = []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: n.sourceLL}}
		}
		m = ns
	}
	icmp, err := ndp.MarshalMessageChecksum(m, n.src, n.dst)
	if err != nil {
		t.Fatal(err)
	}
	if n.rawOption != nil {
		icmp = append(icmp, n.rawOption...)
		icmp[2], icmp[3] = 0, 0
		binary.BigEndian.PutUint16(icmp[2:], icmpv6Checksum(n.src, n.dst, icmp))
	}
	if n.corrupt {
		icmp[2] ^= 0xff
	}
	hl := n.hopLimit
	if hl == 0 {
		hl = 255
	}
	b := make([]byte, 14+40+len(icmp))
	writeEthernet(b, n.ethDst, n.ethSrc, etherTypeIPv6)
	ip := b[14:]
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:6], uint16(len(icmp)))
	ip[6], ip[7] = 58, hl
	s, d := n.src.As16(), n.dst.As16()
	copy(ip[8:24], s[:])
	copy(ip[24:40], d[:])
	copy(ip[40:], icmp)
	return b
}

// solicitedNode returns the solicited-node group of a.
func solicitedNode(t testing.TB, a netip.Addr) netip.Addr {
	t.Helper()
	g, err := ndp.SolicitedNodeMulticast(a)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// waitFor polls cond until it holds or 5s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

//go:build linux

package layer2

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/internal/netnstest"
)

// VIPs on the test network (10.201.0.0/24, fd00:201::/64); hosts use low
// indexes.
var (
	netnsVIP4   = netip.MustParseAddr("10.201.0.100")
	netnsVIP6   = netip.MustParseAddr("fd00:201::100")
	netnsUnset4 = netip.MustParseAddr("10.201.0.101")
	netnsUnset6 = netip.MustParseAddr("fd00:201::101")
)

// newTestNetwork builds a network for this package's tests, skipping (or
// failing in CI) without root or tools.
func newTestNetwork(t *testing.T, tools ...string) *netnstest.Network {
	t.Helper()
	netnstest.Require(t, append([]string{netnstest.Root, "ip", "sysctl"}, tools...)...)
	return netnstest.New(t, netnstest.Options{Prefix: "il2t"})
}

// startResponder creates an Interface on the host's eth0, inside its
// namespace, closed at the end of the test.
func startResponder(t *testing.T, h *netnstest.Host, opts Options) *Interface {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t, h.Name)
	}
	var i *Interface
	if err := h.Do(func() error {
		var err error
		i, err = New(h.Interface, opts)
		return err
	}); err != nil {
		t.Fatalf("starting the responder in %s: %v", h.Name, err)
	}
	t.Cleanup(func() {
		if err := i.Close(); err != nil {
			t.Errorf("closing the responder in %s: %v", h.Name, err)
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for i.Ready() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("responder in %s not ready after 5s: %v", h.Name, i.Ready())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return i
}

// sendUDP sends one datagram from inside h to addr's discard port: the
// kernel must resolve (or confirm) the neighbour first. Unlike ping, a
// UDP send does not confirm the neighbour itself.
func sendUDP(t *testing.T, h *netnstest.Host, addr netip.Addr) {
	t.Helper()
	err := h.Do(func() error {
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, 9)))
		if err != nil {
			return err
		}
		defer func() { _ = c.Close() }()
		_, err = c.Write([]byte("x"))
		return err
	})
	if err != nil {
		t.Fatalf("sending UDP from %s to %s: %v", h.Name, addr, err)
	}
}

// waitNeighbor polls h's neighbour entry for addr until done says so,
// failing after timeout with the last entry seen.
func waitNeighbor(t *testing.T, h *netnstest.Host, addr netip.Addr, timeout time.Duration,
	done func(n netnstest.Neighbor) bool) netnstest.Neighbor {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	var last netnstest.Neighbor
	for {
		n, ok, err := h.Neighbor(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			last = n
			if done(n) {
				return n
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: neighbour entry for %s after %v: %+v (MAC %s)", h.Name, addr, timeout, last, last.MAC)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hasMAC reports whether tool output names mac (case-insensitively).
func hasMAC(out string, mac net.HardwareAddr) bool {
	return strings.Contains(strings.ToLower(out), mac.String())
}

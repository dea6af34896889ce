package netnstest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestMissing(t *testing.T) {
	if got := Missing("sh"); got != "" {
		t.Errorf("Missing(sh) = %q, want empty", got)
	}
	got := Missing("no-such-program-ironlb", "sh")
	if !strings.Contains(got, "no-such-program-ironlb") || strings.Contains(got, "sh,") ||
		!strings.Contains(got, "hack/install-prereqs.sh") {
		t.Errorf("Missing = %q, want it to name the missing program and how to install it", got)
	}
}

func TestNthAddr(t *testing.T) {
	tests := []struct {
		prefix string
		n      int
		want   string
	}{
		{"10.201.0.0/24", 1, "10.201.0.1"},
		{"10.201.0.77/24", 254, "10.201.0.254"},
		{"10.201.0.0/16", 256, "10.201.1.0"},
		{"fd00:201::/64", 2, "fd00:201::2"},
		{"fd00:201::/64", 255, "fd00:201::ff"},
	}
	for _, tt := range tests {
		if got := nthAddr(netip.MustParsePrefix(tt.prefix), tt.n); got.String() != tt.want {
			t.Errorf("nthAddr(%s, %d) = %s, want %s", tt.prefix, tt.n, got, tt.want)
		}
	}
}

func TestParseNeighborLine(t *testing.T) {
	at := time.Unix(1, 0)
	tests := []struct {
		line    string
		ok      bool
		addr    string
		mac     string
		state   string
		deleted bool
	}{
		{"10.201.0.100 dev eth0 lladdr 02:00:00:00:00:01 REACHABLE", true, "10.201.0.100", "02:00:00:00:00:01", "REACHABLE", false},
		{"Deleted fd00:201::100 dev eth0 lladdr 02:00:00:00:00:03 STALE", true, "fd00:201::100", "02:00:00:00:00:03", "STALE", true},
		{"10.201.0.9 dev eth0 FAILED", true, "10.201.0.9", "", "FAILED", false},
		{"", false, "", "", "", false},
		{"garbage line", false, "", "", "", false},
	}
	for _, tt := range tests {
		ev, ok := parseNeighborLine(tt.line, at)
		if ok != tt.ok {
			t.Errorf("%q: ok = %v, want %v", tt.line, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		mac := ""
		if ev.MAC != nil {
			mac = ev.MAC.String()
		}
		if ev.Addr.String() != tt.addr || mac != tt.mac || ev.State != tt.state || ev.Deleted != tt.deleted || !ev.At.Equal(at) {
			t.Errorf("%q: got %+v", tt.line, ev)
		}
	}
}

// TestNetwork builds two hosts, checks their addresses, moves traffic
// between them from inside a namespace, and watches the neighbour table.
func TestNetwork(t *testing.T) {
	n := New(t, Options{Prefix: "nntt"})
	a := n.AddHost("a", 1)
	b := n.AddHost("b", 2)
	if a.IPv4.String() != "10.201.0.1" || b.IPv6.String() != "fd00:201::2" || b.MAC.String() != "02:00:00:00:00:02" {
		t.Fatalf("addresses: a %s %s, b %s %s %s", a.IPv4, a.MAC, b.IPv4, b.IPv6, b.MAC)
	}
	events := a.WatchNeighbors(context.Background())

	for _, dst := range []netip.Addr{b.IPv4, b.IPv6} {
		var ln net.PacketConn
		if err := b.Do(func() error {
			var err error
			ln, err = net.ListenPacket("udp", net.JoinHostPort(dst.String(), "0"))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if err := a.Do(func() error {
			c, err := net.Dial("udp", ln.LocalAddr().String())
			if err != nil {
				return err
			}
			defer func() { _ = c.Close() }()
			_, err = c.Write([]byte("hello"))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 16)
		_ = ln.SetReadDeadline(time.Now().Add(5 * time.Second))
		k, _, err := ln.ReadFrom(buf)
		_ = ln.Close()
		if err != nil || string(buf[:k]) != "hello" {
			t.Fatalf("UDP from a to b at %s: %q, %v", dst, buf[:k], err)
		}
		nb, ok, err := a.Neighbor(context.Background(), dst)
		if err != nil || !ok || nb.MAC.String() != b.MAC.String() {
			t.Errorf("a's neighbour entry for %s = %+v, %v, %v; want b's MAC", dst, nb, ok, err)
		}
		timeout := time.After(5 * time.Second)
	wait:
		for {
			select {
			case ev := <-events:
				if ev.Addr == dst && ev.MAC.String() == b.MAC.String() {
					break wait
				}
			case <-timeout:
				t.Fatalf("no neighbour event for %s", dst)
			}
		}
	}
}

// TestCleanupAndSweep: a network's namespaces are gone after its test, and
// namespaces of a dead test process are swept by the next New.
func TestCleanupAndSweep(t *testing.T) {
	Require(t, Root, "ip", "sysctl")
	var lan, host string
	t.Run("network", func(t *testing.T) {
		n := New(t, Options{Prefix: "nnts"})
		host = n.AddHost("h", 1).Namespace
		lan = n.Namespace("lan")
	})
	for _, ns := range []string{lan, host} {
		if _, err := os.Stat(netnsPath(ns)); !os.IsNotExist(err) {
			t.Errorf("namespace %s still exists after its test: %v", ns, err)
		}
	}

	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := fmt.Sprintf("nnts-%d-abcdef-lan", dead.Process.Pid)
	mustRun(t, "ip", "netns", "add", stale)
	t.Cleanup(func() { deleteNamespace(t, stale) })
	New(t, Options{Prefix: "nnts"})
	if _, err := os.Stat(netnsPath(stale)); !os.IsNotExist(err) {
		t.Errorf("stale namespace %s of dead PID %d was not swept: %v", stale, dead.Process.Pid, err)
	}
}

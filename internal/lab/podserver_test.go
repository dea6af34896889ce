package lab

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPodServerUDP: the stand-in answers a UDP datagram on each pod IP and
// port it serves HTTP on with its identity line naming the sender, and
// stop frees the UDP socket.
func TestPodServerUDP(t *testing.T) {
	ip := netip.MustParseAddr("127.0.0.1")
	// A port free for TCP now; taken for both TCP and UDP below.
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := netip.MustParseAddrPort(probe.Addr().String()).Port()
	_ = probe.Close()
	ps, err := startPodServer("default/dns-1", "node3", []netip.Addr{ip}, []int32{int32(port)})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			ps.stop()
		}
	}()
	addr := netip.AddrPortFrom(ip, port).String()

	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if _, err := c.Write([]byte("who?")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no UDP answer on %s: %v", addr, err)
	}
	want := "pod=default/dns-1 node=node3 ip=127.0.0.1 port=" + strconv.Itoa(int(port)) + " client=" + c.LocalAddr().String() + "\n"
	if got := string(buf[:n]); got != want {
		t.Errorf("UDP answer %q, want %q", got, want)
	}

	// HTTP on the same port still answers.
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if !strings.HasPrefix(string(b), "pod=default/dns-1 node=node3 ") {
		t.Errorf("HTTP answer %q", b)
	}

	ps.stop()
	stopped = true
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("after stop, %s/UDP is still taken: %v", addr, err)
	}
	_ = pc.Close()
}

//go:build linux

package layer2

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"

	"github.com/ironlb/ironlb/internal/netnstest"
)

const (
	// floodRate is the requests per second the flood sends.
	floodRate = 20000
	// floodFor is how long each measurement floods.
	floodFor = 10 * time.Second
	// probeEvery is the legitimate client's request interval, and
	// probeWait how long it waits for each answer.
	probeEvery = 10 * time.Millisecond
	probeWait  = 200 * time.Millisecond
)

// TestBenchFlood measures, with IRONLB_BENCH=1 (make bench), a responder
// under a request flood from the client's link: 20,000 ARP requests (then
// NDP solicitations) per second for the responder's address, each from
// another made-up sender (so each is answered, to a MAC nobody has), while
// the client's real stack asks for the same address every 10 ms from its
// own addresses. Figures: the legitimate requests' answer time (p50, p99,
// max) and how many went unanswered within 200 ms, and the CPU the
// responder used, as the test process's CPU time during the flood minus
// that of the same flood with no responder (the flood's own cost). The
// table goes to docs/performance.md and $IRONLB_BENCH_OUT; nothing is
// asserted but that the legitimate client got answers at all.
func TestBenchFlood(t *testing.T) {
	if os.Getenv("IRONLB_BENCH") != "1" {
		t.Skip("a benchmark: set IRONLB_BENCH=1 to run it")
	}
	n := newTestNetwork(t)
	node := n.AddHost("node", 1)
	client := n.AddHost("client", 2)
	var b strings.Builder
	fmt.Fprintf(&b, "| flood (%d/s for the address, %v) | sent / received / answered per second | legitimate answers p50 / p99 / max | unanswered in %v | responder CPU (of one core) |\n|---|---|---|---|---|\n",
		floodRate, floodFor, probeWait)
	for _, fam := range []string{"ARP", "NDP"} {
		vip := netnsVIP4
		if fam == "NDP" {
			vip = netnsVIP6
		}
		frames := floodFrames(t, fam, client, vip)
		// The flood's own cost, with nobody answering.
		base := cpuDuring(func() { _ = flood(t, client, fam, frames, floodFor) })
		ctr := &Counters{}
		fc := &ctr.ARP
		if fam == "NDP" {
			fc = &ctr.NDP
		}

		r := startResponder(t, node, Options{ProbeInterval: -1, Counters: ctr})
		if err := r.SetAddresses(context.Background(), []netip.Addr{vip}); err != nil {
			t.Fatal(err)
		}
		var rtts []time.Duration
		var lost, sent int
		received, answered := fc.RequestsReceived.Load(), fc.ResponsesSent.Load()
		total := cpuDuring(func() {
			var wg sync.WaitGroup
			wg.Go(func() { sent = flood(t, client, fam, frames, floodFor) })
			rtts, lost = probe(t, client, fam, node, vip, floodFor)
			wg.Wait()
		})
		received, answered = fc.RequestsReceived.Load()-received, fc.ResponsesSent.Load()-answered
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if len(rtts) == 0 {
			t.Fatalf("%s: the legitimate client got no answer during the flood", fam)
		}
		slices.Sort(rtts)
		pct := func(p float64) time.Duration { return rtts[min(len(rtts)-1, int(p*float64(len(rtts))))] }
		cpu := (total - base).Seconds() / floodFor.Seconds() * 100
		per := func(n float64) float64 { return n / floodFor.Seconds() }
		fmt.Fprintf(&b, "| %s | %.0f / %.0f / %.0f | %v / %v / %v | %d of %d | %.0f %% |\n", fam,
			per(float64(sent)), per(float64(received)), per(float64(answered)),
			pct(0.5).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), rtts[len(rtts)-1].Round(time.Microsecond),
			lost, lost+len(rtts), cpu)
	}
	t.Logf("\n%s", b.String())
	if out := os.Getenv("IRONLB_BENCH_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// cpuDuring returns the CPU time (user and system) the test process spent
// while f ran.
func cpuDuring(f func()) time.Duration {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	f()
	return cpu() - start
}

// floodFrames returns 256 requests for vip from made-up senders on the
// client's subnet (random locally administered MACs, addresses .150-.250
// or their IPv6 likes).
func floodFrames(t *testing.T, fam string, client *netnstest.Host, vip netip.Addr) [][]byte {
	t.Helper()
	out := make([][]byte, 256)
	for i := range out {
		mac := net.HardwareAddr{0x02, 0xfe, byte(rand.IntN(256)), byte(rand.IntN(256)), byte(rand.IntN(256)), byte(i)}
		if fam == "ARP" {
			src := netip.AddrFrom4([4]byte{10, 201, 0, byte(150 + i%100)})
			out[i] = arpRequest(t, mac, src, vip)
			continue
		}
		a := client.IPv6.As16()
		a[15] = byte(150 + i%100)
		snm, err := ndp.SolicitedNodeMulticast(vip)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = nsFrame{ethSrc: mac, ethDst: multicastMAC(snm), src: netip.AddrFrom16(a), dst: snm, target: vip, sourceLL: mac}.bytes(t)
	}
	return out
}

// listenIn opens a raw packet socket for etherType on h's interface.
func listenIn(t *testing.T, h *netnstest.Host, etherType int) *packet.Conn {
	t.Helper()
	var c *packet.Conn
	if err := h.Do(func() error {
		ifi, err := net.InterfaceByName(h.Interface)
		if err != nil {
			return err
		}
		c, err = packet.Listen(ifi, packet.Raw, etherType, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

func etherTypeOf(fam string) int {
	if fam == "ARP" {
		return etherTypeARP
	}
	return etherTypeIPv6
}

// flood sends frames round-robin from h at floodRate for d, paced in
// batches every millisecond, and returns how many it sent.
func flood(t *testing.T, h *netnstest.Host, fam string, frames [][]byte, d time.Duration) int {
	c := listenIn(t, h, etherTypeOf(fam))
	defer func() { _ = c.Close() }()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	sent := 0
	for time.Since(start) < d {
		<-tick.C
		due := int(time.Since(start).Seconds() * floodRate)
		for ; sent < due; sent++ {
			f := frames[sent%len(frames)]
			if _, err := c.WriteTo(f, &packet.Addr{HardwareAddr: net.HardwareAddr(f[:6])}); err != nil {
				t.Errorf("flood: %v", err)
				return sent
			}
		}
	}
	return sent
}

// probe asks for vip from h's own addresses every probeEvery for d and
// returns the answer times of the requests answered by node within
// probeWait, and how many were not.
func probe(t *testing.T, h *netnstest.Host, fam string, node *netnstest.Host, vip netip.Addr, d time.Duration) ([]time.Duration, int) {
	c := listenIn(t, h, etherTypeOf(fam))
	defer func() { _ = c.Close() }()
	var req []byte
	if fam == "ARP" {
		req = arpRequest(t, h.MAC, h.IPv4, vip)
	} else {
		snm, err := ndp.SolicitedNodeMulticast(vip)
		if err != nil {
			t.Fatal(err)
		}
		req = nsFrame{ethSrc: h.MAC, ethDst: multicastMAC(snm), src: h.IPv6, dst: snm, target: vip, sourceLL: h.MAC}.bytes(t)
	}
	answered := make(chan time.Time, 16)
	var done atomic.Bool
	go func() {
		buf := make([]byte, 1500)
		for !done.Load() {
			_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				continue
			}
			if ours(fam, buf[:n], h, node, vip) {
				select {
				case answered <- time.Now():
				default:
				}
			}
		}
	}()
	defer done.Store(true)
	var rtts []time.Duration
	lost := 0
	start := time.Now()
	for time.Since(start) < d {
		for len(answered) > 0 { // a late answer to an earlier request
			<-answered
		}
		sent := time.Now()
		if _, err := c.WriteTo(req, &packet.Addr{HardwareAddr: net.HardwareAddr(req[:6])}); err != nil {
			t.Errorf("probe: %v", err)
			return rtts, lost
		}
		select {
		case at := <-answered:
			rtts = append(rtts, at.Sub(sent))
		case <-time.After(probeWait):
			lost++
		}
		time.Sleep(time.Until(sent.Add(probeEvery)))
	}
	return rtts, lost
}

// ours reports whether frame b is node's answer for vip to h.
func ours(fam string, b []byte, h, node *netnstest.Host, vip netip.Addr) bool {
	if fam == "ARP" {
		f, err := parseARP(b)
		return err == nil && f.senderIP == vip && f.targetIP == h.IPv4 && f.senderMAC.String() == node.MAC.String()
	}
	f, err := parseNDP(b)
	return err == nil && f.icmpType == icmpTypeNA && f.target == vip && f.dst == h.IPv6 && f.ethSrc.String() == node.MAC.String()
}

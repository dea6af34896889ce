package netnstest

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"strings"
	"time"
)

// NeighborEvent is one line of `ip monitor neigh` in a host.
type NeighborEvent struct {
	At      time.Time        // when the line was read (the change happened just before)
	Addr    netip.Addr       // the neighbour's address
	MAC     net.HardwareAddr // nil when the line carries no link-layer address
	State   string           // the last word, e.g. "REACHABLE", "STALE", "FAILED"
	Deleted bool             // the entry was deleted
	Line    string           // the line as printed
}

// WatchNeighbors streams the host's neighbour table changes until ctx ends
// (or the test ends). It returns once the monitor is known to be
// listening, so every change made after it returns is seen. The channel
// is closed when the monitor stops; a slow reader loses events rather
// than blocking the monitor.
func (h *Host) WatchNeighbors(ctx context.Context) <-chan NeighborEvent {
	t := h.network.t
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	cmd := h.Command(ctx, "ip", "monitor", "neigh")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatalf("netnstest: ip monitor neigh in %s: %v", h.Name, err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("netnstest: ip monitor neigh in %s: %v", h.Name, err)
	}
	events := make(chan NeighborEvent, 1024)
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-done
	})
	go func() {
		defer close(done)
		defer close(events)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			ev, ok := parseNeighborLine(sc.Text(), time.Now())
			if !ok {
				continue
			}
			select {
			case events <- ev:
			default:
			}
		}
		_ = cmd.Wait()
	}()

	// Prove the monitor listens: add a permanent entry for a sentinel
	// address (the IPv4 prefix's own address, never a host), wait for it,
	// remove it.
	sentinel := h.network.opts.IPv4.Masked().Addr()
	sentinelMAC := net.HardwareAddr{0x02, 0, 0, 0, 0xff, 0}
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	h.SetNeighbor(sentinel, sentinelMAC, "permanent")
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("netnstest: ip monitor neigh in %s exited early", h.Name)
			}
			if ev.Addr == sentinel && !ev.Deleted {
				h.Run("ip", "neigh", "del", sentinel.String(), "dev", h.Interface)
				drainSentinel(events, sentinel)
				return events
			}
		case <-tick.C:
			// The monitor may not have subscribed yet: change the entry
			// again (to another MAC: an unchanged entry raises no event).
			sentinelMAC[5]++
			h.SetNeighbor(sentinel, sentinelMAC, "permanent")
		case <-deadline:
			t.Fatalf("netnstest: ip monitor neigh in %s printed nothing within 10s", h.Name)
		}
	}
}

// drainSentinel discards the sentinel's deletion event if it comes soon.
func drainSentinel(events <-chan NeighborEvent, sentinel netip.Addr) {
	timeout := time.After(time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Addr == sentinel && ev.Deleted {
				return
			}
		case <-timeout:
			return
		}
	}
}

// parseNeighborLine reads lines like
//
//	10.201.0.100 dev eth0 lladdr 02:00:00:00:00:01 REACHABLE
//	Deleted fd00:201::100 dev eth0 lladdr 02:00:00:00:00:01 STALE
func parseNeighborLine(line string, at time.Time) (NeighborEvent, bool) {
	f := strings.Fields(line)
	ev := NeighborEvent{At: at, Line: line}
	if len(f) > 0 && f[0] == "Deleted" {
		ev.Deleted = true
		f = f[1:]
	}
	if len(f) < 2 {
		return NeighborEvent{}, false
	}
	addr, err := netip.ParseAddr(f[0])
	if err != nil {
		return NeighborEvent{}, false
	}
	ev.Addr = addr
	for i := 1; i+1 < len(f); i++ {
		if f[i] == "lladdr" {
			if mac, err := net.ParseMAC(f[i+1]); err == nil {
				ev.MAC = mac
			}
		}
	}
	ev.State = f[len(f)-1]
	return ev, true
}

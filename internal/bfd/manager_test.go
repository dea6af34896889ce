package bfd

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/ironlb/ironlb/internal/testkit"
)

// recorder collects events and lets a test wait for one.
type recorder struct {
	mu     sync.Mutex
	events []Event
	notify chan struct{}
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

func (r *recorder) add(e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// wait returns the first event after index from for which ok holds.
func (r *recorder) wait(t testing.TB, timeout time.Duration, from int, ok func(Event) bool) Event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		r.mu.Lock()
		for _, e := range r.events[min(from, len(r.events)):] {
			if ok(e) {
				r.mu.Unlock()
				return e
			}
		}
		r.mu.Unlock()
		select {
		case <-r.notify:
		case <-deadline:
			t.Fatalf("no matching event within %v; events: %+v", timeout, r.snapshot())
		}
	}
}

func (r *recorder) snapshot() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

func isState(st State) func(Event) bool { return func(e Event) bool { return e.To == st } }

// TestManagersOnLoopback runs two Managers against each other over
// 127.0.0.1 and 127.0.0.2 (no privileges needed).
func TestManagersOnLoopback(t *testing.T) {
	a, b := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")
	// Fast, but with a detection time (5×50 ms) that a loaded machine
	// running -race does not miss by accident: the test is about the
	// state machine, not about speed (make bench measures detection).
	fast := Profile{ReceiveInterval: 50 * time.Millisecond, TransmitInterval: 50 * time.Millisecond, DetectMultiplier: 5}
	ra, rb := newRecorder(), newRecorder()
	ma := NewManager(Options{OnChange: ra.add})
	mb := NewManager(Options{OnChange: rb.add})
	t.Cleanup(func() { _ = ma.Close(); _ = mb.Close() })
	sa, err := ma.Add(b, a, fast)
	if err != nil {
		testkit.Unavailable(t, "cannot bind the BFD port %d on loopback (root or CAP_NET_BIND_SERVICE; nothing else on it): %v", ControlPort, err)
	}
	if _, err := ma.Add(b, a, fast); err == nil {
		t.Error("second Add for the same peer succeeded")
	}
	if _, err := mb.Add(a, b, fast); err != nil {
		t.Fatal(err)
	}
	ra.wait(t, testkit.Budget(time.Second), 0, isState(StateUp))
	rb.wait(t, testkit.Budget(time.Second), 0, isState(StateUp))
	if st, _ := sa.State(); st != StateUp {
		t.Errorf("Session.State %v, want Up", st)
	}
	// Stay Up across the Poll sequence and many fast intervals.
	time.Sleep(300 * time.Millisecond)
	if st, _ := sa.State(); st != StateUp {
		t.Fatalf("session fell to %v; events %+v", st, ra.snapshot())
	}
	c := sa.Counters()
	if c.PacketsReceived < 5 || c.PacketsSent < 5 || c.Ups != 1 {
		t.Errorf("counters %+v", c)
	}

	// Graceful removal: the peer hears AdminDown.
	n := rb.len()
	ma.Remove(b)
	e := rb.wait(t, testkit.Budget(200*time.Millisecond), n, isState(StateDown))
	if e.Diag != DiagNeighborSignaledDown || e.RemoteState != StateAdminDown || e.RemoteDiag != DiagAdministrativelyDown {
		t.Errorf("peer's Down event %+v, want diag NeighborSignaledSessionDown, remote AdministrativelyDown", e)
	}

	// Comes back; then an ungraceful stop is detected by timeout.
	na := ra.len()
	if _, err := ma.Add(b, a, fast); err != nil {
		t.Fatal(err)
	}
	ra.wait(t, testkit.Budget(time.Second), na, isState(StateUp))
	n = rb.len()
	start := time.Now()
	if err := ma.Close(); err != nil {
		t.Fatal(err)
	}
	e = rb.wait(t, testkit.Budget(250*time.Millisecond+200*time.Millisecond), n, isState(StateDown))
	if e.Diag != DiagControlDetectionExpired {
		t.Errorf("Down event %+v, want ControlDetectionTimeExpired", e)
	}
	t.Logf("detection took %v with 5×50 ms", time.Since(start))
	if _, err := ma.Add(b, a, fast); err == nil {
		t.Error("Add after Close succeeded")
	}
}

func TestAddRejects(t *testing.T) {
	m := NewManager(Options{})
	defer func() { _ = m.Close() }()
	v4, v6 := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")
	if _, err := m.Add(v6, v4, Profile{}); err == nil {
		t.Error("mixed families accepted")
	}
	if _, err := m.AddMultihop(v4, v4, Profile{EchoMode: true}); !errors.Is(err, ErrEchoMultihop) {
		t.Errorf("multi-hop with echo mode: %v, want ErrEchoMultihop", err)
	}
	ll := netip.MustParseAddr("fe80::1")
	for _, local := range []netip.Addr{v6, netip.MustParseAddr("fe80::2"), netip.MustParseAddr("fe80::2%lo")} {
		peer := ll
		if local.Zone() != "" {
			peer = ll.WithZone("eth9") // another link than local's
		}
		if _, err := m.Add(peer, local, Profile{}); err == nil {
			t.Errorf("link-local peer %v from %v accepted", peer, local)
		}
	}
}

// TestListenerDrops checks the receive path's filters: TTL below 255,
// malformed packets and packets from unknown peers never reach a session.
func TestListenerDrops(t *testing.T) {
	local, peer := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")
	m := NewManager(Options{})
	t.Cleanup(func() { _ = m.Close() })
	s, err := m.Add(peer, local, Profile{PassiveMode: true})
	if err != nil {
		testkit.Unavailable(t, "cannot bind the BFD port %d on loopback (root or CAP_NET_BIND_SERVICE; nothing else on it): %v", ControlPort, err)
	}
	valid, err := AppendControl(nil, Control{State: StateDown, DetectMult: 3, MyDiscriminator: 9, RequiredMinRx: time.Second, DesiredMinTx: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ControlPort}
	sendFrom := func(src string, ttl int, b []byte) {
		t.Helper()
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(src)})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = c.Close() }()
		if err := ipv4.NewConn(c).SetTTL(ttl); err != nil {
			t.Fatal(err)
		}
		if _, err := c.WriteToUDP(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	sendFrom("127.0.0.2", 64, valid)
	sendFrom("127.0.0.2", 255, valid[:20])
	sendFrom("127.0.0.3", 255, valid)
	waitCounters := func(ok func(Counters) bool) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for !ok(m.Counters()) {
			if time.Now().After(deadline) {
				t.Fatalf("counters %+v", m.Counters())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitCounters(func(c Counters) bool { return c.TTLDropped == 1 && c.MalformedDropped == 1 && c.UnknownDropped == 1 })
	if got := s.Counters().PacketsReceived; got != 0 {
		t.Errorf("session received %d packets, want 0", got)
	}
	// A good packet does arrive, and the passive session answers with Init.
	sendFrom("127.0.0.2", 255, valid)
	waitCounters(func(c Counters) bool { return c.PacketsReceived == 1 && c.PacketsSent >= 1 })
	if st, _ := s.State(); st != StateInit {
		t.Errorf("state %v, want Init", st)
	}
}

// TestMultihopListener checks the multi-hop receive path: port 4784, the
// session's MinimumTTL (not 255) as the least TTL accepted, and no mixing
// with single-hop sessions. Seen failing with the MinimumTTL check
// removed from listener.serve ("counters ... TTLDropped:0").
func TestMultihopListener(t *testing.T) {
	local, peer, single := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")
	m := NewManager(Options{})
	t.Cleanup(func() { _ = m.Close() })
	s, err := m.AddMultihop(peer, local, Profile{PassiveMode: true, MinimumTTL: 200})
	if err != nil {
		testkit.Unavailable(t, "cannot bind the BFD multi-hop port %d on loopback (nothing else on it): %v", MultihopControlPort, err)
	}
	if !s.Multihop() {
		t.Error("Session.Multihop false for a multi-hop session")
	}
	if _, err := m.Add(single, local, Profile{PassiveMode: true}); err != nil {
		t.Fatal(err)
	}
	valid, err := AppendControl(nil, Control{State: StateDown, DetectMult: 3, MyDiscriminator: 9, RequiredMinRx: time.Second, DesiredMinTx: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: MultihopControlPort}
	sendFrom := func(src string, ttl int) {
		t.Helper()
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(src)})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = c.Close() }()
		if err := ipv4.NewConn(c).SetTTL(ttl); err != nil {
			t.Fatal(err)
		}
		if _, err := c.WriteToUDP(valid, dst); err != nil {
			t.Fatal(err)
		}
	}
	waitCounters := func(ok func(m, s Counters) bool) {
		t.Helper()
		deadline := time.Now().Add(testkit.Budget(500 * time.Millisecond))
		for !ok(m.Counters(), s.Counters()) {
			if time.Now().After(deadline) {
				t.Fatalf("counters: manager %+v, session %+v", m.Counters(), s.Counters())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	sendFrom("127.0.0.2", 199) // below the minimum
	sendFrom("127.0.0.3", 255) // a single-hop session's peer, on the multi-hop port
	waitCounters(func(m, s Counters) bool { return s.TTLDropped == 1 && m.TTLDropped == 1 && m.UnknownDropped == 1 })
	if got := s.Counters().PacketsReceived; got != 0 {
		t.Errorf("session received %d packets, want 0", got)
	}
	// At the minimum the packet arrives, and the passive session answers.
	sendFrom("127.0.0.2", 200)
	waitCounters(func(_, s Counters) bool { return s.PacketsReceived == 1 && s.PacketsSent >= 1 })
	if st, _ := s.State(); st != StateInit {
		t.Errorf("state %v, want Init", st)
	}
}

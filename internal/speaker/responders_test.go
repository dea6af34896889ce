package speaker

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ironlb/ironlb/internal/layer2"
)

// fakeResponder records what it is told.
type fakeResponder struct {
	name   string
	mu     sync.Mutex
	addrs  []netip.Addr
	sets   int
	closed bool
	ready  error
}

func (f *fakeResponder) SetAddresses(_ context.Context, a []netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addrs, f.sets = slices.Clone(a), f.sets+1
	return nil
}

func (f *fakeResponder) Ready() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return layer2.ErrClosed
	}
	return f.ready
}

func (f *fakeResponder) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

// fakeNet is a set of interfaces with indexes that responders open on.
type fakeNet struct {
	index  map[string]int
	opened []*fakeResponder
}

func (n *fakeNet) responders() *responders {
	return &responders{
		open: func(name string) (responder, int, error) {
			idx, ok := n.index[name]
			if !ok {
				return nil, 0, errors.New("no such interface")
			}
			r := &fakeResponder{name: name}
			n.opened = append(n.opened, r)
			return r, idx, nil
		},
		index: func(name string) (int, error) {
			idx, ok := n.index[name]
			if !ok {
				return 0, errors.New("no such interface")
			}
			return idx, nil
		},
		log:    slog.New(slog.DiscardHandler),
		byIf:   map[string]*openResponder{},
		failed: map[string]error{},
	}
}

func addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

func TestResponders(t *testing.T) {
	ctx := context.Background()
	n := &fakeNet{index: map[string]int{"eth0": 2, "eth1": 3}}
	rs := n.responders()

	if err := rs.apply(ctx, map[string][]netip.Addr{"eth0": addrs("10.0.0.1", "fd00::1"), "eth1": addrs("10.1.0.1")}); err != nil {
		t.Fatal(err)
	}
	if len(n.opened) != 2 || rs.ready() != nil {
		t.Fatalf("opened %d responders, ready %v", len(n.opened), rs.ready())
	}
	if v4, v6 := rs.counts(); v4 != 2 || v6 != 1 {
		t.Errorf("counts %d, %d", v4, v6)
	}
	eth0, eth1 := n.opened[0], n.opened[1]

	// The same set again: nothing is called.
	if err := rs.apply(ctx, map[string][]netip.Addr{"eth0": addrs("10.0.0.1", "fd00::1"), "eth1": addrs("10.1.0.1")}); err != nil {
		t.Fatal(err)
	}
	if eth0.sets != 1 || eth1.sets != 1 {
		t.Errorf("SetAddresses called again for an unchanged set: %d, %d", eth0.sets, eth1.sets)
	}

	// eth1 unused: closed; eth0 changes.
	if err := rs.apply(ctx, map[string][]netip.Addr{"eth0": addrs("10.0.0.2")}); err != nil {
		t.Fatal(err)
	}
	if !eth1.closed || eth0.closed || !slices.Equal(eth0.addrs, addrs("10.0.0.2")) {
		t.Errorf("eth1 closed %v, eth0 closed %v with %v", eth1.closed, eth0.closed, eth0.addrs)
	}

	// A link down (not ready, same index) keeps the responder.
	eth0.ready = errors.New("link down")
	if err := rs.ready(); err == nil || !strings.Contains(err.Error(), "eth0") {
		t.Errorf("ready %v, want an error naming eth0", err)
	}
	if err := rs.apply(ctx, map[string][]netip.Addr{"eth0": addrs("10.0.0.2")}); err != nil {
		t.Fatal(err)
	}
	if eth0.closed || len(n.opened) != 2 {
		t.Errorf("a link down reopened the responder")
	}

	// Replaced (new index): reopened with the addresses.
	n.index["eth0"] = 9
	if err := rs.apply(ctx, map[string][]netip.Addr{"eth0": addrs("10.0.0.2")}); err != nil {
		t.Fatal(err)
	}
	if !eth0.closed || len(n.opened) != 3 || !slices.Equal(n.opened[2].addrs, addrs("10.0.0.2")) {
		t.Errorf("a replaced interface was not reopened: closed %v, opened %d", eth0.closed, len(n.opened))
	}

	// A missing interface is reported; the others still apply.
	err := rs.apply(ctx, map[string][]netip.Addr{"eth0": addrs("10.0.0.3"), "bond0": addrs("10.0.0.4")})
	if err == nil || !strings.Contains(err.Error(), "bond0") {
		t.Errorf("error %v, want one naming bond0", err)
	}
	if !slices.Equal(n.opened[2].addrs, addrs("10.0.0.3")) {
		t.Errorf("eth0 answers %v", n.opened[2].addrs)
	}
	// ... and the speaker is not ready while an address it should answer
	// for is not (a responder that cannot open: no CAP_NET_RAW, say) ...
	if err := rs.ready(); err == nil || !strings.Contains(err.Error(), "bond0") || !strings.Contains(err.Error(), "10.0.0.4") {
		t.Errorf("ready %v, want an error naming bond0 and 10.0.0.4", err)
	}
	// ... until that address is no longer wanted there.
	if err := rs.apply(ctx, map[string][]netip.Addr{"eth0": addrs("10.0.0.3")}); err != nil {
		t.Fatal(err)
	}
	if err := rs.ready(); err != nil {
		t.Errorf("ready %v after bond0 is no longer wanted", err)
	}

	rs.closeAll()
	if !n.opened[2].closed || rs.ready() != nil {
		t.Errorf("closeAll left responders open")
	}
}

func TestLayer2Collector(t *testing.T) {
	c := &layer2.Counters{}
	c.ARP.RequestsReceived.Add(3)
	c.ARP.ResponsesSent.Add(2)
	c.NDP.GratuitousSent.Add(5)
	c.NDP.MalformedDropped.Add(1)
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(newLayer2Collector(c, func() (int, int) { return 4, 1 }, func() int { return 3 })); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP ironlb_layer2_announced_ips Service addresses this node answers ARP/NDP for.
# TYPE ironlb_layer2_announced_ips gauge
ironlb_layer2_announced_ips{family="IPv4"} 4
ironlb_layer2_announced_ips{family="IPv6"} 1
# HELP ironlb_layer2_gratuitous_sent_total Gratuitous ARP and unsolicited neighbor advertisement frames sent.
# TYPE ironlb_layer2_gratuitous_sent_total counter
ironlb_layer2_gratuitous_sent_total{family="IPv4"} 0
ironlb_layer2_gratuitous_sent_total{family="IPv6"} 5
# HELP ironlb_layer2_malformed_dropped_total Frames dropped because they failed to parse or validate.
# TYPE ironlb_layer2_malformed_dropped_total counter
ironlb_layer2_malformed_dropped_total{family="IPv4"} 0
ironlb_layer2_malformed_dropped_total{family="IPv6"} 1
# HELP ironlb_layer2_requests_received_total ARP requests and neighbor solicitations received for an announced address.
# TYPE ironlb_layer2_requests_received_total counter
ironlb_layer2_requests_received_total{family="IPv4"} 3
ironlb_layer2_requests_received_total{family="IPv6"} 0
# HELP ironlb_layer2_responses_sent_total ARP replies and solicited neighbor advertisements sent.
# TYPE ironlb_layer2_responses_sent_total counter
ironlb_layer2_responses_sent_total{family="IPv4"} 2
ironlb_layer2_responses_sent_total{family="IPv6"} 0
# HELP ironlb_speaker_members Live speakers this speaker sees, itself included.
# TYPE ironlb_speaker_members gauge
ironlb_speaker_members 3
`
	names := []string{Layer2AnnouncedIPs, Layer2GratuitousSentTotal, Layer2MalformedDroppedTotal,
		Layer2RequestsReceivedTotal, Layer2ResponsesSentTotal, SpeakerMembers}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 19 {
		t.Errorf("%d series (%v), want 8 counters × 2 families + 2 announced + 1 members", n, err)
	}
}

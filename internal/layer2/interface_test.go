package layer2

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/arp"
)

func TestSetAddressesAnnouncesAndJoins(t *testing.T) {
	f := newFakeIface(t, Options{})
	ctx := context.Background()
	if err := f.SetAddresses(ctx, []netip.Addr{vip4, vip6}); err != nil {
		t.Fatal(err)
	}
	// Offset 0 is written before SetAddresses returns.
	a := f.arp.take()
	if len(a) != 2 {
		t.Fatalf("ARP announcement: %d frames, want a gratuitous request and reply", len(a))
	}
	for n, op := range []arp.Operation{arp.OperationRequest, arp.OperationReply} {
		p, err := parseARP(a[n].frame)
		if err != nil {
			t.Fatal(err)
		}
		if p.op != op || p.senderIP != vip4 || p.targetIP != vip4 || p.senderMAC.String() != ourMAC.String() ||
			a[n].dst.String() != "ff:ff:ff:ff:ff:ff" {
			t.Errorf("frame %d = %+v to %s, want gratuitous %v for %s to broadcast", n, p, a[n].dst, op, vip4)
		}
	}
	n := f.ndp.take()
	if len(n) != 1 {
		t.Fatalf("NDP announcement: %d frames, want one unsolicited advertisement", len(n))
	}
	checkNA(t, n[0], allNodes, allNodesMAC, false)
	if diff := cmp.Diff(map[netip.Addr]bool{solicitedNode(t, vip6): true}, f.ctl.joined()); diff != "" {
		t.Errorf("joined groups (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]netip.Addr{vip4, vip6}, f.Addresses(), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("Addresses (-want +got):\n%s", diff)
	}

	// The same set again announces nothing; removing leaves the group.
	if err := f.SetAddresses(ctx, []netip.Addr{vip6, vip4}); err != nil {
		t.Fatal(err)
	}
	if got := len(f.arp.take()) + len(f.ndp.take()); got != 0 {
		t.Errorf("unchanged set wrote %d frames, want none", got)
	}
	if err := f.SetAddresses(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := f.ctl.joined(); len(got) != 0 {
		t.Errorf("groups still joined after removal: %v", got)
	}
	f.arp.inject(t, arpRequest(t, peerMAC, peer4, vip4))
	if got := f.arp.take(); len(got) != 0 {
		t.Errorf("removed address answered: %d frames", len(got))
	}
}

func TestSharedSolicitedNodeGroup(t *testing.T) {
	f := newFakeIface(t, Options{})
	ctx := context.Background()
	a := netip.MustParseAddr("fd00:201::1:100")
	b := netip.MustParseAddr("fd00:202::1:100") // same low 24 bits
	if err := f.SetAddresses(ctx, []netip.Addr{a, b}); err != nil {
		t.Fatal(err)
	}
	if err := f.SetAddresses(ctx, []netip.Addr{b}); err != nil {
		t.Fatal(err)
	}
	if !f.ctl.joined()[solicitedNode(t, b)] {
		t.Error("group left although another address still uses it")
	}
	if err := f.SetAddresses(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if len(f.ctl.joined()) != 0 {
		t.Error("group still joined after its last address was removed")
	}
}

func TestSetAddressesInvalid(t *testing.T) {
	f := newFakeIface(t, Options{})
	bad := []string{"224.0.0.1", "127.0.0.1", "0.0.0.0", "255.255.255.255", "fe80::1", "ff02::1", "::", "::1", "fd00::1%eth0"}
	addrs := []netip.Addr{vip4, netip.MustParseAddr("::ffff:10.201.0.7"), {}}
	for _, s := range bad {
		addrs = append(addrs, netip.MustParseAddr(s))
	}
	err := f.SetAddresses(context.Background(), addrs)
	if err == nil {
		t.Fatal("SetAddresses accepted invalid addresses")
	}
	for _, s := range bad {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error does not name %s: %v", s, err)
		}
	}
	want := []netip.Addr{netip.MustParseAddr("10.201.0.7"), vip4}
	if diff := cmp.Diff(want, f.Addresses(), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("valid addresses not applied (-want +got):\n%s", diff)
	}
}

func TestAnnounceSchedule(t *testing.T) {
	f := newFakeIface(t, Options{AnnounceSchedule: []time.Duration{0, 30 * time.Millisecond, 60 * time.Millisecond}})
	if err := f.SetAddresses(context.Background(), []netip.Addr{vip4}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three announcement rounds", func() bool { return f.Counters().ARP.GratuitousSent.Load() == 6 })

	// An address removed before its later rounds gets no more.
	g := newFakeIface(t, Options{AnnounceSchedule: []time.Duration{0, 50 * time.Millisecond}})
	if err := g.SetAddresses(context.Background(), []netip.Addr{vip6}); err != nil {
		t.Fatal(err)
	}
	if err := g.SetAddresses(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	if got := g.Counters().NDP.GratuitousSent.Load(); got != 1 {
		t.Errorf("GratuitousSent = %d after removal, want 1 (the offset-0 round only)", got)
	}
}

func TestReadyFollowsLink(t *testing.T) {
	f := newFakeIface(t, Options{LinkPollInterval: 5 * time.Millisecond})
	if err := f.Ready(); err != nil {
		t.Fatalf("Ready = %v, want nil", err)
	}
	if err := f.SetAddresses(context.Background(), []netip.Addr{vip4}); err != nil {
		t.Fatal(err)
	}
	f.ctl.up.Store(false)
	waitFor(t, "Ready to report the link down", func() bool { return errors.Is(f.Ready(), errLinkDown) })
	before := f.Counters().ARP.GratuitousSent.Load()
	f.ctl.up.Store(true)
	waitFor(t, "Ready after link up", func() bool { return f.Ready() == nil })
	waitFor(t, "announcement after link up", func() bool { return f.Counters().ARP.GratuitousSent.Load() == before+2 })

	f.ctl.gone.Store(true)
	waitFor(t, "Ready to report the interface gone", func() bool { return errors.Is(f.Ready(), errInterfaceGone) })
	f.ctl.gone.Store(false)
	time.Sleep(20 * time.Millisecond)
	if !errors.Is(f.Ready(), errInterfaceGone) {
		t.Errorf("Ready = %v after the interface was gone, want it to stay gone", f.Ready())
	}
}

func TestClose(t *testing.T) {
	f := newFakeIface(t, Options{AnnounceSchedule: []time.Duration{0, time.Hour}})
	if err := f.SetAddresses(context.Background(), []netip.Addr{vip4}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- f.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return: a pending announcement held it")
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := f.SetAddresses(context.Background(), []netip.Addr{vip4}); !errors.Is(err, ErrClosed) {
		t.Errorf("SetAddresses after Close = %v, want ErrClosed", err)
	}
	if err := f.Reannounce(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Reannounce after Close = %v, want ErrClosed", err)
	}
	if err := f.Ready(); !errors.Is(err, ErrClosed) {
		t.Errorf("Ready after Close = %v, want ErrClosed", err)
	}
	if len(f.Addresses()) != 0 {
		t.Errorf("Addresses after Close = %v, want none", f.Addresses())
	}
}

func TestSendErrorsCounted(t *testing.T) {
	f := newFakeIface(t, Options{})
	f.arp.writeErr = errors.New("boom")
	err := f.SetAddresses(context.Background(), []netip.Addr{vip4})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("SetAddresses = %v, want the announcement's write error", err)
	}
	if got := f.Counters().ARP.SendErrors.Load(); got != 2 {
		t.Errorf("SendErrors = %d, want 2", got)
	}
	if got := f.Addresses(); len(got) != 1 {
		t.Errorf("address not applied despite the send error: %v", got)
	}
}

func TestCheckOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"zero", Options{}, true},
		{"ascending", Options{AnnounceSchedule: []time.Duration{0, time.Second}}, true},
		{"later start", Options{AnnounceSchedule: []time.Duration{time.Second}}, true},
		{"descending", Options{AnnounceSchedule: []time.Duration{time.Second, 0}}, false},
		{"negative", Options{AnnounceSchedule: []time.Duration{-time.Second}}, false},
		{"negative poll", Options{LinkPollInterval: -1}, false},
	}
	for _, tt := range tests {
		if err := checkOptions(tt.opts); (err == nil) != tt.ok {
			t.Errorf("%s: checkOptions = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestSharedCounters(t *testing.T) {
	c := new(Counters)
	a := newFakeIface(t, Options{Counters: c})
	b := newFakeIface(t, Options{Counters: c})
	for _, f := range []*fakeIface{a, b} {
		if err := f.SetAddresses(context.Background(), []netip.Addr{vip4}); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.ARP.GratuitousSent.Load(); got != 4 {
		t.Errorf("shared GratuitousSent = %d, want 4", got)
	}
}

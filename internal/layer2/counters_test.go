package layer2

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestAddressCounters checks the per-address counts: a request and its
// answer count for the address asked for, announcements for the address
// announced, requests for other addresses nowhere; an address stops being
// listed when it is no longer answered for, and starts from zero when it
// is answered for again.
func TestAddressCounters(t *testing.T) {
	ctx := context.Background()
	f := newFakeIface(t, Options{})
	if err := f.SetAddresses(ctx, []netip.Addr{vip4, vip6}); err != nil {
		t.Fatal(err)
	}
	f.arp.take()
	f.ndp.take()
	for range 3 {
		f.arp.inject(t, arpRequest(t, peerMAC, peer4, vip4))
	}
	f.arp.inject(t, arpRequest(t, peerMAC, peer4, unset4))
	f.ndp.inject(t, nsFrame{ethSrc: peerMAC, ethDst: ourMAC, src: peer6, dst: vip6, target: vip6}.bytes(t))

	want := []AddressCount{
		{Interface: "eth0", Addr: vip4, RequestsReceived: 3, ResponsesSent: 3, GratuitousSent: 2},
		{Interface: "eth0", Addr: vip6, RequestsReceived: 1, ResponsesSent: 1, GratuitousSent: 1},
	}
	if diff := cmp.Diff(want, f.Counters().Addresses(), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("Addresses() (-want +got):\n%s", diff)
	}

	if err := f.SetAddresses(ctx, []netip.Addr{vip6}); err != nil {
		t.Fatal(err)
	}
	f.arp.inject(t, arpRequest(t, peerMAC, peer4, vip4)) // not answered any more
	if got := f.Counters().Addresses(); len(got) != 1 || got[0].Addr != vip6 {
		t.Errorf("after removing %s: Addresses() = %+v, want only %s", vip4, got, vip6)
	}

	if err := f.SetAddresses(ctx, []netip.Addr{vip4, vip6}); err != nil {
		t.Fatal(err)
	}
	got := f.Counters().Addresses()
	if len(got) != 2 || got[0].Addr != vip4 || got[0].RequestsReceived != 0 || got[0].GratuitousSent != 2 {
		t.Errorf("after adding %s again: Addresses() = %+v, want it from zero (2 gratuitous frames)", vip4, got)
	}

	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := f.Counters().Addresses(); len(got) != 0 {
		t.Errorf("after Close: Addresses() = %+v, want none", got)
	}
}

// TestAddressCountersShared checks that Interfaces sharing Counters keep
// one entry per interface and address, and that an Interface replacing
// another of the same name (opened before the old one is closed) keeps
// the address's counters.
func TestAddressCountersShared(t *testing.T) {
	ctx := context.Background()
	c := new(Counters)
	opts := Options{Counters: c, AnnounceSchedule: []time.Duration{0}}
	open := func(name string) *fakeIface {
		f := &fakeIface{arp: newFakeConn(), ndp: newFakeConn(), ctl: &fakeControl{groups: map[netip.Addr]bool{}}}
		f.ctl.up.Store(true)
		f.Interface = newInterface(name, ourMAC, sockets{arp: f.arp, ndp: f.ndp, ctl: f.ctl}, opts)
		t.Cleanup(func() { _ = f.Close() })
		return f
	}
	a, b := open("eth0"), open("eth1")
	for _, f := range []*fakeIface{a, b} {
		if err := f.SetAddresses(ctx, []netip.Addr{vip4}); err != nil {
			t.Fatal(err)
		}
	}
	a.arp.inject(t, arpRequest(t, peerMAC, peer4, vip4))
	got := c.Addresses()
	if len(got) != 2 || got[0].Interface != "eth0" || got[0].RequestsReceived != 1 ||
		got[1].Interface != "eth1" || got[1].RequestsReceived != 0 {
		t.Fatalf("Addresses() = %+v, want %s on eth0 (1 request) and eth1 (none)", got, vip4)
	}

	a2 := open("eth0")
	if err := a2.SetAddresses(ctx, []netip.Addr{vip4}); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	got = c.Addresses()
	if len(got) != 2 || got[0].Interface != "eth0" || got[0].RequestsReceived != 1 {
		t.Errorf("after replacing eth0: Addresses() = %+v, want eth0's counts kept", got)
	}
	for _, f := range []*fakeIface{a2, b} {
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.Addresses(); len(got) != 0 {
		t.Errorf("after closing all: Addresses() = %+v, want none", got)
	}
}

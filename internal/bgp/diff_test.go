package bgp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func ptr[T any](v T) *T { return &v }

func routeMap(rs ...Route) map[netip.Prefix]Route {
	m := map[netip.Prefix]Route{}
	for _, r := range rs {
		m[r.Prefix] = r
	}
	return m
}

var cmpAddr = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })
var cmpPrefix = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })

func TestDiffRoutes(t *testing.T) {
	a := Route{Prefix: netip.MustParsePrefix("10.0.0.1/32")}
	b := Route{Prefix: netip.MustParsePrefix("10.0.0.2/32")}
	v6 := Route{Prefix: netip.MustParsePrefix("fd00::1/128")}
	aComm := a
	aComm.Communities = []Community{1}
	aLP := a
	aLP.LocalPref = ptr(uint32(200))
	aLP2 := a
	aLP2.LocalPref = ptr(uint32(200))
	aNH := a
	aNH.NextHopIPv4 = netip.MustParseAddr("10.1.1.1")
	aPeers := a
	aPeers.Peers = []string{"x"}

	tests := []struct {
		name               string
		have, want         map[netip.Prefix]Route
		announce, withdraw []Route
	}{
		{name: "empty"},
		{name: "add to nothing", want: routeMap(b, a, v6), announce: []Route{a, b, v6}},
		{name: "withdraw all", have: routeMap(a, v6), withdraw: []Route{a, v6}},
		{name: "unchanged", have: routeMap(a, b), want: routeMap(a, b)},
		{name: "swap", have: routeMap(a), want: routeMap(b), announce: []Route{b}, withdraw: []Route{a}},
		{name: "community changed", have: routeMap(a), want: routeMap(aComm), announce: []Route{aComm}},
		{name: "local pref set", have: routeMap(a), want: routeMap(aLP), announce: []Route{aLP}},
		{name: "same local pref, other pointer", have: routeMap(aLP), want: routeMap(aLP2)},
		{name: "next hop changed", have: routeMap(a), want: routeMap(aNH), announce: []Route{aNH}},
		{name: "peers ignored", have: routeMap(a), want: routeMap(aPeers)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			announce, withdraw := diffRoutes(tt.have, tt.want)
			if d := cmp.Diff(tt.announce, announce, cmpAddr, cmpPrefix); d != "" {
				t.Errorf("announce (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.withdraw, withdraw, cmpAddr, cmpPrefix); d != "" {
				t.Errorf("withdraw (-want +got):\n%s", d)
			}
		})
	}
}

func TestRoutesFor(t *testing.T) {
	all := Route{Prefix: netip.MustParsePrefix("10.0.0.1/32")}
	onlyX := Route{Prefix: netip.MustParsePrefix("10.0.0.2/32"), Peers: []string{"x"}}
	unmasked := Route{Prefix: netip.MustParsePrefix("10.0.1.7/24")}
	got, err := routesFor("y", []Route{all, onlyX, unmasked})
	if err != nil {
		t.Fatal(err)
	}
	masked := unmasked
	masked.Prefix = netip.MustParsePrefix("10.0.1.0/24")
	if d := cmp.Diff(routeMap(all, masked), got, cmpAddr, cmpPrefix); d != "" {
		t.Errorf("routes for y (-want +got):\n%s", d)
	}
	got, err = routesFor("x", []Route{all, onlyX})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(routeMap(all, onlyX), got, cmpAddr, cmpPrefix); d != "" {
		t.Errorf("routes for x (-want +got):\n%s", d)
	}
	if _, err := routesFor("x", []Route{all, all}); err == nil {
		t.Error("a prefix given twice for one peer: want an error")
	}
	if _, err := routesFor("x", []Route{onlyX, {Prefix: onlyX.Prefix, Peers: []string{"z"}}}); err != nil {
		t.Errorf("the same prefix for different peers: %v", err)
	}
}

func TestDiffPeers(t *testing.T) {
	p := func(name, addr string) Peer {
		return Peer{Name: name, Address: netip.MustParseAddr(addr), MyASN: 1, PeerASN: 2}
	}
	a, b, c := p("a", "10.0.0.1"), p("b", "10.0.0.2"), p("c", "10.0.0.3")
	a2 := a
	a2.Password = "new"
	withBFD := a
	withBFD.BFD, withBFD.SourceAddress = true, netip.MustParseAddr("10.0.0.100")
	fastBFD := withBFD
	fastBFD.BFDProfile.ReceiveInterval = 50 * time.Millisecond
	fastBFDNewPass := fastBFD
	fastBFDNewPass.Password = "new"
	tests := []struct {
		name    string
		have    []Peer
		want    []Peer
		create  []Peer
		remove  []string
		rebfd   []Peer
		wantErr bool
	}{
		{name: "empty"},
		{name: "add", want: []Peer{c, a}, create: []Peer{a, c}},
		{name: "remove", have: []Peer{a, b}, want: []Peer{b}, remove: []string{"a"}},
		{name: "unchanged", have: []Peer{a, b}, want: []Peer{b, a}},
		{name: "changed resets", have: []Peer{a, b}, want: []Peer{a2, b}, create: []Peer{a2}, remove: []string{"a"}},
		{name: "mixed", have: []Peer{a, b}, want: []Peer{a2, c}, create: []Peer{a2, c}, remove: []string{"a", "b"}},
		{name: "BFD profile alone: BFD replaced, BGP kept", have: []Peer{withBFD, b}, want: []Peer{fastBFD, b}, rebfd: []Peer{fastBFD}},
		{name: "BFD profile and more: reset", have: []Peer{withBFD}, want: []Peer{fastBFDNewPass}, create: []Peer{fastBFDNewPass}, remove: []string{"a"}},
		{name: "BFD turned on: reset", have: []Peer{a}, want: []Peer{withBFD}, create: []Peer{withBFD}, remove: []string{"a"}},
		{name: "duplicate name", want: []Peer{a, a2}, wantErr: true},
		{name: "empty name", want: []Peer{{Address: netip.MustParseAddr("10.0.0.9")}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			have := map[string]Peer{}
			for _, h := range tt.have {
				have[h.Name] = h
			}
			create, remove, rebfd, err := diffPeers(have, tt.want)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if d := cmp.Diff(tt.create, create, cmpAddr); d != "" {
				t.Errorf("create (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.remove, remove); d != "" {
				t.Errorf("remove (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.rebfd, rebfd, cmpAddr); d != "" {
				t.Errorf("rebfd (-want +got):\n%s", d)
			}
		})
	}
}

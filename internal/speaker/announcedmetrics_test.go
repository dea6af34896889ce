package speaker

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ironlb/ironlb/internal/layer2"
	"github.com/ironlb/ironlb/internal/speaker/decide"
)

func TestAnnouncedCollector(t *testing.T) {
	a := netip.MustParseAddr
	var m announcedMetrics
	col := newAnnouncedCollector(&m, "n1")

	// Layer 2: only the addresses n1 is elected for; a shared address
	// gives one series per Service.
	m.setLayer2(decide.Result{Self: "n1", IPs: []decide.IP{
		{Addr: a("10.0.0.1"), Services: []string{"ns/dns-tcp", "ns/dns-udp"}, Node: "n1", Interfaces: []string{"eth0"}},
		{Addr: a("10.0.0.2"), Services: []string{"ns/other"}, Node: "n2"},
		{Addr: a("10.0.0.3"), Services: []string{"ns/nobody"}, Reason: "no eligible node"},
		{Addr: a("fd00::1"), Services: []string{"ns/dns-tcp"}, Node: "n1", Interfaces: []string{"eth0"}},
	}})
	// BGP: a prefix sent to two peers and an aggregate covering an
	// address a /32 covers too give one series; an address of the
	// Service no route covers (its pool has no BGPAdvertisement) none.
	svcs := []decide.Service{
		{Key: "ns/web", IPs: []netip.Addr{a("10.1.0.5"), a("fd01::5")}},
		{Key: "ns/api", IPs: []netip.Addr{a("10.1.0.6")}},
		{Key: "ns/unrouted", IPs: []netip.Addr{a("10.9.0.1")}},
	}
	m.setBGP(&decide.BGPResult{
		Routes: []decide.BGPRoute{
			{Prefix: netip.MustParsePrefix("10.1.0.0/24"), Peers: []string{"r1"}, Services: []string{"ns/api", "ns/web"}},
			{Prefix: netip.MustParsePrefix("10.1.0.5/32"), Peers: []string{"r1"}, Services: []string{"ns/web"}},
			{Prefix: netip.MustParsePrefix("10.1.0.5/32"), Peers: []string{"r2"}, Services: []string{"ns/web"}},
		},
		Services: map[string][]string{"ns/api": {"r1"}, "ns/web": {"r1", "r2"}},
	}, svcs)

	want := `
# HELP ironlb_speaker_announced 1 for each address of a Service this node announces (layer 2: the node elected to answer for it; BGP: every node sending a route covering it), absent otherwise. This is the decision, not a proof that neighbours or routers have taken it.
# TYPE ironlb_speaker_announced gauge
ironlb_speaker_announced{ip="10.0.0.1",node="n1",protocol="layer2",service="ns/dns-tcp"} 1
ironlb_speaker_announced{ip="fd00::1",node="n1",protocol="layer2",service="ns/dns-tcp"} 1
ironlb_speaker_announced{ip="10.0.0.1",node="n1",protocol="layer2",service="ns/dns-udp"} 1
ironlb_speaker_announced{ip="10.1.0.5",node="n1",protocol="bgp",service="ns/web"} 1
ironlb_speaker_announced{ip="10.1.0.6",node="n1",protocol="bgp",service="ns/api"} 1
`
	if err := testutil.CollectAndCompare(col, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(col); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(col); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Gather(); err != nil {
		t.Errorf("gathering: %v", err)
	}

	// Another node elected, the Services gone: no series left.
	m.setLayer2(decide.Result{Self: "n1", IPs: []decide.IP{
		{Addr: a("10.0.0.1"), Services: []string{"ns/dns-tcp", "ns/dns-udp"}, Node: "n2"},
	}})
	m.setBGP(&decide.BGPResult{}, nil)
	if n := testutil.CollectAndCount(col); n != 0 {
		t.Errorf("%d series after nothing is announced, want 0", n)
	}
}

func TestLayer2CollectorAddresses(t *testing.T) {
	col := newLayer2Collector(&layer2.Counters{}, func() (int, int) { return 2, 0 }, func() int { return 1 })
	col.addresses = func() []layer2.AddressCount {
		return []layer2.AddressCount{
			{Interface: "eth0", Addr: netip.MustParseAddr("10.0.0.1"), RequestsReceived: 7, ResponsesSent: 6, GratuitousSent: 8},
			{Interface: "eth1", Addr: netip.MustParseAddr("fd00::1"), RequestsReceived: 1, ResponsesSent: 1, GratuitousSent: 4},
		}
	}
	want := `
# HELP ironlb_layer2_address_gratuitous_sent_total Gratuitous ARP and unsolicited neighbor advertisement frames sent for an address this node answers for, on one interface.
# TYPE ironlb_layer2_address_gratuitous_sent_total counter
ironlb_layer2_address_gratuitous_sent_total{interface="eth0",ip="10.0.0.1"} 8
ironlb_layer2_address_gratuitous_sent_total{interface="eth1",ip="fd00::1"} 4
# HELP ironlb_layer2_address_requests_received_total ARP requests and neighbor solicitations received for an address this node answers for, on one interface.
# TYPE ironlb_layer2_address_requests_received_total counter
ironlb_layer2_address_requests_received_total{interface="eth0",ip="10.0.0.1"} 7
ironlb_layer2_address_requests_received_total{interface="eth1",ip="fd00::1"} 1
# HELP ironlb_layer2_address_responses_sent_total ARP replies and solicited neighbor advertisements sent for an address this node answers for, on one interface.
# TYPE ironlb_layer2_address_responses_sent_total counter
ironlb_layer2_address_responses_sent_total{interface="eth0",ip="10.0.0.1"} 6
ironlb_layer2_address_responses_sent_total{interface="eth1",ip="fd00::1"} 1
`
	names := []string{Layer2AddressGratuitousSentTotal, Layer2AddressRequestsReceivedTotal, Layer2AddressResponsesSentTotal}
	if err := testutil.CollectAndCompare(col, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(col); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	col.addresses = func() []layer2.AddressCount { return nil }
	if n := testutil.CollectAndCount(col, names...); n != 0 {
		t.Errorf("%d per-address series with no address answered for, want 0", n)
	}
}

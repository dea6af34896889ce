package decide

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/config"
)

// coverConfig builds the test world's configuration with the given
// advertisements and, when peers is true, the BGP test world's peers
// (router: every node; rr: zone b).
func coverConfig(t *testing.T, l2 []v1beta1.L2Advertisement, bgp []v1beta1.BGPAdvertisement, peers bool) *config.Snapshot {
	t.Helper()
	objs := config.Objects{IPAddressPools: pools(), L2Advertisements: l2, BGPAdvertisements: bgp}
	if peers {
		zoneB := metav1.LabelSelector{MatchLabels: map[string]string{"zone": "b"}}
		objs.BGPPeers = []v1beta1.BGPPeer{bgpPeer("router", 64512, "10.0.0.1"), bgpPeer("rr", 64513, "10.0.0.2", zoneB)}
	}
	res := config.Build(config.Input{Objects: objs})
	if !res.Valid() {
		t.Fatalf("test configuration invalid: %v", res.Problems())
	}
	return res.Snapshot
}

func TestCover(t *testing.T) {
	all := adv("all", v1beta1.L2AdvertisementSpec{})
	// mainOnly leaves pool nol2 without an L2Advertisement.
	mainOnly := adv("main", v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"main"}})
	nosuch := adv("nosuch", v1beta1.L2AdvertisementSpec{Interfaces: []string{"nosuch0"}})
	bgpAll := bgpAdv("all", v1beta1.BGPAdvertisementSpec{})
	noL2Reason := `no L2Advertisement selects IPAddressPool "nol2"`
	noIfcReason := "no node may announce it: of 3 nodes, 3 without an interface whose subnet contains 10.0.0.150 (or named in the L2Advertisement's interfaces)"
	zoneC := []metav1.LabelSelector{{MatchLabels: map[string]string{"zone": "c"}}}

	tests := []struct {
		name     string
		l2       []v1beta1.L2Advertisement
		bgp      []v1beta1.BGPAdvertisement
		peers    bool
		members  []string
		edit     func([]Node)
		services []Service
		keys     map[string]bool
		want     map[string]Coverage
	}{{
		name:     "layer 2: an elected node announces every address",
		l2:       []v1beta1.L2Advertisement{all},
		services: []Service{svc("ns/a", ipMain, ipMain6)},
		want:     map[string]Coverage{"ns/a": {Pooled: true}},
	}, {
		name:     "an address in no pool: not pooled, nothing to say",
		l2:       []v1beta1.L2Advertisement{all},
		services: []Service{svc("ns/a", ipNoPool)},
		want:     map[string]Coverage{"ns/a": {}},
	}, {
		name:     "layer 2: no node has the listed interface; no BGP in use, so no BGP reason",
		l2:       []v1beta1.L2Advertisement{nosuch},
		services: []Service{svc("ns/a", ipMain)},
		want: map[string]Coverage{"ns/a": {Pooled: true, Missing: []Missing{{
			Addr: ipMain, Pool: "main",
			L2: "no node may announce it: of 3 nodes, 3 without an interface whose subnet contains 10.0.0.150 (or named in the L2Advertisement's interfaces)",
		}}}},
	}, {
		name:     "keys limit the Services looked at",
		l2:       []v1beta1.L2Advertisement{all},
		services: []Service{svc("ns/a", ipMain), svc("ns/b", ipNoL2)},
		keys:     map[string]bool{"ns/a": true},
		want:     map[string]Coverage{"ns/a": {Pooled: true}},
	}, {
		name:     "one address of two missing; the address outside every pool is ignored",
		l2:       []v1beta1.L2Advertisement{mainOnly},
		services: []Service{svc("ns/a", ipNoL2, ipMain, ipNoPool)},
		want:     map[string]Coverage{"ns/a": {Pooled: true, Missing: []Missing{{Addr: ipNoL2, Pool: "nol2", L2: noL2Reason}}}},
	}, {
		name:     "BGP covers what layer 2 does not",
		l2:       []v1beta1.L2Advertisement{mainOnly},
		bgp:      []v1beta1.BGPAdvertisement{bgpAll},
		peers:    true,
		services: []Service{svc("ns/a", ipNoL2, ipMain)},
		want:     map[string]Coverage{"ns/a": {Pooled: true}},
	}, {
		name:     "peers but no BGPAdvertisement of the pool",
		peers:    true,
		bgp:      []v1beta1.BGPAdvertisement{bgpAdv("other", v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"other"}})},
		services: []Service{svc("ns/a", ipNoL2)},
		want: map[string]Coverage{"ns/a": {Pooled: true, Missing: []Missing{{
			Addr: ipNoL2, Pool: "nol2", L2: noL2Reason, BGP: `no BGPAdvertisement selects IPAddressPool "nol2"`,
		}}}},
	}, {
		name:     "a BGPAdvertisement but no BGPPeer; a node not running a speaker",
		bgp:      []v1beta1.BGPAdvertisement{bgpAll},
		members:  []string{"node1", "node2"},
		services: []Service{svc("ns/a", ipNoL2)},
		want: map[string]Coverage{"ns/a": {Pooled: true, Missing: []Missing{{
			Addr: ipNoL2, Pool: "nol2", L2: noL2Reason,
			BGP: "no node announces it: of 3 nodes, 1 not running a live speaker, 2 selected by no BGPPeer",
		}}}},
	}, {
		name:  "per-node reasons, each node under its first: excluded, unavailable, not selected by the advertisement",
		l2:    []v1beta1.L2Advertisement{nosuch},
		bgp:   []v1beta1.BGPAdvertisement{bgpAdv("c", v1beta1.BGPAdvertisementSpec{NodeSelectors: zoneC})},
		peers: true,
		edit: func(ns []Node) {
			ns[0].Labels = map[string]string{LabelExcludeFromLoadBalancers: ""}
			ns[1].NetworkUnavailable = true
		},
		services: []Service{svc("ns/a", ipMain)},
		want: map[string]Coverage{"ns/a": {Pooled: true, Missing: []Missing{{
			Addr: ipMain, Pool: "main",
			L2: "no node may announce it: of 3 nodes, 1 with NetworkUnavailable=True, 1 labelled " + LabelExcludeFromLoadBalancers +
				", 1 without an interface whose subnet contains 10.0.0.150 (or named in the L2Advertisement's interfaces)",
			BGP: "no node announces it: of 3 nodes, 1 labelled " + LabelExcludeFromLoadBalancers +
				`, 1 with NetworkUnavailable=True, 1 not selected, with the Service and one of its BGPPeers, by a BGPAdvertisement of IPAddressPool "main"`,
		}}}},
	}, {
		name:     "externalTrafficPolicy Local with no ready endpoint anywhere",
		l2:       []v1beta1.L2Advertisement{all},
		bgp:      []v1beta1.BGPAdvertisement{bgpAll},
		peers:    true,
		services: []Service{local("ns/a", nil, ipMain)},
		want: map[string]Coverage{"ns/a": {Pooled: true, Missing: []Missing{{
			Addr: ipMain, Pool: "main",
			L2:  "no node may announce it: of 3 nodes, 3 without a ready endpoint (externalTrafficPolicy: Local)",
			BGP: "no node announces it: of 3 nodes, 3 without a ready endpoint (externalTrafficPolicy: Local)",
		}}}},
	}, {
		name:     "externalTrafficPolicy Local: the node with the endpoint announces over BGP",
		l2:       []v1beta1.L2Advertisement{nosuch},
		bgp:      []v1beta1.BGPAdvertisement{bgpAll},
		peers:    true,
		services: []Service{local("ns/a", []string{"node3"}, ipMain)},
		want:     map[string]Coverage{"ns/a": {Pooled: true}},
	}, {
		name:  "BGP route of the Service's own: a route for another Service holding the address does not count",
		l2:    []v1beta1.L2Advertisement{nosuch},
		bgp:   []v1beta1.BGPAdvertisement{bgpAdv("web", v1beta1.BGPAdvertisementSpec{ServiceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"app": "web"}}}})},
		peers: true,
		services: []Service{
			labelled(svc("ns/web", ipMain), "app", "web"),
			labelled(svc("ns/db", ipMain), "app", "db"),
		},
		want: map[string]Coverage{"ns/web": {Pooled: true}, "ns/db": {Pooled: true, Missing: []Missing{{
			Addr: ipMain, Pool: "main", L2: noIfcReason,
			BGP: `no node announces it: of 3 nodes, 3 not selected, with the Service and one of its BGPPeers, by a BGPAdvertisement of IPAddressPool "main"`,
		}}}},
	}, {
		name:  "an aggregated route covers the address",
		l2:    []v1beta1.L2Advertisement{nosuch},
		bgp:   []v1beta1.BGPAdvertisement{bgpAdv("agg", v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"main"}, AggregationLength: ptr.To[int32](26)})},
		peers: true, members: []string{"node2"},
		services: []Service{svc("ns/a", ipMain)},
		want:     map[string]Coverage{"ns/a": {Pooled: true}},
	}, {
		name:     "no live speaker at all",
		l2:       []v1beta1.L2Advertisement{all},
		bgp:      []v1beta1.BGPAdvertisement{bgpAll},
		peers:    true,
		members:  []string{},
		services: []Service{svc("ns/a", ipMain)},
		want: map[string]Coverage{"ns/a": {Pooled: true, Missing: []Missing{{
			Addr: ipMain, Pool: "main",
			L2:  "no node may announce it: of 3 nodes, 3 not running a live speaker",
			BGP: "no node announces it: of 3 nodes, 3 not running a live speaker",
		}}}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := nodes()
			if tt.edit != nil {
				tt.edit(ns)
			}
			members := tt.members
			if members == nil {
				members = allNodes
			}
			in := &Input{Config: coverConfig(t, tt.l2, tt.bgp, tt.peers), Nodes: ns, Members: members, Services: tt.services, Self: "node1"}
			got := Cover(in, Decide(in), tt.keys)
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("Cover (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCoverageMessage(t *testing.T) {
	if m := (Coverage{Pooled: true}).Message(); m != "" {
		t.Errorf("announced: message %q, want none", m)
	}
	c := Coverage{Pooled: true, Missing: []Missing{
		{Addr: ipMain, L2: "no node may announce it: of 3 nodes, 3 without an interface ..."},
		{Addr: ipMain6, L2: `no L2Advertisement selects IPAddressPool "main"`, BGP: "no node announces it: of 3 nodes, 3 selected by no BGPPeer"},
	}}
	want := "10.0.0.150 is not announced. Layer 2: no node may announce it: of 3 nodes, 3 without an interface .... " +
		`fd00::150 is not announced. Layer 2: no L2Advertisement selects IPAddressPool "main". BGP: no node announces it: of 3 nodes, 3 selected by no BGPPeer.`
	if got := c.Message(); got != want {
		t.Errorf("message\n got %q\nwant %q", got, want)
	}
	if c.Announced() || !(Coverage{Pooled: true}).Announced() {
		t.Error("Announced disagrees with Missing")
	}
}

// TestCoverIsStable: the same input gives the same message, whatever the
// order of the Services, nodes and members (every speaker must write the
// same condition).
func TestCoverIsStable(t *testing.T) {
	cfg := coverConfig(t, []v1beta1.L2Advertisement{adv("nosuch", v1beta1.L2AdvertisementSpec{Interfaces: []string{"nosuch0"}})},
		[]v1beta1.BGPAdvertisement{bgpAdv("c", v1beta1.BGPAdvertisementSpec{NodeSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"zone": "b"}}}, Peers: []string{"rr"}})}, true)
	svcs := []Service{svc("ns/a", ipMain, ipMain6), local("ns/b", []string{"node1"}, ipOther)}
	in := &Input{Config: cfg, Nodes: nodes(), Members: []string{"node1", "node3"}, Services: svcs}
	in.Nodes[2].NetworkUnavailable = true // node3: no BGP
	want := Cover(in, Decide(in), nil)
	rev := func(s []Node) []Node {
		out := make([]Node, len(s))
		for i := range s {
			out[len(s)-1-i] = s[i]
		}
		return out
	}
	in2 := &Input{Config: cfg, Nodes: rev(in.Nodes), Members: []string{"node3", "node1"}, Services: []Service{svcs[1], svcs[0]}, Self: "node3"}
	got := Cover(in2, Decide(in2), nil)
	for key, c := range want {
		if got[key].Message() != c.Message() {
			t.Errorf("%s: message\n%q\nwith the inputs reordered\n%q", key, c.Message(), got[key].Message())
		}
	}
	if m := want["ns/a"].Message(); !strings.Contains(m, "fd00::150 is not announced") || !strings.Contains(m, "BGP: ") {
		t.Errorf("ns/a message %q", m)
	}
}

// BenchmarkCover: 100 nodes, 100 Services; "layer2": all announced in
// layer 2 (the usual case, no DecideBGP); "bgp": none announced in layer
// 2, their pool has a BGPAdvertisement no node gets, so DecideBGP runs for
// every node.
func BenchmarkCover(b *testing.B) {
	var ns []Node
	var members []string
	for i := range 100 {
		name := fmt.Sprintf("node%d", i)
		ns = append(ns, Node{Name: name, Interfaces: []Interface{{Name: "eth0", Prefixes: pfx("10.0.0.0/24", "fd00::/64")}}})
		members = append(members, name)
	}
	var svcs []Service
	for i := range 100 {
		svcs = append(svcs, svc(fmt.Sprintf("ns/s%d", i), netip.AddrFrom4([4]byte{10, 0, 0, byte(100 + i)})))
	}
	for _, c := range []struct {
		name string
		l2   v1beta1.L2AdvertisementSpec
	}{{"layer2", v1beta1.L2AdvertisementSpec{}}, {"bgp", v1beta1.L2AdvertisementSpec{Interfaces: []string{"nosuch0"}}}} {
		b.Run(c.name, func(b *testing.B) {
			cfg := config.Build(config.Input{Objects: config.Objects{
				IPAddressPools:    pools(),
				L2Advertisements:  []v1beta1.L2Advertisement{adv("a", c.l2)},
				BGPAdvertisements: []v1beta1.BGPAdvertisement{bgpAdv("a", v1beta1.BGPAdvertisementSpec{NodeSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"zone": "none"}}}})},
				BGPPeers:          []v1beta1.BGPPeer{bgpPeer("router", 64512, "10.0.0.1")},
			}}).Snapshot
			in := Input{Config: cfg, Nodes: ns, Members: members, Services: svcs, Self: "node7"}
			res := Decide(&in)
			b.ReportAllocs()
			for b.Loop() {
				Cover(&in, res, nil)
			}
		})
	}
}

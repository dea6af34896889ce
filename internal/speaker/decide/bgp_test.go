package decide

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/config"
)

// The BGP test world adds to the pools of helpers_test.go two peers: an
// eBGP router (every node) and an iBGP route reflector (nodes in zone b).

func bgpPeer(name string, peerASN uint32, addr string, sel ...metav1.LabelSelector) v1beta1.BGPPeer {
	return v1beta1.BGPPeer{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: config.DefaultNamespace},
		Spec:       v1beta1.BGPPeerSpec{MyASN: 64513, PeerASN: peerASN, PeerAddress: addr, NodeSelectors: sel},
	}
}

func bgpAdv(name string, spec v1beta1.BGPAdvertisementSpec) v1beta1.BGPAdvertisement {
	return v1beta1.BGPAdvertisement{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: config.DefaultNamespace}, Spec: spec}
}

func bgpSnapshot(t testing.TB, advs ...v1beta1.BGPAdvertisement) *config.Snapshot {
	t.Helper()
	zoneB := metav1.LabelSelector{MatchLabels: map[string]string{"zone": "b"}}
	res := config.Build(config.Input{Objects: config.Objects{
		IPAddressPools:    pools(),
		BGPAdvertisements: advs,
		BGPPeers:          []v1beta1.BGPPeer{bgpPeer("router", 64512, "10.0.0.1"), bgpPeer("rr", 64513, "10.0.0.2", zoneB)},
		Communities: []v1beta1.Community{{
			ObjectMeta: metav1.ObjectMeta{Name: "aliases", Namespace: config.DefaultNamespace},
			Spec: v1beta1.CommunitySpec{Communities: []v1beta1.CommunityAlias{
				{Name: "no-advertise", Value: "65535:65282"}, {Name: "big", Value: "large:64513:7:7"},
			}},
		}},
	}})
	if !res.Valid() {
		t.Fatalf("test configuration invalid: %v", res.Problems())
	}
	return res.Snapshot
}

func comm(s string) config.BGPCommunity {
	c, err := config.ParseCommunity(s)
	if err != nil {
		panic(err)
	}
	return c
}

func comms(s ...string) []config.BGPCommunity {
	out := make([]config.BGPCommunity, len(s))
	for i, v := range s {
		out[i] = comm(v)
	}
	return out
}

func node(t testing.TB, name string) *Node {
	t.Helper()
	for _, n := range nodes() {
		if n.Name == name {
			return &n
		}
	}
	t.Fatalf("no node %s", name)
	return nil
}

func bsvc(key, communities string, s Service) BGPService {
	s.Key = key
	return BGPService{Service: s, Communities: communities}
}

func peerNames(ps []*config.Peer) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func TestDecideBGP(t *testing.T) {
	all := bgpAdv("all", v1beta1.BGPAdvertisementSpec{})
	p32 := netip.MustParsePrefix("10.0.0.150/32")
	p128 := netip.MustParsePrefix("fd00::150/128")
	zoneA := []metav1.LabelSelector{{MatchLabels: map[string]string{"zone": "a"}}}

	tests := []struct {
		name     string
		advs     []v1beta1.BGPAdvertisement
		self     string
		edit     func(*Node)
		services []BGPService
		peers    []string
		routes   []BGPRoute
		svcPeers map[string][]string
		invalid  map[string]string // service key -> text one of its problems contains
		reason   string
	}{{
		name:     "an empty advertisement announces /32 and /128 to every peer of the node",
		advs:     []v1beta1.BGPAdvertisement{all},
		self:     "node1",
		services: []BGPService{bsvc("ns/a", "", svc("", ipMain, ipMain6))},
		peers:    []string{"router"},
		routes: []BGPRoute{
			{Prefix: p32, Peers: []string{"router"}, Communities: []config.BGPCommunity{}, Services: []string{"ns/a"}},
			{Prefix: p128, Peers: []string{"router"}, Communities: []config.BGPCommunity{}, Services: []string{"ns/a"}},
		},
		svcPeers: map[string][]string{"ns/a": {"router"}},
	}, {
		name: "peer nodeSelectors: node2 also peers with the route reflector; localPref goes to iBGP only, so the routes differ",
		advs: []v1beta1.BGPAdvertisement{bgpAdv("lp", v1beta1.BGPAdvertisementSpec{LocalPref: 200, Communities: []string{"64513:10"}})},
		self: "node2", services: []BGPService{bsvc("ns/a", "", svc("", ipMain))},
		peers: []string{"router", "rr"},
		routes: []BGPRoute{
			{Prefix: p32, Peers: []string{"router"}, Communities: comms("64513:10"), Services: []string{"ns/a"}},
			{Prefix: p32, Peers: []string{"rr"}, Communities: comms("64513:10"), LocalPref: 200, Services: []string{"ns/a"}},
		},
		svcPeers: map[string][]string{"ns/a": {"router", "rr"}},
	}, {
		name: "service selectors: only the matching Service's routes, with that advertisement's communities",
		advs: []v1beta1.BGPAdvertisement{
			bgpAdv("web", v1beta1.BGPAdvertisementSpec{
				ServiceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"app": "web"}}},
				Communities:      []string{"64513:80"},
			}),
		},
		self: "node1",
		services: []BGPService{bsvc("ns/web", "", labelled(svc("", ipMain), "app", "web")),
			bsvc("ns/db", "", labelled(svc("", ipMain6), "app", "db"))},
		peers:    []string{"router"},
		routes:   []BGPRoute{{Prefix: p32, Peers: []string{"router"}, Communities: comms("64513:80"), Services: []string{"ns/web"}}},
		svcPeers: map[string][]string{"ns/web": {"router"}},
	}, {
		name: "aggregation lengths mask the prefix; two addresses in one aggregate give one route",
		advs: []v1beta1.BGPAdvertisement{bgpAdv("agg", v1beta1.BGPAdvertisementSpec{
			IPAddressPools: []string{"main"}, AggregationLength: ptr.To[int32](26), AggregationLengthV6: ptr.To[int32](120)})},
		self: "node1",
		services: []BGPService{bsvc("ns/a", "", svc("", ipMain, ipMain6)),
			bsvc("ns/b", "", svc("", netip.MustParseAddr("10.0.0.151")))},
		peers: []string{"router"},
		routes: []BGPRoute{
			{Prefix: netip.MustParsePrefix("10.0.0.128/26"), Peers: []string{"router"}, Communities: []config.BGPCommunity{}, Services: []string{"ns/a", "ns/b"}},
			{Prefix: netip.MustParsePrefix("fd00::100/120"), Peers: []string{"router"}, Communities: []config.BGPCommunity{}, Services: []string{"ns/a"}},
		},
		svcPeers: map[string][]string{"ns/a": {"router"}, "ns/b": {"router"}},
	}, {
		name: "two advertisements of one prefix merge: union of communities, the localPref set (config refuses two values); peers filter",
		advs: []v1beta1.BGPAdvertisement{
			bgpAdv("a", v1beta1.BGPAdvertisementSpec{Communities: []string{"64513:1", "no-advertise"}}),
			bgpAdv("b", v1beta1.BGPAdvertisementSpec{Communities: []string{"large:1:2:3"}, LocalPref: 300, Peers: []string{"rr"}}),
		},
		self: "node3", services: []BGPService{bsvc("ns/a", "", svc("", ipMain))},
		peers: []string{"router", "rr"},
		routes: []BGPRoute{
			{Prefix: p32, Peers: []string{"router"}, Communities: comms("64513:1", "65535:65282"), Services: []string{"ns/a"}},
			{Prefix: p32, Peers: []string{"rr"}, Communities: comms("64513:1", "65535:65282", "large:1:2:3"), LocalPref: 300, Services: []string{"ns/a"}},
		},
		svcPeers: map[string][]string{"ns/a": {"router", "rr"}},
	}, {
		name: "asPathPrepend: the highest of the advertisements of one route (config refuses two values)",
		advs: []v1beta1.BGPAdvertisement{
			bgpAdv("a", v1beta1.BGPAdvertisementSpec{AsPathPrepend: 3}),
			bgpAdv("b", v1beta1.BGPAdvertisementSpec{Peers: []string{"rr"}}),
		},
		self: "node3", services: []BGPService{bsvc("ns/a", "", svc("", ipMain))},
		peers: []string{"router", "rr"},
		routes: []BGPRoute{
			{Prefix: p32, Peers: []string{"router", "rr"}, Communities: comms(), ASPathPrepend: 3, Services: []string{"ns/a"}},
		},
		svcPeers: map[string][]string{"ns/a": {"router", "rr"}},
	}, {
		name:     "an advertisement whose peers filter names none of the node's peers announces nothing",
		advs:     []v1beta1.BGPAdvertisement{bgpAdv("rr-only", v1beta1.BGPAdvertisementSpec{Peers: []string{"rr"}})},
		self:     "node1",
		services: []BGPService{bsvc("ns/a", "", svc("", ipMain))},
		peers:    []string{"router"},
		svcPeers: map[string][]string{},
	}, {
		name:     "advertisement nodeSelectors: zone a only",
		advs:     []v1beta1.BGPAdvertisement{bgpAdv("a", v1beta1.BGPAdvertisementSpec{NodeSelectors: zoneA})},
		self:     "node2",
		services: []BGPService{bsvc("ns/a", "", svc("", ipMain))},
		peers:    []string{"router", "rr"},
		svcPeers: map[string][]string{},
	}, {
		name:     "pool selection: an advertisement of pool other does not announce pool main",
		advs:     []v1beta1.BGPAdvertisement{bgpAdv("o", v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"other"}})},
		self:     "node1",
		services: []BGPService{bsvc("ns/a", "", svc("", ipMain)), bsvc("ns/b", "", svc("", ipOther)), bsvc("ns/c", "", svc("", ipNoPool))},
		peers:    []string{"router"},
		routes: []BGPRoute{
			{Prefix: netip.MustParsePrefix("10.0.0.5/32"), Peers: []string{"router"}, Communities: []config.BGPCommunity{}, Services: []string{"ns/b"}},
		},
		svcPeers: map[string][]string{"ns/b": {"router"}},
	}, {
		name: "externalTrafficPolicy Local: only from a node with a ready endpoint",
		advs: []v1beta1.BGPAdvertisement{all},
		self: "node1",
		services: []BGPService{bsvc("ns/here", "", local("", []string{"node1"}, ipMain)),
			bsvc("ns/elsewhere", "", local("", []string{"node2"}, ipOther))},
		peers: []string{"router"},
		routes: []BGPRoute{
			{Prefix: p32, Peers: []string{"router"}, Communities: []config.BGPCommunity{}, Services: []string{"ns/here"}},
		},
		svcPeers: map[string][]string{"ns/here": {"router"}},
	}, {
		name: "the communities annotation adds values and aliases; bad entries are reported and skipped",
		advs: []v1beta1.BGPAdvertisement{bgpAdv("c", v1beta1.BGPAdvertisementSpec{Communities: []string{"64513:1"}})},
		self: "node1",
		services: []BGPService{bsvc("ns/a", " 65000:100, large:1:2:3 ,big,, nope, 70000:1", svc("", ipMain)),
			bsvc("ns/b", "65000:200", svc("", ipOther))},
		peers: []string{"router"},
		routes: []BGPRoute{
			{Prefix: netip.MustParsePrefix("10.0.0.5/32"), Peers: []string{"router"}, Communities: comms("64513:1", "65000:200"), Services: []string{"ns/b"}},
			{Prefix: p32, Peers: []string{"router"}, Communities: comms("64513:1", "65000:100", "large:1:2:3", "large:64513:7:7"), Services: []string{"ns/a"}},
		},
		svcPeers: map[string][]string{"ns/a": {"router"}, "ns/b": {"router"}},
		invalid:  map[string]string{"ns/a": `"nope": no Community object`},
	}, {
		name: "a shared address gets the communities of every Service holding it",
		advs: []v1beta1.BGPAdvertisement{all},
		self: "node1",
		services: []BGPService{bsvc("ns/a", "65000:1", svc("", ipMain)),
			bsvc("ns/b", "65000:2", svc("", ipMain))},
		peers: []string{"router"},
		routes: []BGPRoute{
			{Prefix: p32, Peers: []string{"router"}, Communities: comms("65000:1", "65000:2"), Services: []string{"ns/a", "ns/b"}},
		},
		svcPeers: map[string][]string{"ns/a": {"router"}, "ns/b": {"router"}},
	}, {
		name:     "an excluded node opens no session",
		advs:     []v1beta1.BGPAdvertisement{all},
		self:     "node1",
		edit:     func(n *Node) { n.Labels = map[string]string{LabelExcludeFromLoadBalancers: ""} },
		services: []BGPService{bsvc("ns/a", "", svc("", ipMain))},
		svcPeers: map[string][]string{},
		reason:   "labelled",
	}, {
		name:     "NetworkUnavailable keeps the sessions but withdraws the routes",
		advs:     []v1beta1.BGPAdvertisement{all},
		self:     "node1",
		edit:     func(n *Node) { n.NetworkUnavailable = true },
		services: []BGPService{bsvc("ns/a", "", svc("", ipMain))},
		peers:    []string{"router"},
		svcPeers: map[string][]string{},
		reason:   "NetworkUnavailable",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			self := node(t, tc.self)
			if tc.edit != nil {
				tc.edit(self)
			}
			res := DecideBGP(&BGPInput{Config: bgpSnapshot(t, tc.advs...), Self: self, Services: tc.services})
			if diff := cmp.Diff(tc.peers, peerNames(res.Peers)); diff != "" {
				t.Errorf("peers (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.routes, res.Routes, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
				t.Errorf("routes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.svcPeers, res.Services); diff != "" {
				t.Errorf("services (-want +got):\n%s", diff)
			}
			if len(res.InvalidCommunities) != len(tc.invalid) {
				t.Errorf("invalid communities %v, want keys of %v", res.InvalidCommunities, tc.invalid)
			}
			for key, text := range tc.invalid {
				if got := strings.Join(res.InvalidCommunities[key], "; "); !strings.Contains(got, text) {
					t.Errorf("invalid communities of %s: %q, want %q in it", key, got, text)
				}
			}
			if !strings.Contains(res.Reason, tc.reason) || (tc.reason == "" && res.Reason != "") {
				t.Errorf("reason %q, want %q", res.Reason, tc.reason)
			}
		})
	}
}

func TestDecideBGPWithoutInputs(t *testing.T) {
	if r := DecideBGP(&BGPInput{}); r.Reason == "" || len(r.Peers) != 0 || len(r.Routes) != 0 {
		t.Errorf("no configuration: %+v", r)
	}
	if r := DecideBGP(&BGPInput{Config: bgpSnapshot(t)}); r.Reason == "" || len(r.Peers) != 0 {
		t.Errorf("no node: %+v", r)
	}
}

func TestParseBGPCommunities(t *testing.T) {
	cfg := bgpSnapshot(t)
	vals, bad := ParseBGPCommunities("65000:100,large:1:2:3,no-advertise,65000:100,x:y,large:1:2,", cfg)
	if diff := cmp.Diff(comms("65000:100", "65535:65282", "large:1:2:3"), vals); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	if len(bad) != 2 || !strings.HasPrefix(bad[0], `"x:y"`) || !strings.HasPrefix(bad[1], `"large:1:2"`) {
		t.Errorf("invalid %q", bad)
	}
	if vals, bad := ParseBGPCommunities("", nil); len(vals) != 0 || len(bad) != 0 {
		t.Errorf("empty value: %v %v", vals, bad)
	}
}

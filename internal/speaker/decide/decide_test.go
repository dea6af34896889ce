package decide

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// want is the expected decision for one address.
type want struct {
	// cands are the nodes that may announce it; the winner must be
	// Elect(addr, cands). Empty means nobody.
	cands []string
	// ifaces are the interfaces each candidate answers on when it wins.
	ifaces map[string][]string
	// pool is the pool named in the result.
	pool string
	// reason must appear in IP.Reason when there is no candidate.
	reason string
}

func TestDecideRules(t *testing.T) {
	all := adv("all", v1beta1.L2AdvertisementSpec{})
	eth0 := map[string][]string{"node1": {"eth0"}, "node2": {"eth0"}, "node3": {"eth0"}}
	edge := []metav1.LabelSelector{{MatchLabels: map[string]string{"role": "edge"}}}
	zoneB := []metav1.LabelSelector{{MatchLabels: map[string]string{"zone": "b"}}}

	tests := []struct {
		name     string
		advs     []v1beta1.L2Advertisement
		nodes    func([]Node) []Node // edits the test world's nodes; nil keeps them
		members  []string            // nil: every node
		services []Service
		want     map[netip.Addr]want
	}{{
		name:     "an empty advertisement selects every pool and node, answering on the interfaces of the subnet",
		advs:     []v1beta1.L2Advertisement{all},
		services: []Service{svc("ns/a", ipMain, ipMain6), svc("ns/b", ipOther)},
		want: map[netip.Addr]want{
			ipMain:  {cands: allNodes, ifaces: eth0, pool: "main"},
			ipMain6: {cands: []string{"node1"}, ifaces: eth0, pool: "main"},
			ipOther: {cands: allNodes, ifaces: eth0, pool: "other"},
		},
	}, {
		name:     "subnet awareness: a pool only node2 and node3 are attached to is never announced from node1",
		advs:     []v1beta1.L2Advertisement{all},
		services: []Service{svc("ns/a", ipSide)},
		want: map[netip.Addr]want{
			ipSide: {cands: []string{"node2", "node3"}, ifaces: map[string][]string{"node2": {"eth1"}, "node3": {"eth1"}}, pool: "side"},
		},
	}, {
		name:     "subnet awareness, with only node1 live: nobody announces",
		advs:     []v1beta1.L2Advertisement{all},
		members:  []string{"node1"},
		services: []Service{svc("ns/a", ipSide)},
		want: map[netip.Addr]want{
			ipSide: {pool: "side", reason: "1 without an interface whose subnet contains 10.1.0.5"},
		},
	}, {
		name:     "pools by name: unnamed pools are not announced",
		advs:     []v1beta1.L2Advertisement{adv("side-only", v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"side"}})},
		services: []Service{svc("ns/a", ipMain, ipSide)},
		want: map[netip.Addr]want{
			ipMain: {pool: "main", reason: `no L2Advertisement selects IPAddressPool "main"`},
			ipSide: {cands: []string{"node2", "node3"}, ifaces: map[string][]string{"node2": {"eth1"}, "node3": {"eth1"}}, pool: "side"},
		},
	}, {
		name: "pools by label selector",
		advs: []v1beta1.L2Advertisement{adv("gold", v1beta1.L2AdvertisementSpec{
			IPAddressPoolSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"tier": "gold"}}},
		})},
		services: []Service{svc("ns/a", ipMain), svc("ns/b", ipOther)},
		want: map[netip.Addr]want{
			ipMain:  {pool: "main", reason: "no L2Advertisement selects"},
			ipOther: {cands: allNodes, ifaces: eth0, pool: "other"},
		},
	}, {
		name:     "a pool without advertisement is not announced; an address in no pool neither",
		advs:     []v1beta1.L2Advertisement{adv("main", v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"main"}})},
		services: []Service{svc("ns/a", ipNoL2), svc("ns/b", ipNoPool)},
		want: map[netip.Addr]want{
			ipNoL2:   {pool: "nol2", reason: `no L2Advertisement selects IPAddressPool "nol2"`},
			ipNoPool: {reason: "in no IPAddressPool"},
		},
	}, {
		name: "service selectors: only Services whose labels match are announced",
		advs: []v1beta1.L2Advertisement{adv("web", v1beta1.L2AdvertisementSpec{
			ServiceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"app": "web"}}},
		})},
		services: []Service{labelled(svc("ns/web", ipMain), "app", "web"), labelled(svc("ns/db", ipOther), "app", "db"), svc("ns/bare", ipSide)},
		want: map[netip.Addr]want{
			ipMain:  {cands: allNodes, ifaces: eth0, pool: "main"},
			ipOther: {pool: "other", reason: `no L2Advertisement of IPAddressPool "other" selects the Service by its labels`},
			ipSide:  {pool: "side", reason: "selects the Service by its labels"},
		},
	}, {
		name: "service selectors: an address two Services share is announced when one of them matches; selectors OR",
		advs: []v1beta1.L2Advertisement{adv("web-or-api", v1beta1.L2AdvertisementSpec{
			ServiceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"app": "web"}}, {MatchLabels: map[string]string{"app": "api"}}},
		})},
		services: []Service{labelled(svc("ns/dns-udp", ipMain), "app", "db"), labelled(svc("ns/dns-tcp", ipMain), "app", "api")},
		want:     map[netip.Addr]want{ipMain: {cands: allNodes, ifaces: eth0, pool: "main"}},
	}, {
		name: "service selectors AND node selectors of one advertisement; another advertisement of the pool adds its own nodes",
		advs: []v1beta1.L2Advertisement{
			adv("web-on-edge", v1beta1.L2AdvertisementSpec{
				NodeSelectors:    edge,
				ServiceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"app": "web"}}},
			}),
			adv("db-in-b", v1beta1.L2AdvertisementSpec{
				NodeSelectors:    zoneB,
				ServiceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"app": "db"}}},
			}),
		},
		services: []Service{labelled(svc("ns/web", ipMain), "app", "web"), labelled(svc("ns/db", ipOther), "app", "db")},
		want: map[netip.Addr]want{
			ipMain:  {cands: []string{"node2"}, ifaces: eth0, pool: "main"},
			ipOther: {cands: []string{"node2", "node3"}, ifaces: eth0, pool: "other"},
		},
	}, {
		name: "preferred nodes win among the eligible ones; equal scores fall back to the hash",
		advs: []v1beta1.L2Advertisement{adv("prefer-b", v1beta1.L2AdvertisementSpec{
			PreferredNodeSelectors: []v1beta1.PreferredNodeSelector{{Weight: 50, Preference: zoneB[0]}},
		})},
		services: []Service{svc("ns/a", ipMain)},
		want:     map[netip.Addr]want{ipMain: {cands: []string{"node2", "node3"}, ifaces: eth0, pool: "main"}},
	}, {
		name: "preference weights add up across the pool's advertisements",
		advs: []v1beta1.L2Advertisement{
			adv("prefer-b", v1beta1.L2AdvertisementSpec{PreferredNodeSelectors: []v1beta1.PreferredNodeSelector{{Weight: 10, Preference: zoneB[0]}}}),
			adv("prefer-edge", v1beta1.L2AdvertisementSpec{PreferredNodeSelectors: []v1beta1.PreferredNodeSelector{{Weight: 10, Preference: edge[0]}}}),
		},
		services: []Service{svc("ns/a", ipMain)},
		want:     map[netip.Addr]want{ipMain: {cands: []string{"node2"}, ifaces: eth0, pool: "main"}},
	}, {
		name: "the preferred node is not live: the plain hash election among the others",
		advs: []v1beta1.L2Advertisement{adv("prefer-edge", v1beta1.L2AdvertisementSpec{
			PreferredNodeSelectors: []v1beta1.PreferredNodeSelector{{Weight: 100, Preference: edge[0]}},
		})},
		members:  []string{"node1", "node3"},
		services: []Service{svc("ns/a", ipMain)},
		want:     map[netip.Addr]want{ipMain: {cands: []string{"node1", "node3"}, ifaces: eth0, pool: "main"}},
	}, {
		name: "a preference never makes a node eligible: nodeSelectors stay a hard filter",
		advs: []v1beta1.L2Advertisement{adv("a-only", v1beta1.L2AdvertisementSpec{
			NodeSelectors:          []metav1.LabelSelector{{MatchLabels: map[string]string{"zone": "a"}}},
			PreferredNodeSelectors: []v1beta1.PreferredNodeSelector{{Weight: 100, Preference: edge[0]}},
		})},
		services: []Service{svc("ns/a", ipMain)},
		want:     map[netip.Addr]want{ipMain: {cands: []string{"node1"}, ifaces: eth0, pool: "main"}},
	}, {
		name: "an advertisement's preferences count only for the nodes it selects",
		advs: []v1beta1.L2Advertisement{
			adv("b-prefers-edge", v1beta1.L2AdvertisementSpec{
				NodeSelectors:          zoneB,
				PreferredNodeSelectors: []v1beta1.PreferredNodeSelector{{Weight: 30, Preference: metav1.LabelSelector{}}},
			}),
			adv("everyone", v1beta1.L2AdvertisementSpec{}),
		},
		services: []Service{svc("ns/a", ipMain)},
		want:     map[netip.Addr]want{ipMain: {cands: []string{"node2", "node3"}, ifaces: eth0, pool: "main"}},
	}, {
		name:     "node selectors limit the candidates",
		advs:     []v1beta1.L2Advertisement{adv("edge", v1beta1.L2AdvertisementSpec{NodeSelectors: edge})},
		services: []Service{svc("ns/a", ipMain)},
		want:     map[netip.Addr]want{ipMain: {cands: []string{"node2"}, ifaces: eth0, pool: "main"}},
	}, {
		name: "several advertisements of a pool: their node sets add up",
		advs: []v1beta1.L2Advertisement{
			adv("edge", v1beta1.L2AdvertisementSpec{NodeSelectors: edge}),
			adv("zone-a", v1beta1.L2AdvertisementSpec{NodeSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"zone": "a"}}}}),
		},
		services: []Service{svc("ns/a", ipMain)},
		want:     map[netip.Addr]want{ipMain: {cands: []string{"node1", "node2"}, ifaces: eth0, pool: "main"}},
	}, {
		name: "a node selector selecting nobody",
		advs: []v1beta1.L2Advertisement{adv("none", v1beta1.L2AdvertisementSpec{
			NodeSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"zone": "z"}}},
		})},
		services: []Service{svc("ns/a", ipMain)},
		want:     map[netip.Addr]want{ipMain: {pool: "main", reason: "3 not selected by the nodeSelectors"}},
	}, {
		name:     "listed interfaces: only nodes having one, whatever its subnet",
		advs:     []v1beta1.L2Advertisement{adv("eth1", v1beta1.L2AdvertisementSpec{Interfaces: []string{"eth1"}})},
		services: []Service{svc("ns/a", ipMain)},
		want: map[netip.Addr]want{
			ipMain: {cands: []string{"node2", "node3"}, ifaces: map[string][]string{"node2": {"eth1"}, "node3": {"eth1"}}, pool: "main"},
		},
	}, {
		name: "listed interfaces and subnets of several advertisements add up on a node",
		advs: []v1beta1.L2Advertisement{
			adv("eth1", v1beta1.L2AdvertisementSpec{Interfaces: []string{"eth1", "bond0"}, NodeSelectors: zoneB}),
			all,
		},
		services: []Service{svc("ns/a", ipMain)},
		want: map[netip.Addr]want{
			ipMain: {cands: allNodes, ifaces: map[string][]string{"node1": {"eth0"}, "node2": {"eth0", "eth1"}, "node3": {"eth0", "eth1"}}, pool: "main"},
		},
	}, {
		name:     "a listed interface no node has",
		advs:     []v1beta1.L2Advertisement{adv("bond", v1beta1.L2AdvertisementSpec{Interfaces: []string{"bond0"}})},
		services: []Service{svc("ns/a", ipMain)},
		want:     map[netip.Addr]want{ipMain: {pool: "main", reason: "3 without an interface"}},
	}, {
		name: "the exclusion label and NetworkUnavailable rule a node out",
		advs: []v1beta1.L2Advertisement{all},
		nodes: func(ns []Node) []Node {
			ns[0].Labels = map[string]string{LabelExcludeFromLoadBalancers: ""}
			ns[1].NetworkUnavailable = true
			return ns
		},
		services: []Service{svc("ns/a", ipMain, ipMain6)},
		want: map[netip.Addr]want{
			ipMain:  {cands: []string{"node3"}, ifaces: eth0, pool: "main"},
			ipMain6: {pool: "main", reason: "1 with NetworkUnavailable=True, 1 labelled " + LabelExcludeFromLoadBalancers + ", 1 without an interface"},
		},
	}, {
		name:     "only live members are chosen",
		advs:     []v1beta1.L2Advertisement{all},
		members:  []string{"node2", "node3", "not-a-node"},
		services: []Service{svc("ns/a", ipMain, ipMain6)},
		want: map[netip.Addr]want{
			ipMain:  {cands: []string{"node2", "node3"}, ifaces: eth0, pool: "main"},
			ipMain6: {pool: "main", reason: "of 3 nodes, 1 not running a live speaker, 2 without an interface"},
		},
	}, {
		name: "a node that published no interfaces is never chosen",
		advs: []v1beta1.L2Advertisement{adv("eth0", v1beta1.L2AdvertisementSpec{Interfaces: []string{"eth0"}})},
		nodes: func(ns []Node) []Node {
			ns[2].Interfaces = nil
			return ns
		},
		services: []Service{svc("ns/a", ipMain)},
		want:     map[netip.Addr]want{ipMain: {cands: []string{"node1", "node2"}, ifaces: eth0, pool: "main"}},
	}, {
		name:     "externalTrafficPolicy Local: only nodes with a ready endpoint",
		advs:     []v1beta1.L2Advertisement{all},
		services: []Service{local("ns/a", []string{"node1", "node3", "node9"}, ipMain), local("ns/b", nil, ipOther)},
		want: map[netip.Addr]want{
			ipMain:  {cands: []string{"node1", "node3"}, ifaces: eth0, pool: "main"},
			ipOther: {pool: "other", reason: "3 without a ready endpoint"},
		},
	}, {
		name:     "Local, and the only endpoint is on a node outside the subnet",
		advs:     []v1beta1.L2Advertisement{all},
		services: []Service{local("ns/a", []string{"node1"}, ipSide)},
		want:     map[netip.Addr]want{ipSide: {pool: "side", reason: "L2Advertisement's interfaces), 2 without a ready endpoint"}},
	}, {
		name:     "a shared address: a node qualifies if it qualifies for any Service",
		advs:     []v1beta1.L2Advertisement{all},
		services: []Service{local("ns/a", []string{"node2"}, ipMain), local("ns/b", []string{"node3"}, ipMain), local("ns/c", []string{"node1"}, ipOther), svc("ns/d", ipOther)},
		want: map[netip.Addr]want{
			ipMain:  {cands: []string{"node2", "node3"}, ifaces: eth0, pool: "main"},
			ipOther: {cands: allNodes, ifaces: eth0, pool: "other"},
		},
	}, {
		name:     "no configuration yet",
		services: []Service{svc("ns/a", ipMain)},
		want:     map[netip.Addr]want{ipMain: {reason: "no configuration"}},
	}}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{Nodes: nodes(), Members: tc.members, Services: tc.services}
			if tc.advs != nil {
				in.Config = snapshot(t, tc.advs...)
			}
			if tc.nodes != nil {
				in.Nodes = tc.nodes(in.Nodes)
			}
			if in.Members == nil {
				in.Members = allNodes
			}
			for _, self := range append([]string{"nobody"}, allNodes...) {
				in.Self = self
				checkDecision(t, &in, tc.want)
			}
			// Each candidate alone wins: that checks its interfaces.
			for a, w := range tc.want {
				for _, c := range w.cands {
					alone := in
					alone.Members, alone.Self = []string{c}, c
					got := entry(t, Decide(&alone), a)
					if got.Node != c || !slices.Equal(got.Interfaces, w.ifaces[c]) {
						t.Errorf("%s alone: %s goes to %q on %v, want %s on %v", c, a, got.Node, got.Interfaces, c, w.ifaces[c])
					}
				}
			}
		})
	}
}

// checkDecision compares one Decide run against the expectations.
func checkDecision(t *testing.T, in *Input, wants map[netip.Addr]want) {
	t.Helper()
	res := Decide(in)
	if len(res.IPs) != len(wants) {
		t.Errorf("self %s: %d decisions, want %d: %+v", in.Self, len(res.IPs), len(wants), res.IPs)
	}
	for a, w := range wants {
		got := entry(t, res, a)
		wantNode := Elect(a, w.cands)
		if got.Node != wantNode {
			t.Errorf("self %s: %s goes to %q, want %q (candidates %v; reason %q)", in.Self, a, got.Node, wantNode, w.cands, got.Reason)
		}
		if got.Pool != w.pool {
			t.Errorf("self %s: %s in pool %q, want %q", in.Self, a, got.Pool, w.pool)
		}
		var wantIfaces []string
		if wantNode == in.Self {
			wantIfaces = w.ifaces[in.Self]
		}
		if !slices.Equal(got.Interfaces, wantIfaces) {
			t.Errorf("self %s: %s on interfaces %v, want %v", in.Self, a, got.Interfaces, wantIfaces)
		}
		if wantNode == "" && !strings.Contains(got.Reason, w.reason) {
			t.Errorf("self %s: %s reason %q, want it to contain %q", in.Self, a, got.Reason, w.reason)
		}
		if wantNode != "" && got.Reason != "" {
			t.Errorf("self %s: %s has a winner and a reason %q", in.Self, a, got.Reason)
		}
	}
}

func TestDecideResultViews(t *testing.T) {
	in := Input{
		Config:  snapshot(t, adv("all", v1beta1.L2AdvertisementSpec{})),
		Nodes:   nodes(),
		Members: []string{"node2"},
		Self:    "node2",
		Services: []Service{
			svc("ns/a", ipMain, ipSide),
			svc("ns/shared", ipMain),
			svc("ns/v6", ipMain6), // node2 is not on fd00::/64
		},
	}
	res := Decide(&in)
	wantIfaces := map[string][]netip.Addr{"eth0": {ipMain}, "eth1": {ipSide}}
	if diff := cmp.Diff(wantIfaces, res.ByInterface(), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("ByInterface (-want +got):\n%s", diff)
	}
	wantSvcs := map[string]Announcement{
		"ns/a":      {IPs: []netip.Addr{ipMain, ipSide}, Interfaces: []string{"eth0", "eth1"}},
		"ns/shared": {IPs: []netip.Addr{ipMain}, Interfaces: []string{"eth0"}},
	}
	if diff := cmp.Diff(wantSvcs, res.Services(), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("Services (-want +got):\n%s", diff)
	}
	if got := entry(t, res, ipMain).Services; !slices.Equal(got, []string{"ns/a", "ns/shared"}) {
		t.Errorf("services of %s: %v", ipMain, got)
	}
	wantWinners := map[netip.Addr]string{ipMain: "node2", ipSide: "node2"}
	if diff := cmp.Diff(wantWinners, res.Winners(), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("Winners (-want +got):\n%s", diff)
	}
	in.Self = "node1"
	res = Decide(&in)
	if len(res.ByInterface()) != 0 || len(res.Services()) != 0 {
		t.Errorf("node1 announces %v / %v, want nothing", res.ByInterface(), res.Services())
	}
}

func TestDecideSortedAndMapped(t *testing.T) {
	mapped := netip.AddrFrom16(ipMain.As16()) // ::ffff:10.0.0.150
	in := Input{
		Config:   snapshot(t, adv("all", v1beta1.L2AdvertisementSpec{})),
		Nodes:    nodes(),
		Members:  allNodes,
		Services: []Service{svc("ns/b", ipOther, mapped), svc("ns/a", ipMain6, netip.Addr{})},
	}
	res := Decide(&in)
	var got []netip.Addr
	for _, ip := range res.IPs {
		got = append(got, ip.Addr)
	}
	want := []netip.Addr{ipOther, ipMain, ipMain6}
	if !slices.Equal(got, want) {
		t.Errorf("addresses %v, want %v (sorted, unmapped, invalid dropped)", got, want)
	}
}

// TestDecideLeaseDuration: the winner learns the longest leaseFencing
// duration of the advertisements under which it answers, and nothing
// else carries one: advertisements without fencing, or selecting other
// nodes only, do not count.
func TestDecideLeaseDuration(t *testing.T) {
	fenced := func(d string) *v1beta1.LeaseFencing {
		dur, err := time.ParseDuration(d)
		if err != nil {
			t.Fatal(err)
		}
		return &v1beta1.LeaseFencing{LeaseDuration: &metav1.Duration{Duration: dur}}
	}
	zoneB := []metav1.LabelSelector{{MatchLabels: map[string]string{"zone": "b"}}}
	in := Input{
		Config: snapshot(t,
			adv("plain", v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"main", "side"}}),
			adv("fenced", v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"main"}, LeaseFencing: fenced("6s")}),
			adv("longer-for-b", v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"main"}, NodeSelectors: zoneB, LeaseFencing: fenced("20s")}),
		),
		Nodes:    nodes(),
		Services: []Service{svc("ns/main", ipMain), svc("ns/side", ipSide)},
	}
	for _, self := range allNodes {
		in.Self, in.Members = self, []string{self} // self wins what it can
		res := Decide(&in)
		if entry(t, res, ipMain).Node != self {
			t.Fatalf("%s alone does not win %s", self, ipMain)
		}
		for _, a := range []netip.Addr{ipMain, ipSide} {
			ip := entry(t, res, a)
			var want time.Duration
			switch {
			case ip.Node != self || a == ipSide:
			case self == "node1":
				want = 6 * time.Second
			default:
				want = 20 * time.Second
			}
			if ip.LeaseDuration != want {
				t.Errorf("%s deciding %s (won by %s): LeaseDuration %s, want %s", self, a, ip.Node, ip.LeaseDuration, want)
			}
		}
	}
}

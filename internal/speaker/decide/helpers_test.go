package decide

import (
	"net/netip"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/config"
)

// The test world: three nodes on 10.0.0.0/24; node1 also on fd00::/64,
// node2 and node3 also on 10.1.0.0/24 (eth1).
//
// Pools: "main" (10.0.0.100-10.0.0.199, fd00::100/120), "side"
// (10.1.0.0/28, only node2 and node3 are attached), "other" (10.0.0.0/28,
// labelled tier=gold), "nol2" (10.0.0.240/28, which tests leave without
// advertisements).

var (
	ipMain   = netip.MustParseAddr("10.0.0.150")
	ipMain6  = netip.MustParseAddr("fd00::150")
	ipSide   = netip.MustParseAddr("10.1.0.5")
	ipOther  = netip.MustParseAddr("10.0.0.5")
	ipNoL2   = netip.MustParseAddr("10.0.0.245")
	ipNoPool = netip.MustParseAddr("192.168.9.9")
)

func pools() []v1beta1.IPAddressPool {
	mk := func(name string, lbl map[string]string, addrs ...string) v1beta1.IPAddressPool {
		return v1beta1.IPAddressPool{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: config.DefaultNamespace, Labels: lbl},
			Spec:       v1beta1.IPAddressPoolSpec{Addresses: addrs},
		}
	}
	return []v1beta1.IPAddressPool{
		mk("main", nil, "10.0.0.100-10.0.0.199", "fd00::100/120"),
		mk("side", nil, "10.1.0.0/28"),
		mk("other", map[string]string{"tier": "gold"}, "10.0.0.0/28"),
		mk("nol2", nil, "10.0.0.240/28"),
	}
}

// adv returns an L2Advertisement; nil fields mean none.
func adv(name string, spec v1beta1.L2AdvertisementSpec) v1beta1.L2Advertisement {
	return v1beta1.L2Advertisement{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: config.DefaultNamespace},
		Spec:       spec,
	}
}

// snapshot builds the configuration of the test world with the given
// advertisements, failing the test on any problem.
func snapshot(t testing.TB, advs ...v1beta1.L2Advertisement) *config.Snapshot {
	t.Helper()
	res := config.Build(config.Input{Objects: config.Objects{IPAddressPools: pools(), L2Advertisements: advs}})
	if !res.Valid() {
		t.Fatalf("test configuration invalid: %v", res.Problems())
	}
	return res.Snapshot
}

func pfx(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

func nodes() []Node {
	return []Node{
		{Name: "node1", Labels: map[string]string{"zone": "a"}, Interfaces: []Interface{
			{Name: "eth0", Prefixes: pfx("10.0.0.0/24", "fd00::/64")},
		}},
		{Name: "node2", Labels: map[string]string{"zone": "b", "role": "edge"}, Interfaces: []Interface{
			{Name: "eth0", Prefixes: pfx("10.0.0.0/24")},
			{Name: "eth1", Prefixes: pfx("10.1.0.0/24")},
		}},
		{Name: "node3", Labels: map[string]string{"zone": "b"}, Interfaces: []Interface{
			{Name: "eth0", Prefixes: pfx("10.0.0.0/24")},
			{Name: "eth1", Prefixes: pfx("10.1.0.0/24")},
		}},
	}
}

var allNodes = []string{"node1", "node2", "node3"}

func svc(key string, ips ...netip.Addr) Service { return Service{Key: key, IPs: ips} }

// labelled returns s with one more label.
func labelled(s Service, key, value string) Service {
	l := map[string]string{key: value}
	for k, v := range s.Labels {
		l[k] = v
	}
	s.Labels = l
	return s
}

func local(key string, endpoints []string, ips ...netip.Addr) Service {
	return Service{Key: key, IPs: ips, Local: true, EndpointNodes: endpoints}
}

// winnerOf returns the IP entry of r for a, failing the test when absent.
func entry(t *testing.T, r Result, a netip.Addr) IP {
	t.Helper()
	for _, ip := range r.IPs {
		if ip.Addr == a {
			return ip
		}
	}
	t.Fatalf("no decision for %s in %+v", a, r.IPs)
	return IP{}
}

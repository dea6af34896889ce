package lab

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNewPlan(t *testing.T) {
	p, err := NewPlan("ironlb-", 3, DualStack)
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ Name, MAC, V4, V6, Second4, Second6, NIC2MAC, NIC24, NIC26, Pod4, Pod6 string }
	var got []row
	for _, h := range p.Hosts() {
		r := row{Name: h.Name, MAC: h.MAC, V4: h.IPv4.String(), V6: h.IPv6.String()}
		if h.InSecondSubnet() {
			r.Second4, r.Second6 = h.SecondIPv4.String(), h.SecondIPv6.String()
		}
		if h.HasNIC2() {
			r.NIC2MAC, r.NIC24, r.NIC26 = h.NIC2MAC, h.NIC2IPv4.String(), h.NIC2IPv6.String()
		}
		if h.Role == RoleNode {
			r.Pod4, r.Pod6 = h.PodCIDRV4.String(), h.PodCIDRV6.String()
		}
		got = append(got, r)
	}
	want := []row{
		{"router", "02:00:00:00:00:01", "10.200.0.1", "fd00:200::1", "10.201.0.1", "fd00:201::1", "", "", "", "", ""},
		{"client", "02:00:00:00:00:02", "10.200.0.2", "fd00:200::2", "10.201.0.2", "fd00:201::2",
			"02:00:00:00:01:02", "10.204.0.2", "fd00:204::2", "", ""},
		{"node1", "02:00:00:00:00:0b", "10.200.0.11", "fd00:200::11", "", "",
			"02:00:00:00:01:0b", "10.204.0.11", "fd00:204::11", "10.244.1.0/24", "fd00:10:244:1::/64"},
		{"node2", "02:00:00:00:00:0c", "10.200.0.12", "fd00:200::12", "10.201.0.12", "fd00:201::12",
			"02:00:00:00:01:0c", "10.204.0.12", "fd00:204::12", "10.244.2.0/24", "fd00:10:244:2::/64"},
		{"node3", "02:00:00:00:00:0d", "10.200.0.13", "fd00:200::13", "10.201.0.13", "fd00:201::13",
			"02:00:00:00:01:0d", "10.204.0.13", "fd00:204::13", "10.244.3.0/24", "fd00:10:244:3::/64"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("hosts (-want +got):\n%s", d)
	}
	if got, want := p.Namespaces(), []string{"ironlb-lan", "ironlb-router", "ironlb-client", "ironlb-node1", "ironlb-node2", "ironlb-node3"}; !slices.Equal(got, want) {
		t.Errorf("Namespaces() = %v, want %v", got, want)
	}
}

func TestPlanStaysInPrivateRanges(t *testing.T) {
	p, err := NewPlan("x", MaxNodes, DualStack)
	if err != nil {
		t.Fatal(err)
	}
	pool := netip.MustParseAddr("10.200.0.240") // the quick start's pool starts here
	for _, h := range p.Hosts() {
		if !lanV4.Contains(h.IPv4) || !lanV6.Contains(h.IPv6) {
			t.Errorf("%s: %s, %s outside the LAN", h.Name, h.IPv4, h.IPv6)
		}
		if h.InSecondSubnet() != (h.Name != "node1") {
			t.Errorf("%s: in the second subnet = %v; every host but node1 is", h.Name, h.InSecondSubnet())
		}
		if h.InSecondSubnet() && (!secondV4.Contains(h.SecondIPv4) || !secondV6.Contains(h.SecondIPv6) ||
			!h.SecondIPv4.Less(netip.MustParseAddr("10.201.0.240"))) {
			t.Errorf("%s: %s, %s outside the second subnet or in its test pool range", h.Name, h.SecondIPv4, h.SecondIPv6)
		}
		if h.HasNIC2() != (h.Role != RoleRouter) {
			t.Errorf("%s: has a second card = %v; every host but the router has", h.Name, h.HasNIC2())
		}
		if h.HasNIC2() && (!nic2V4.Contains(h.NIC2IPv4) || !nic2V6.Contains(h.NIC2IPv6) ||
			!h.NIC2IPv4.Less(netip.MustParseAddr("10.204.0.200")) || h.NIC2MAC == h.MAC) {
			t.Errorf("%s: second card %s %s %s outside its subnet, in its test pool range (.200 up) or with eth0's MAC %s",
				h.Name, h.NIC2MAC, h.NIC2IPv4, h.NIC2IPv6, h.MAC)
		}
		if !h.IPv4.Less(pool) {
			t.Errorf("%s: %s collides with the quick start pool", h.Name, h.IPv4)
		}
		if h.Role == RoleNode && (!clusterCIDRV4.Contains(h.PodCIDRV4.Addr()) || !clusterCIDRV6.Contains(h.PodCIDRV6.Addr())) {
			t.Errorf("%s: pod CIDRs %s %s outside the cluster CIDRs", h.Name, h.PodCIDRV4, h.PodCIDRV6)
		}
	}
	all := append(append(append(LANPrefixes(), SecondSubnetPrefixes()...), NIC2Prefixes()...), p.ServiceCIDRs()...)
	all = append(all, p.ClusterCIDRs()...)
	for i, pr := range all {
		if !pr.Addr().IsPrivate() {
			t.Errorf("%s is not a private range", pr)
		}
		for _, o := range all[i+1:] {
			if pr.Overlaps(o) {
				t.Errorf("%s overlaps %s", pr, o)
			}
		}
	}
	// Every MAC, on either card, is unique: a test tells the answering
	// card by it.
	macs := map[string]string{}
	for _, h := range p.Hosts() {
		for _, m := range []string{h.MAC, h.NIC2MAC} {
			if m == "" {
				continue
			}
			if o, dup := macs[m]; dup {
				t.Errorf("MAC %s on %s and %s", m, o, h.Name)
			}
			macs[m] = h.Name
		}
	}
}

func TestPlanFamilies(t *testing.T) {
	tests := []struct {
		family   IPFamily
		nodeIPs  string
		services string
		podCIDRs string
		apiIPs   string
	}{
		{DualStack, "10.200.0.11 fd00:200::11", "10.96.0.0/16,fd00:10:96::/112", "10.244.1.0/24,fd00:10:244:1::/64", "10.96.0.1 fd00:10:96::1"},
		{IPv4Only, "10.200.0.11", "10.96.0.0/16", "10.244.1.0/24", "10.96.0.1"},
		{IPv6Only, "fd00:200::11", "fd00:10:96::/112", "fd00:10:244:1::/64", "fd00:10:96::1"},
	}
	for _, tt := range tests {
		t.Run(string(tt.family), func(t *testing.T) {
			p, err := NewPlan("ironlb-", 1, tt.family)
			if err != nil {
				t.Fatal(err)
			}
			n := p.Nodes[0]
			if got := joinAddrs(p.NodeIPs(n)); got != tt.nodeIPs {
				t.Errorf("NodeIPs = %q, want %q", got, tt.nodeIPs)
			}
			if got := joinPrefixes(p.ServiceCIDRs()); got != tt.services {
				t.Errorf("ServiceCIDRs = %q, want %q", got, tt.services)
			}
			if got := joinPrefixes(p.PodCIDRs(n)); got != tt.podCIDRs {
				t.Errorf("PodCIDRs = %q, want %q", got, tt.podCIDRs)
			}
			if got := joinAddrs(p.APIServerServiceIPs()); got != tt.apiIPs {
				t.Errorf("APIServerServiceIPs = %q, want %q", got, tt.apiIPs)
			}
		})
	}
}

func joinAddrs(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, " ")
}

func TestNewPlanRejects(t *testing.T) {
	tests := []struct {
		prefix string
		nodes  int
		family IPFamily
		want   string
	}{
		{"ironlb-", 0, DualStack, "--nodes 0"},
		{"ironlb-", MaxNodes + 1, DualStack, "--nodes 51"},
		{"Bad_", 1, DualStack, `prefix "Bad_"`},
		{"", 1, DualStack, `prefix ""`},
		{"a-very-long-prefix-name-", 1, DualStack, "1-20 characters"},
		{"ironlb-", 1, "ipv5", `--ip-family "ipv5"`},
	}
	for _, tt := range tests {
		_, err := NewPlan(tt.prefix, tt.nodes, tt.family)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewPlan(%q, %d, %q) = %v, want error containing %q", tt.prefix, tt.nodes, tt.family, err, tt.want)
		}
	}
}

func TestNamespacePattern(t *testing.T) {
	re := NamespacePattern("ironlb-")
	for name, want := range map[string]bool{
		"ironlb-lan": true, "ironlb-node12": true, "ironlb-router": true, "ironlb-client": true,
		"ironlb-node": false, "ironlb-nodex": false, "other-node1": false, "ironlb-lan2": false, "xironlb-lan": false,
	} {
		if got := re.MatchString(name); got != want {
			t.Errorf("match %q = %v, want %v", name, got, want)
		}
	}
}

func TestHostBatch(t *testing.T) {
	p, err := NewPlan("ironlb-", 2, DualStack)
	if err != nil {
		t.Fatal(err)
	}
	got := hostBatch(p, p.Nodes[0])
	want := []string{
		"link set lo up",
		"link set eth0 address 02:00:00:00:00:0b",
		"addr add 10.200.0.11/24 dev eth0",
		"addr add fd00:200::11/64 dev eth0 nodad",
		"link set eth0 up",
		"link set eth1 address 02:00:00:00:01:0b",
		"addr add 10.204.0.11/24 dev eth1",
		"addr add fd00:204::11/64 dev eth1 nodad",
		"link set eth1 up",
		"route add default via 10.200.0.1 dev eth0",
		"route add default via fd00:200::1 dev eth0",
		"route add 10.244.2.0/24 via 10.200.0.12 dev eth0",
		"route add fd00:10:244:2::/64 via fd00:200::12 dev eth0",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("node1 batch (-want +got):\n%s", d)
	}
	// node2 (like every host but node1) is in the second subnet too.
	got = hostBatch(p, p.Nodes[1])
	want = []string{
		"link set lo up",
		"link set eth0 address 02:00:00:00:00:0c",
		"addr add 10.200.0.12/24 dev eth0",
		"addr add fd00:200::12/64 dev eth0 nodad",
		"addr add 10.201.0.12/24 dev eth0",
		"addr add fd00:201::12/64 dev eth0 nodad",
		"link set eth0 up",
		"link set eth1 address 02:00:00:00:01:0c",
		"addr add 10.204.0.12/24 dev eth1",
		"addr add fd00:204::12/64 dev eth1 nodad",
		"link set eth1 up",
		"route add default via 10.200.0.1 dev eth0",
		"route add default via fd00:200::1 dev eth0",
		"route add 10.244.1.0/24 via 10.200.0.11 dev eth0",
		"route add fd00:10:244:1::/64 via fd00:200::11 dev eth0",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("node2 batch (-want +got):\n%s", d)
	}
	router := hostBatch(p, p.Router)
	if !slices.Contains(router, "addr add 10.201.0.1/24 dev eth0") {
		t.Errorf("router batch lacks its second-subnet address: %q", router)
	}
	// The router has no default route, only the nodes' pods (Pods reach
	// the API server's endpoint on it with their own addresses).
	var routes []string
	for _, l := range router {
		if strings.Contains(l, "route") {
			routes = append(routes, l)
		}
		if strings.Contains(l, "eth1") {
			t.Errorf("router batch configures a second card: %q", l)
		}
	}
	wantRoutes := []string{
		"route add 10.244.1.0/24 via 10.200.0.11 dev eth0", "route add fd00:10:244:1::/64 via fd00:200::11 dev eth0",
		"route add 10.244.2.0/24 via 10.200.0.12 dev eth0", "route add fd00:10:244:2::/64 via fd00:200::12 dev eth0",
	}
	if d := cmp.Diff(wantRoutes, routes); d != "" {
		t.Errorf("router routes (-want +got):\n%s", d)
	}
	// The client has the second card too; its default route stays on eth0.
	client := hostBatch(p, p.Client)
	for _, l := range []string{"addr add 10.204.0.2/24 dev eth1", "addr add fd00:204::2/64 dev eth1 nodad",
		"route add default via 10.200.0.1 dev eth0", "route add default via fd00:200::1 dev eth0"} {
		if !slices.Contains(client, l) {
			t.Errorf("client batch lacks %q: %q", l, client)
		}
	}
}

func TestVethBatch(t *testing.T) {
	p, err := NewPlan("ironlb-", 1, DualStack)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"link add v-node1 type veth peer name eth0 netns ironlb-node1",
		"link set v-node1 master br0 up",
		"link add v1-node1 type veth peer name eth1 netns ironlb-node1",
		"link set v1-node1 master br1 up",
	}
	if d := cmp.Diff(want, vethBatch(p, p.Nodes[0])); d != "" {
		t.Errorf("node1 veths (-want +got):\n%s", d)
	}
	want = []string{
		"link add v-router type veth peer name eth0 netns ironlb-router",
		"link set v-router master br0 up",
	}
	if d := cmp.Diff(want, vethBatch(p, p.Router)); d != "" {
		t.Errorf("router veths (-want +got):\n%s", d)
	}
	if got := vethBatch(p, p.Client); len(got) != 4 || got[2] != "link add v1-client type veth peer name eth1 netns ironlb-client" {
		t.Errorf("client veths: %q, want eth0 and eth1", got)
	}
}

// TestLinkBatch: `lab node fail` and `recover` cut and restore both of a
// node's cards.
func TestLinkBatch(t *testing.T) {
	p, err := NewPlan("ironlb-", 2, DualStack)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"link set v-node2 down", "link set v1-node2 down"}, linkBatch(p.Nodes[1], false)); d != "" {
		t.Errorf("node2 down (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"link set v-node2 up", "link set v1-node2 up"}, linkBatch(p.Nodes[1], true)); d != "" {
		t.Errorf("node2 up (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"link set v-router down"}, linkBatch(p.Router, false)); d != "" {
		t.Errorf("router down (-want +got):\n%s", d)
	}
}

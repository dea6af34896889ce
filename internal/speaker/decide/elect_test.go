package decide

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// TestRankIsFrozen pins Rank: speakers of different versions must elect
// alike, so these values may never change.
func TestRankIsFrozen(t *testing.T) {
	for _, tc := range []struct {
		node string
		ip   string
		want uint64
	}{
		{"node1", "10.0.0.150", 0x13ffcc415300d92b},
		{"node2", "10.0.0.150", 0x595055d7c40683e4},
		{"worker-17.example.com", "fd00::150", 0x6e4ac851476a03d7},
		{"node1", "::ffff:10.0.0.150", 0x13ffcc415300d92b}, // the same as 10.0.0.150
	} {
		if got := Rank(tc.node, netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("Rank(%q, %s) = %#x, want %#x", tc.node, tc.ip, got, tc.want)
		}
	}
}

func TestElect(t *testing.T) {
	ip := netip.MustParseAddr("10.0.0.1")
	if got := Elect(ip, nil); got != "" {
		t.Errorf("no candidates: %q", got)
	}
	cands := []string{"a", "b", "c", "d"}
	w := Elect(ip, cands)
	for _, c := range cands {
		if Rank(c, ip) < Rank(w, ip) {
			t.Errorf("%s ranks below the winner %s", c, w)
		}
	}
	// The order of the candidates does not matter.
	rev := slices.Clone(cands)
	slices.Reverse(rev)
	if got := Elect(ip, rev); got != w {
		t.Errorf("reversed candidates elect %s, want %s", got, w)
	}
}

// manyIPs returns n addresses of 10.0.0.0/8 (IPv4) or fd00::/64.
func manyIPs(n int, v6 bool) []netip.Addr {
	out := make([]netip.Addr, n)
	for i := range out {
		if v6 {
			out[i] = netip.AddrFrom16([16]byte{0: 0xfd, 14: byte(i >> 8), 15: byte(i)})
		} else {
			out[i] = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		}
	}
	return out
}

func TestElectionStability(t *testing.T) {
	nodes := []string{"node1", "node2", "node3", "node4", "node5"}
	for _, v6 := range []bool{false, true} {
		ips := manyIPs(2000, v6)
		before := map[netip.Addr]string{}
		count := map[string]int{}
		for _, ip := range ips {
			before[ip] = Elect(ip, nodes)
			count[before[ip]]++
		}
		// Roughly even: each of 5 nodes gets 400 ± 20 %.
		for _, n := range nodes {
			if c := count[n]; c < 320 || c > 480 {
				t.Errorf("v6=%v: %s wins %d of %d addresses, want about %d", v6, n, c, len(ips), len(ips)/len(nodes))
			}
		}
		for _, gone := range nodes {
			rest := slices.DeleteFunc(slices.Clone(nodes), func(n string) bool { return n == gone })
			moved := map[string]int{}
			for _, ip := range ips {
				after := Elect(ip, rest)
				switch {
				case before[ip] != gone && after != before[ip]:
					t.Fatalf("v6=%v: removing %s moved %s from %s to %s", v6, gone, ip, before[ip], after)
				case before[ip] == gone:
					moved[after]++
				}
			}
			// The lost node's addresses spread over the others.
			for _, n := range rest {
				if moved[n] < count[gone]/len(rest)/2 {
					t.Errorf("v6=%v: removing %s moved only %d of its %d addresses to %s", v6, gone, moved[n], count[gone], n)
				}
			}
		}
	}
}

// TestDecideStability runs the same checks through Decide: removing a
// non-winner from the members changes nothing; removing the winner moves
// only its addresses; endpoints moving for a Local Service move the
// address only when the winner loses its endpoint or a better-ranked node
// gains one.
func TestDecideStability(t *testing.T) {
	cfg := snapshot(t, adv("all", v1beta1.L2AdvertisementSpec{}))
	var svcs []Service
	for i := 100; i < 200; i++ {
		svcs = append(svcs, svc(fmt.Sprintf("ns/s%d", i), netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})))
	}
	in := Input{Config: cfg, Nodes: nodes(), Members: allNodes, Services: svcs}
	base := Decide(&in).Winners()
	if len(base) != len(svcs) {
		t.Fatalf("%d winners for %d addresses", len(base), len(svcs))
	}
	for _, gone := range allNodes {
		in.Members = slices.DeleteFunc(slices.Clone(allNodes), func(n string) bool { return n == gone })
		for a, w := range Decide(&in).Winners() {
			if base[a] != gone && w != base[a] {
				t.Errorf("removing %s moved %s from %s to %s", gone, a, base[a], w)
			}
			if w == gone {
				t.Errorf("%s still goes to the removed %s", a, gone)
			}
		}
	}

	// Endpoints moving.
	ip := netip.MustParseAddr("10.0.0.123")
	in.Members = allNodes
	in.Services = []Service{local("ns/l", []string{"node1", "node2"}, ip)}
	w := entry(t, Decide(&in), ip).Node
	if w != Elect(ip, []string{"node1", "node2"}) {
		t.Fatalf("winner %s", w)
	}
	other := "node1"
	if w == "node1" {
		other = "node2"
	}
	for _, eps := range [][]string{{w}, {w, "node3"}, {other, "node3"}, {"node3"}, nil} {
		in.Services[0].EndpointNodes = eps
		got := entry(t, Decide(&in), ip).Node
		if want := Elect(ip, eps); got != want {
			t.Errorf("endpoints on %v: winner %q, want %q", eps, got, want)
		}
		if slices.Contains(eps, w) && Rank(w, ip) < Rank("node3", ip) && got != w {
			t.Errorf("endpoints on %v: the winner %s kept its endpoint but lost the address to %s", eps, w, got)
		}
	}
}

func BenchmarkDecide(b *testing.B) {
	cfg := snapshot(b, adv("all", v1beta1.L2AdvertisementSpec{}))
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
	in := Input{Config: cfg, Nodes: ns, Members: members, Services: svcs, Self: "node7"}
	b.ReportAllocs()
	for b.Loop() {
		Decide(&in)
	}
}

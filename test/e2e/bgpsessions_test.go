//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/frrtest"
	"github.com/ironlb/ironlb/internal/lab"
	"github.com/ironlb/ironlb/internal/testkit"
)

// bgpV6Pool is the pool of the IPv6 sessions' check.
var bgpV6Pool = []string{"10.202.0.70-10.202.0.79", "fd00:202::70-fd00:202::79"}

// testIPv6Sessions: a BGPPeer to the router's IPv6 address (with
// dualStackAddressFamily and a BFD profile) runs beside the suite's IPv4
// one — two sessions per node to one router. Its BGPAdvertisement names
// it alone (peers), so the router must learn both addresses of a
// dual-stack Service — the IPv4 one too, with the node's IPv4 next hop —
// from the IPv6 sessions and from nothing else; the client is answered
// through the router; BFD runs on the IPv6 sessions. With peers cleared,
// the same routes come over both sessions of every node.
//
// Seen failing with the speaker sending a route over a session of its own
// family only (carries in internal/speaker/bgp.go returning false for the
// other family, IPv4 over an IPv6 session): "10.202.0.70/32 learned from
// the IPv6 sessions alone: not within 32s: no path from node1's IPv6
// session (fd00:200::11)"; and with the advertisement's peers ignored
// (decide giving every route to every peer): "10.202.0.70/32 learned from
// the IPv6 sessions alone: ... a path from node1's IPv4 session
// (10.200.0.11), which should not carry it".
func testIPv6Sessions(t *testing.T, l *l2Env, p lab.Plan, st *lab.Status) {
	ctx := context.Background()
	name := "e2e-bgp-v6-" + l.id
	prof := &v1beta1.BFDProfile{ObjectMeta: metav1.ObjectMeta{Namespace: ironlbNamespace, Name: name}}
	l.create(t, prof)
	l.createBGPPool(t, "bgp-v6", bgpV6Pool, p, st, func(peer *v1beta1.BGPPeerSpec, adv *v1beta1.BGPAdvertisementSpec) {
		peer.PeerAddress = p.Router.IPv6.String()
		peer.DualStackAddressFamily = true
		peer.BFDProfile = name
		adv.Peers = []string{name}
	})

	// Expected: as the suite's sessions, Established within 3 s; BFD up a
	// second after.
	eventually(t, testkit.Budget(4*time.Second), "an IPv6 session (BGP and BFD) from every node beside its IPv4 one", func() error {
		sum, err := vtysh("show bgp summary json")
		if err != nil {
			return err
		}
		bfd, err := vtysh("show bfd peers json")
		if err != nil {
			return err
		}
		for _, n := range p.Nodes {
			for _, a := range []netip.Addr{n.IPv4, n.IPv6} {
				if !neighborEstablishedIn(sum, "ipv6Unicast", a) {
					return fmt.Errorf("node %s: no Established session from %s carrying IPv6:\n%s", n.Name, a, sum)
				}
			}
			if !neighborEstablishedIn(sum, "ipv4Unicast", n.IPv6) {
				return fmt.Errorf("node %s: the session from %s does not carry IPv4 (dualStackAddressFamily):\n%s", n.Name, n.IPv6, sum)
			}
			if !bfdPeerUp(bfd, n.IPv6) {
				return fmt.Errorf("node %s: no BFD session up with %s:\n%s", n.Name, n.IPv6, bfd)
			}
		}
		return nil
	})

	svc := l.createLB(t, "bgp-v6", "web", "bgp-v6", corev1.IPFamilyPolicyRequireDualStack,
		[]corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, false)
	ips := l.waitIngress(t, svc, 2)
	learned := func(what string, v4, v6 bool) {
		t.Helper()
		for _, ip := range ips {
			host := netip.PrefixFrom(ip, ip.BitLen())
			// Expected: a second or two, as the suite's Service.
			eventually(t, testkit.Budget(4*time.Second), fmt.Sprintf("%s learned from %s", host, what), func() error {
				return routerPathsFrom(p, host, v4, v6)
			})
			eventually(t, testkit.Budget(2*time.Second), host.String()+" in the router's kernel via every node", func() error {
				return routeViaEveryNode(p, ip)
			})
		}
	}
	learned("the IPv6 sessions alone", false, true)
	l.waitAnswers(t, svc, ips, "web", "")

	key := client.ObjectKey{Namespace: ironlbNamespace, Name: name}
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error { // the controller writes its status
		var adv v1beta1.BGPAdvertisement
		if err := l.cl.Get(ctx, key, &adv); err != nil {
			return err
		}
		adv.Spec.Peers = nil
		return l.cl.Update(ctx, &adv)
	}); err != nil {
		t.Fatalf("clearing the peers of BGPAdvertisement %s: %v", name, err)
	}
	learned("both sessions of every node (peers cleared)", true, true)

	if err := l.cs.CoreV1().Services(l.ns).Delete(ctx, svc, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	for _, ip := range ips {
		prefix := netip.PrefixFrom(ip, ip.BitLen())
		// Expected: withdrawn from both sessions ~70 ms after the delete.
		eventually(t, testkit.Budget(2*time.Second), prefix.String()+" withdrawn from the router's kernel", func() error {
			return routeAbsent(p.Namespace("router"), prefix, routerSelf(p, ip))
		})
	}
}

// routerPathsFrom returns nil when the router's BGP table holds prefix
// with a path from each node's IPv4 session exactly when v4, and from its
// IPv6 session exactly when v6, each with the node's address of the
// prefix's family as next hop.
func routerPathsFrom(p lab.Plan, prefix netip.Prefix, v4, v6 bool) error {
	out, err := vtysh(fmt.Sprintf("show bgp %s unicast %s json", afiOf(prefix.Addr()), prefix))
	if err != nil {
		return err
	}
	paths, err := frrtest.ParsePaths(out)
	if err != nil {
		return err
	}
	type path struct{ peer, nextHop string }
	var got []path
	for _, ph := range paths {
		nh := ""
		if len(ph.NextHops) > 0 {
			nh = ph.NextHops[0]
		}
		got = append(got, path{ph.Peer, nh})
	}
	for _, n := range p.Nodes {
		want := n.IPv4
		if prefix.Addr().Is6() {
			want = n.IPv6
		}
		for _, s := range []struct {
			family string
			addr   netip.Addr
			want   bool
		}{{"IPv4", n.IPv4, v4}, {"IPv6", n.IPv6, v6}} {
			i := slices.IndexFunc(got, func(ph path) bool { return ph.peer == s.addr.String() })
			switch {
			case i < 0 && s.want:
				return fmt.Errorf("no path from %s's %s session (%s):\n%s", n.Name, s.family, s.addr, out)
			case i >= 0 && !s.want:
				return fmt.Errorf("a path from %s's %s session (%s), which should not carry it:\n%s", n.Name, s.family, s.addr, out)
			case i >= 0 && got[i].nextHop != want.String():
				return fmt.Errorf("the path from %s's %s session (%s) has next hop %q, want %s (the node's address of the prefix's family):\n%s",
					n.Name, s.family, s.addr, got[i].nextHop, want, strings.TrimSpace(out))
			}
		}
	}
	return nil
}

// testOfferedNotInstalled: the router offers every node prefixes of its
// own (lab.OfferedV4 and OfferedV6, originated by its bgpd) over the
// suite's sessions, as routers offer their routes to a peer; no node's
// kernel ever holds a route for them — the speakers announce, they do not
// learn. The offer is checked first, in the router's advertised routes to
// each node, so the check cannot pass because nothing was offered; the
// absence is read with routeAbsent, which tells "no route" from a listing
// that failed.
//
// Seen failing with the route added by hand in node1's namespace (`ip -n
// <prefix>node1 route add 10.205.0.0/24 via 10.200.0.1`, as a speaker that
// installed what it learns would): "10.205.0.0/24 offered by the router,
// absent from every node's kernel: not within 16s: node1: still a route
// 10.205.0.0/24 (protocol )", and the same for fd00:205::/64.
func testOfferedNotInstalled(t *testing.T, p lab.Plan) {
	_, families := lbFamilies(p)
	for _, f := range families {
		offered := lab.OfferedV4
		if f == corev1.IPv6Protocol {
			offered = lab.OfferedV6
		}
		// Expected: offered when the session came up; settled in the
		// nodes' kernels long before (or never there).
		eventually(t, testkit.Budget(2*time.Second), offered.String()+" offered by the router, absent from every node's kernel", func() error {
			for _, n := range p.Nodes {
				a := sessionAddr(p, n)
				out, err := vtysh(fmt.Sprintf("show bgp %s unicast neighbors %s advertised-routes json", afiOf(offered.Addr()), a))
				if err != nil {
					return err
				}
				if !strings.Contains(out, `"`+offered.String()+`"`) {
					return fmt.Errorf("%s: the router has not offered %s to %s:\n%s", n.Name, offered, a, out)
				}
				if err := routeAbsent(p.Namespace(n.Name), offered, nodeAddrOf(n, offered.Addr())); err != nil {
					return fmt.Errorf("%s: %w", n.Name, err)
				}
			}
			return nil
		})
	}
	t.Logf("%v offered to every node by the router, installed by none", families)
}

// testBFDProfiles: a BFDProfile named by the suite's BGPPeer reaches the
// router as configured — for each variant, every node's BFD session is Up
// on FRR with the receive and transmit intervals and the multiplier of
// the profile as FRR reads them from the nodes' packets (`show bfd peers
// json`, remote-*) — and an edit of the profile reaches it too: custom
// intervals (rx 200 ms, tx 150 ms, multiplier 4), passive mode with the
// defaults (applied in place: passive only matters to a session not yet
// started), then echo mode at 40 ms (the node's echo interval on the
// router, and echo packets going round both ways: testBFDEchoFlowing).
// The edits reach the running BFD sessions by a Poll sequence and keep the
// BGP sessions: the router logs no session change meanwhile. Seen failing
// with internal/bgp replacing the BFD session instead (the old one's
// AdminDown makes FRR 8.4 reset BGP): "a BFD profile edit reset a BGP
// session: the router logged "... %ADJCHANGE: neighbor 10.200.0.11(vm) in
// vrf default Down Neighbor deleted"".
// Minimum TTL applies to multi-hop sessions alone (single-hop ones accept
// TTL 255 only, RFC 5881 §5); internal/bfd's TestAgainstFRRProfile shows
// it, and who starts a passive session, against FRR in namespaces.
//
// Seen failing with the profile's intervals swapped in internal/bfd
// (Profile.config giving ReceiveInterval as DesiredMinTx): "BFD on the
// router with rx 200ms, tx 150ms, multiplier 4 from every node: not
// within 24s: node1 (10.200.0.11): up, rx 150 tx 200 mult 4".
func testBFDProfiles(t *testing.T, l *l2Env, p lab.Plan, peer string) {
	ctx := context.Background()
	name := peer + "-variants"
	prof := &v1beta1.BFDProfile{ObjectMeta: metav1.ObjectMeta{Namespace: ironlbNamespace, Name: name}}
	l.create(t, prof)
	key := client.ObjectKey{Namespace: ironlbNamespace, Name: peer}
	var bp v1beta1.BGPPeer
	if err := l.cl.Get(ctx, key, &bp); err != nil {
		t.Fatal(err)
	}
	orig := bp.DeepCopy()
	bp.Spec.BFDProfile = name
	if err := l.cl.Patch(ctx, &bp, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}
	// Undone before the profile goes (cleanups run last first).
	t.Cleanup(func() {
		var cur v1beta1.BGPPeer
		if err := l.cl.Get(context.Background(), key, &cur); err != nil {
			t.Errorf("reading BGPPeer %s: %v", peer, err)
			return
		}
		before := cur.DeepCopy()
		cur.Spec.BFDProfile = orig.Spec.BFDProfile
		if err := l.cl.Patch(context.Background(), &cur, client.MergeFrom(before)); err != nil {
			t.Errorf("restoring BGPPeer %s: %v", peer, err)
		}
	})
	var since time.Time // the edits below reset no BGP session
	for i, v := range []struct {
		what   string
		spec   v1beta1.BFDProfileSpec
		rx, tx int
		mult   int
		echoRx int
	}{
		{what: "the defaults (BFD just turned on)", rx: 300, tx: 300, mult: 3},
		{what: "rx 200ms, tx 150ms, multiplier 4", rx: 200, tx: 150, mult: 4,
			spec: v1beta1.BFDProfileSpec{ReceiveInterval: ptr.To[uint32](200), TransmitInterval: ptr.To[uint32](150), DetectMultiplier: ptr.To[uint32](4)}},
		{what: "passive mode, the defaults", rx: 300, tx: 300, mult: 3,
			spec: v1beta1.BFDProfileSpec{PassiveMode: ptr.To(true)}},
		{what: "echo mode at 40ms", rx: 300, tx: 300, mult: 3, echoRx: 40,
			spec: v1beta1.BFDProfileSpec{EchoMode: ptr.To(true), EchoInterval: ptr.To[uint32](40)}},
	} {
		start := time.Now()
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error { // the controller writes its status
			if err := l.cl.Get(ctx, client.ObjectKeyFromObject(prof), prof); err != nil {
				return err
			}
			prof.Spec = v.spec
			return l.cl.Update(ctx, prof)
		}); err != nil {
			t.Fatalf("editing BFDProfile %s (%s): %v", name, v.what, err)
		}
		// Expected: the speakers replace the BFD sessions within a second
		// (turning BFD on re-creates the BGP sessions too: BGP back 1-2 s
		// later), BFD Up a second or two after and the fast intervals one
		// Poll after.
		eventually(t, testkit.Budget(3*time.Second), "BFD on the router with "+v.what+" from every node", func() error {
			out, err := vtysh("show bfd peers json")
			if err != nil {
				return err
			}
			var peers []routerBFDPeer
			if err := json.Unmarshal([]byte(out), &peers); err != nil {
				return fmt.Errorf("show bfd peers json: %w: %q", err, out)
			}
			for _, n := range p.Nodes {
				a := sessionAddr(p, n)
				i := slices.IndexFunc(peers, func(e routerBFDPeer) bool { return e.Peer == a.String() })
				if i < 0 {
					return fmt.Errorf("%s (%s): no BFD session on the router:\n%s", n.Name, a, out)
				}
				e := peers[i]
				if e.Status != "up" || e.RemoteRx != v.rx || e.RemoteTx != v.tx || e.RemoteMult != v.mult || e.RemoteEchoRx != v.echoRx {
					return fmt.Errorf("%s (%s): %s, rx %d tx %d mult %d echo rx %d", n.Name, a, e.Status, e.RemoteRx, e.RemoteTx, e.RemoteMult, e.RemoteEchoRx)
				}
			}
			return nil
		})
		t.Logf("%s: on the router for every node %v after the edit", v.what, time.Since(start).Round(10*time.Millisecond))
		if i == 0 {
			since = time.Now()
		}
	}
	// A profile edit replaces the BFD sessions alone: the router logged no
	// BGP session change since the first profile was in force.
	changes, err := routerAdjChanges(l, since)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		t.Errorf("a BFD profile edit reset a BGP session: the router logged %q", c.line)
	}
	testBFDEchoFlowing(t, p, peer)
}

// testBFDEchoFlowing: with the echo profile of testBFDProfiles in force,
// echo packets go round both ways for every node within a second: the
// router's (FRR's bfdd, with echo-mode in the lab's profile) come back to
// it, looped by the node's IP forwarding — its echo-packet-input counter
// grows — and the node's come back to its speaker, looped by the
// router's forwarding (IPv4) or bfdd (IPv6) — its
// ironlb_bfd_echo_packets_received_total grows.
//
// Seen failing with echo-mode taken off the router's profile (vtysh: `bfd
// / profile nodes / no echo-mode`): "node1: the router's echo packets
// back: 0 more in 1s"; and with the speaker's IPv4 echo packets addressed
// to the router (echo_linux.go's ipv4UDP given the peer as destination:
// the router's kernel takes them for itself, none come back), the nodes'
// sessions go down on Echo Function Failed, so testBFDProfiles fails
// first: "BFD on the router with echo mode at 40ms from every node: not
// within 24s: node1 (10.200.0.11): no BFD session on the router".
func testBFDEchoFlowing(t *testing.T, p lab.Plan, peer string) {
	type count struct{ router, speaker float64 }
	read := func() (map[string]count, error) {
		out, err := vtysh("show bfd peers counters json")
		if err != nil {
			return nil, err
		}
		var peers []struct {
			Peer string  `json:"peer"`
			In   float64 `json:"echo-packet-input"`
		}
		if err := json.Unmarshal([]byte(out), &peers); err != nil {
			return nil, fmt.Errorf("show bfd peers counters json: %w: %q", err, out)
		}
		got := map[string]count{}
		for _, n := range p.Nodes {
			a := sessionAddr(p, n)
			i := slices.IndexFunc(peers, func(e struct {
				Peer string  `json:"peer"`
				In   float64 `json:"echo-packet-input"`
			}) bool {
				return e.Peer == a.String()
			})
			if i < 0 {
				return nil, fmt.Errorf("%s (%s): no BFD counters on the router:\n%s", n.Name, a, out)
			}
			text, err := scrapeMetrics(context.Background(), e2e.prefix+n.Name, speakerMetrics)
			if err != nil {
				return nil, err
			}
			all, err := samples(text, "ironlb_bfd_echo_packets_received_total")
			if err != nil {
				return nil, err
			}
			mine := withLabels(all, map[string]string{"peer": peer})
			if len(mine) != 1 {
				return nil, fmt.Errorf("%s: %d samples of ironlb_bfd_echo_packets_received_total{peer=%q}", n.Name, len(mine), peer)
			}
			got[n.Name] = count{router: peers[i].In, speaker: mine[0].value}
		}
		return got, nil
	}
	before, err := read()
	if err != nil {
		t.Fatal(err)
	}
	const window = time.Second // 25 echo packets each way at 40 ms
	time.Sleep(window)
	after, err := read()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range p.Nodes {
		b, a := before[n.Name], after[n.Name]
		if a.router-b.router < 10 {
			t.Errorf("%s: the router's echo packets back: %v more in %v", n.Name, a.router-b.router, window)
		}
		if a.speaker-b.speaker < 10 {
			t.Errorf("%s: the speaker's echo packets back: %v more in %v", n.Name, a.speaker-b.speaker, window)
		}
		t.Logf("%s: in %v, %v of the router's echo packets and %v of the speaker's came back", n.Name, window, a.router-b.router, a.speaker-b.speaker)
	}
}

// routerBFDPeer is one entry of FRR's `show bfd peers json`: the session's
// state and, as remote-*, what the node's packets carry (milliseconds).
type routerBFDPeer struct {
	Peer       string `json:"peer"`
	Status     string `json:"status"`
	RemoteRx   int    `json:"remote-receive-interval"`
	RemoteTx   int    `json:"remote-transmit-interval"`
	RemoteMult int    `json:"remote-detect-multiplier"`
	// RemoteEchoRx is the node's Required Min Echo RX Interval: 0
	// without echo mode.
	RemoteEchoRx int `json:"remote-echo-receive-interval"`
}

//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"strconv"
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
	"github.com/ironlb/ironlb/internal/lab"
	"github.com/ironlb/ironlb/internal/testkit"
)

// bgpPool is the BGP suite's pool: outside every lab subnet, so the client
// reaches it only through the router, which learns it from the nodes.
var bgpPool = []string{"10.202.0.10-10.202.0.19", "fd00:202::10-fd00:202::19"}

// bgpGRPool and bgpNoGRPool are the speaker restart checks' pools,
// announced from one node alone (clear of bgpPool and of the bench's
// 10.202.0.40-49); their Services are single-stack, of the lab's first
// family.
var (
	bgpGRPool   = []string{"10.202.0.20-10.202.0.29", "fd00:202::20-fd00:202::29"}
	bgpNoGRPool = []string{"10.202.0.30-10.202.0.39", "fd00:202::30-fd00:202::39"}
)

// bgpHoldTime is the hold time of the suite's BGPPeer (ironlb's default):
// without BFD, the router notices a dead node only after it.
const bgpHoldTime = 90 * time.Second

// TestBGP proves the BGP mode on the lab: every node peers with the lab's
// FRR router (eBGP, AS 64513 to 64512); a dual-stack LoadBalancer Service
// from a pool with a BGPAdvertisement appears as a /32 and a /128 in the
// router's BGP table with its communities and in its kernel with every
// node as next hop (ECMP), with a ServiceBGPStatus per node; the client,
// whose default route is the router, reaches the Service over both
// families; deleting the Service withdraws the routes.
func TestBGP(t *testing.T) {
	requireLab(t)
	l := newL2Env(t)
	if !status(t).Speakers {
		t.Fatal("the lab runs no ironlb speakers (or one is down): `ironlb lab status` shows why")
	}
	p, err := l.state.Plan()
	if err != nil {
		t.Fatal(err)
	}
	st := status(t)
	ctx := context.Background()

	l.createBGPPool(t, "bgp", bgpPool, p, st, func(peer *v1beta1.BGPPeerSpec, adv *v1beta1.BGPAdvertisementSpec) {
		peer.DualStackAddressFamily, peer.EnableGracefulRestart = p.IPFamily == lab.DualStack, true
		adv.Communities = []string{"64513:100", "large:64513:1:2"}
	})
	name := l.pools["bgp"]

	// Expected: the speakers read the new BGPPeer within a second, GoBGP's
	// first connect waits 1-2 s (lab notes), so Established within 3 s.
	eventually(t, testkit.Budget(3*time.Second), "a BGP session from every node Established", func() error {
		out, err := vtysh("show bgp summary json")
		if err != nil {
			return err
		}
		for _, n := range p.Nodes {
			if a := sessionAddr(p, n); !neighborEstablished(out, a) {
				return fmt.Errorf("node %s (%s) not Established:\n%s", n.Name, a, out)
			}
		}
		return nil
	})

	l.deployWeb(t, "web", e2e.nodes, nil)
	created := time.Now()
	policy, families := lbFamilies(p)
	svc := l.createLB(t, "bgp", "web", "bgp", policy, families, false)
	ips := l.waitIngress(t, svc, len(families))
	routerNS := p.Namespace("router")

	for _, ip := range ips {
		prefix := netip.PrefixFrom(ip, ip.BitLen())
		// Expected: allocation within a second, the route in the router's
		// kernel ~60 ms after the speakers add it (lab notes).
		eventually(t, testkit.Budget(2*time.Second), fmt.Sprintf("%s in the router's kernel via every node", prefix), func() error {
			return routeViaEveryNode(p, ip)
		})
		t.Logf("%s: in the router's kernel via all %d nodes %v after the Service was created", prefix, len(p.Nodes), time.Since(created).Round(time.Millisecond))
		afi := "ipv4"
		if ip.Is6() {
			afi = "ipv6"
		}
		out, err := vtysh(fmt.Sprintf("show bgp %s unicast %s json", afi, prefix))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"64513:100", "64513:1:2"} {
			if !strings.Contains(out, want) {
				t.Errorf("the router's paths of %s lack community %s:\n%s", prefix, want, out)
			}
		}
	}

	// Expected: written with the announcement, a second at most.
	eventually(t, testkit.Budget(time.Second), "a ServiceBGPStatus from every node", func() error {
		var list v1beta1.ServiceBGPStatusList
		if err := l.cl.List(ctx, &list, client.InNamespace(l.ns), client.MatchingLabels{v1beta1.LabelStatusServiceName: svc}); err != nil {
			return err
		}
		if len(list.Items) != len(p.Nodes) {
			return fmt.Errorf("%d objects, want %d", len(list.Items), len(p.Nodes))
		}
		for _, o := range list.Items {
			if len(o.Status.Peers) != 1 || o.Status.Peers[0] != name {
				return fmt.Errorf("%s: peers %v, want [%s]", o.Status.Node, o.Status.Peers, name)
			}
		}
		return nil
	})

	for _, ip := range ips {
		// Expected: kube-proxy programs the address within a few seconds of
		// the allocation.
		eventually(t, testkit.Budget(5*time.Second), fmt.Sprintf("HTTP to %s from the client through the router", ip), func() error {
			for range 6 { // over several connections, so ECMP may pick either node
				if _, err := l.get(ctx, ip); err != nil {
					return err
				}
			}
			return nil
		})
	}
	t.Logf("the client reaches %v through the router", ips)

	t.Run("graceful restart keeps a restarting node's route", func(t *testing.T) {
		testSpeakerRestart(t, l, p, name, true)
	})

	t.Run("a speaker restart without graceful restart withdraws the node's route", func(t *testing.T) {
		testSpeakerRestart(t, l, p, name, false)
	})

	t.Run("router restart without graceful restart: routes gone until the sessions return", func(t *testing.T) {
		testRouterRestart(t, l, p, ips, routerRestart)
	})

	t.Run("router restart with graceful restart: routes kept while bgpd restarts", func(t *testing.T) {
		testRouterRestart(t, l, p, ips, routerGraceful)
	})

	t.Run("clear bgp * on the router: sessions and routes back", func(t *testing.T) {
		testRouterRestart(t, l, p, ips, routerClear)
	})

	t.Run("two Services sharing requested addresses are routed and answered", func(t *testing.T) {
		testSharedRouted(t, l, p)
	})

	t.Run("an advertisement edited while running: aggregates and a community reach the router, no session reset", func(t *testing.T) {
		testAdvertisementEdit(t, l, p, name)
	})

	t.Run("a hold time edited while running is negotiated anew", func(t *testing.T) {
		testHoldTimeEdit(t, l, p, name)
	})

	t.Run("externalTrafficPolicy Local: the next hop follows the endpoint", func(t *testing.T) {
		testBGPLocalPolicy(t, l, p)
	})

	t.Run("node eligibility takes a node's next hop away and back", func(t *testing.T) {
		testBGPEligibility(t, l, p, ips)
	})

	t.Run("BFD drops a failed node's routes", func(t *testing.T) {
		testBFDNodeFail(t, l, p, name, ips)
	})

	t.Run("BFD profile variants reach the router as configured", func(t *testing.T) {
		testBFDProfiles(t, l, p, name)
	})

	t.Run("routes the router offers are never installed on the nodes", func(t *testing.T) {
		testOfferedNotInstalled(t, p)
	})

	if p.IPFamily == lab.DualStack { // sessions of each family side by side
		t.Run("IPv6 sessions beside IPv4 ones: both families over each, advertisement peers, BFD", func(t *testing.T) {
			testIPv6Sessions(t, l, p, st)
		})
	}

	t.Run("asPathPrepend and localASN reach the router", func(t *testing.T) {
		testASPath(t, l, p, name, ips[0], uint32(st.NodeASN)) //nolint:gosec // an ASN fits
	})

	// The routes there again before the withdrawal is checked (the
	// subtests above take sessions and next hops away and give them back),
	// or "withdrawn" would prove nothing.
	for _, ip := range ips {
		// Expected: sessions re-created by the last subtest connect 1-2 s
		// after their BGPPeer.
		eventually(t, testkit.Budget(3*time.Second), fmt.Sprintf("%s in the router's kernel via every node before the Service goes", ip), func() error {
			return routeViaEveryNode(p, ip)
		})
	}
	if err := l.cs.CoreV1().Services(l.ns).Delete(ctx, svc, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, ip := range ips {
		prefix := netip.PrefixFrom(ip, ip.BitLen())
		self := routerSelf(p, ip)
		// A negative check ("no route"): routeAbsent passes only on a
		// listing of the router's table that ran and holds its connected
		// LAN route. Expected: the withdrawal reaches the router's kernel
		// ~70 ms after the speakers delete the path (lab notes).
		eventually(t, testkit.Budget(2*time.Second), fmt.Sprintf("%s withdrawn from the router's kernel", prefix), func() error {
			return routeAbsent(routerNS, prefix, self)
		})
	}
}

// testSpeakerRestart restarts the speaker of node1 (graceful stop, then
// start: `lab restart speaker`) while the client sends a stream of
// requests to an address that node1 alone announces: a pool of its own
// whose BGPAdvertisement selects node1, so the router has a single next
// hop for it. With graceful restart on the peer (the suite's BGPPeer has
// it) the router keeps node1's route, stale, until node1's new session
// sends it again, and kube-proxy on node1 keeps serving: no request fails
// and the route never leaves the router's kernel. The session must really
// have restarted (a new one, younger than the restart), or the check
// proves nothing.
//
// With a second next hop (the ECMP Service of the suite) this check would
// pass without graceful restart: the router would just send everything to
// the other node. Seen to fail with EnableGracefulRestart false in the
// suite's BGPPeer: the speaker closes the session on its graceful stop and
// the router withdraws the route at once — "the router's kernel route of
// 10.202.0.20/32 lacked node1, its only next hop, in 105 of 213 samples
// during the restart", and "1 of 116 requests failed". The route samples
// decide: the client's SYN retransmissions carry most requests over the
// gap, so few of them fail.
//
// Without graceful restart (graceful false: the suite's BGPPeer edited to
// enableGracefulRestart false for the check, and back after it) the
// speaker's graceful stop closes the session and the router withdraws the
// route at once: the samples must see it gone — the outage it should
// show, measured and logged with the failed requests. Seen failing with a
// speaker that ignores enableGracefulRestart false (the capability always
// sent, every session left open at the stop): "the router's kernel route
// of 10.202.0.30/32 never lacked node1, its only next hop, during a
// restart without graceful restart (341 samples)".
func testSpeakerRestart(t *testing.T, l *l2Env, p lab.Plan, peer string, graceful bool) {
	ctx := context.Background()
	node := p.Nodes[0]
	routerNS := p.Namespace("router")

	short, addrs := "bgp-gr", bgpGRPool
	if !graceful {
		short, addrs = "bgp-nogr", bgpNoGRPool
		l.setGracefulRestart(t, peer, p, false)
		t.Cleanup(func() { l.setGracefulRestart(t, peer, p, true) })
	}
	name := peer + strings.TrimPrefix(short, "bgp")
	meta := metav1.ObjectMeta{Namespace: ironlbNamespace, Name: name}
	for _, o := range []client.Object{
		&v1beta1.IPAddressPool{ObjectMeta: meta, Spec: v1beta1.IPAddressPoolSpec{Addresses: addrs, AutoAssign: ptr.To(false)}},
		&v1beta1.BGPAdvertisement{ObjectMeta: meta, Spec: v1beta1.BGPAdvertisementSpec{
			IPAddressPools: []string{name}, Peers: []string{peer},
			NodeSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{corev1.LabelHostname: node.Name}}},
		}},
	} {
		if err := l.cl.Create(ctx, o); err != nil {
			t.Fatalf("creating %T %s: %v", o, name, err)
		}
		t.Cleanup(func() {
			if err := l.cl.Delete(context.Background(), o); err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("deleting %T %s: %v", o, name, err)
			}
		})
	}
	l.pools[short] = name
	_, families := lbFamilies(p)
	svc := l.createLB(t, short, "web", short, corev1.IPFamilyPolicySingleStack, families[:1], false)
	vip := l.waitIngress(t, svc, 1)[0]
	prefix := netip.PrefixFrom(vip, vip.BitLen())
	via := "via " + nodeAddrOf(node, vip).String() + " "
	// Expected: as the ECMP Service's route: a second or two.
	eventually(t, testkit.Budget(2*time.Second), fmt.Sprintf("%s in the router's kernel via %s alone", prefix, node.Name), func() error {
		route, err := kernelRoute(routerNS, prefix)
		if err != nil {
			return err
		}
		if !strings.Contains(route, via) {
			return fmt.Errorf("no next hop %s in %q", nodeAddrOf(node, vip), route)
		}
		for _, n := range p.Nodes[1:] {
			if strings.Contains(route, "via "+nodeAddrOf(n, vip).String()+" ") {
				return fmt.Errorf("%q has a next hop of %s too: the check needs a single next hop", route, n.Name)
			}
		}
		return nil
	})
	// Expected: kube-proxy on node1 programs the address within seconds.
	eventually(t, testkit.Budget(5*time.Second), fmt.Sprintf("HTTP to %s from the client through the router", vip), func() error {
		_, err := l.get(ctx, vip)
		return err
	})

	streamCtx, stop := context.WithCancel(ctx)
	defer stop()
	var requests, failures, samples, without, sampleErrs int
	var firstWithout, lastWithout time.Time
	var firstErr, firstSampleErr error
	done := make(chan struct{}, 2)
	go func() { // the client's stream: a new connection every 20 ms
		defer func() { done <- struct{}{} }()
		for streamCtx.Err() == nil {
			requests++
			if _, err := l.get(context.Background(), vip); err != nil {
				failures++
				if firstErr == nil {
					firstErr = err
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	go func() { // the router's kernel route, sampled
		defer func() { done <- struct{}{} }()
		for streamCtx.Err() == nil {
			route, err := kernelRoute(routerNS, prefix)
			switch {
			case err != nil:
				sampleErrs++
				if firstSampleErr == nil {
					firstSampleErr = err
				}
			default:
				samples++
				if !strings.Contains(route, via) {
					without++
					if firstWithout.IsZero() {
						firstWithout = time.Now()
					}
					lastWithout = time.Now()
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	time.Sleep(time.Second) // the stream and the sampler running before the restart
	start := time.Now()
	ironlb(t, "restart", "speaker", node.Name)
	t.Logf("`lab restart speaker %s` took %v", node.Name, time.Since(start).Round(time.Millisecond))
	// Expected: the new speaker connects within 1-2 s of its start (GoBGP's
	// connect jitter), sends the path and End-of-RIB, and the router
	// clears the stale flag: a few seconds (8.7 s seen at load 16).
	eventually(t, testkit.Budget(5*time.Second), "a new session of "+node.Name+" Established with a fresh path", func() error {
		sum, err := vtysh("show bgp summary json")
		if err != nil {
			return err
		}
		a := sessionAddr(p, node)
		up, ok := neighborUptime(sum, a)
		if !ok {
			return fmt.Errorf("no Established session with %s", a)
		}
		if since := time.Since(start); up >= since {
			return fmt.Errorf("the session with %s is up %v, since before the restart began %v ago: not restarted (yet)", a, up, since)
		}
		out, err := vtysh(fmt.Sprintf("show bgp %s unicast %s json", afiOf(vip), prefix))
		if err != nil {
			return err
		}
		if !strings.Contains(out, `"peerId":"`+a.String()+`"`) {
			return fmt.Errorf("no path from %s:\n%s", a, out)
		}
		if strings.Contains(out, `"stale":true`) {
			return fmt.Errorf("a path is still stale")
		}
		return nil
	})
	t.Logf("%s's new session up with a fresh path %v after the restart began", node.Name, time.Since(start).Round(time.Millisecond))
	time.Sleep(time.Second) // the stream goes on a little after the restart
	stop()
	<-done
	<-done
	kind := "graceful restart"
	if !graceful {
		kind = "restart without graceful restart"
	}
	gap := ""
	if without > 0 {
		gap = fmt.Sprintf(" (from %v to %v after the restart began)", firstWithout.Sub(start).Round(10*time.Millisecond), lastWithout.Sub(start).Round(10*time.Millisecond))
	}
	t.Logf("%s of %s: %d requests, %d failed; the router's kernel route lacked %s in %d of %d samples%s (%d samples failed)",
		kind, node.Name, requests, failures, node.Name, without, samples, gap, sampleErrs)
	if sampleErrs > 0 || samples == 0 || requests == 0 {
		t.Fatalf("the check did not run: %d requests, %d route samples, %d failed samples (first: %v)", requests, samples, sampleErrs, firstSampleErr)
	}
	if !graceful {
		if without == 0 {
			t.Errorf("the router's kernel route of %s never lacked %s, its only next hop, during a restart without graceful restart (%d samples): the session did not end, or the restart did not happen", prefix, node.Name, samples)
		}
		return
	}
	if failures > 0 {
		t.Errorf("%d of %d requests failed during the restart; first: %v", failures, requests, firstErr)
	}
	if without > 0 {
		t.Errorf("the router's kernel route of %s lacked %s, its only next hop, in %d of %d samples during the restart", prefix, node.Name, without, samples)
	}
}

// setGracefulRestart sets enableGracefulRestart of the BGPPeer peer and
// waits until every node has a new session to the router: the speakers
// re-create a peer whose settings changed.
func (l *l2Env) setGracefulRestart(t *testing.T, peer string, p lab.Plan, on bool) {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error { // the controller writes its status
		var bp v1beta1.BGPPeer
		if err := l.cl.Get(ctx, client.ObjectKey{Namespace: ironlbNamespace, Name: peer}, &bp); err != nil {
			return err
		}
		bp.Spec.EnableGracefulRestart = on
		start = time.Now()
		return l.cl.Update(ctx, &bp)
	}); err != nil {
		t.Fatalf("setting enableGracefulRestart %v on BGPPeer %s: %v", on, peer, err)
	}
	// Expected: the speakers see the edit within a second, close the old
	// sessions and connect anew 1-2 s later.
	eventually(t, testkit.Budget(3*time.Second), fmt.Sprintf("every node's session re-created with enableGracefulRestart %v", on), func() error {
		return sessionsSince(p, start)
	})
}

// sessionsSince returns nil when every node has an Established session
// with the router that came up after start.
func sessionsSince(p lab.Plan, start time.Time) error {
	sum, err := vtysh("show bgp summary json")
	if err != nil {
		return err
	}
	for _, n := range p.Nodes {
		up, ok := neighborUptime(sum, sessionAddr(p, n))
		if !ok {
			return fmt.Errorf("no Established session with %s (%s)", n.Name, sessionAddr(p, n))
		}
		if since := time.Since(start); up >= since {
			return fmt.Errorf("the session with %s is up %v, since before %v ago", n.Name, up, since)
		}
	}
	return nil
}

// sessionAddr is host h's end of the BGP sessions between the nodes and
// the router: its IPv4 address, or on an IPv6-only lab its IPv6 one (the
// suite's BGPPeer names the router's: sessionAddr(p, p.Router)).
func sessionAddr(p lab.Plan, h lab.Host) netip.Addr {
	if p.IPFamily.HasV4() {
		return h.IPv4
	}
	return h.IPv6
}

// nodeAddrOf is node n's address of ip's family: the next hop of its
// routes for ip.
func nodeAddrOf(n lab.Host, ip netip.Addr) netip.Addr {
	if ip.Is6() {
		return n.IPv6
	}
	return n.IPv4
}

// lbFamilies is what the suite's Services ask for: both families on a
// dual-stack lab (IPv4 first), else the lab's one.
func lbFamilies(p lab.Plan) (corev1.IPFamilyPolicy, []corev1.IPFamily) {
	switch p.IPFamily {
	case lab.IPv4Only:
		return corev1.IPFamilyPolicySingleStack, []corev1.IPFamily{corev1.IPv4Protocol}
	case lab.IPv6Only:
		return corev1.IPFamilyPolicySingleStack, []corev1.IPFamily{corev1.IPv6Protocol}
	}
	return corev1.IPFamilyPolicyRequireDualStack, []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
}

// routeViaEveryNode returns nil when the router's kernel routes ip (its
// host prefix) via every node, by the node's address of ip's family.
func routeViaEveryNode(p lab.Plan, ip netip.Addr) error {
	route, err := kernelRoute(p.Namespace("router"), netip.PrefixFrom(ip, ip.BitLen()))
	if err != nil {
		return err
	}
	for _, n := range p.Nodes {
		nh := nodeAddrOf(n, ip)
		if !strings.Contains(route, "via "+nh.String()+" ") {
			return fmt.Errorf("no next hop %s (%s) in %q", nh, n.Name, route)
		}
	}
	return nil
}

// createBGPPool creates pool e2e-<short>-<id> of addrs (no autoAssign), a
// BGPPeer of that name from every node to the lab's router (its IPv4
// address, connectTime 1 s) and a BGPAdvertisement of the pool, each
// changed by edit (nil: none), deleted when the test ends; Services ask
// for it as short.
func (l *l2Env) createBGPPool(t *testing.T, short string, addrs []string, p lab.Plan, st *lab.Status,
	edit func(*v1beta1.BGPPeerSpec, *v1beta1.BGPAdvertisementSpec)) {
	t.Helper()
	name := "e2e-" + short + "-" + l.id
	meta := metav1.ObjectMeta{Namespace: ironlbNamespace, Name: name}
	peer := v1beta1.BGPPeerSpec{
		MyASN: uint32(st.NodeASN), PeerASN: uint32(st.Router.ASN), PeerAddress: sessionAddr(p, p.Router).String(), //nolint:gosec // ASNs fit
		ConnectTime: &metav1.Duration{Duration: time.Second},
	}
	adv := v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{name}}
	if edit != nil {
		edit(&peer, &adv)
	}
	for _, o := range []client.Object{
		&v1beta1.IPAddressPool{ObjectMeta: meta, Spec: v1beta1.IPAddressPoolSpec{Addresses: addrs, AutoAssign: ptr.To(false)}},
		&v1beta1.BGPPeer{ObjectMeta: meta, Spec: peer},
		&v1beta1.BGPAdvertisement{ObjectMeta: meta, Spec: adv},
	} {
		l.create(t, o)
	}
	l.pools[short] = name
}

// vtysh runs vtysh with one command against the lab's router.
func vtysh(cmd string) (string, error) {
	return ironlbErr("router", "--", "-c", cmd)
}

// neighborEstablished reports whether FRR's `show bgp summary json` shows
// the (dynamic) neighbour addr Established in the unicast family of its
// own address (IPv4 for 10.200.0.11, IPv6 for fd00:200::11).
func neighborEstablished(summary string, addr netip.Addr) bool {
	_, ok := neighborUptime(summary, addr)
	return ok
}

// neighborEstablishedIn reports whether FRR's `show bgp summary json` shows
// the (dynamic) neighbour addr Established in family afi ("ipv4Unicast",
// "ipv6Unicast").
func neighborEstablishedIn(summary, afi string, addr netip.Addr) bool {
	_, ok := neighborUptimeIn(summary, afi, addr)
	return ok
}

// neighborUptime is how long FRR's `show bgp summary json` says the
// session with the (dynamic) neighbour addr has been Established in the
// unicast family of its own address; false when it is not Established.
func neighborUptime(summary string, addr netip.Addr) (time.Duration, bool) {
	afi := "ipv4Unicast"
	if addr.Is6() {
		afi = "ipv6Unicast"
	}
	return neighborUptimeIn(summary, afi, addr)
}

// neighborUptimeIn is neighborUptime in family afi.
func neighborUptimeIn(summary, afi string, addr netip.Addr) (time.Duration, bool) {
	var s map[string]struct {
		Peers map[string]struct {
			State          string `json:"state"`
			PeerUptimeMsec int64  `json:"peerUptimeMsec"`
		} `json:"peers"`
	}
	if err := json.Unmarshal([]byte(summary), &s); err != nil {
		return 0, false
	}
	peer, ok := s[afi].Peers[addr.String()]
	if !ok || peer.State != "Established" {
		return 0, false
	}
	return time.Duration(peer.PeerUptimeMsec) * time.Millisecond, true
}

// routeAbsent returns nil when the main routing table of namespace ns has
// no route for prefix, as a negative check must see it: from a listing of
// every table (`ip -j route show table all`) that ran, parsed, and shows
// ns's own address self (a local route in table local) and the connected
// route of its subnet (in table main) — so a failed command, a listing of
// another namespace or an empty one is an error, never "no route".
//
// Seen to fail: given the client's namespace instead of the router's,
// "the listing ... has no local route for 10.200.0.1: not the namespace
// of that address", where the old `ip route show <prefix>` there passed
// as "withdrawn".
func routeAbsent(ns string, prefix netip.Prefix, self netip.Addr) error {
	fam := "-4"
	if prefix.Addr().Is6() {
		fam = "-6"
	}
	cmd := exec.Command("ip", "-j", "-n", ns, fam, "route", "show", "table", "all")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip -j -n %s %s route show table all: %w: %s", ns, fam, err, stderr.String())
	}
	var routes []struct {
		Type     string `json:"type"`
		Dst      string `json:"dst"`
		Table    string `json:"table"` // absent for table main
		Protocol string `json:"protocol"`
	}
	if err := json.Unmarshal([]byte(stdout.String()), &routes); err != nil {
		return fmt.Errorf("the route listing of %s does not parse: %w: %q", ns, err, stdout.String())
	}
	local, connected, present := false, false, ""
	for _, r := range routes {
		dst, err := netip.ParsePrefix(r.Dst)
		if err != nil {
			a, aerr := netip.ParseAddr(r.Dst)
			if aerr != nil {
				continue // "default" and the like
			}
			dst = netip.PrefixFrom(a, a.BitLen())
		}
		main := r.Table == "" || r.Table == "main"
		switch {
		case r.Table == "local" && r.Type == "local" && dst == netip.PrefixFrom(self, self.BitLen()):
			local = true
		case main && r.Protocol == "kernel" && dst.Bits() < dst.Addr().BitLen() && dst.Contains(self):
			connected = true
		}
		if main && dst == prefix {
			present = fmt.Sprintf("%s (protocol %s)", r.Dst, r.Protocol)
		}
	}
	switch {
	case !local:
		return fmt.Errorf("the listing of %s's %s routes (%d) has no local route for %s: not the namespace of that address", ns, fam, len(routes), self)
	case !connected:
		return fmt.Errorf("the listing of %s's %s routes (%d) has no connected route covering %s", ns, fam, len(routes), self)
	case present != "":
		return fmt.Errorf("still a route %s", present)
	}
	return nil
}

// kernelRoute returns `ip route show <prefix>` in the router's namespace,
// one line per next hop.
func kernelRoute(ns string, prefix netip.Prefix) (string, error) {
	fam := "-4"
	if prefix.Addr().Is6() {
		fam = "-6"
	}
	out, err := exec.Command("ip", "-n", ns, fam, "route", "show", prefix.String()).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("ip route show %s in %s: %w: %s", prefix, ns, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// testBFDNodeFail names a BFDProfile with every default (300 ms × 3) in the
// BGPPeer peer, then crashes the last node (`lab node fail`: link cut, then
// speaker killed): the router drops that node's next hop from the routes
// of ips, keeping the other nodes', well before the hold time would — the
// time is logged; BFD's is under 1 s, where the hold time and graceful
// restart would keep them for minutes — and the node's routes come back
// after `lab node recover`.
func testBFDNodeFail(t *testing.T, l *l2Env, p lab.Plan, peer string, ips []netip.Addr) {
	ctx := context.Background()
	prof := &v1beta1.BFDProfile{ObjectMeta: metav1.ObjectMeta{Namespace: ironlbNamespace, Name: peer}}
	if err := l.cl.Create(ctx, prof); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.cl.Delete(context.Background(), prof); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting BFDProfile %s: %v", peer, err)
		}
	})
	var bp v1beta1.BGPPeer
	if err := l.cl.Get(ctx, client.ObjectKey{Namespace: ironlbNamespace, Name: peer}, &bp); err != nil {
		t.Fatal(err)
	}
	orig := bp.DeepCopy()
	bp.Spec.BFDProfile = peer
	if err := l.cl.Patch(ctx, &bp, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}
	// Undone before the profile goes (cleanups run last first), so the
	// BGPPeer never names a missing profile.
	t.Cleanup(func() {
		var cur v1beta1.BGPPeer
		if err := l.cl.Get(context.Background(), client.ObjectKey{Namespace: ironlbNamespace, Name: peer}, &cur); err != nil {
			t.Errorf("reading BGPPeer %s: %v", peer, err)
			return
		}
		before := cur.DeepCopy()
		cur.Spec.BFDProfile = orig.Spec.BFDProfile
		if err := l.cl.Patch(context.Background(), &cur, client.MergeFrom(before)); err != nil {
			t.Errorf("restoring BGPPeer %s: %v", peer, err)
		}
	})
	nodeIPs := map[string]netip.Addr{}
	for _, n := range p.Nodes {
		nodeIPs[n.Name] = sessionAddr(p, n)
	}
	routerNS := p.Namespace("router")
	victim := p.Nodes[len(p.Nodes)-1]
	nextHop := func(n lab.Host, ip netip.Addr) string { return "via " + nodeAddrOf(n, ip).String() + " " }
	viaAll := func() error {
		for _, ip := range ips {
			route, err := kernelRoute(routerNS, netip.PrefixFrom(ip, ip.BitLen()))
			if err != nil {
				return err
			}
			for _, n := range p.Nodes {
				if !strings.Contains(route, nextHop(n, ip)) {
					return fmt.Errorf("%s: no next hop of %s in %q", ip, n.Name, route)
				}
			}
		}
		return nil
	}
	waitSessions(t, nodeIPs, true)
	// Expected: the sessions are up, so the routes are there within a
	// second.
	eventually(t, testkit.Budget(time.Second), "the routes via every node", viaAll)

	// Expected: BFD notices in 0.9 s (300 ms × 3) and the router drops the
	// next hop at once (1.0 s, lab notes). The budget stays well below the
	// hold time: past it the router would drop the next hop without BFD
	// too, and the check could no longer tell.
	limit := min(testkit.Budget(time.Second), bgpHoldTime/3)
	start := time.Now()
	if err := lab.NodeFail(ctx, e2e.dir, victim.Name, io.Discard); err != nil {
		t.Fatal(err)
	}
	took, err := func() (time.Duration, error) {
		var last error
		for time.Since(start) < limit {
			// The victim's next hop gone and every other node's still
			// there: a route gone altogether (or a listing that failed) is
			// not what BFD is to do.
			last = nil
			for _, ip := range ips {
				route, err := kernelRoute(routerNS, netip.PrefixFrom(ip, ip.BitLen()))
				if err != nil {
					return 0, err
				}
				if strings.Contains(route, nextHop(victim, ip)) {
					last = fmt.Errorf("%s still via %s: %q", ip, victim.Name, route)
					break
				}
				for _, n := range p.Nodes {
					if n.Name != victim.Name && !strings.Contains(route, nextHop(n, ip)) {
						last = fmt.Errorf("%s lost the next hop of %s, which did not fail: %q", ip, n.Name, route)
					}
				}
			}
			if last == nil {
				return time.Since(start), nil
			}
			time.Sleep(10 * time.Millisecond)
		}
		return 0, fmt.Errorf("not %v after %s failed (hold time %v): %w", limit, victim.Name, bgpHoldTime, last)
	}()
	reason := lastReset(status(t).Router.VtySocket, sessionAddr(p, victim))
	if rerr := lab.NodeRecover(ctx, e2e.dir, victim.Name, io.Discard); rerr != nil {
		t.Fatalf("lab node recover %s: %v", victim.Name, rerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s failed: its next hops gone from the router's kernel routes of %v after %v (BFD 300 ms × 3; router: %q)",
		victim.Name, ips, took.Round(time.Millisecond), reason)
	// Expected: the recovered speaker's session and BFD up within a few
	// seconds (connect retry 1 s), its routes at once after.
	eventually(t, testkit.Budget(5*time.Second), "the routes via every node after `lab node recover`", viaAll)
	waitSessions(t, nodeIPs, true)
}

// testASPath edits the suite's BGPAdvertisement while it runs:
// asPathPrepend 2 makes the router's paths to ip carry the node AS three
// times (GoBGP prepends it once more towards an eBGP peer). Then the
// suite's BGPPeer is replaced by one with myASN 64600 and localASN set to
// the node AS the router expects: every node opens a new session, which
// the router accepts only from the node AS, and the AS paths hold the node
// AS alone, never 64600 — replace-as. The suite's BGPPeer is restored
// afterwards.
//
// Seen failing with the speaker handing GoBGP myASN instead of the
// session's AS (toBGPPeer): "a new session from every node Established
// with localASN: not within 40s: node node1 (10.200.0.11): no session
// younger than the BGPPeer with localASN (Established false, for 0s)" —
// the router refuses the OPEN from AS 64600. And with the AS_PATH
// attribute left out (bgp.pathAttributes), internal/bgp's TestFRR fails
// the same way this check would: AS path "64513", want "64513 64513
// 64513".
func testASPath(t *testing.T, l *l2Env, p lab.Plan, name string, ip netip.Addr, nodeASN uint32) {
	ctx := context.Background()
	prefix := netip.PrefixFrom(ip, ip.BitLen())
	key := client.ObjectKey{Namespace: ironlbNamespace, Name: name}
	edit := func(obj client.Object, f func()) {
		t.Helper()
		for range 5 {
			if err := l.cl.Get(ctx, key, obj); err != nil {
				t.Fatal(err)
			}
			f()
			err := l.cl.Update(ctx, obj)
			if err == nil {
				return
			}
			if !apierrors.IsConflict(err) {
				t.Fatal(err)
			}
		}
		t.Fatalf("updating %s: conflicts", name)
	}
	wantPaths := func(what, want string) {
		t.Helper()
		// Expected: the speakers read the edit within a second and send the
		// new path at once; the router installs it in milliseconds.
		eventually(t, testkit.Budget(2*time.Second), what, func() error {
			paths, err := routerASPaths(prefix)
			if err != nil {
				return err
			}
			if len(paths) != len(p.Nodes) {
				return fmt.Errorf("%d paths to %s, want one per node: %q", len(paths), prefix, paths)
			}
			for _, got := range paths {
				if got != want {
					return fmt.Errorf("AS path %q, want %q (all paths: %q)", got, want, paths)
				}
			}
			return nil
		})
	}
	asn := strconv.FormatUint(uint64(nodeASN), 10)
	wantPaths("one path per node with the node AS alone", asn)

	adv := &v1beta1.BGPAdvertisement{}
	edit(adv, func() { adv.Spec.AsPathPrepend = 2 })
	t.Cleanup(func() { edit(adv, func() { adv.Spec.AsPathPrepend = 0 }) })
	wantPaths("asPathPrepend 2 on the router's paths", strings.Repeat(asn+" ", 2)+asn)

	// The suite's BGPPeer makes way for one in AS 64600 that presents the
	// node AS to the router through localASN. A new name, so every node
	// opens a new session (the same name with the same session AS would
	// rightly keep the old one).
	old := &v1beta1.BGPPeer{}
	if err := l.cl.Get(ctx, key, old); err != nil {
		t.Fatal(err)
	}
	local := &v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Namespace: ironlbNamespace, Name: name + "-local"}, Spec: *old.Spec.DeepCopy()}
	local.Spec.MyASN, local.Spec.LocalASN = 64600, nodeASN
	if err := l.cl.Delete(ctx, old); err != nil {
		t.Fatal(err)
	}
	created := time.Now()
	if err := l.cl.Create(ctx, local); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // the suite's BGPPeer back, as it was
		if err := l.cl.Delete(context.Background(), local); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting BGPPeer %s: %v", local.Name, err)
		}
		back := &v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Namespace: ironlbNamespace, Name: name, Labels: old.Labels}, Spec: old.Spec}
		if err := l.cl.Create(context.Background(), back); err != nil {
			t.Errorf("restoring BGPPeer %s: %v", name, err)
		}
	})
	// Expected: the speakers read the change within a second; a new
	// session waits the connect retry (1 s), then OPEN: a few seconds.
	// Only a session younger than the new BGPPeer counts.
	eventually(t, testkit.Budget(5*time.Second), "a new session from every node Established with localASN", func() error {
		out, err := vtysh("show bgp summary json")
		if err != nil {
			return err
		}
		for _, n := range p.Nodes {
			up, ok := neighborUptime(out, sessionAddr(p, n))
			if !ok || up > time.Since(created) {
				return fmt.Errorf("node %s (%s): no session younger than the BGPPeer with localASN (Established %v, for %v)", n.Name, sessionAddr(p, n), ok, up)
			}
		}
		return nil
	})
	wantPaths("the node AS alone on the router's paths (replace-as), prepended twice more", strings.Repeat(asn+" ", 2)+asn)
}

// routerASPaths returns the AS path of each of the router's paths to
// prefix, as FRR prints them.
func routerASPaths(prefix netip.Prefix) ([]string, error) {
	afi := "ipv4"
	if prefix.Addr().Is6() {
		afi = "ipv6"
	}
	out, err := vtysh(fmt.Sprintf("show bgp %s unicast %s json", afi, prefix))
	if err != nil {
		return nil, err
	}
	var v struct {
		Paths []struct {
			ASPath struct {
				String string `json:"string"`
			} `json:"aspath"`
		} `json:"paths"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		return nil, fmt.Errorf("show bgp %s json: %w\n%s", prefix, err, out)
	}
	paths := make([]string, len(v.Paths))
	for i, p := range v.Paths {
		paths[i] = p.ASPath.String
	}
	return paths, nil
}

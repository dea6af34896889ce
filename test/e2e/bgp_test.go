//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/lab"
)

// bgpPool is the BGP suite's pool: outside every lab subnet, so the client
// reaches it only through the router, which learns it from the nodes.
var bgpPool = []string{"10.202.0.10-10.202.0.19", "fd00:202::10-fd00:202::19"}

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

	name := "e2e-bgp-" + l.id
	meta := metav1.ObjectMeta{Namespace: ironlbNamespace, Name: name}
	objs := []client.Object{
		&v1beta1.IPAddressPool{ObjectMeta: meta, Spec: v1beta1.IPAddressPoolSpec{Addresses: bgpPool, AutoAssign: ptr.To(false)}},
		&v1beta1.BGPPeer{ObjectMeta: meta, Spec: v1beta1.BGPPeerSpec{
			MyASN: uint32(st.NodeASN), PeerASN: uint32(st.Router.ASN), PeerAddress: p.Router.IPv4.String(), //nolint:gosec // ASNs fit
			ConnectTime: &metav1.Duration{Duration: time.Second}, DualStackAddressFamily: true,
			EnableGracefulRestart: true,
		}},
		&v1beta1.BGPAdvertisement{ObjectMeta: meta, Spec: v1beta1.BGPAdvertisementSpec{
			IPAddressPools: []string{name}, Communities: []string{"64513:100", "large:64513:1:2"},
		}},
	}
	for _, o := range objs {
		if err := l.cl.Create(ctx, o); err != nil {
			t.Fatalf("creating %T %s: %v", o, name, err)
		}
		t.Cleanup(func() {
			if err := l.cl.Delete(context.Background(), o); err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("deleting %T %s: %v", o, name, err)
			}
		})
	}
	l.pools["bgp"] = name

	eventually(t, 60*time.Second, "a BGP session from every node Established", func() error {
		out, err := vtysh("show bgp summary json")
		if err != nil {
			return err
		}
		for _, n := range p.Nodes {
			if !neighborEstablished(out, n.IPv4) {
				return fmt.Errorf("node %s (%s) not Established:\n%s", n.Name, n.IPv4, out)
			}
		}
		return nil
	})

	l.deployWeb(t, "web", e2e.nodes, nil)
	created := time.Now()
	svc := l.createLB(t, "bgp", "web", "bgp", corev1.IPFamilyPolicyRequireDualStack,
		[]corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, false)
	ips := l.waitIngress(t, svc, 2)
	routerNS := p.Namespace("router")

	for _, ip := range ips {
		prefix := netip.PrefixFrom(ip, ip.BitLen())
		eventually(t, 30*time.Second, fmt.Sprintf("%s in the router's kernel via every node", prefix), func() error {
			route, err := kernelRoute(routerNS, prefix)
			if err != nil {
				return err
			}
			for _, n := range p.Nodes {
				nh := n.IPv4
				if ip.Is6() {
					nh = n.IPv6
				}
				if !strings.Contains(route, "via "+nh.String()+" ") {
					return fmt.Errorf("no next hop %s (%s) in %q", nh, n.Name, route)
				}
			}
			return nil
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

	eventually(t, 10*time.Second, "a ServiceBGPStatus from every node", func() error {
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
		eventually(t, 30*time.Second, fmt.Sprintf("HTTP to %s from the client through the router", ip), func() error {
			for range 6 { // over several connections, so ECMP may pick either node
				if _, err := l.get(ctx, ip); err != nil {
					return err
				}
			}
			return nil
		})
	}
	t.Logf("the client reaches %v through the router", ips)

	testGracefulRestart(t, l, routerNS, p.Nodes[0].Name, p.Nodes[0].IPv4, ips[0])

	t.Run("BFD drops a failed node's routes", func(t *testing.T) {
		testBFDNodeFail(t, l, p, name, ips)
	})

	if err := l.cs.CoreV1().Services(l.ns).Delete(ctx, svc, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, ip := range ips {
		prefix := netip.PrefixFrom(ip, ip.BitLen())
		eventually(t, 30*time.Second, fmt.Sprintf("%s withdrawn from the router's kernel", prefix), func() error {
			route, err := kernelRoute(routerNS, prefix)
			if err != nil {
				return err
			}
			if route != "" {
				return fmt.Errorf("still %q", route)
			}
			return nil
		})
	}
}

// testGracefulRestart restarts the speaker of node (graceful stop, then
// start) while the client sends a stream of requests to vip: with graceful
// restart on the peer, the router keeps the node's route (stale) and no
// request fails.
func testGracefulRestart(t *testing.T, l *l2Env, routerNS, node string, nodeIP, vip netip.Addr) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	prefix := netip.PrefixFrom(vip, vip.BitLen())
	var requests, failures, samples, without int
	var firstErr error
	done := make(chan struct{}, 2)
	go func() { // the client's stream: a new connection every 20 ms
		defer func() { done <- struct{}{} }()
		for ctx.Err() == nil {
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
		for ctx.Err() == nil {
			if route, err := kernelRoute(routerNS, prefix); err == nil {
				samples++
				if !strings.Contains(route, "via "+nodeIP.String()+" ") {
					without++
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	time.Sleep(time.Second)
	start := time.Now()
	ironlb(t, "restart", "speaker", node)
	t.Logf("`lab restart speaker %s` took %v", node, time.Since(start).Round(time.Millisecond))
	eventually(t, 30*time.Second, "the session of "+node+" Established again with a fresh path", func() error {
		out, err := vtysh(fmt.Sprintf("show bgp ipv4 unicast %s json", prefix))
		if err != nil {
			return err
		}
		if !strings.Contains(out, `"peerId":"`+nodeIP.String()+`"`) {
			return fmt.Errorf("no path from %s:\n%s", nodeIP, out)
		}
		if strings.Contains(out, `"stale":true`) {
			return fmt.Errorf("a path is still stale")
		}
		return nil
	})
	t.Logf("%s's path fresh again %v after the restart began", node, time.Since(start).Round(time.Millisecond))
	time.Sleep(time.Second)
	cancel()
	<-done
	<-done
	t.Logf("graceful restart of %s: %d requests, %d failed; the router's kernel route lacked %s in %d of %d samples",
		node, requests, failures, node, without, samples)
	if failures > 0 {
		t.Errorf("%d of %d requests failed during the restart; first: %v", failures, requests, firstErr)
	}
}

// vtysh runs vtysh with one command against the lab's router.
func vtysh(cmd string) (string, error) {
	return ironlbErr("router", "--", "-c", cmd)
}

// neighborEstablished reports whether FRR's `show bgp summary json` shows
// the (dynamic) neighbour addr Established in the IPv4 unicast family.
func neighborEstablished(summary string, addr netip.Addr) bool {
	var s struct {
		IPv4Unicast struct {
			Peers map[string]struct {
				State string `json:"state"`
			} `json:"peers"`
		} `json:"ipv4Unicast"`
	}
	if err := json.Unmarshal([]byte(summary), &s); err != nil {
		return false
	}
	return s.IPv4Unicast.Peers[addr.String()].State == "Established"
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
// of ips within 10 s — the time is logged; BFD's is under 1 s, where the
// hold time and graceful restart would keep them for minutes — and the
// node's routes come back after `lab node recover`.
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
	nodeIPs := map[string]netip.Addr{}
	for _, n := range p.Nodes {
		nodeIPs[n.Name] = n.IPv4
	}
	routerNS := p.Namespace("router")
	victim := p.Nodes[len(p.Nodes)-1]
	nextHop := func(n lab.Host, ip netip.Addr) string {
		if ip.Is6() {
			return "via " + n.IPv6.String() + " "
		}
		return "via " + n.IPv4.String() + " "
	}
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
	eventually(t, 60*time.Second, "the routes via every node", viaAll)

	start := time.Now()
	if err := lab.NodeFail(ctx, e2e.dir, victim.Name, io.Discard); err != nil {
		t.Fatal(err)
	}
	took, err := func() (time.Duration, error) {
		for time.Since(start) < 10*time.Second {
			left := 0
			for _, ip := range ips {
				route, err := kernelRoute(routerNS, netip.PrefixFrom(ip, ip.BitLen()))
				if err != nil {
					return 0, err
				}
				if strings.Contains(route, nextHop(victim, ip)) {
					left++
				}
			}
			if left == 0 {
				return time.Since(start), nil
			}
			time.Sleep(10 * time.Millisecond)
		}
		return 0, fmt.Errorf("the router still routes %v via %s 10 s after it failed", ips, victim.Name)
	}()
	reason := lastReset(status(t).Router.VtySocket, victim.IPv4)
	if rerr := lab.NodeRecover(ctx, e2e.dir, victim.Name, io.Discard); rerr != nil {
		t.Fatalf("lab node recover %s: %v", victim.Name, rerr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s failed: its next hops gone from the router's kernel routes of %v after %v (BFD 300 ms × 3; router: %q)",
		victim.Name, ips, took.Round(time.Millisecond), reason)
	eventually(t, 60*time.Second, "the routes via every node after `lab node recover`", viaAll)
	waitSessions(t, nodeIPs, true)
}

//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/internal/lab"
	"github.com/ironlb/ironlb/internal/netnstest"
	"github.com/ironlb/ironlb/internal/testkit"
)

// Pools of the Layer 2 suite. They stay clear of the quick start's pool
// (10.200.0.240-250) so the suite also runs on a `make lab` lab
// (IRONLB_E2E_LAB_DIR), and of each other (the bench has its own).
var (
	l2PoolLAN = []string{"10.200.0.200-10.200.0.209", "fd00:200::200-fd00:200::209"}
	// l2PoolSecond is in the lab's second subnet, which node1 lacks.
	l2PoolSecond = []string{"10.201.0.200-10.201.0.209", "fd00:201::200-fd00:201::209"}
)

// TestLayer2 proves the Layer 2 mode on the lab with real packets, in
// order, on one lab: EXTERNAL-IPs answered over IPv4 and IPv6; ARP and NDP
// answered by the one node ServiceL2Status names and by nobody for an
// unallocated address; failover after a crash and after a graceful stop;
// externalTrafficPolicy Local following the endpoint; a pool in a subnet
// node1 lacks never announced from node1; serviceSelectors,
// preferredNodeSelectors and spread: Even choosing the answering nodes; an
// address no node can announce reported on its Service (condition and
// Events) until one can; the memberlist key rotated with no failover; and
// a speaker and the controller
// restarted during an invalid pool edit building the same configuration as
// before, from the accepted record. Each subtest removes its
// Services; the pools and the namespace go at the end.
func TestLayer2(t *testing.T) {
	requireLab(t)
	// The client asks with arping and ndisc6; the lab itself does not need
	// them. Missing: skipped here, failed under CI.
	netnstest.Require(t, "arping", "ndisc6")
	l := newL2Env(t)
	if !status(t).Speakers {
		t.Fatal("the lab runs no ironlb speakers (or one is down): `ironlb lab status` shows why")
	}
	l.createPool(t, "lan", l2PoolLAN)
	l.deployWeb(t, "web", e2e.nodes, nil)

	if !t.Run("IPv4 Service answers on its EXTERNAL-IP", l.testIPv4) {
		t.Fatal("no working IPv4 Service; the remaining checks need one")
	}
	t.Run("dual-stack Service answers over IPv4 and IPv6", l.testDualStack)
	t.Run("arping and ndisc6 failing are not read as no answer", l.testProbeFailures)
	t.Run("ARP and NDP answered by the announcer alone", l.testOneAnswerer)
	t.Run("crash of the announcer moves the traffic", l.testCrashFailover)
	t.Run("graceful stop of the announcer's speaker hands over", l.testGracefulHandover)
	t.Run("externalTrafficPolicy Local follows the endpoint", l.testLocalPolicy)
	t.Run("pool in a subnet node1 lacks is never announced from node1", l.testSubnetAware)
	t.Run("serviceSelectors: relabelling a Service toggles its announcement", l.testServiceSelectors)
	t.Run("preferredNodeSelectors: the preferred node answers, fails over and reclaims", l.testPreferredNodes)
	t.Run("spread Even: 12 addresses 4 per node, a failure moves only the failed node's", l.testEvenSpread)
	t.Run("Announced condition and Events: no node can announce, then one can", l.testAnnouncedCondition)
	t.Run("node eligibility while running moves the announcement", l.testNodeEligibility)
	t.Run("ClusterIP hand-over: a waiting Service gets the address", l.testClusterIPHandover)
	t.Run("mixed TCP and UDP on one address", l.testMixedProtocols)
	t.Run("speaker metrics: announced gauge and per-address counters", l.testMetrics)
	t.Run("memberlist key rotation: no member lost, no address moved, no request failed", l.testMemberlistKeyRotation)
	t.Run("controller SIGKILLed in a burst of 500 creates: one address each, none twice", l.testControllerKilledInBurst)
	t.Run("speaker crash loop on node1: other nodes' addresses never move", l.testSpeakerCrashLoop)
	t.Run("etcd SIGKILLed and restarted: traffic and addresses unaffected", l.testEtcdRestart)
	t.Run("link flap: the node takes its address back with gratuitous ARP and unsolicited NA", l.testLinkFlap)
	t.Run("memberlist partition: two answers without leaseFencing, one with", l.testMemberlistPartition)
	t.Run("address conflict: another host claiming a Service address is reported", l.testAddressConflict)
	t.Run("ironlb status names the addresses and the announcing node", l.testStatusCommand)
	t.Run("preferredNodeSelectors weights add up across advertisements", l.testSummedWeights)
	t.Run("interfaces selects the card that answers, with its MAC", l.testInterfaces)
	t.Run("controller restart and leader hand-over under a 20 ms request stream", l.testControllerHandover)
	t.Run("restarts during an invalid pool edit keep every address", l.testRestartDuringInvalidEdit)
}

// testIPv4: a single-stack LoadBalancer Service gets an EXTERNAL-IP from
// the pool and the client's HTTP requests to it are answered by a pod.
func (l *l2Env) testIPv4(t *testing.T) {
	svc := l.createLB(t, "v4", "web", "lan", corev1.IPFamilyPolicySingleStack, []corev1.IPFamily{corev1.IPv4Protocol}, false)
	ips := l.waitIngress(t, svc, 1)
	if !ips[0].Is4() || !inPool(ips[0], l2PoolLAN) {
		t.Fatalf("EXTERNAL-IP %v, want an IPv4 address of %v", ips, l2PoolLAN)
	}
	owners := l.waitAnnounced(t, svc, ips, nil)
	l.waitAnswers(t, svc, ips, "web", "")
	t.Logf("%s/%s: EXTERNAL-IP %s, announced by %s, answered from the client", l.ns, svc, ips[0], owners[ips[0]])
}

// testDualStack: a RequireDualStack Service gets one address per family,
// and both answer from the client.
func (l *l2Env) testDualStack(t *testing.T) {
	svc := l.createLB(t, "dual", "web", "lan", corev1.IPFamilyPolicyRequireDualStack,
		[]corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, false)
	ips := l.waitIngress(t, svc, 2)
	if !ips[0].Is4() || !ips[1].Is6() || !inPool(ips[0], l2PoolLAN) || !inPool(ips[1], l2PoolLAN) {
		t.Fatalf("EXTERNAL-IPs %v, want one IPv4 and one IPv6 address of %v", ips, l2PoolLAN)
	}
	owners := l.waitAnnounced(t, svc, ips, nil)
	l.waitAnswers(t, svc, ips, "web", "")
	t.Logf("%s/%s: EXTERNAL-IPs %v, announced by %v, both answered from the client", l.ns, svc, ips, owners)
}

// testOneAnswerer: arping (IPv4) and ndisc6 (IPv6) from the client get
// answers from exactly one MAC per address, that of a node named in the
// Service's ServiceL2Status (the election is per address, so the two
// families may have different nodes); addresses of the pool that no
// Service holds get no answer at all.
func (l *l2Env) testOneAnswerer(t *testing.T) {
	svc := l.createLB(t, "one", "web", "lan", corev1.IPFamilyPolicyRequireDualStack,
		[]corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, false)
	ips := l.waitIngress(t, svc, 2)
	owners := l.waitAnnounced(t, svc, ips, nil)
	// Twice more, a little apart: the answer is stable, not a lucky race.
	for range 2 {
		time.Sleep(500 * time.Millisecond)
		for _, ip := range ips {
			if n, err := l.answerer(ip); err != nil || n != owners[ip] {
				t.Errorf("%s: answered by %q (%v), want only %s", ip, n, err, owners[ip])
			}
		}
	}
	// A negative check: arping/ndisc6 must run cleanly and get no answer
	// (neighborProbe); a tool that fails to run fails the test.
	for _, ip := range l.unallocated(t, l2PoolLAN) {
		macs, err := l.neighborMACs(ip)
		if err != nil {
			t.Fatalf("asking for %s (in the pool, allocated to no Service): %v", ip, err)
		}
		if len(macs) != 0 {
			t.Errorf("%s (in the pool, allocated to no Service) answered by %v, want no answer", ip, macs)
		}
	}
	t.Logf("%v answered by %v alone, as ServiceL2Status says; unallocated pool addresses unanswered", ips, owners)
}

// testProbeFailures proves the negative checks' tool can tell a missing
// answer from a failure to ask: for a pool address no Service holds,
// arping and ndisc6 from the client run cleanly and get no answer; on an
// interface the client does not have, and in a namespace that does not
// exist, they fail to run — an error, never "no answer".
func (l *l2Env) testProbeFailures(t *testing.T) {
	client := e2e.prefix + "client"
	for _, ip := range l.unallocated(t, l2PoolLAN) {
		if macs, err := neighborProbe(client, clientInterface, ip); err != nil || len(macs) != 0 {
			t.Errorf("%s (allocated to no Service): got %v, %v; want a clean run with no answer", ip, macs, err)
		}
		for _, c := range []struct{ ns, iface string }{
			{client, "eth9"},
			{e2e.prefix + "nosuch", clientInterface},
		} {
			macs, err := neighborProbe(c.ns, c.iface, ip)
			if err == nil {
				t.Errorf("%s on %s in %s: got %v and no error, want the tool's failure reported", ip, c.iface, c.ns, macs)
				continue
			}
			t.Logf("%s on %s in %s: reported as %s", ip, c.iface, c.ns, firstLines(err.Error(), 6))
		}
	}
}

// testCrashFailover: `lab node fail` on an announcing node (speaker
// SIGKILLed, link cut) moves the client's traffic to another node; `node
// recover` brings the node back.
func (l *l2Env) testCrashFailover(t *testing.T) {
	l.testFailover(t, "crash", "fail")
}

// testGracefulHandover: stopping the announcer's speaker with SIGTERM
// (`lab node stop-speaker`) hands its addresses over while the node stays
// on the network.
func (l *l2Env) testGracefulHandover(t *testing.T) {
	l.testFailover(t, "graceful", "stop-speaker")
}

// testFailover takes each node announcing an address of a dual-stack
// Service away in turn with `lab node <how>` (the election is per address,
// so IPv4 and IPv6 may have different announcers), waits for the takeover,
// then brings the node back with `lab node recover`.
func (l *l2Env) testFailover(t *testing.T, svcName, how string) {
	requireNodes(t, 2, "failover")
	svc := l.createLB(t, svcName, "web", "lan", corev1.IPFamilyPolicyRequireDualStack,
		[]corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, false)
	ips := l.waitIngress(t, svc, 2)
	owners := l.waitAnnounced(t, svc, ips, nil)
	var victims []string
	for _, ip := range ips {
		if !slices.Contains(victims, owners[ip]) {
			victims = append(victims, owners[ip])
		}
	}
	for _, old := range victims {
		start := time.Now()
		ironlb(t, "node", how, old)
		t.Cleanup(func() { _, _ = ironlbErr("node", "recover", old) })
		l.takenOver(t, svc, ips, old, start)

		ironlb(t, "node", "recover", old)
		l.waitSettled(t)
		owners = l.waitAnnounced(t, svc, ips, nil)
		l.waitAnswers(t, svc, ips, "web", "")
		t.Logf("after `node recover %s`: %v announce, traffic answered", old, owners)
	}
}

// takenOver waits until nodes other than old announce every address of
// svc: one MAC answers ARP and NDP per address, ServiceL2Status names
// those nodes, HTTP requests from the client are answered and the
// client's neighbour entries point at the new nodes. With
// externalTrafficPolicy Cluster and a pod on a crashed node, which the lab
// keeps Ready, about half the requests still go to that pod and time out:
// each address is retried alone.
func (l *l2Env) takenOver(t *testing.T, svc string, ips []netip.Addr, old string, start time.Time) {
	t.Helper()
	ctx := context.Background()
	var answered []string
	for _, ip := range ips {
		// Expected: the takeover within a second (crash p95 0.7 s,
		// docs/performance.md); but with a pod on the crashed node about
		// half the requests go there and time out after 1 s each, so
		// several seconds of retries (9.8 s seen at load 15).
		eventually(t, testkit.Budget(8*time.Second), "the client's traffic to "+ip.String()+" answered after "+old+" went", func() error {
			rctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			_, err := l.get(rctx, ip)
			return err
		})
		answered = append(answered, fmt.Sprintf("%s after %s", ip, time.Since(start).Round(10*time.Millisecond)))
	}
	owners := l.waitAnnounced(t, svc, ips, func(n string) error {
		if n == old {
			return fmt.Errorf("still %s", old)
		}
		return nil
	})
	for _, ip := range ips {
		// Expected: the new announcer's gratuitous ARP / unsolicited NA
		// updates the entry at once (0.3 ms); the budget's minimum.
		eventually(t, testkit.Budget(time.Second), "the client's neighbour entry for "+ip.String(), func() error {
			rctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			_, _ = l.get(rctx, ip) // traffic keeps the entry fresh; its answer does not matter here
			mac, err := l.neighborEntry(ip)
			if err != nil {
				return err
			}
			if want := l.macs[owners[ip]]; mac != want {
				return fmt.Errorf("%s -> %s, want %s (%s)", ip, mac, want, owners[ip])
			}
			return nil
		})
	}
	t.Logf("%v took over from %s; first answers: %s (coarse: polling included; `make bench` measures failover)",
		owners, old, strings.Join(answered, ", "))
}

// testLocalPolicy: with externalTrafficPolicy Local only the node with
// the ready endpoint announces, and the announcer follows the endpoint
// when it moves to another node.
func (l *l2Env) testLocalPolicy(t *testing.T) {
	requireNodes(t, 2, "moving the endpoint between nodes")
	first, last := l.nodes[0], l.nodes[len(l.nodes)-1]
	l.deployWeb(t, "pinned", 1, map[string]string{corev1.LabelHostname: first})
	svc := l.createLB(t, "local", "pinned", "lan", corev1.IPFamilyPolicyRequireDualStack,
		[]corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, true)
	ips := l.waitIngress(t, svc, 2)
	for _, want := range []string{first, last} {
		if want != first {
			// Move the only endpoint: a rolling update schedules the new
			// Pod on the other node, then removes the old one.
			l.pinDeployment(t, "pinned", want)
			l.waitPodsOn(t, "pinned", want)
		}
		l.waitAnnounced(t, svc, ips, func(n string) error {
			if n != want {
				return fmt.Errorf("%s announces, want %s (the endpoint's node)", n, want)
			}
			return nil
		})
		l.waitAnswers(t, svc, ips, "pinned", want)
		t.Logf("endpoint on %s: %s alone announces %v and answers", want, want, ips)
	}
	l.deleteDeployment(t, "pinned")
}

// testSubnetAware: a pool in the second subnet, which node1 has no
// interface in, is announced only from the other nodes — and not from
// node1 even when none of them is left.
func (l *l2Env) testSubnetAware(t *testing.T) {
	p, err := l.state.Plan()
	if err != nil {
		t.Fatal(err)
	}
	outside := p.Nodes[0].Name // node1
	var eligible []string
	for _, h := range p.Nodes {
		if h.InSecondSubnet() {
			eligible = append(eligible, h.Name)
		}
	}
	if len(eligible) == 0 {
		requireNodes(t, 2, "a node in the second subnet")
		t.Fatalf("no node of %v is in the second subnet", l.nodes)
	}
	l.createPool(t, "second", l2PoolSecond)
	svc := l.createLB(t, "subnet", "web", "second", corev1.IPFamilyPolicyRequireDualStack,
		[]corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, false)
	ips := l.waitIngress(t, svc, 2)
	if !inPool(ips[0], l2PoolSecond) || !inPool(ips[1], l2PoolSecond) {
		t.Fatalf("EXTERNAL-IPs %v, want addresses of %v", ips, l2PoolSecond)
	}
	inEligible := func(n string) error {
		if !slices.Contains(eligible, n) {
			return fmt.Errorf("%s announces, want one of %v (the nodes in the subnet)", n, eligible)
		}
		return nil
	}
	owners := l.waitAnnounced(t, svc, ips, inEligible)
	l.waitAnswers(t, svc, ips, "web", "")
	l.never(t, svc, ips, outside, 5)

	// The IPv4 announcer crashes: another node of the subnet takes over,
	// or, when there is none (the 2-node lab), nobody answers — node1
	// never.
	node := owners[ips[0]]
	start := time.Now()
	ironlb(t, "node", "fail", node)
	t.Cleanup(func() { _, _ = ironlbErr("node", "recover", node) })
	rest := slices.DeleteFunc(slices.Clone(eligible), func(n string) bool { return n == node })
	if len(rest) > 0 {
		l.takenOver(t, svc, ips, node, start)
		l.never(t, svc, ips, outside, 3)
	} else {
		// Wait for the event a wrong takeover would follow: the remaining
		// speakers see the crashed one gone (expected: under a second,
		// docs/performance.md) — only then does "nobody answers" mean
		// something.
		for _, n := range l.nodes {
			if n == node {
				continue
			}
			eventually(t, testkit.Budget(time.Second), "speaker/"+n+" sees "+node+" gone", func() error {
				m, err := speakerMembers(context.Background(), n)
				if err != nil {
					return err
				}
				if m != len(l.nodes)-1 {
					return fmt.Errorf("%d members, want %d", m, len(l.nodes)-1)
				}
				return nil
			})
		}
		for range 3 {
			for _, ip := range ips {
				macs, err := l.neighborMACs(ip)
				if err != nil {
					t.Fatalf("asking for %s: %v", ip, err)
				}
				if len(macs) != 0 {
					t.Errorf("%s answered by %v with every node of its subnet down, want no answer", ip, macs)
				}
			}
			named, err := l.announcers(context.Background(), svc)
			if err != nil {
				t.Fatalf("reading the ServiceL2Statuses of %s: %v", svc, err)
			}
			if slices.Contains(named, outside) {
				t.Errorf("ServiceL2Statuses name %v, %s among them, which has no interface in the subnet", named, outside)
			}
			time.Sleep(time.Second)
		}
		t.Logf("with %s down nobody answers for %v, %s included", node, ips, outside)
	}
	ironlb(t, "node", "recover", node)
	l.waitSettled(t)
	owners = l.waitAnnounced(t, svc, ips, inEligible)
	l.waitAnswers(t, svc, ips, "web", "")
	l.never(t, svc, ips, outside, 3)
	t.Logf("%v: announced by %v of %v, never by %s", ips, owners, eligible, outside)
}

// never asks rounds times for every address and fails t if node's MAC
// ever answers or a ServiceL2Status of svc names node. A question that
// could not be asked (arping or ndisc6 failing, the API unreachable) fails
// t too: it would otherwise pass as "not node".
func (l *l2Env) never(t *testing.T, svc string, ips []netip.Addr, node string, rounds int) {
	t.Helper()
	for range rounds {
		for _, ip := range ips {
			macs, err := l.neighborMACs(ip)
			if err != nil {
				t.Fatalf("asking for %s: %v", ip, err)
			}
			if slices.Contains(macs, l.macs[node]) {
				t.Errorf("%s answered by %s (%s), which has no interface in its subnet", ip, node, l.macs[node])
			}
		}
		named, err := l.announcers(context.Background(), svc)
		if err != nil {
			t.Fatalf("reading the ServiceL2Statuses of %s: %v", svc, err)
		}
		if slices.Contains(named, node) {
			t.Errorf("ServiceL2Statuses of %s name %v, %s among them", svc, named, node)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// waitAnswers waits until HTTP to every address (port 80) from the client
// is answered by a pod of app; with node set, by a pod on that node.
func (l *l2Env) waitAnswers(t *testing.T, svc string, ips []netip.Addr, app, node string) {
	t.Helper()
	ctx := context.Background()
	for _, ip := range ips {
		// Expected: kube-proxy programs the address within a few seconds of
		// the allocation; the announcement is already there.
		eventually(t, testkit.Budget(5*time.Second), fmt.Sprintf("%s/%s answering on %s from the client", l.ns, svc, ip), func() error {
			body, err := l.get(ctx, ip)
			if err != nil {
				return err
			}
			if pod := field(body, "pod"); !strings.HasPrefix(pod, l.ns+"/"+app+"-") {
				return fmt.Errorf("answer %q is not from a pod of %s/%s", strings.TrimSpace(body), l.ns, app)
			}
			if node != "" && field(body, "node") != node {
				return fmt.Errorf("answer %q is not from %s", strings.TrimSpace(body), node)
			}
			return nil
		})
	}
}

// unallocated returns, per family, the highest address of pool that no
// Service of the cluster has.
func (l *l2Env) unallocated(t *testing.T, pool []string) []netip.Addr {
	t.Helper()
	svcs, err := l.cs.CoreV1().Services(metav1.NamespaceAll).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	used := map[netip.Addr]bool{}
	for _, s := range svcs.Items {
		for _, in := range s.Status.LoadBalancer.Ingress {
			if a, err := netip.ParseAddr(in.IP); err == nil {
				used[a] = true
			}
		}
	}
	var out []netip.Addr
	for _, r := range pool {
		first, last := poolRange(r)
		for a := last; ; a = a.Prev() {
			if !used[a] {
				out = append(out, a)
				break
			}
			if a == first {
				t.Fatalf("every address of %s is allocated", r)
			}
		}
	}
	return out
}

func poolRange(r string) (netip.Addr, netip.Addr) {
	f, la, _ := strings.Cut(r, "-")
	return netip.MustParseAddr(f), netip.MustParseAddr(la)
}

func inPool(a netip.Addr, pool []string) bool {
	for _, r := range pool {
		first, last := poolRange(r)
		if first.Compare(a) <= 0 && a.Compare(last) <= 0 {
			return true
		}
	}
	return false
}

// waitPodsOn waits until every Pod of app is Ready on node and no Pod of
// app is left elsewhere.
func (l *l2Env) waitPodsOn(t *testing.T, app, node string) {
	t.Helper()
	// Expected: a rolling update of one Pod: the new one Ready in 2-4 s,
	// the old one gone soon after; 10 s on a busy machine.
	eventually(t, testkit.Budget(10*time.Second), "pods of "+app+" only on "+node, func() error {
		pods, err := l.cs.CoreV1().Pods(l.ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			return err
		}
		if len(pods.Items) == 0 {
			return errors.New("no pods")
		}
		for _, p := range pods.Items {
			if p.Spec.NodeName != node || !podReady(&p) || p.DeletionTimestamp != nil {
				return fmt.Errorf("pod %s on %q, ready %v", p.Name, p.Spec.NodeName, podReady(&p))
			}
		}
		return nil
	})
}

func (l *l2Env) pinDeployment(t *testing.T, name, node string) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"nodeSelector":{%q:%q}}}}}`, corev1.LabelHostname, node)
	if _, err := l.cs.AppsV1().Deployments(l.ns).Patch(context.Background(), name, types.StrategicMergePatchType,
		[]byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (l *l2Env) deleteDeployment(t *testing.T, name string) {
	t.Helper()
	err := l.cs.AppsV1().Deployments(l.ns).Delete(context.Background(), name,
		metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)})
	if err != nil {
		t.Error(err)
	}
}

// nodeMACs maps every node of the lab to its eth0 MAC.
func nodeMACs(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, h := range status(t).Hosts {
		if h.Role == lab.RoleNode {
			out[h.Name] = strings.ToLower(h.MAC)
		}
	}
	return out
}

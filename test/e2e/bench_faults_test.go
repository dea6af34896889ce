//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/internal/lab"
	"github.com/ironlb/ironlb/internal/testkit"
)

// apiFreeze is how long TestBenchFaults keeps the API server stopped.
const apiFreeze = 60 * time.Second

// faultsBGPPool is TestBenchFaults' BGP pool (clear of the BGP suite's and
// the BGP bench's).
var faultsBGPPool = []string{"10.202.0.50-10.202.0.53"}

// TestBenchFaults runs the long faults of the fault suite (`make bench`,
// IRONLB_BENCH=1); the short ones are subtests of TestLayer2.
//
// kube-apiserver stopped for 60 s (SIGSTOP: it keeps its sockets but
// answers nothing, as a hung or overloaded API server does; SIGCONT after):
// the client sends a request every 20 ms to a dual-stack layer 2 Service
// all along, the answering MAC of each address is sampled every 2 s, and
// so is the route of a BGP Service in the router's kernel (every node a
// next hop); after the return 5 new Services are created at once. Speakers announce
// from memberlist and their caches, so nothing may fail or move; the
// controller may lose its leader Lease (it cannot renew) and be restarted
// by the supervisor, then must serve the new Services. Outcomes are
// checked (no failed request, no announcer change, the new Services
// addressed and answered); the times are figures, printed and written to
// $IRONLB_BENCH_OUT.
//
// What makes it able to fail: the outage is proven real (a write to the
// API server must time out during the stop); the request stream counts
// failures (seen in testControllerHandover), and the answerer sampling is
// TestLayer2's answerer, which fails on zero or two MACs.
func TestBenchFaults(t *testing.T) {
	requireBench(t, "long faults in the lab")
	requireLab(t)
	requireNodes(t, 2, "faults")
	l := newL2Env(t)
	l.createPool(t, "faults", benchPool)
	l.deployWeb(t, "web", e2e.nodes, nil)
	svc := l.createLB(t, "frozen", "web", "faults", corev1.IPFamilyPolicyRequireDualStack,
		[]corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, false)
	ips := l.waitIngress(t, svc, 2)
	owners := l.waitAnnounced(t, svc, ips, nil)
	l.waitAnswers(t, svc, ips, "web", "")
	// A BGP Service: every node peers with the lab's router.
	p, err := l.state.Plan()
	if err != nil {
		t.Fatal(err)
	}
	st := status(t)
	l.createBGPPool(t, "faults-bgp", faultsBGPPool, p, st, nil)
	bgpSvc := l.createLB(t, "frozen-bgp", "web", "faults-bgp", corev1.IPFamilyPolicySingleStack,
		[]corev1.IPFamily{corev1.IPv4Protocol}, false)
	bgpIP := l.waitIngress(t, bgpSvc, 1)[0]
	prefix := netip.PrefixFrom(bgpIP, 32)
	allNextHops := func() error { return routeViaEveryNode(p, bgpIP) }
	// Expected: sessions within 3 s (TestBGP), the route 60 ms after.
	eventually(t, testkit.Budget(5*time.Second), prefix.String()+" in the router's kernel via every node", allNextHops)
	before := l.allIngress(t)

	s, err := lab.LoadState(e2e.dir)
	if err != nil {
		t.Fatal(err)
	}
	api, ctrl := s.Procs["kube-apiserver"], s.Procs["controller"]
	if api == nil || !api.Alive() || ctrl == nil {
		t.Fatal("the lab's kube-apiserver or controller is not running")
	}
	traffic := startTraffic(ips)
	if err := syscall.Kill(api.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if err := syscall.Kill(api.PID, syscall.SIGCONT); err != nil {
				t.Errorf("resuming kube-apiserver: %v", err)
			}
		}
	}
	t.Cleanup(resume)

	// The outage is real: a read times out.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_, readErr := l.cs.CoreV1().Services(l.ns).Get(ctx, svc, metav1.GetOptions{})
	cancel()
	if readErr == nil {
		t.Fatal("the API server answered while stopped")
	}
	samples, moved, routeSamples, routeLost := 0, 0, 0, 0
	for time.Since(stopped) < apiFreeze {
		for _, ip := range ips {
			n, err := l.answerer(ip)
			samples++
			if err != nil || n != owners[ip] {
				moved++
				t.Errorf("%v into the stop: %s answered by %q (%v), want %s", time.Since(stopped).Round(time.Second), ip, n, err, owners[ip])
			}
		}
		routeSamples++
		if err := allNextHops(); err != nil {
			routeLost++
			t.Errorf("%v into the stop: %v", time.Since(stopped).Round(time.Second), err)
		}
		time.Sleep(2 * time.Second)
	}
	resume()
	back := time.Now()

	// Expected: the API server serves again at once; the controller, if
	// it lost its Lease, is restarted by the supervisor and leads again
	// within the Lease's 15 s.
	var created []string
	for i := range 5 { // the pool has 9 IPv4 addresses left
		created = append(created, l.createLB(t, fmt.Sprintf("after-%d", i), "web", "faults", corev1.IPFamilyPolicySingleStack,
			[]corev1.IPFamily{corev1.IPv4Protocol}, false))
	}
	createdAt := time.Since(back)
	var firstIP, allIPs time.Duration
	eventually(t, testkit.Budget(60*time.Second), "the 5 Services created after the return addressed", func() error {
		missing := 0
		for _, name := range created {
			got, err := l.cs.CoreV1().Services(l.ns).Get(context.Background(), name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if len(got.Status.LoadBalancer.Ingress) == 0 {
				missing++
			} else if firstIP == 0 {
				firstIP = time.Since(back)
			}
		}
		if missing > 0 {
			return fmt.Errorf("%d of %d without an address", missing, len(created))
		}
		allIPs = time.Since(back)
		return nil
	})
	newIPs := l.waitIngress(t, created[0], 1)
	l.waitAnnounced(t, created[0], newIPs, nil)
	l.waitAnswers(t, created[0], newIPs, "web", "")
	time.Sleep(2 * time.Second)
	sent, failed, firstErr := traffic.stop()
	if failed > 0 {
		t.Errorf("%d of %d requests failed while the API server was stopped, the first: %v", failed, sent, firstErr)
	}
	after := l.allIngress(t)
	for _, name := range created {
		delete(after, l.ns+"/"+name)
	}
	if d := diffIngress(before, after); d != "" {
		t.Errorf("addresses changed while the API server was stopped: %s", d)
	}
	s, err = lab.LoadState(e2e.dir)
	if err != nil {
		t.Fatal(err)
	}
	restarted := "no"
	if now := s.Procs["controller"]; now != nil && now.PID != ctrl.PID {
		restarted = "yes (lost its leader Lease)"
	}

	var b strings.Builder
	fmt.Fprintf(&b, "| fault | outcome | figures |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| kube-apiserver stopped (SIGSTOP) for %v | %d of %d requests failed; %d of %d answerer samples moved; the BGP route lacked a next hop in %d of %d samples; controller restarted: %s | read during the stop: %v; 5 Services created %v after the return, first address %v after it, all %v |\n",
		apiFreeze, failed, sent, moved, samples, routeLost, routeSamples, restarted, readErr, createdAt.Round(10*time.Millisecond),
		firstIP.Round(10*time.Millisecond), allIPs.Round(10*time.Millisecond))
	t.Logf("\n%s", b.String())
	if out := os.Getenv("IRONLB_BENCH_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

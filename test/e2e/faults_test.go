//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/lab"
	"github.com/ironlb/ironlb/internal/testkit"
)

// killBurstPool is the controller-kill check's pool: 1,024 IPv6 addresses
// clear of the other suites' pools.
const killBurstPool = "fd00:200::3:0/118"

// testControllerKilledInBurst creates 500 single-stack IPv6 LoadBalancer
// Services with 16 workers and SIGKILLs the controller when 150 are
// created (no graceful stop: nothing is flushed, its Lease is not
// released); the lab's supervisor starts it again, as a Deployment would.
// Once it is back every Service must have exactly one address from the
// pool, no address may be held twice, and no Service that had an address
// when the controller was killed may have another. The pool has no L2Advertisement:
// this is about allocation, and 500 announced addresses would load the
// speakers for nothing.
//
// Seen failing with the controller's start-up adoption of the addresses in
// Services' status turned off (primer.assign recording nothing): all 142
// Services with an address at the kill had another at the end, e.g.
// "burst-32 had fd00:200::3:20 from the killed controller, now
// fd00:200::3:28".
// Before the check of the addresses given before the kill was added, that
// break passed: the restarted controller handed out addresses the killed
// one had written to Services it had not reconciled yet, then moved those
// Services to new addresses — distinct again at the end.
func (l *l2Env) testControllerKilledInBurst(t *testing.T) {
	const total, killAt, workers = 500, 150, 16
	ctx := context.Background()
	name := "e2e-burst-" + l.id
	pool := &v1beta1.IPAddressPool{
		ObjectMeta: metav1.ObjectMeta{Namespace: ironlbNamespace, Name: name},
		Spec:       v1beta1.IPAddressPoolSpec{Addresses: []string{killBurstPool}, AutoAssign: ptr.To(false)},
	}
	if err := l.cl.Create(ctx, pool); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.cl.Delete(context.Background(), pool) })
	ns := l.ns + "-burst"
	if _, err := l.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Deleting the namespace deletes the 500 Services (the namespace
	// controller), so the following subtests do not run beside them.
	t.Cleanup(func() { _ = l.cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })

	s, err := lab.LoadState(e2e.dir)
	if err != nil {
		t.Fatal(err)
	}
	ctl := s.Procs["controller"]
	if ctl == nil || !ctl.Alive() {
		t.Fatal("the lab's controller is not running")
	}
	pid := ctl.PID

	var created atomic.Int64
	var killed atomic.Bool
	var killErr, beforeErr error
	var before map[string]netip.Addr
	var wg sync.WaitGroup
	next := make(chan int)
	errs := make(chan error, total)
	for range workers {
		wg.Go(func() {
			for i := range next {
				svc := &corev1.Service{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("burst-%d", i),
						Annotations: map[string]string{"ironlb.io/address-pool": name}},
					Spec: corev1.ServiceSpec{
						Type:           corev1.ServiceTypeLoadBalancer,
						IPFamilyPolicy: ptr.To(corev1.IPFamilyPolicySingleStack),
						IPFamilies:     []corev1.IPFamily{corev1.IPv6Protocol},
						Ports:          []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(workloadPort)}},
					},
				}
				// Retried: the API server may be slow under the burst.
				var err error
				for range 3 {
					if _, err = l.cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err == nil {
						break
					}
				}
				if err != nil {
					errs <- fmt.Errorf("creating %s: %w", svc.Name, err)
					continue
				}
				if created.Add(1) == killAt && killed.CompareAndSwap(false, true) {
					killErr = syscall.Kill(pid, syscall.SIGKILL)
					// What the killed controller had handed out: none
					// of it may change.
					before, beforeErr = l.ingressIn(ctx, ns)
				}
			}
		})
	}
	start := time.Now()
	for i := range total {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if killErr != nil || !killed.Load() {
		t.Fatalf("SIGKILL of the controller (pid %d): %v (sent: %v)", pid, killErr, killed.Load())
	}
	createdIn := time.Since(start)

	// Expected: the supervisor restarts the controller within a second or
	// two; it syncs its cache and takes the Lease the killed one never
	// released once it expires (15 s), then allocates the backlog.
	var holders map[netip.Addr][]string
	eventually(t, testkit.Budget(60*time.Second), fmt.Sprintf("all %d Services with one address", total), func() error {
		list, err := l.cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		holders = map[netip.Addr][]string{}
		missing := 0
		for _, svc := range list.Items {
			in := svc.Status.LoadBalancer.Ingress
			if len(in) != 1 {
				missing++
				continue
			}
			ip, err := netip.ParseAddr(in[0].IP)
			if err != nil {
				return fmt.Errorf("%s: ingress %q: %w", svc.Name, in[0].IP, err)
			}
			holders[ip] = append(holders[ip], svc.Name)
		}
		if len(list.Items) != total || missing > 0 {
			return fmt.Errorf("%d Services, %d without exactly one address", len(list.Items), missing)
		}
		return nil
	})
	if beforeErr != nil {
		t.Fatalf("listing the Services right after the SIGKILL: %v", beforeErr)
	}
	after, err := l.ingressIn(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	changed := 0
	for name, ip := range before {
		if after[name] != ip {
			changed++
			if changed <= 10 {
				t.Errorf("%s had %s from the killed controller, now %s", name, ip, after[name])
			}
		}
	}
	if changed > 0 {
		t.Errorf("%d of the %d Services with an address at the kill have another now", changed, len(before))
	}
	prefix := netip.MustParsePrefix(killBurstPool)
	for ip, names := range holders {
		if len(names) > 1 {
			t.Errorf("%s held by %s", ip, strings.Join(names, " and "))
		}
		if !prefix.Contains(ip) {
			t.Errorf("%s (%v) is not in the pool %s", ip, names, killBurstPool)
		}
	}
	s, err = lab.LoadState(e2e.dir)
	if err != nil {
		t.Fatal(err)
	}
	if now := s.Procs["controller"]; now == nil || now.PID == pid {
		t.Errorf("the controller was not restarted after the SIGKILL (pid %d before)", pid)
	}
	t.Logf("%d Services created in %v with the controller SIGKILLed at the %dth (%d had their address then, %d changed since); all %d addresses distinct after %v",
		total, createdIn.Round(10*time.Millisecond), killAt, len(before), changed, len(holders), time.Since(start).Round(10*time.Millisecond))
}

// ingressIn maps each Service of namespace ns with exactly one address to
// it.
func (l *l2Env) ingressIn(ctx context.Context, ns string) (map[string]netip.Addr, error) {
	list, err := l.cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]netip.Addr{}
	for _, svc := range list.Items {
		if in := svc.Status.LoadBalancer.Ingress; len(in) == 1 {
			if ip, err := netip.ParseAddr(in[0].IP); err == nil {
				out[svc.Name] = ip
			}
		}
	}
	return out, nil
}

// crashLoopPool is the crash-loop check's pool, clear of the others.
var crashLoopPool = []string{"fd00:200::4:0/124"}

// testSpeakerCrashLoop puts node1's speaker in a crash loop — SIGKILLed
// whenever it runs, at most every 2 s, for 30 s; the lab's supervisor
// restarts it with a growing back-off, as a kubelet would — while the
// client sends a request every 20 ms to each address node1 does not
// announce. Those addresses must never move (ServiceL2Status sampled every
// 100 ms) and no request to them may fail: a restarting speaker must not
// announce before it has rejoined the others, and the others must not
// reshuffle what they hold when node1 comes and goes.
//
// Seen failing with the speaker deciding before it has joined the others
// (the joinMissing call before the first decision in Speaker.Start
// removed): "other nodes' addresses moved during the crash loop:
// [crash-0: [node1 node2] (was node2) ...]" — the restarted node1 claimed
// node2's address until it saw the others (13 samples). The client's
// requests still all succeeded there (both nodes forward), so the
// ServiceL2Status samples are the sharper check.
func (l *l2Env) testSpeakerCrashLoop(t *testing.T) {
	requireNodes(t, 3, "a crash loop on one node with two others")
	ctx := context.Background()
	victim := l.nodes[0]
	l.createPool(t, "crashloop", crashLoopPool)
	var svcs []string
	for i := range 8 {
		svcs = append(svcs, l.createLB(t, fmt.Sprintf("crash-%d", i), "web", "crashloop", corev1.IPFamilyPolicySingleStack,
			[]corev1.IPFamily{corev1.IPv6Protocol}, false))
	}
	owner := map[string]string{} // Service -> announcer
	var watched []netip.Addr
	for _, svc := range svcs {
		ips := l.waitIngress(t, svc, 1)
		owners := l.waitAnnounced(t, svc, ips, nil)
		owner[svc] = owners[ips[0]]
		if owner[svc] != victim {
			watched = append(watched, ips[0])
			l.waitAnswers(t, svc, ips, "web", "") // served before the stream starts
		}
	}
	if len(watched) == 0 {
		t.Fatalf("%s announces all 8 addresses: nothing to watch", victim)
	}

	traffic := startTraffic(watched)
	var mu sync.Mutex
	var moved []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			for _, svc := range svcs {
				if owner[svc] == victim {
					continue
				}
				now, err := l.announcers(ctx, svc)
				if err != nil || len(now) == 0 {
					continue // between writes; the traffic is the data-plane check
				}
				if len(now) != 1 || now[0] != owner[svc] {
					mu.Lock()
					moved = append(moved, fmt.Sprintf("%s: %v (was %s)", svc, now, owner[svc]))
					mu.Unlock()
				}
			}
		}
	})

	kills := 0
	end := time.Now().Add(30 * time.Second)
	for time.Now().Before(end) {
		s, err := lab.LoadState(e2e.dir)
		if err != nil {
			t.Fatal(err)
		}
		if p := s.Procs["speaker/"+victim]; p != nil && p.Alive() {
			if err := syscall.Kill(p.PID, syscall.SIGKILL); err == nil {
				kills++
			}
		}
		time.Sleep(2 * time.Second)
	}
	// Let the last restart come and settle before stopping the checks.
	l.waitSettled(t)
	sent, failed, firstErr := traffic.stop()
	close(stop)
	wg.Wait()
	t.Logf("speaker/%s SIGKILLed %d times in 30 s; %d addresses of other nodes watched: %d requests, %d failed; %d moves seen",
		victim, kills, len(watched), sent, failed, len(moved))
	if kills < 3 {
		t.Errorf("only %d kills: the crash loop did not happen", kills)
	}
	if failed > 0 {
		t.Errorf("%d of %d requests to other nodes' addresses failed, the first: %v", failed, sent, firstErr)
	}
	if len(moved) > 0 {
		t.Errorf("other nodes' addresses moved during the crash loop: %v", moved[:min(5, len(moved))])
	}
}

// testEtcdRestart SIGKILLs etcd (the supervisor starts it again) while the
// client sends a request every 20 ms to a dual-stack Service: no request
// fails (the speakers keep answering from what they know; the API server
// being unable to reach its store must not make them withdraw), no address
// changes, and once etcd is back a new Service gets an address and is
// answered.
//
// What makes the check able to fail: the outage is proven real (a new
// etcd process must have replaced the killed one; writes failing
// meanwhile, "connection reset by peer" for about 2 s, are logged); the
// request stream is shown to count failures in testControllerHandover. No break of the speakers was tried: nothing in
// them ties announcing to the API server's health.
func (l *l2Env) testEtcdRestart(t *testing.T) {
	ctx := context.Background()
	svc := l.createLB(t, "etcd", "web", "lan", corev1.IPFamilyPolicyRequireDualStack,
		[]corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, false)
	ips := l.waitIngress(t, svc, 2)
	l.waitAnnounced(t, svc, ips, nil)
	l.waitAnswers(t, svc, ips, "web", "") // served before the stream starts
	before := l.allIngress(t)
	s, err := lab.LoadState(e2e.dir)
	if err != nil {
		t.Fatal(err)
	}
	etcd := s.Procs["etcd"]
	if etcd == nil || !etcd.Alive() {
		t.Fatal("the lab's etcd is not running")
	}
	traffic := startTraffic(ips)
	if err := syscall.Kill(etcd.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// The outage must be real: the supervisor must have started a new
	// etcd (the old one is gone). A write failing meanwhile is logged, not
	// required: under load the first write may come after etcd is back (a
	// cold run here saw no write fail). Expected: the supervisor restarts
	// etcd within a second or two and the API server reconnects at once.
	var downErr error
	eventually(t, testkit.Budget(20*time.Second), "a new etcd and the API server writing again", func() error {
		_, err := l.cs.CoreV1().Services(l.ns).Patch(ctx, svc, types.MergePatchType,
			[]byte(`{"metadata":{"annotations":{"e2e-etcd-probe":"`+time.Now().Format(time.RFC3339Nano)+`"}}}`), metav1.PatchOptions{})
		if err != nil {
			if downErr == nil {
				downErr = err
			}
			return err
		}
		s, err := lab.LoadState(e2e.dir)
		if err != nil {
			return err
		}
		if now := s.Procs["etcd"]; now == nil || now.PID == etcd.PID || !now.Alive() {
			return errors.New("the supervisor has not started a new etcd yet")
		}
		return nil
	})
	back := time.Since(start)
	time.Sleep(3 * time.Second) // a few seconds of traffic after the return
	sent, failed, firstErr := traffic.stop()
	if failed > 0 {
		t.Errorf("%d of %d requests failed while etcd restarted, the first: %v", failed, sent, firstErr)
	}
	if d := diffIngress(before, l.allIngress(t)); d != "" {
		t.Errorf("addresses changed while etcd restarted: %s", d)
	}
	after := l.createLB(t, "etcd-after", "web", "lan", corev1.IPFamilyPolicySingleStack,
		[]corev1.IPFamily{corev1.IPv4Protocol}, false)
	newIPs := l.waitIngress(t, after, 1)
	l.waitAnnounced(t, after, newIPs, nil)
	l.waitAnswers(t, after, newIPs, "web", "")
	t.Logf("etcd SIGKILLed; a write failed meanwhile: %v; a new etcd and writes again after %v; %d requests, %d failed; a new Service got %v and answers",
		downErr, back.Round(10*time.Millisecond), sent, failed, newIPs)
}

// testLinkFlap takes the link of the node answering for an IPv4 Service
// down for 3 s and up again: memberlist takes the node for failed, another
// node answers meanwhile (its gratuitous ARP moves the client's entry),
// and when the link returns the node takes the address back — the
// client's neighbour entry must then point at it again, set by its
// gratuitous ARP without the client asking (the check reads the entry and
// the ServiceL2Status only; arping would update the entry itself). The
// same for an IPv6 Service and unsolicited NA when its announcer is the
// same node. The time from the link's return to the right entry is logged
// (a figure, not a pass/fail timing).
//
// Seen failing with the client dropping gratuitous ARP for the address
// (an nftables arp rule in its namespace): "another node answering for
// flap4 while node2 is cut: not within 24s". With the node's own eth0 set
// down instead of the bridge side, the check passed but took 8 s: the
// kernel deleted the node's static routes with the link.
func (l *l2Env) testLinkFlap(t *testing.T) {
	requireNodes(t, 2, "a link flap")
	ctx := context.Background()
	svcs := map[string]corev1.IPFamily{"flap4": corev1.IPv4Protocol, "flap6": corev1.IPv6Protocol}
	ipOf := map[string]netip.Addr{}
	ownerOf := map[string]string{}
	for svc, fam := range svcs {
		l.createLB(t, svc, "web", "lan", corev1.IPFamilyPolicySingleStack, []corev1.IPFamily{fam}, false)
		ips := l.waitIngress(t, svc, 1)
		ownerOf[svc] = l.waitAnnounced(t, svc, ips, nil)[ips[0]]
		ipOf[svc] = ips[0]
		l.waitAnswers(t, svc, ips, "web", "") // the client's entry exists
	}
	victim := ownerOf["flap4"]
	watched := []string{"flap4"}
	if ownerOf["flap6"] == victim {
		watched = append(watched, "flap6")
	}
	// The node's links are cut on the bridge's side, as `lab node fail`
	// does (a cable pulled): setting the node's own eth0 down would also
	// delete its static routes, which a real link loss does not.
	link := func(up bool) {
		t.Helper()
		if err := lab.NodeLink(ctx, e2e.dir, victim, up); err != nil {
			t.Fatalf("%s's links up=%v: %v", victim, up, err)
		}
	}
	link(false)
	t.Cleanup(func() { _ = lab.NodeLink(context.Background(), e2e.dir, victim, true) })
	// Expected: memberlist takes the node for failed within a second and
	// another node answers.
	// The client's entry follows (the taker's gratuitous ARP), so the
	// entry pointing at the victim again later is a change, not a
	// leftover.
	eventually(t, testkit.Budget(3*time.Second), "another node answering for flap4 while "+victim+" is cut", func() error {
		n, err := l.announcers(ctx, "flap4")
		if err != nil {
			return err
		}
		if len(n) != 1 || n[0] == victim {
			return fmt.Errorf("flap4 announced by %v", n)
		}
		mac, err := l.neighborEntry(ipOf["flap4"])
		if err != nil {
			return err
		}
		if mac != l.macs[n[0]] {
			return fmt.Errorf("the client's entry for %s is %s, want %s (%s)", ipOf["flap4"], mac, l.macs[n[0]], n[0])
		}
		return nil
	})
	time.Sleep(2 * time.Second)
	link(true)
	up := time.Now()
	took := map[string]time.Duration{}   // link up -> the client's entry right again
	healed := map[string]time.Duration{} // link up -> the victim the only announcer again
	// Expected: memberlist hears from the node again within a second or
	// two, the election gives it its addresses back and its gratuitous
	// ARP / unsolicited NA reaches the client at once; budgeted for a
	// loaded machine.
	eventually(t, testkit.Budget(10*time.Second), "the client's entries pointing at "+victim+" again", func() error {
		for _, svc := range watched {
			if _, ok := took[svc]; ok {
				continue
			}
			n, err := l.announcers(ctx, svc)
			if err != nil {
				return err
			}
			if len(n) != 1 || n[0] != victim {
				return fmt.Errorf("%s announced by %v, want %s back", svc, n, victim)
			}
			if _, ok := healed[svc]; !ok {
				healed[svc] = time.Since(up)
			}
			mac, err := l.neighborEntry(ipOf[svc])
			if err != nil {
				return err
			}
			if want := l.macs[victim]; mac != want {
				return fmt.Errorf("%s: the client's entry for %s is %s, want %s (%s)", svc, ipOf[svc], mac, want, victim)
			}
			took[svc] = time.Since(up)
		}
		return nil
	})
	for svc := range svcs {
		l.waitAnswers(t, svc, []netip.Addr{ipOf[svc]}, "web", "")
	}
	t.Logf("%s's link down 3 s; after it came back: the only announcer again after %v (polled), the client's entries right after %v",
		victim, healed, took)
}

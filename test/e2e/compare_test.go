//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/ironlb/ironlb/internal/lab"
	"github.com/ironlb/ironlb/internal/testkit"
)

// compareLab is one lab of TestBenchCompare, running one load balancer.
type compareLab struct {
	lb          lab.LB
	dir, prefix string
	cs          *kubernetes.Clientset
}

// compareFigures are the figures of one load balancer; a figure not
// measured is NaN.
type compareFigures map[string]float64

// compareRows are the table's rows in order: the key in compareFigures,
// the label and the unit.
var compareRows = [][3]string{
	{"crash.p50", "L2 failover, crash: p50", "ms"},
	{"crash.p95", "L2 failover, crash: p95", "ms"},
	{"crash.max", "L2 failover, crash: max", "ms"},
	{"graceful.p50", "L2 failover, graceful stop: p50", "ms"},
	{"graceful.p95", "L2 failover, graceful stop: p95", "ms"},
	{"graceful.max", "L2 failover, graceful stop: max", "ms"},
	{"graceful.failed", "L2 failover, graceful stop: failed requests (all runs)", ""},
	{"bgp.create.p50", "BGP: Service create → route in the router's kernel: p50", "ms"},
	{"bgp.create.p95", "BGP: Service create → route in the router's kernel: p95", "ms"},
	{"bgp.delete.p50", "BGP: Service delete → route withdrawn: p50", "ms"},
	{"bgp.delete.p95", "BGP: Service delete → route withdrawn: p95", "ms"},
	{"burst.p50", "burst create → IP: p50", "ms"},
	{"burst.p99", "burst create → IP: p99", "ms"},
	{"burst.lag", "burst: last create → last IP", "ms"},
	{"burst.events", "Events per Service during the burst", ""},
	{"paced.p99", "paced create → IP (50/s): p99", "ms"},
	{"restart.changed", "controller restart: addresses changed", ""},
	{"restart.ready", "controller restart: start → ready", "ms"},
	{"restart.firstIP", "controller restart: start → IP of a new Service", "ms"},
	{"restart.events", "Events per Service during the restart", ""},
	{"api.controller.rest", "API requests/s by the controller, at rest with the Services", "/s"},
	{"api.speakers.rest", "API requests/s by all speakers, at rest with the Services", "/s"},
	{"api.controller.burst", "API requests/s by the controller during the burst", "/s"},
	{"api.speakers.burst", "API requests/s by all speakers during the burst", "/s"},
	{"controller.rss.idle", "controller RSS, idle", "MB"},
	{"controller.anon.idle", "… of which anonymous (heap, stacks; the rest is the binary's mapped pages)", "MB"},
	{"controller.rss.loaded", "controller RSS, with the Services", "MB"},
	{"controller.anon.loaded", "… of which anonymous", "MB"},
	{"controller.cpu.burst", "controller CPU during burst + paced", "s"},
	{"speaker.rss.idle", "speaker RSS (node1), idle", "MB"},
	{"speaker.anon.idle", "… of which anonymous", "MB"},
	{"speaker.rss.loaded", "speaker RSS (node1), with the Services", "MB"},
	{"speaker.anon.loaded", "… of which anonymous", "MB"},
	{"speaker.cpu.rest", "speaker CPU at rest with the Services (node1)", "%"},
}

// comparePool is the failover Service's pool (the same addresses as the
// failover bench's); burstPool holds the burst's and the paced run's
// Services: single-stack IPv6 in the LAN's own subnet, so every node can
// announce every address with either load balancer.
var (
	comparePool = benchPool
	burstPool   = []string{"fd00:200::1:0-fd00:200::1:ffff"}
)

// TestBenchCompare is `make compare`: the same benchmarks, in one run, on
// labs of the same shape (3 nodes, dual stack, stand-in kubelets), one
// running MetalLB v0.16.2 and one running ironlb, and one table of both
// with the ratio. IRONLB_COMPARE_SERVICES (default 1000) sets the burst's
// size, IRONLB_BENCH_RUNS (default 20) the failovers per kind. Figures,
// never assertions; the table goes to $IRONLB_BENCH_OUT when set.
func TestBenchCompare(t *testing.T) {
	if os.Getenv("IRONLB_COMPARE") != "1" {
		t.Skip("set IRONLB_COMPARE=1 (`make compare`) to compare MetalLB and ironlb")
	}
	requireLab(t)
	if _, err := lab.FindMetalLBDir(""); err != nil {
		testkit.Unavailable(t, "%v", err)
	}
	runs := benchRuns
	if v := os.Getenv("IRONLB_BENCH_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("IRONLB_BENCH_RUNS=%q: want a positive number", v)
		}
		runs = n
	}
	services := 1000
	if v := os.Getenv("IRONLB_COMPARE_SERVICES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("IRONLB_COMPARE_SERVICES=%q: want a positive number", v)
		}
		services = n
	}
	started := time.Now().UTC()
	load0 := loadAverage()
	results := map[lab.LB]compareFigures{}
	for _, lb := range []lab.LB{lab.LBMetalLB, lab.LBIronlb} {
		f := compareFigures{}
		for _, r := range compareRows {
			f[r[0]] = math.NaN()
		}
		results[lb] = f // what a failed run measured still shows
		t.Run(lb.Name(), func(t *testing.T) {
			upCompareLab(t, lb, 3).measure(t, f, runs, services)
		})
	}
	report := compareReport(results, runs, services, started, load0, loadAverage())
	fmt.Println(report)
	if out := os.Getenv("IRONLB_BENCH_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(report), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// upCompareLab brings up a lab of its own of nodes nodes running lb, with
// lab up's extra flags; t's cleanup takes it down.
func upCompareLab(t *testing.T, lb lab.LB, nodes int, extra ...string) *compareLab {
	t.Helper()
	work := workDir(t)
	c := &compareLab{lb: lb, dir: filepath.Join(work, "lab"), prefix: "ie2c" + randomHex(3) + "-"}
	m := &peerLab{dir: c.dir}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testkit.Budget(15*time.Second))
		defer cancel()
		if out, err := m.lab(ctx, "down", "--prefix", c.prefix); err != nil {
			t.Errorf("lab down: %v\n%s", err, out)
		}
	})
	// Expected: 15 s for 3 nodes, about a second more per node.
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Budget(30*time.Second+time.Duration(nodes)*2*time.Second))
	defer cancel()
	args := append([]string{"up", "--prefix", c.prefix, "--nodes", strconv.Itoa(nodes), "--lb", string(lb), "--audit",
		"--crds", filepath.Join(repoRoot(), "config", "crd", "bases")}, extra...)
	if out, err := m.lab(ctx, args...); err != nil {
		t.Fatalf("lab up --lb %s: %v\n%s", lb, err, out)
	}
	var err error
	if c.cs, err = lab.Clientset(c.dir); err != nil {
		t.Fatal(err)
	}
	return c
}

// configure applies a pool and an L2Advertisement for all pools, as
// MetalLB's CRs or ironlb's: the kinds and fields are the same.
func (c *compareLab) configure(t *testing.T, pools map[string][]string) {
	t.Helper()
	apiVersion, ns := "ironlb.io/v1beta1", "ironlb-system"
	if c.lb.MetalLB() {
		apiVersion, ns = "metallb.io/v1beta1", "metallb-system"
	}
	var b strings.Builder
	for name, addrs := range pools {
		var quoted []string
		for _, a := range addrs {
			quoted = append(quoted, strconv.Quote(a))
		}
		fmt.Fprintf(&b, "apiVersion: %s\nkind: IPAddressPool\nmetadata: {name: %s, namespace: %s}\nspec:\n  addresses: [%s]\n---\n",
			apiVersion, name, ns, strings.Join(quoted, ", "))
	}
	fmt.Fprintf(&b, "apiVersion: %s\nkind: L2Advertisement\nmetadata: {name: all, namespace: %s}\n", apiVersion, ns)
	f := filepath.Join(t.TempDir(), "pools.yaml")
	if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := (&peerLab{dir: c.dir}).lab(context.Background(), "kubectl", "--", "apply", "-f", f); err != nil {
		t.Fatalf("applying the pools: %v\n%s", err, out)
	}
}

// usage is the resident memory (MB) and CPU time (s) of a lab process.
func (c *compareLab) usage(t *testing.T, name string) (rssMB, cpuS float64) {
	rssMB, _, cpuS = c.memory(t, name)
	return rssMB, cpuS
}

// memory is the resident memory of a lab process, the anonymous part of
// it (heap, stacks: what the process itself allocated; the rest is pages
// of its executable and libraries, shared with other processes running the
// same binary) in MB, and its CPU time in s.
func (c *compareLab) memory(t *testing.T, name string) (rssMB, anonMB, cpuS float64) {
	t.Helper()
	st, err := lab.LoadState(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	pr := st.Procs[name]
	if pr == nil || !pr.Alive() {
		t.Fatalf("process %s is not running", name)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pr.PID))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			rssMB = kb / 1024
		}
	}
	rollup, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pr.PID))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(rollup), "\n") {
		if v, ok := strings.CutPrefix(l, "Anonymous:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			anonMB = kb / 1024
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pr.PID))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name (which may hold spaces): utime and
	// stime are the 14th and 15th fields of the whole line.
	rest := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	ut, _ := strconv.ParseFloat(rest[11], 64)
	st2, _ := strconv.ParseFloat(rest[12], 64)
	const clockTicks = 100 // USER_HZ on Linux
	return rssMB, anonMB, (ut + st2) / clockTicks
}

// measure fills f.
func (c *compareLab) measure(t *testing.T, f compareFigures, runs, services int) {
	time.Sleep(10 * time.Second) // the processes settle after start
	f["controller.rss.idle"], f["controller.anon.idle"], _ = c.memory(t, "controller")
	f["speaker.rss.idle"], f["speaker.anon.idle"], _ = c.memory(t, "speaker/node1")

	c.configure(t, map[string][]string{"failover": comparePool, "burst": burstPool, "bgp": bgpBenchPool})
	env := &l2Env{cs: c.cs, ns: "default"}
	env.deployWeb(t, "web", 3, nil)
	c.failover(t, f, runs)
	c.bgp(t, f, runs)

	_, cpu0 := c.usage(t, "controller")
	burstFrom, burstTo := c.burst(t, f, services)
	c.paced(t, f, services/2)
	_, cpu1 := c.usage(t, "controller")
	f["controller.cpu.burst"] = cpu1 - cpu0
	time.Sleep(10 * time.Second)
	f["controller.rss.loaded"], f["controller.anon.loaded"], _ = c.memory(t, "controller")
	var s0, s1 float64
	f["speaker.rss.loaded"], f["speaker.anon.loaded"], s0 = c.memory(t, "speaker/node1")
	const rest = 30 * time.Second
	restFrom := time.Now()
	time.Sleep(rest)
	_, s1 = c.usage(t, "speaker/node1")
	f["speaker.cpu.rest"] = 100 * (s1 - s0) / rest.Seconds()
	c.apiRequests(t, f, "rest", restFrom, restFrom.Add(rest))
	c.apiRequests(t, f, "burst", burstFrom, burstTo)
	c.restart(t, f)
}

// failover measures Layer 2 failover as TestBenchFailover does, with
// nothing but HTTP answers: a Service with externalTrafficPolicy Local and
// a pod on every node is answered through the node announcing it, which
// the answer names.
func (c *compareLab) failover(t *testing.T, f compareFigures, runs int) {
	t.Helper()
	ctx := context.Background()
	local := corev1.ServiceExternalTrafficPolicyLocal
	v4 := corev1.IPFamilyPolicySingleStack
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "failover", Namespace: "default", Annotations: map[string]string{"metallb.io/address-pool": "failover"}},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "web"}, ExternalTrafficPolicy: local,
			IPFamilyPolicy: &v4, IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
			Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(workloadPort)}},
		},
	}
	if _, err := c.cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var ip netip.Addr
	eventually(t, testkit.Budget(10*time.Second), "the failover Service's address", func() error {
		s, err := c.cs.CoreV1().Services("default").Get(ctx, "failover", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(s.Status.LoadBalancer.Ingress) == 0 {
			return fmt.Errorf("no address yet")
		}
		ip, err = netip.ParseAddr(s.Status.LoadBalancer.Ingress[0].IP)
		return err
	})
	client := c.prefix + "client"
	get := func(ctx context.Context, ip netip.Addr) (string, error) {
		return httpGetIn(ctx, client, netip.AddrPortFrom(ip, 80).String())
	}
	kinds := []struct {
		key  string
		fail func(string) error
	}{
		{"crash", func(n string) error { return lab.NodeFail(ctx, c.dir, n, io.Discard) }},
		{"graceful", func(n string) error { return lab.StopSpeaker(c.dir, n, io.Discard) }},
	}
	for _, k := range kinds {
		var ds []time.Duration
		failedReqs := 0
		for i := range runs {
			owner := c.steadyOwner(t, get, ip)
			took, failed, err := measureFailover(get, []netip.Addr{ip}, owner, k.fail)
			if uerr := lab.NodeRecover(ctx, c.dir, owner, io.Discard); uerr != nil {
				t.Fatalf("%s run %d: bringing %s back: %v", k.key, i+1, owner, uerr)
			}
			if err != nil {
				t.Errorf("%s %s run %d (announcer %s): %v", c.lb.Name(), k.key, i+1, owner, err)
				continue
			}
			ds = append(ds, took[ip])
			failedReqs += failed
			t.Logf("%s %s run %d: from %s: %v, %d failed requests", c.lb.Name(), k.key, i+1, owner, took[ip], failed)
			// The recovered node's speaker rejoins; let the membership
			// settle before the next run, as TestBenchFailover does.
			time.Sleep(3 * time.Second)
		}
		if len(ds) == 0 {
			continue
		}
		slices.Sort(ds)
		f[k.key+".p50"] = msf(percentile(ds, 50))
		f[k.key+".p95"] = msf(percentile(ds, 95))
		f[k.key+".max"] = msf(ds[len(ds)-1])
		if k.key == "graceful" {
			f["graceful.failed"] = float64(failedReqs)
		}
	}
}

// steadyOwner waits until three answers in a row for ip come through the
// same node and returns it.
func (c *compareLab) steadyOwner(t *testing.T, get func(context.Context, netip.Addr) (string, error), ip netip.Addr) string {
	t.Helper()
	var owner string
	// Expected: a few seconds after a recovery.
	eventually(t, testkit.Budget(10*time.Second), "a steady announcer of "+ip.String(), func() error {
		owner = ""
		for range 3 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			body, err := get(ctx, ip)
			cancel()
			if err != nil {
				return err
			}
			n := field(body, "node")
			if owner != "" && n != owner {
				return fmt.Errorf("answered through %s, then %s", owner, n)
			}
			owner = n
		}
		return nil
	})
	return owner
}

// bgp peers every node with the lab's router (eBGP, no BFD) and measures,
// over runs Services created and deleted one after the other, the time
// from the create to the Service's /32 in the router's kernel and from
// the delete to its withdrawal, as TestBenchBGP does.
func (c *compareLab) bgp(t *testing.T, f compareFigures, runs int) {
	t.Helper()
	ctx := context.Background()
	peerVersion, adVersion, ns := "ironlb.io/v1beta1", "ironlb.io/v1beta1", "ironlb-system"
	if c.lb.MetalLB() {
		peerVersion, adVersion, ns = "metallb.io/v1beta2", "metallb.io/v1beta1", "metallb-system"
	}
	doc := fmt.Sprintf(`apiVersion: %s
kind: BGPPeer
metadata: {name: router, namespace: %s}
spec: {myASN: %d, peerASN: %d, peerAddress: 10.200.0.1}
---
apiVersion: %s
kind: BGPAdvertisement
metadata: {name: bgp, namespace: %s}
spec: {ipAddressPools: [bgp]}
`, peerVersion, ns, lab.NodeASN, lab.RouterASN, adVersion, ns)
	file := filepath.Join(t.TempDir(), "bgp.yaml")
	if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	pl := &peerLab{dir: c.dir}
	if out, err := pl.lab(ctx, "kubectl", "--", "apply", "-f", file); err != nil {
		t.Fatalf("applying the BGP objects: %v\n%s", err, out)
	}
	st, err := lab.LoadState(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.Plan()
	if err != nil {
		t.Fatal(err)
	}
	// Expected: sessions up within a few seconds of the BGPPeer.
	eventually(t, testkit.Budget(sessionsExpected), "BGP sessions with every node", func() error {
		out, err := pl.lab(ctx, "router", "--", "-c", "show bgp summary json")
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		for _, n := range p.Nodes {
			if !neighborEstablished(out, n.IPv4) {
				return fmt.Errorf("BGP session with %s (%s) not Established", n.Name, n.IPv4)
			}
		}
		return nil
	})
	w := watchRoutes(t, p.Namespace("router"))
	prefix := netip.PrefixFrom(bgpBenchVIP, 32)
	v4 := corev1.IPFamilyPolicySingleStack
	var created, gone []time.Duration
	for i := range runs {
		name := fmt.Sprintf("bgp-%d", i)
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Annotations: map[string]string{"metallb.io/loadBalancerIPs": bgpBenchVIP.String()}},
			Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "web"},
				IPFamilyPolicy: &v4, IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
				Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(workloadPort)}},
			},
		}
		t0 := time.Now()
		if _, err := c.cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		d1, err := w.until(prefix, t0, bgpBenchLimit, func(r string) bool { return r != "" })
		if err != nil {
			t.Errorf("%s BGP create, run %d: %v", c.lb.Name(), i+1, err)
		} else {
			created = append(created, d1)
		}
		t1 := time.Now()
		if err := c.cs.CoreV1().Services("default").Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		d2, err := w.until(prefix, t1, bgpBenchLimit, func(r string) bool { return r == "" })
		if err != nil {
			t.Errorf("%s BGP delete, run %d: %v", c.lb.Name(), i+1, err)
		} else {
			gone = append(gone, d2)
		}
		t.Logf("%s BGP run %d: route after %v, withdrawn %v after the delete", c.lb.Name(), i+1, d1, d2)
		// The next Service asks for the same address: wait for this one
		// to be gone, and for its address to be free again.
		eventually(t, bgpBenchLimit, "Service "+name+" gone", func() error {
			_, err := c.cs.CoreV1().Services("default").Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return err
			}
			return fmt.Errorf("still there")
		})
		time.Sleep(time.Second)
	}
	for key, ds := range map[string][]time.Duration{"bgp.create": created, "bgp.delete": gone} {
		if len(ds) == 0 {
			continue
		}
		slices.Sort(ds)
		f[key+".p50"], f[key+".p95"] = msf(percentile(ds, 50)), msf(percentile(ds, 95))
	}
}

// serviceTimes watches the Services of a namespace and records when each
// first shows an address.
type serviceTimes struct {
	mu   sync.Mutex
	seen map[string]time.Time
	w    watch.Interface
	done chan struct{}
}

func watchAddresses(t *testing.T, cs kubernetes.Interface, ns string) *serviceTimes {
	t.Helper()
	w, err := cs.CoreV1().Services(ns).Watch(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st := &serviceTimes{seen: map[string]time.Time{}, w: w, done: make(chan struct{})}
	go func() {
		defer close(st.done)
		for ev := range w.ResultChan() {
			s, ok := ev.Object.(*corev1.Service)
			if !ok || len(s.Status.LoadBalancer.Ingress) == 0 {
				continue
			}
			now := time.Now()
			st.mu.Lock()
			if _, ok := st.seen[s.Name]; !ok {
				st.seen[s.Name] = now
			}
			st.mu.Unlock()
		}
	}()
	return st
}

func (st *serviceTimes) at(name string) (time.Time, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	v, ok := st.seen[name]
	return v, ok
}

func (st *serviceTimes) stop() {
	st.w.Stop()
	<-st.done
}

// createServices creates n single-stack IPv6 Services named prefix-i in
// namespace ns from workers goroutines, at most one every pace (0: as
// fast as they go), and returns when each create was sent.
func (c *compareLab) createServices(t *testing.T, ns, prefix string, n, workers int, pace time.Duration) map[string]time.Time {
	t.Helper()
	v6 := corev1.IPFamilyPolicySingleStack
	sent := make(map[string]time.Time, n)
	var mu sync.Mutex
	names := make(chan string)
	var wg sync.WaitGroup
	var firstErr error
	for range workers {
		wg.Go(func() {
			for name := range names {
				svc := &corev1.Service{
					ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: map[string]string{"metallb.io/address-pool": "burst"}},
					Spec: corev1.ServiceSpec{
						Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "web"},
						IPFamilyPolicy: &v6, IPFamilies: []corev1.IPFamily{corev1.IPv6Protocol},
						Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(workloadPort)}},
					},
				}
				at := time.Now()
				_, err := c.cs.CoreV1().Services(ns).Create(context.Background(), svc, metav1.CreateOptions{})
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				sent[name] = at
				mu.Unlock()
			}
		})
	}
	var tick *time.Ticker
	if pace > 0 {
		tick = time.NewTicker(pace)
		defer tick.Stop()
	}
	for i := range n {
		if tick != nil {
			<-tick.C
		}
		names <- fmt.Sprintf("%s-%d", prefix, i)
	}
	close(names)
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("creating Services: %v", firstErr)
	}
	return sent
}

// latencies waits until every Service of sent has an address and returns
// create → address per Service, sorted, and the last address's time.
func latencies(t *testing.T, st *serviceTimes, sent map[string]time.Time, budget time.Duration) ([]time.Duration, time.Time) {
	t.Helper()
	var ds []time.Duration
	var last time.Time
	eventually(t, budget, fmt.Sprintf("addresses for %d Services", len(sent)), func() error {
		ds, last = ds[:0], time.Time{}
		missing := 0
		for name, at := range sent {
			got, ok := st.at(name)
			if !ok {
				missing++
				continue
			}
			ds = append(ds, got.Sub(at))
			if got.After(last) {
				last = got
			}
		}
		if missing > 0 {
			return fmt.Errorf("%d Services without an address", missing)
		}
		return nil
	})
	slices.Sort(ds)
	return ds, last
}

func (c *compareLab) ensureNamespace(t *testing.T, ns string) {
	t.Helper()
	if _, err := c.cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// events counts the Events about objects of namespace ns.
func (c *compareLab) events(t *testing.T, ns string) int {
	t.Helper()
	evs, err := c.cs.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs.Items {
		n += int(max(e.Count, 1))
	}
	return n
}

// burst creates n Services with 32 workers and measures create → IP; it
// returns when the first create was sent and the last address seen.
func (c *compareLab) burst(t *testing.T, f compareFigures, n int) (time.Time, time.Time) {
	t.Helper()
	c.ensureNamespace(t, "burst")
	st := watchAddresses(t, c.cs, "burst")
	defer st.stop()
	sent := c.createServices(t, "burst", "b", n, 32, 0)
	var lastCreate time.Time
	for _, at := range sent {
		if at.After(lastCreate) {
			lastCreate = at
		}
	}
	// Expected: seconds for ironlb; MetalLB's controller is slower.
	first := lastCreate
	for _, at := range sent {
		if at.Before(first) {
			first = at
		}
	}
	ds, last := latencies(t, st, sent, testkit.Budget(3*time.Minute))
	f["burst.p50"], f["burst.p99"] = msf(percentile(ds, 50)), msf(percentile(ds, 99))
	f["burst.lag"] = msf(last.Sub(lastCreate))
	time.Sleep(5 * time.Second) // Events of the announcements too
	f["burst.events"] = float64(c.events(t, "burst")) / float64(n)
	return first, last
}

// apiRequests counts, from the API server's audit log, the requests the
// controller and the speakers completed between from and to, per second.
// ironlb's processes are told apart by their ServiceAccounts (both run
// the one ironlb binary), MetalLB's (which run as the lab's admin) by
// their user agents, the names of their binaries.
func (c *compareLab) apiRequests(t *testing.T, f compareFigures, window string, from, to time.Time) {
	t.Helper()
	b, err := os.ReadFile(lab.AuditLog(c.dir))
	if err != nil {
		t.Errorf("audit log: %v", err)
		return
	}
	var ctrl, speakers int
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" {
			continue
		}
		var ev struct {
			User struct {
				Username string `json:"username"`
			} `json:"user"`
			UserAgent      string    `json:"userAgent"`
			StageTimestamp time.Time `json:"stageTimestamp"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			continue // a line being written
		}
		if ev.StageTimestamp.Before(from) || ev.StageTimestamp.After(to) {
			continue
		}
		switch who := requester(ev.User.Username, ev.UserAgent); who {
		case "controller":
			ctrl++
		case "speaker":
			speakers++
		}
	}
	secs := to.Sub(from).Seconds()
	f["api.controller."+window] = float64(ctrl) / secs
	f["api.speakers."+window] = float64(speakers) / secs
}

// requester tells the load balancer's controller and speakers from the
// lab's other clients.
func requester(user, agent string) string {
	switch {
	case user == "system:serviceaccount:ironlb-system:ironlb-controller", strings.HasPrefix(agent, "controller/"):
		return "controller"
	case user == "system:serviceaccount:ironlb-system:ironlb-speaker", strings.HasPrefix(agent, "speaker/"):
		return "speaker"
	}
	return ""
}

// paced creates n Services at 50 per second and measures create → IP.
func (c *compareLab) paced(t *testing.T, f compareFigures, n int) {
	t.Helper()
	c.ensureNamespace(t, "paced")
	st := watchAddresses(t, c.cs, "paced")
	defer st.stop()
	sent := c.createServices(t, "paced", "p", n, 4, 20*time.Millisecond)
	ds, _ := latencies(t, st, sent, testkit.Budget(time.Minute))
	f["paced.p99"] = msf(percentile(ds, 99))
}

// restart restarts the controller with every Service in place: how many
// addresses change, when the new process is ready, and when a Service
// created as it starts gets its address.
func (c *compareLab) restart(t *testing.T, f compareFigures) {
	t.Helper()
	before := c.addresses(t)
	ev0 := c.events(t, "burst") + c.events(t, "paced")
	st, err := lab.LoadState(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	c.ensureNamespace(t, "restart")
	w := watchAddresses(t, c.cs, "restart")
	defer w.stop()
	if err := lab.Restart(c.dir, "controller", io.Discard); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	sent := c.createServices(t, "restart", "r", 1, 1, 0)
	readyURL := fmt.Sprintf("http://127.0.0.1:%d/readyz", st.Ports.ControllerHealth)
	eventually(t, testkit.Budget(time.Minute), "the restarted controller ready", func() error {
		return readyz(readyURL)
	})
	f["restart.ready"] = msf(time.Since(started))
	_, last := latencies(t, w, sent, testkit.Budget(time.Minute))
	f["restart.firstIP"] = msf(last.Sub(started))
	time.Sleep(10 * time.Second)
	after := c.addresses(t)
	changed := 0
	for k, v := range before {
		if after[k] != v {
			changed++
		}
	}
	f["restart.changed"] = float64(changed)
	f["restart.events"] = float64(c.events(t, "burst")+c.events(t, "paced")-ev0) / float64(max(len(before), 1))
}

// addresses maps every LoadBalancer Service of burst and paced to its
// addresses.
func (c *compareLab) addresses(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, ns := range []string{"burst", "paced"} {
		svcs, err := c.cs.CoreV1().Services(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range svcs.Items {
			var ips []string
			for _, in := range s.Status.LoadBalancer.Ingress {
				ips = append(ips, in.IP)
			}
			out[ns+"/"+s.Name] = strings.Join(ips, ",")
		}
	}
	return out
}

// readyz GETs url and wants 200.
func readyz(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return lab.GetOK(ctx, url)
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// compareReport is the table: each figure for MetalLB and ironlb, and
// ironlb's divided by MetalLB's.
func compareReport(r map[lab.LB]compareFigures, runs, services int, started time.Time, load0, load1 string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "MetalLB v0.16.2 and ironlb side by side, %s UTC; %d CPUs; load average %s at the start, %s at the end\n",
		started.Format("2006-01-02 15:04"), runtime.NumCPU(), load0, load1)
	fmt.Fprintf(&b, "labs of 3 nodes each, one after the other; %d failovers per kind; burst of %d Services (32 workers), then %d paced at 50/s\n\n",
		runs, services, services/2)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "figure\tMetalLB\tironlb\tironlb / MetalLB")
	for _, row := range compareRows {
		m, i := r[lab.LBMetalLB][row[0]], r[lab.LBIronlb][row[0]]
		ratio := "-"
		if m > 0 && !math.IsNaN(m) && !math.IsNaN(i) {
			ratio = strconv.FormatFloat(i/m, 'f', 2, 64)
		}
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", row[1], figure(m, row[2]), figure(i, row[2]), ratio)
	}
	_ = tw.Flush()
	return b.String()
}

func figure(v float64, unit string) string {
	if math.IsNaN(v) {
		return "not measured"
	}
	prec := 0
	if v < 10 && v != math.Trunc(v) {
		prec = 2
	}
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if unit != "" {
		s += " " + unit
	}
	return s
}

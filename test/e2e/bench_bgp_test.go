//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
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
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/lab"
	"github.com/ironlb/ironlb/internal/testkit"
)

// bgpBenchPool is the BGP bench's pool, clear of the BGP suite's; every
// Service asks for bgpBenchVIP.
var (
	bgpBenchPool   = []string{"10.202.0.40-10.202.0.49"}
	bgpBenchVIP    = netip.MustParseAddr("10.202.0.40")
	bgpBenchPoolV6 = []string{"fd00:202::40-fd00:202::49"}
	bgpBenchVIPv6  = netip.MustParseAddr("fd00:202::40")
)

// bgpBenchLimit bounds every wait of one run.
const bgpBenchLimit = 60 * time.Second

// sessionsExpected is how long every session takes to be up on an idle
// machine, the wait being testkit.Budget(sessionsExpected): after a
// peer's settings change its session is re-created, and a BFD reset on
// the way adds a connect retry or two.
const sessionsExpected = 15 * time.Second

// TestBenchBGP measures the BGP mode in the lab (`make bench`,
// IRONLB_BENCH=1), every node peering with the lab's FRR router with a
// BFD profile, over IRONLB_BENCH_RUNS (default 20) runs each:
//   - Service create → its /32 in the router's kernel (first next hop, and
//     every node as next hop: ECMP), and Service delete → the /32 gone;
//     then the same for a /128 over IPv6 sessions (a second BGPPeer, to
//     the router's IPv6 address);
//   - BFD failure detection, with each of bfdBenchVariants: `lab node
//     fail` (link cut, then the speaker SIGKILLed: no FIN reaches the
//     router) → that node's next hop gone from the router's kernel route;
//     then `lab node recover` → the next hop back.
//
// The failure is caused in-process (lab.NodeFail, lab.NodeRecover), so the
// figures hold no CLI start-up time. Route changes are timed
// by `ip -ts monitor route nexthop` in the router's namespace: the time of
// the kernel's notification of the change after which the route first met
// the condition. It prints a table and writes it to $IRONLB_BENCH_OUT when
// set. Figures, never assertions.
func TestBenchBGP(t *testing.T) {
	runs := requireBench(t, "the BGP mode in the lab")
	requireLab(t)
	requireNodes(t, 2, "ECMP and failure detection")
	l := newL2Env(t)
	p, err := l.state.Plan()
	if err != nil {
		t.Fatal(err)
	}
	st := status(t)
	ctx := context.Background()
	name := "e2e-bgpbench-" + l.id
	createBGPObjects(t, l, name, bgpBenchPool, v1beta1.BGPPeerSpec{
		MyASN: uint32(st.NodeASN), PeerASN: uint32(st.Router.ASN), PeerAddress: p.Router.IPv4.String(), //nolint:gosec // ASNs fit
		ConnectTime: &metav1.Duration{Duration: time.Second}, BFDProfile: name,
	})
	routerNS := p.Namespace("router")
	nodeIPs := map[string]netip.Addr{}
	for _, n := range p.Nodes {
		nodeIPs[n.Name] = n.IPv4
	}
	waitSessions(t, nodeIPs, true)
	l.deployWeb(t, "web", e2e.nodes, nil)

	w := watchRoutes(t, routerNS)
	vip := bgpBenchVIP
	prefix := netip.PrefixFrom(vip, 32)
	viaAll := viaEvery(nodeIPs)

	loads := sampleLoad()
	started := time.Now().UTC()
	// createDelete times runs Services asking for vip from pool: create →
	// the route of vip in the router's kernel (first next hop, then via
	// every node of ips), delete → gone.
	createDelete := func(family, pool string, vip netip.Addr, ips map[string]netip.Addr) []bgpBenchRow {
		prefix := netip.PrefixFrom(vip, vip.BitLen())
		all := viaEvery(ips)
		var first, ecmp, gone []time.Duration
		var createFailed int
		for i := range runs {
			svc := fmt.Sprintf("bench-%s-%d", strings.ToLower(family), i)
			t0 := time.Now()
			createBenchService(t, l, svc, pool, vip)
			d1, err1 := w.until(prefix, t0, bgpBenchLimit, func(r string) bool { return r != "" })
			d2, err2 := w.until(prefix, t0, bgpBenchLimit, all)
			if err := cmpErr(err1, err2); err != nil {
				t.Errorf("create %s, run %d: %v", family, i+1, err)
				createFailed++
			} else {
				first, ecmp = append(first, d1), append(ecmp, d2)
			}
			t1 := time.Now()
			if err := l.cs.CoreV1().Services(l.ns).Delete(ctx, svc, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			d3, err := w.until(prefix, t1, bgpBenchLimit, func(r string) bool { return r == "" })
			if err != nil {
				t.Errorf("delete %s, run %d: %v", family, i+1, err)
			} else {
				gone = append(gone, d3)
			}
			t.Logf("create %s, run %d: first next hop %v, ECMP %v; delete: gone %v", family, i+1, d1, d2, d3)
			eventually(t, bgpBenchLimit, "Service "+svc+" gone", func() error {
				_, err := l.cs.CoreV1().Services(l.ns).Get(ctx, svc, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					return nil
				}
				if err != nil {
					return fmt.Errorf("reading it: %w", err)
				}
				return errors.New("still there")
			})
		}
		return []bgpBenchRow{
			newBGPBenchRow("Service create → "+prefix.String()+" in the router's kernel (first next hop; "+family+" sessions)", first, createFailed),
			newBGPBenchRow("Service create → "+prefix.String()+" via every node (ECMP; "+family+" sessions)", ecmp, createFailed),
			newBGPBenchRow("Service delete → "+prefix.String()+" gone from the router's kernel ("+family+" sessions)", gone, runs-len(gone)),
		}
	}
	createRows := createDelete("IPv4", l.pools["bgp"], vip, nodeIPs)

	createBenchService(t, l, "bench", l.pools["bgp"], vip)
	var bfdRows []bgpBenchRow
	var byBFD, bfdRuns int
	for _, v := range bfdBenchVariants {
		if v.spec != nil {
			setBFDProfile(t, l, name, *v.spec)
		}
		var bfd, back []time.Duration
		var bfdFailed int
		for i := range runs {
			victim := l.nodes[i%len(l.nodes)]
			if _, err := w.until(prefix, time.Now(), bgpBenchLimit, viaAll); err != nil {
				t.Fatalf("BFD %s, run %d: %v", v.name, i+1, err)
			}
			waitSessions(t, nodeIPs, true)
			t0 := time.Now()
			var d time.Duration
			err := lab.NodeFail(ctx, e2e.dir, victim, io.Discard)
			if err == nil {
				d, err = w.until(prefix, t0, bgpBenchLimit, func(r string) bool {
					return r != "" && !strings.Contains(r, "via "+nodeIPs[victim].String()+" ")
				})
			}
			reason := lastReset(st.Router.VtySocket, nodeIPs[victim])
			if strings.Contains(reason, "BFD") {
				byBFD++
			}
			bfdRuns++
			t2 := time.Now()
			if rerr := lab.NodeRecover(ctx, e2e.dir, victim, io.Discard); rerr != nil {
				t.Fatalf("BFD %s, run %d: bringing %s back: %v", v.name, i+1, victim, rerr)
			}
			d2, err2 := w.until(prefix, t2, bgpBenchLimit, viaAll)
			if err != nil {
				t.Errorf("BFD %s, run %d (%s): %v", v.name, i+1, victim, err)
				bfdFailed++
			} else {
				bfd = append(bfd, d)
			}
			if err2 != nil {
				t.Errorf("BFD %s, run %d: %s's next hop not back: %v", v.name, i+1, victim, err2)
			} else {
				back = append(back, d2)
			}
			t.Logf("BFD %s, run %d: %s's next hop gone %v after `lab node fail` (router: %q); back %v after `lab node recover`",
				v.name, i+1, victim, d, reason, d2)
		}
		bfdRows = append(bfdRows,
			newBGPBenchRow("`lab node fail` → its next hop gone (BFD "+v.name+")", bfd, bfdFailed),
			newBGPBenchRow("`lab node recover` → its next hop back (BFD "+v.name+")", back, runs-len(back)))
	}

	// The same over IPv6 sessions: a BGPPeer to the router's IPv6
	// address (with a BFD profile of its own, every default) and an IPv6
	// pool; the IPv4 peer's sessions stay.
	v6 := name + "-v6"
	createBGPObjects(t, l, v6, bgpBenchPoolV6, v1beta1.BGPPeerSpec{
		MyASN: uint32(st.NodeASN), PeerASN: uint32(st.Router.ASN), PeerAddress: p.Router.IPv6.String(), //nolint:gosec // ASNs fit
		ConnectTime: &metav1.Duration{Duration: time.Second}, BFDProfile: v6,
	})
	nodeIPs6 := map[string]netip.Addr{}
	for _, n := range p.Nodes {
		nodeIPs6[n.Name] = n.IPv6
	}
	waitSessions(t, nodeIPs6, true)
	createRows = append(createRows, createDelete("IPv6", v6, bgpBenchVIPv6, nodeIPs6)...)
	load1 := loads()

	rows := append(createRows, bfdRows...)
	report := bgpBenchReport(rows, runs, started, load1, byBFD, bfdRuns)
	fmt.Println(report) // `make bench` runs with -v and shows it
	if out := os.Getenv("IRONLB_BENCH_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(report), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// bfdBenchVariants are the BFD profiles TestBenchBGP times a node's
// failure with, in order; nil: the profile as created (every default).
// The lab router's BFD profile (internal/lab) accepts 50 ms intervals and
// runs echo-mode, so the nodes' profiles set the pace: the router detects
// a node's loss after 3 × 300 ms, 3 × 50 ms, or — echo — 3 echo intervals
// of 50 ms, its echo packets no longer looped back by the node.
var bfdBenchVariants = []struct {
	name string
	spec *v1beta1.BFDProfileSpec
}{
	{"300 ms × 3", nil},
	{"50 ms × 3", &v1beta1.BFDProfileSpec{ReceiveInterval: ptr.To[uint32](50), TransmitInterval: ptr.To[uint32](50)}},
	{"echo 50 ms × 3", &v1beta1.BFDProfileSpec{EchoMode: ptr.To(true), EchoInterval: ptr.To[uint32](50)}},
}

// setBFDProfile replaces the spec of BFDProfile name (the BGPPeers naming
// it re-create their sessions).
func setBFDProfile(t *testing.T, l *l2Env, name string, spec v1beta1.BFDProfileSpec) {
	t.Helper()
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error { // the controller writes its status
		var prof v1beta1.BFDProfile
		if err := l.cl.Get(context.Background(), client.ObjectKey{Namespace: ironlbNamespace, Name: name}, &prof); err != nil {
			return err
		}
		prof.Spec = spec
		return l.cl.Update(context.Background(), &prof)
	}); err != nil {
		t.Fatalf("editing BFDProfile %s: %v", name, err)
	}
}

// viaEvery returns a condition on `ip route show` output: a next hop via
// every address of ips.
func viaEvery(ips map[string]netip.Addr) func(route string) bool {
	return func(route string) bool {
		for _, ip := range ips {
			if !strings.Contains(route, "via "+ip.String()+" ") {
				return false
			}
		}
		return true
	}
}

func cmpErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// createBGPObjects creates a BFDProfile (every default), an IPAddressPool
// handing out addresses on request only, a BGPPeer with spec peer and a
// BGPAdvertisement of the pool, all named name; l.pools["bgp"] names the
// pool. t's cleanup deletes them.
func createBGPObjects(t *testing.T, l *l2Env, name string, pool []string, peer v1beta1.BGPPeerSpec) {
	t.Helper()
	meta := metav1.ObjectMeta{Namespace: ironlbNamespace, Name: name}
	objs := []client.Object{
		&v1beta1.BFDProfile{ObjectMeta: meta},
		&v1beta1.IPAddressPool{ObjectMeta: meta, Spec: v1beta1.IPAddressPoolSpec{Addresses: pool, AutoAssign: ptr.To(false)}},
		&v1beta1.BGPPeer{ObjectMeta: meta, Spec: peer},
		&v1beta1.BGPAdvertisement{ObjectMeta: meta, Spec: v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{name}}},
	}
	for _, o := range objs {
		if err := l.cl.Create(context.Background(), o); err != nil {
			t.Fatalf("creating %T %s: %v", o, name, err)
		}
		t.Cleanup(func() {
			if err := l.cl.Delete(context.Background(), o); err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("deleting %T %s: %v", o, name, err)
			}
		})
	}
	l.pools["bgp"] = name
}

// createBenchService creates a single-stack LoadBalancer Service (of vip's
// family) for the pods of app "web" asking for vip from pool; t's cleanup
// deletes it if it is still there.
func createBenchService(t *testing.T, l *l2Env, name, pool string, vip netip.Addr) {
	t.Helper()
	family := corev1.IPv4Protocol
	if vip.Is6() {
		family = corev1.IPv6Protocol
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{
			"ironlb.io/address-pool": pool, "ironlb.io/loadBalancerIPs": vip.String(),
		}},
		Spec: corev1.ServiceSpec{
			Type:           corev1.ServiceTypeLoadBalancer,
			IPFamilyPolicy: ptr.To(corev1.IPFamilyPolicySingleStack),
			IPFamilies:     []corev1.IPFamily{family},
			Selector:       map[string]string{"app": "web"},
			Ports:          []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(workloadPort)}},
		},
	}
	if _, err := l.cs.CoreV1().Services(l.ns).Create(context.Background(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		err := l.cs.CoreV1().Services(l.ns).Delete(context.Background(), name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting Service %s/%s: %v", l.ns, name, err)
		}
	})
}

// waitSessions waits until the router has an Established BGP session with
// every node of nodeIPs and, with bfd, an up BFD session with each.
func waitSessions(t *testing.T, nodeIPs map[string]netip.Addr, bfd bool) {
	t.Helper()
	start := time.Now()
	defer func() {
		t.Logf("BGP (and BFD) sessions with every node up after %s", time.Since(start).Round(time.Millisecond))
	}()
	eventually(t, testkit.Budget(sessionsExpected), "BGP (and BFD) sessions with every node up", func() error {
		out, err := vtysh("show bgp summary json")
		if err != nil {
			return err
		}
		peers := ""
		if bfd {
			if peers, err = vtysh("show bfd peers json"); err != nil {
				return err
			}
		}
		for n, ip := range nodeIPs {
			if !neighborEstablished(out, ip) {
				return fmt.Errorf("BGP session with %s (%s) not Established", n, ip)
			}
			if bfd && !bfdPeerUp(peers, ip) {
				return fmt.Errorf("BFD session with %s (%s) not up: %s", n, ip, peers)
			}
		}
		return nil
	})
}

// bfdPeerUp reports whether FRR's `show bfd peers json` has an up session
// with addr.
func bfdPeerUp(peers string, addr netip.Addr) bool {
	var ps []struct {
		Peer   string `json:"peer"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(peers), &ps); err != nil {
		return false
	}
	return slices.ContainsFunc(ps, func(p struct {
		Peer   string `json:"peer"`
		Status string `json:"status"`
	}) bool {
		return p.Peer == addr.String() && p.Status == "up"
	})
}

// lastReset is how the router last took its BGP session with addr down,
// from its bgpd.log in routerDir: the NOTIFICATION it sent ("Cease/BFD
// Down" when BFD did it) and the "%ADJCHANGE ... Down <reason>" line; ""
// when the log has neither. The nodes are dynamic neighbours, which FRR
// forgets once their session is down, so the log is all that is left.
func lastReset(routerDir string, addr netip.Addr) string {
	b, err := os.ReadFile(filepath.Join(routerDir, "bgpd.log"))
	if err != nil {
		return ""
	}
	var notification, reason string
	for line := range strings.Lines(string(b)) {
		if !strings.Contains(line, "neighbor "+addr.String()) {
			continue
		}
		if _, n, ok := strings.Cut(line, "NOTIFICATION: sent to neighbor "+addr.String()); ok {
			notification, reason = strings.TrimSpace(n), ""
		} else if _, r, ok := strings.Cut(line, " Down "); ok && strings.Contains(line, "ADJCHANGE") {
			reason = strings.TrimSpace(r)
		} else if strings.Contains(line, "ADJCHANGE") && strings.Contains(line, " Up") {
			notification, reason = "", "" // a new session
		}
	}
	return strings.TrimSpace(notification + " " + reason)
}

// routeWatch times the route changes of a namespace: it runs `ip -ts
// monitor route nexthop` there (at real-time priority when chrt is there)
// and passes the time of every change on.
type routeWatch struct {
	ns     string
	events chan time.Time
	// last is the time of the latest event until consumed.
	last time.Time
}

// watchRoutes starts the monitor in ns; t's cleanup stops it.
func watchRoutes(t *testing.T, ns string) *routeWatch {
	t.Helper()
	args := []string{"ip", "-n", ns, "-ts", "monitor", "route", "nexthop"}
	if _, err := exec.LookPath("chrt"); err == nil {
		// The monitor stamps a change when it reads the notification: at
		// real-time priority it reads at once, even on a loaded machine.
		args = append([]string{"chrt", "-f", "10"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &routeWatch{ns: ns, events: make(chan time.Time, 4096)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if line == "" || line[0] == ' ' || line[0] == '\t' {
				continue // a next hop of the previous route
			}
			at := time.Now()
			if ts, _, ok := strings.Cut(strings.TrimPrefix(line, "["), "]"); ok && strings.HasPrefix(line, "[") {
				if p, err := time.ParseInLocation("2006-01-02T15:04:05.000000", ts, time.Local); err == nil {
					at = p
				}
			}
			select {
			case w.events <- at:
			default: // never this far behind
			}
		}
	}()
	time.Sleep(100 * time.Millisecond) // subscribed before anything changes
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		_ = cmd.Wait()
	})
	return w
}

// until waits at most limit for the route of prefix to meet cond and
// returns the time from since to the route change after which it first
// did: the first change the monitor reports after the last look at the
// route (`ip route show`) that did not meet cond. Every change is followed
// by a look, so the figure is exact to the time of one look, plus the
// monitor's own delay in reading the kernel's notification. It is the time
// of the last change seen when the route met cond at the first look.
func (w *routeWatch) until(prefix netip.Prefix, since time.Time, limit time.Duration, cond func(string) bool) (time.Duration, error) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(200 * time.Millisecond) // a missed event delays, never hangs
	defer tick.Stop()
	next := func(at time.Time) {
		if at.After(w.last) {
			w.last = at
		}
	}
	select { // a change queued since the last look
	case at := <-w.events:
		next(at)
	default:
	}
	var before time.Time // the start of the last look not meeting cond
	for {
		look := time.Now()
		route, err := kernelRoute(w.ns, prefix)
		if err == nil && cond(route) {
			switch {
			case before.IsZero():
				return max(0, w.last.Sub(since)), nil
			case w.last.After(before):
				return w.last.Sub(since), nil
			}
			// The look saw a change whose notification is not read yet
			// (the look came from the ticker): it is the next one.
			late := time.NewTimer(2 * time.Second)
			defer late.Stop()
			for {
				select {
				case at := <-w.events:
					next(at)
					if at.After(before) {
						return at.Sub(since), nil
					}
				case <-late.C:
					return look.Sub(since), nil // an upper bound
				}
			}
		}
		before = look
		select {
		case at := <-w.events:
			next(at)
		case <-tick.C:
		case <-deadline.C:
			if err != nil {
				return 0, fmt.Errorf("%s not as wanted within %s: %q (last error: %w)", prefix, limit, route, err)
			}
			return 0, fmt.Errorf("%s not as wanted within %s: %q", prefix, limit, route)
		}
	}
}

// sampleLoad samples the 1-minute load average every 5 s until the
// returned function is called; that returns "min–max of the samples".
func sampleLoad() func() string {
	var (
		mu      sync.Mutex
		samples []float64
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	take := func() {
		if f := strings.Fields(loadAverage()); len(f) > 0 {
			if v, err := strconv.ParseFloat(f[0], 64); err == nil {
				mu.Lock()
				samples = append(samples, v)
				mu.Unlock()
			}
		}
	}
	go func() {
		defer close(done)
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			take()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func() string {
		close(stop)
		<-done
		take()
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprintf("%.2f–%.2f (1-minute, %d samples every 5 s)", slices.Min(samples), slices.Max(samples), len(samples))
	}
}

// bgpBenchRow is one line of the table.
type bgpBenchRow struct {
	what              string
	n, failed         int
	min, p50, p95, mx time.Duration
}

func newBGPBenchRow(what string, ds []time.Duration, failed int) bgpBenchRow {
	r := bgpBenchRow{what: what, n: len(ds), failed: failed}
	if len(ds) == 0 {
		return r
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	r.min, r.mx = ds[0], ds[len(ds)-1]
	r.p50, r.p95 = percentile(ds, 50), percentile(ds, 95)
	return r
}

func bgpBenchReport(rows []bgpBenchRow, runs int, started time.Time, load string, byBFD, bfdRuns int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "BGP mode in the lab (%d nodes, eBGP to FRR %s, BFD as each row says), %d runs each, %s UTC; %d CPUs; load average %s\n",
		e2e.nodes, frrVersion(), runs, started.Format("2006-01-02 15:04"), runtime.NumCPU(), load)
	fmt.Fprintf(&b, "times to the router's kernel route change (`ip -ts monitor route nexthop` in its namespace); the router named BFD as the reset cause in %d of %d failures\n\n",
		byBFD, bfdRuns)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "measure\truns\tmin\tp50\tp95\tmax\tfailed runs")
	for _, r := range rows {
		_, _ = fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%d\n", r.what, r.n, ms(r.min), ms(r.p50), ms(r.p95), ms(r.mx), r.failed)
	}
	_ = tw.Flush()
	return b.String()
}

// frrVersion is the router's FRR version, "" when unknown.
func frrVersion() string {
	out, err := vtysh("show version")
	if err != nil {
		return ""
	}
	for f := range strings.FieldsSeq(out) {
		if f != "" && f[0] >= '0' && f[0] <= '9' && strings.Contains(f, ".") {
			return f
		}
	}
	return ""
}

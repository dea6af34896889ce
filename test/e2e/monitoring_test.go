//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/lab"
	"github.com/ironlb/ironlb/internal/monitoring"
	"github.com/ironlb/ironlb/internal/testkit"
)

// monitoringInterval stands for Grafana's $__rate_interval: four scrapes
// of the lab's Prometheus (every 5 s) with room to spare.
const monitoringInterval = "1m"

// TestMonitoring proves the dashboard and the alerts against a real
// Prometheus: a two-node lab of its own with `lab up --monitoring` (or the
// suite's lab when IRONLB_E2E_LAB_DIR names one with monitoring), a layer
// 2 Service, a BGP Service over a session with BFD to the lab's router, a
// Service whose address no pool holds and an L2Advertisement naming no
// existing pool. Once Prometheus has scraped them,
// every panel query of config/prometheus/ironlb-dashboard.json and every
// alert expression of config/prometheus/alerts.yaml is evaluated through
// its HTTP API, and the test fails on:
//   - a query Prometheus refuses or fails to evaluate;
//   - a metric name (every vector and matrix selector, as Prometheus's own
//     parser finds them: /api/v1/parse_query) Prometheus has never seen;
//   - a panel query that returns no data. Alert expressions may be empty
//     on a healthy lab; their metric names must exist all the same.
//
// It also wants every scrape target up, every alerting rule loaded and
// evaluated without error, the controller's gauges counting the Service
// left without an address and the invalid advertisement, and
// IronlbServiceWithoutAddress and IronlbConfigInvalid active for them
// (pending: both wait 5 minutes before firing).
func TestMonitoring(t *testing.T) {
	requireLab(t)
	if _, err := lab.FindPrometheus(""); err != nil {
		testkit.Unavailable(t, "%v", err)
	}
	s := monitoringLab(t)
	prom := promAPI{base: s.Monitoring.URL()}
	ctx := context.Background()
	// Expected: Prometheus starts within a second or two of the
	// supervisor; its TSDB opens empty.
	eventually(t, testkit.Budget(5*time.Second), "Prometheus ready", func() error { return prom.ready(ctx) })

	t.Run("lab status shows Prometheus", func(t *testing.T) { testStatusShowsPrometheus(t, s) })

	p, err := s.Plan()
	if err != nil {
		t.Fatal(err)
	}
	m := newMonitoringEnv(t, s)
	m.populate(t, p)

	// Expected: sessions Established within 3 s, BFD Up a second later,
	// the Services allocated and announced within a second or two; then
	// one scrape (5 s).
	// Selected by this test's names, so a reused lab's other objects do
	// not count.
	peer := fmt.Sprintf("{peer=%q}", m.bgpPeer)
	waitQuery(t, prom, testkit.Budget(15*time.Second), "every node's BGP session Established",
		"count(ironlb_bgp_session_up"+peer+" == 1)", len(p.Nodes))
	waitQuery(t, prom, testkit.Budget(10*time.Second), "every node's BFD session Up",
		"count(ironlb_bfd_session_up"+peer+" == 1)", len(p.Nodes))
	// One node answers for the layer 2 address; every node announces the
	// BGP one.
	waitQuery(t, prom, testkit.Budget(10*time.Second), "both Services announced",
		fmt.Sprintf("count(ironlb_speaker_announced{service=~%q})", m.ns+"/.*"), 1+len(p.Nodes))
	waitQuery(t, prom, testkit.Budget(10*time.Second), "the failed allocation counted",
		"clamp_max(count(ironlb_allocator_allocation_failures_total), 1)", 1)
	// At least: a reused lab may hold other waiting Services or invalid
	// objects, and these gauges name none.
	waitQuery(t, prom, testkit.Budget(10*time.Second), "the Service waiting for an address counted",
		`clamp_max(max(ironlb_allocator_services_pending{reason="IPNotInPool"}), 1)`, 1)
	waitQuery(t, prom, testkit.Budget(10*time.Second), "the invalid L2Advertisement counted",
		`clamp_max(max(ironlb_config_objects{kind="L2Advertisement",state="invalid"}), 1)`, 1)
	// ARP requests for the layer 2 address, so the request and response
	// rates are more than zeros.
	client := p.Namespace("client")
	eventually(t, testkit.Budget(5*time.Second), "HTTP from the client to "+m.l2IP.String(), func() error {
		_, err := httpGetIn(ctx, client, netip.AddrPortFrom(m.l2IP, 80).String())
		return err
	})
	// rate() and increase() over the interval need two samples of every
	// counter: of the speakers' (the newest: the layer 2 address's) and of
	// the controller's (the newest: the failure's). Seen without the
	// second wait, on a quick lab: "panel \"Allocations and Services
	// without an address\" target B: no data".
	waitQuery(t, prom, testkit.Budget(15*time.Second), "two samples of the layer 2 address's counters",
		fmt.Sprintf("count(count_over_time(ironlb_layer2_address_conflicts_total{ip=%q}[%s]) >= 2)", m.l2IP, monitoringInterval), 1)
	waitQuery(t, prom, testkit.Budget(15*time.Second), "two samples of the failed allocation's counter",
		fmt.Sprintf("clamp_max(count(count_over_time(ironlb_allocator_allocation_failures_total[%s]) >= 2), 1)", monitoringInterval), 1)

	t.Run("every target up", func(t *testing.T) { testTargetsUp(t, prom, 1+len(p.Nodes)) })

	seen, err := prom.metricNames(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("dashboard queries return data", func(t *testing.T) {
		d, err := monitoring.LoadDashboard(filepath.Join(repoRoot(), filepath.FromSlash(monitoring.DashboardFile)))
		if err != nil {
			t.Fatal(err)
		}
		// Seen failing with "ironlb_speaker_members" misspelled
		// "ironlb_speaker_member" in the dashboard: `panel "memberlist
		// members" target A: metric ironlb_speaker_member is unknown to
		// Prometheus (never scraped)` and `... target A: no data:
		// ironlb_speaker_member`.
		for _, q := range d.Queries() {
			checkQuery(t, prom, seen, q, true)
		}
	})
	t.Run("alert expressions evaluate", func(t *testing.T) {
		rules, err := monitoring.LoadRules(filepath.Join(repoRoot(), filepath.FromSlash(monitoring.RulesFile)))
		if err != nil {
			t.Fatal(err)
		}
		// Seen failing with IronlbBFDSessionDown's metric misspelled and
		// IronlbAddressNotAnnounced's expression cut short: "alert
		// IronlbBFDSessionDown: metric ironlb_bfd_sesion_up is unknown to
		// Prometheus (never scraped)" (an empty result alone passes) and
		// "alert IronlbAddressNotAnnounced: Prometheus cannot parse
		// \"sum(ironlb_speaker_services_not_announced) >\": ... parse
		// error: unexpected end of input".
		for _, q := range rules.Queries() {
			checkQuery(t, prom, seen, q, false)
		}
		testRulesLoaded(t, prom, rules)
	})
	t.Run("IronlbServiceWithoutAddress and IronlbConfigInvalid active", func(t *testing.T) {
		// Expected: pending at the next rule evaluation (every 5 s);
		// firing only after their `for` of 5 minutes, longer than this
		// test.
		eventually(t, testkit.Budget(10*time.Second), "IronlbServiceWithoutAddress and IronlbConfigInvalid active", func() error {
			active, err := prom.active(ctx)
			if err != nil {
				return err
			}
			for _, a := range []string{"IronlbServiceWithoutAddress", "IronlbConfigInvalid"} {
				if !slices.Contains(active, a) {
					return fmt.Errorf("%s not active; active: %v", a, active)
				}
			}
			return nil
		})
	})
}

// monitoringLab returns the state of a lab with monitoring: the suite's
// when it has it (IRONLB_E2E_LAB_DIR naming one from `lab up
// --monitoring`), else one of its own, two nodes, IPv4, taken down when t
// ends.
func monitoringLab(t *testing.T) *lab.State {
	t.Helper()
	if s, err := lab.LoadState(e2e.dir); err == nil && s.Monitoring != nil {
		return s
	}
	dir, prefix := filepath.Join(workDir(t), "lab"), "iemo"+randomHex(3)+"-"
	labCmd := func(ctx context.Context, args ...string) ([]byte, error) {
		return exec.CommandContext(ctx, e2e.ironlb, append([]string{"lab", "--dir", dir}, args...)...).CombinedOutput()
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testkit.Budget(15*time.Second))
		defer cancel()
		if out, err := labCmd(ctx, "down", "--prefix", prefix); err != nil {
			t.Errorf("lab down: %v\n%s", err, out)
		}
	})
	// Expected: 6-14 s with warm binaries, like the suite's lab.
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Budget(30*time.Second))
	defer cancel()
	start := time.Now()
	out, err := labCmd(ctx, "up", "--prefix", prefix, "--nodes", "2", "--ip-family", "ipv4", "--monitoring",
		"--crds", filepath.Join(repoRoot(), "config", "crd", "bases"))
	if err != nil {
		t.Fatalf("lab up --monitoring: %v\n%s", err, out)
	}
	t.Logf("lab up --monitoring with 2 nodes: %s", time.Since(start).Round(100*time.Millisecond))
	s, err := lab.LoadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Monitoring == nil {
		t.Fatalf("lab up --monitoring recorded no monitoring in %s", dir)
	}
	return s
}

// testStatusShowsPrometheus wants `lab status -o json` to give the
// Prometheus URL and a running prometheus process.
func testStatusShowsPrometheus(t *testing.T, s *lab.State) {
	out, err := exec.Command(e2e.ironlb, "lab", "--dir", s.Dir, "status", "-o", "json").Output()
	if err != nil {
		t.Fatalf("lab status: %v", err)
	}
	var st lab.Status
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatal(err)
	}
	if st.Prometheus != s.Monitoring.URL() {
		t.Errorf("lab status: prometheus %q, want %q", st.Prometheus, s.Monitoring.URL())
	}
	i := slices.IndexFunc(st.Processes, func(p lab.ProcStatus) bool { return p.Name == "prometheus" })
	if i < 0 || !st.Processes[i].Running || st.Processes[i].Host != "client" {
		t.Errorf("lab status: no prometheus process running in the client namespace: %+v", st.Processes)
	}
}

// monitoringEnv is what TestMonitoring creates in its lab.
type monitoringEnv struct {
	cs      *kubernetes.Clientset
	cl      client.Client
	id      string
	ns      string
	bgpPeer string
	l2IP    netip.Addr
}

func newMonitoringEnv(t *testing.T, s *lab.State) *monitoringEnv {
	t.Helper()
	cl := labClient(t, s)
	cs, err := lab.Clientset(s.Dir)
	if err != nil {
		t.Fatal(err)
	}
	id := randomHex(2)
	return &monitoringEnv{cs: cs, cl: client.WithFieldValidation(cl, metav1.FieldValidationStrict), id: id, ns: "e2e-mon-" + id}
}

// create creates o and deletes it when t ends.
func (m *monitoringEnv) create(t *testing.T, o client.Object) {
	t.Helper()
	if err := m.cl.Create(context.Background(), o); err != nil {
		t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
	}
	t.Cleanup(func() { _ = m.cl.Delete(context.Background(), o) })
}

// populate creates a layer 2 pool, a BGP pool with a BGPPeer to the lab's
// router (with BFD), an L2Advertisement naming a pool that does not exist
// (invalid), two pods, a Service in each pool and one asking for an
// address in no pool, and waits for the two to get theirs.
func (m *monitoringEnv) populate(t *testing.T, p lab.Plan) {
	t.Helper()
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: ironlbNamespace, Name: name + "-" + m.id}
	}
	l2, bgp := meta("mon-l2"), meta("mon-bgp")
	m.bgpPeer = bgp.Name
	m.create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: m.ns}})
	m.create(t, &v1beta1.IPAddressPool{ObjectMeta: l2, Spec: v1beta1.IPAddressPoolSpec{
		Addresses: []string{"10.200.0.230-10.200.0.233"}, AutoAssign: ptr.To(false)}})
	m.create(t, &v1beta1.L2Advertisement{ObjectMeta: l2, Spec: v1beta1.L2AdvertisementSpec{IPAddressPools: []string{l2.Name}}})
	m.create(t, &v1beta1.IPAddressPool{ObjectMeta: bgp, Spec: v1beta1.IPAddressPoolSpec{
		Addresses: []string{"10.202.0.70-10.202.0.73"}, AutoAssign: ptr.To(false)}})
	m.create(t, &v1beta1.BFDProfile{ObjectMeta: bgp})
	m.create(t, &v1beta1.BGPPeer{ObjectMeta: bgp, Spec: v1beta1.BGPPeerSpec{
		MyASN: lab.NodeASN, PeerASN: lab.RouterASN, PeerAddress: p.Router.IPv4.String(),
		ConnectTime: &metav1.Duration{Duration: time.Second}, BFDProfile: bgp.Name,
	}})
	m.create(t, &v1beta1.BGPAdvertisement{ObjectMeta: bgp, Spec: v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{bgp.Name}}})
	// Invalid for the controller (a missing reference, which no CEL rule
	// sees): ironlb_config_objects counts it, IronlbConfigInvalid turns
	// pending.
	m.create(t, &v1beta1.L2Advertisement{ObjectMeta: meta("mon-invalid"), Spec: v1beta1.L2AdvertisementSpec{
		IPAddressPools: []string{"mon-missing-" + m.id}}})

	labels := map[string]string{"app": "web"}
	m.create(t, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: m.ns, Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(len(p.Nodes))),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "web", Image: "registry.example/web:1",
					Ports: []corev1.ContainerPort{{ContainerPort: workloadPort}}}},
			}},
		},
	})
	svc := func(name string, annotations map[string]string) *corev1.Service {
		return &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: m.ns, Name: name, Annotations: annotations},
			Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeLoadBalancer, Selector: labels,
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(workloadPort)}},
			},
		}
	}
	m.create(t, svc("web-l2", map[string]string{"ironlb.io/address-pool": l2.Name}))
	m.create(t, svc("web-bgp", map[string]string{"ironlb.io/address-pool": bgp.Name}))
	// 192.0.2.1 (TEST-NET-1) is in no pool: the allocation fails.
	m.create(t, svc("no-address", map[string]string{"ironlb.io/loadBalancerIPs": "192.0.2.1"}))

	// Expected: allocated within a second of creation.
	ctx := context.Background()
	eventually(t, testkit.Budget(2*time.Second), "web-l2 and web-bgp allocated", func() error {
		for _, name := range []string{"web-l2", "web-bgp"} {
			s, err := m.cs.CoreV1().Services(m.ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if len(s.Status.LoadBalancer.Ingress) == 0 {
				return fmt.Errorf("%s has no address yet", name)
			}
			if name == "web-l2" {
				if m.l2IP, err = netip.ParseAddr(s.Status.LoadBalancer.Ingress[0].IP); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// checkQuery evaluates q (its Grafana macros expanded) at the current
// time and fails t when Prometheus refuses it, when it names a metric
// Prometheus has never seen (seen: every metric name it has stored), or,
// with wantData, when it returns nothing.
func checkQuery(t *testing.T, prom promAPI, seen map[string]bool, q monitoring.Query, wantData bool) {
	t.Helper()
	ctx := context.Background()
	expr := monitoring.ExpandGrafana(q.Expr, monitoringInterval)
	names, err := prom.selectorNames(ctx, expr)
	if err != nil {
		t.Errorf("%s: Prometheus cannot parse %q: %v", q.Where, expr, err)
		return
	}
	for _, n := range names {
		if !seen[n] {
			t.Errorf("%s: metric %s is unknown to Prometheus (never scraped)", q.Where, n)
		}
	}
	n, err := prom.instant(ctx, expr)
	switch {
	case err != nil:
		t.Errorf("%s: query %q: %v", q.Where, expr, err)
	case n == 0 && wantData:
		t.Errorf("%s: no data: %s", q.Where, expr)
	default:
		t.Logf("%s: %d series: %s", q.Where, n, strings.Join(strings.Fields(expr), " "))
	}
}

// testTargetsUp wants want scrape targets, all up.
func testTargetsUp(t *testing.T, prom promAPI, want int) {
	var data struct {
		ActiveTargets []struct {
			ScrapeURL string `json:"scrapeUrl"`
			Health    string `json:"health"`
			LastError string `json:"lastError"`
		} `json:"activeTargets"`
	}
	if err := prom.get(context.Background(), "/api/v1/targets", url.Values{"state": {"active"}}, &data); err != nil {
		t.Fatal(err)
	}
	if len(data.ActiveTargets) != want {
		t.Errorf("%d scrape targets, want %d (the controller and every speaker)", len(data.ActiveTargets), want)
	}
	for _, tg := range data.ActiveTargets {
		if tg.Health != "up" {
			t.Errorf("target %s: %s (%s)", tg.ScrapeURL, tg.Health, tg.LastError)
		}
	}
}

// testRulesLoaded wants every alert of rules loaded into the lab's
// Prometheus and evaluated without error.
func testRulesLoaded(t *testing.T, prom promAPI, rules *monitoring.Rules) {
	var data struct {
		Groups []struct {
			Rules []struct {
				Name      string `json:"name"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"rules"`
		} `json:"groups"`
	}
	// Evaluated at least once: rules run every 5 s.
	eventually(t, testkit.Budget(10*time.Second), "every rule evaluated", func() error {
		if err := prom.get(context.Background(), "/api/v1/rules", url.Values{"type": {"alert"}}, &data); err != nil {
			return err
		}
		for _, g := range data.Groups {
			for _, r := range g.Rules {
				if r.Health == "unknown" {
					return fmt.Errorf("rule %s not evaluated yet", r.Name)
				}
			}
		}
		return nil
	})
	loaded := map[string]bool{}
	for _, g := range data.Groups {
		for _, r := range g.Rules {
			loaded[r.Name] = true
			if r.Health != "ok" || r.LastError != "" {
				t.Errorf("rule %s: health %s, last error %q", r.Name, r.Health, r.LastError)
			}
		}
	}
	for _, a := range rules.Alerts() {
		if !loaded[a.Alert] {
			t.Errorf("alert %s is not loaded in the lab's Prometheus", a.Alert)
		}
	}
}

// waitQuery waits until the scalar value of expr (an instant query
// returning one series) is want.
func waitQuery(t *testing.T, prom promAPI, budget time.Duration, what, expr string, want int) {
	t.Helper()
	eventually(t, budget, what, func() error {
		v, err := prom.value(context.Background(), expr)
		if err != nil {
			return err
		}
		if v != float64(want) {
			return fmt.Errorf("%s = %v, want %d", expr, v, want)
		}
		return nil
	})
}

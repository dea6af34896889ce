//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/ironlb/ironlb/internal/lab"
	"github.com/ironlb/ironlb/internal/testkit"
)

// peerLab is the lab of TestMetalLB: two nodes running MetalLB (`lab up
// --lb metallb`), apart from the suite's lab.
type peerLab struct {
	dir, prefix string
	cs          *kubernetes.Clientset
	macs        map[string]string // node -> eth0 MAC
	// before are the Services' addresses under MetalLB.
	before map[string][]netip.Addr
}

func (m *peerLab) ironlb(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, e2e.ironlb, args...).CombinedOutput()
	return string(out), err
}

func (m *peerLab) lab(ctx context.Context, args ...string) (string, error) {
	return m.ironlb(ctx, append([]string{"lab", "--dir", m.dir}, args...)...)
}

// metallbConfig is what a MetalLB user has: a pool every Service may use,
// a pool only Services asking for it by name get (autoAssign false), and
// an L2Advertisement for all pools (no selector).
const metallbConfig = `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: lab, namespace: metallb-system}
spec:
  addresses: [10.200.0.240-10.200.0.250, "fd00:200::240-fd00:200::250"]
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: reserved, namespace: metallb-system}
spec:
  addresses: [10.200.0.230/31]
  autoAssign: false
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: all, namespace: metallb-system}
`

// metallbServices are three ways a MetalLB user gets an address: any from
// the default pool (both families), a fixed one by MetalLB's
// loadBalancerIPs annotation, and one from a pool named by MetalLB's old
// annotation spelling.
var metallbServices = map[string]map[string]string{
	"web":    nil,
	"pinned": {"metallb.io/loadBalancerIPs": "10.200.0.245"},
	"picky":  {"metallb.universe.tf/address-pool": "reserved"},
}

// TestMetalLB brings up a two-node lab running MetalLB v0.16.2 (built by
// hack/build-metallb.sh) instead of ironlb, configures it as a MetalLB user
// does (metallb.io CRs and MetalLB's Service annotations), then moves it to
// ironlb with `ironlb migrate` and `lab switch-lb ironlb`.
func TestMetalLB(t *testing.T) {
	requireLab(t)
	if _, err := lab.FindMetalLBDir(""); err != nil {
		testkit.Unavailable(t, "%v", err)
	}
	work := workDir(t)
	m := &peerLab{dir: filepath.Join(work, "lab"), prefix: "ie2m" + randomHex(3) + "-"}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testkit.Budget(15*time.Second))
		defer cancel()
		if out, err := m.lab(ctx, "down", "--prefix", m.prefix); err != nil {
			t.Errorf("lab down: %v\n%s", err, out)
		}
	})
	// Expected: ~16 s for two nodes with warm binaries.
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Budget(30*time.Second))
	defer cancel()
	if out, err := m.lab(ctx, "up", "--prefix", m.prefix, "--nodes", "2", "--lb", "metallb",
		"--crds", filepath.Join(repoRoot(), "config", "crd", "bases")); err != nil {
		t.Fatalf("lab up --lb metallb: %v\n%s", err, out)
	}
	t.Logf("lab up --lb metallb with 2 nodes: %s", time.Since(start).Round(100*time.Millisecond))
	var err error
	if m.cs, err = lab.Clientset(m.dir); err != nil {
		t.Fatal(err)
	}
	st, err := lab.GetStatus(context.Background(), m.dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.LB != lab.LBMetalLB {
		t.Fatalf("lab status says it runs %q, want %q", st.LB, lab.LBMetalLB)
	}
	m.macs = map[string]string{}
	for _, h := range st.Hosts {
		if h.Role == lab.RoleNode {
			m.macs[h.Name] = strings.ToLower(h.MAC)
		}
	}
	if !t.Run("MetalLB answers", m.testMetalLBAnswers) {
		return
	}
	t.Run("migrate reads a legacy ConfigMap", m.testMigrateLegacy)
	t.Run("migrate keeps every address", m.testMigrate)
	// Seen failing before `down` knew MetalLB's files: "lab directory
	// .../lab left" (its metallb/ entry).
	t.Run("down leaves nothing behind", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), testkit.Budget(15*time.Second))
		defer cancel()
		if out, err := m.lab(ctx, "down"); err != nil {
			t.Errorf("lab down: %v\n%s", err, out)
		}
		checkNothingLeft(t, m.dir, m.prefix)
	})
}

// legacyConfig is the same pools in MetalLB's ConfigMap format (v0.10 to
// v0.12), held in a namespace of its own so MetalLB 0.16 (which reads
// only CRs) ignores it.
const legacyConfig = `address-pools:
- name: lab
  protocol: layer2
  addresses: [10.200.0.240-10.200.0.250, fd00:200::240-fd00:200::250]
- name: reserved
  protocol: layer2
  auto-assign: false
  addresses: [10.200.0.230/31]
`

// testMigrateLegacy reads the ConfigMap of an older MetalLB from a live
// API server: `ironlb migrate --from-namespace` prints the pools it holds
// and finds that every Service MetalLB addressed would keep its address.
//
// Seen failing with the ConfigMap's key renamed (so Read finds no legacy
// configuration): "migrate --from-namespace metallb-legacy: exit status 1
// ... no MetalLB configuration in namespace metallb-legacy".
func (m *peerLab) testMigrateLegacy(t *testing.T) {
	ctx := context.Background()
	const ns = "metallb-legacy"
	if _, err := m.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "config"}, Data: map[string]string{"config": legacyConfig}}
	if _, err := m.cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, e2e.ironlb, "migrate", "--kubeconfig", filepath.Join(m.dir, "kubeconfig"), "--from-namespace", ns, "-o", "json")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("migrate --from-namespace %s: %v\n%s%s", ns, err, out, stderr.String())
	}
	var got struct {
		Objects []struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name, Namespace string
			} `json:"metadata"`
			Spec struct {
				Addresses []string `json:"addresses"`
			} `json:"spec"`
		} `json:"objects"`
		KeepsEveryAddress bool `json:"keepsEveryAddress"`
		Services          []struct {
			Name string `json:"name"`
		} `json:"services"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("migrate -o json: %v\n%s", err, out)
	}
	pools := map[string]string{}
	for _, o := range got.Objects {
		if o.Kind == "IPAddressPool" && o.Metadata.Namespace == "ironlb-system" {
			pools[o.Metadata.Name] = strings.Join(o.Spec.Addresses, ",")
		}
	}
	if pools["lab"] != "10.200.0.240-10.200.0.250,fd00:200::240-fd00:200::250" || pools["reserved"] != "10.200.0.230/31" {
		t.Errorf("pools from the legacy ConfigMap: %v", pools)
	}
	if !got.KeepsEveryAddress || len(got.Services) != len(m.before) {
		t.Errorf("plan from the legacy ConfigMap: keeps every address %v, %d Services; want true, %d\n%s", got.KeepsEveryAddress, len(got.Services), len(m.before), out)
	}
}

// testMetalLBAnswers is the smoke run that keeps the lab's MetalLB wiring
// from rotting: MetalLB's controller gives each Service its address from
// MetalLB's CRs and annotations, and its speakers answer ARP and NDP for
// them — one node per address — so the client reaches the Pods.
//
// Seen failing with MetalLB's speakers replaced by `sleep` (a
// IRONLB_METALLB_DIR whose speaker does nothing): "10.200.0.240 answered
// by 0 MACs [], want one" — the addresses are allocated by MetalLB's
// controller, never announced.
func (m *peerLab) testMetalLBAnswers(t *testing.T) {
	ctx := context.Background()
	f := filepath.Join(t.TempDir(), "metallb.yaml")
	if err := os.WriteFile(f, []byte(metallbConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := m.lab(ctx, "kubectl", "--", "apply", "-f", f); err != nil {
		t.Fatalf("applying MetalLB's CRs: %v\n%s", err, out)
	}
	(&l2Env{cs: m.cs, ns: "default"}).deployWeb(t, "web", 1, nil)
	for name, ann := range metallbServices {
		policy := corev1.IPFamilyPolicySingleStack
		if name == "web" {
			policy = corev1.IPFamilyPolicyPreferDualStack
		}
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Annotations: ann},
			Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "web"},
				IPFamilyPolicy: &policy, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(workloadPort)}},
			},
		}
		if _, err := m.cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]func(netip.Addr) bool{
		"web": func(a netip.Addr) bool {
			return inPool(a, []string{"10.200.0.240-10.200.0.250", "fd00:200::240-fd00:200::250"})
		},
		"pinned": func(a netip.Addr) bool { return a == netip.MustParseAddr("10.200.0.245") },
		"picky":  func(a netip.Addr) bool { return inPool(a, []string{"10.200.0.230-10.200.0.231"}) },
	}
	m.before = map[string][]netip.Addr{}
	// Expected: MetalLB allocates within a second of the create; the
	// Deployment's Pod is Ready within 2 s (stand-in kubelet).
	eventually(t, testkit.Budget(10*time.Second), "MetalLB's addresses", func() error {
		for name, ok := range want {
			ips, err := m.ingress(ctx, name)
			if err != nil {
				return err
			}
			n := 1
			if name == "web" {
				n = 2
			}
			if len(ips) != n {
				return fmt.Errorf("Service %s: addresses %v, want %d", name, ips, n)
			}
			for _, a := range ips {
				if !ok(a) {
					return fmt.Errorf("Service %s: address %s is not what MetalLB should give it", name, a)
				}
			}
			m.before[name] = ips
		}
		return nil
	})
	m.waitAnswered(t, "MetalLB")
}

// testMigrate moves the lab from MetalLB to ironlb the way the plan of
// `ironlb migrate` says: --diff shows every object to create, --apply
// applies them while MetalLB still runs, then MetalLB's processes are
// replaced by ironlb's (`lab switch-lb ironlb`) with a client stream on
// every address. Every Service keeps every address; the client loses
// requests only while the announcements hand over, never after ironlb
// answers every address.
//
// Seen failing with the --apply step left out (ironlb then starts without
// pools and takes every address away): "ironlb answering every address:
// not within 1m20s: Service pinned: 10.200.0.245 answered by 0 MACs [],
// want one, a node's". The addresses are compared with MetalLB's after
// that, so one reassigned from a converted pool fails too.
func (m *peerLab) testMigrate(t *testing.T) {
	ctx := context.Background()
	kubeconfig := filepath.Join(m.dir, "kubeconfig")
	out, err := m.ironlb(ctx, "migrate", "--kubeconfig", kubeconfig, "--diff")
	if err != nil {
		t.Fatalf("migrate --diff: %v\n%s", err, out)
	}
	for _, want := range []string{"create    IPAddressPool ironlb-system/lab", "create    IPAddressPool ironlb-system/reserved", "create    L2Advertisement ironlb-system/all"} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate --diff: no %q in\n%s", want, out)
		}
	}
	out, err = m.ironlb(ctx, "migrate", "--kubeconfig", kubeconfig, "--apply")
	if err != nil {
		t.Fatalf("migrate --apply: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Services with addresses: 3, every one keeps them") || !strings.Contains(out, "[3/3] applied") {
		t.Fatalf("migrate --apply: want 3 Services keeping their addresses and 3 objects applied:\n%s", out)
	}
	t.Logf("migrate --apply:\n%s", out)
	if out, err := m.ironlb(ctx, "migrate", "--kubeconfig", kubeconfig, "--diff"); err != nil || strings.Contains(out, "create") || strings.Contains(out, "update") {
		t.Errorf("migrate --diff after --apply: want every object unchanged (%v):\n%s", err, out)
	}

	var ips []netip.Addr
	for _, a := range m.before {
		ips = append(ips, a...)
	}
	slices.SortFunc(ips, netip.Addr.Compare)
	ts := startTrafficIn(m.prefix+"client", ips)
	time.Sleep(time.Second) // the stream answered under MetalLB first
	switched := time.Now()
	if out, err := m.lab(ctx, "switch-lb", "ironlb"); err != nil {
		_, _, _ = ts.stop()
		t.Fatalf("lab switch-lb ironlb: %v\n%s", err, out)
	}
	m.waitAnswered(t, "ironlb")
	answered := time.Now()
	time.Sleep(2 * time.Second) // and keeps answering
	sent, failed, firstErr := ts.stop()
	first, last := ts.failures()
	t.Logf("switch to ironlb: every address answered by one node %s after the switch began; %d requests every %v, %d failed (first failure %v)",
		answered.Sub(switched).Round(time.Millisecond), sent, requestEvery, failed, firstErr)
	if failed > 0 {
		t.Logf("failed requests from %s to %s after the switch began", first.Sub(switched).Round(time.Millisecond), last.Sub(switched).Round(time.Millisecond))
		if last.After(answered) {
			t.Errorf("a request sent %s after ironlb answered every address failed: the client lost more than the handover",
				last.Sub(answered).Round(time.Millisecond))
		}
	}
	for name, want := range m.before {
		got, err := m.ingress(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("Service %s: addresses %v after the switch, want %v", name, got, want)
		}
		svc, err := m.cs.CoreV1().Services("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if c := meta.FindStatusCondition(svc.Status.Conditions, "ironlb.io/IPAllocated"); c == nil || c.Status != metav1.ConditionTrue {
			t.Errorf("Service %s: condition ironlb.io/IPAllocated %+v, want True", name, c)
		}
	}
}

// ingress returns a Service's addresses, sorted.
func (m *peerLab) ingress(ctx context.Context, name string) ([]netip.Addr, error) {
	svc, err := m.cs.CoreV1().Services("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, in := range svc.Status.LoadBalancer.Ingress {
		a, err := netip.ParseAddr(in.IP)
		if err != nil {
			return nil, fmt.Errorf("Service %s: ingress %q: %w", name, in.IP, err)
		}
		out = append(out, a)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out, nil
}

// waitAnswered waits until every address of m.before serves HTTP from the
// client and is answered by a node's MAC: for IPv4 exactly one MAC answers
// arping; for IPv6 the client's own neighbour discovery (entry flushed,
// then the request) must resolve the address to a node's MAC. ndisc6 is
// no judge here: it reports no answer to MetalLB's solicited
// advertisements, which come from the node's link-local address (the
// kernel's, and ironlb's, come from the target address), though the
// kernel accepts them. who names the load balancer in messages.
func (m *peerLab) waitAnswered(t *testing.T, who string) {
	t.Helper()
	client := m.prefix + "client"
	nodeMACs := slices.Collect(maps.Values(m.macs))
	// Expected: within 2 s of the addresses (MetalLB) or of the switch
	// (ironlb's speakers start, join and announce in about a second).
	eventually(t, testkit.Budget(10*time.Second), who+" answering every address", func() error {
		for name, ips := range m.before {
			for _, ip := range ips {
				if ip.Is4() {
					macs, err := neighborProbe(client, "eth0", ip)
					if err != nil {
						return err
					}
					if len(macs) != 1 || !slices.Contains(nodeMACs, macs[0]) {
						return fmt.Errorf("Service %s: %s answered by %d MACs %v, want one, a node's (%v)", name, ip, len(macs), macs, m.macs)
					}
				} else if out, err := exec.Command("ip", "-n", client, "neigh", "flush", "to", ip.String()).CombinedOutput(); err != nil {
					return fmt.Errorf("ip neigh flush to %s: %w: %s", ip, err, out)
				}
				hctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				err := answers(hctx, client, netip.AddrPortFrom(ip, 80).String(), "pod=default/web-")
				cancel()
				if err != nil {
					return fmt.Errorf("Service %s: %w", name, err)
				}
				if ip.Is6() {
					mac, err := neighborEntryIn(client, ip)
					if err != nil {
						return err
					}
					if !slices.Contains(nodeMACs, mac) {
						return fmt.Errorf("Service %s: %s resolved to %s, no node's MAC (%v)", name, ip, mac, m.macs)
					}
				}
			}
		}
		return nil
	})
}

//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/doctor"
	"github.com/ironlb/ironlb/internal/testkit"
)

// doctorHealthy is what `ironlb doctor` legitimately finds on the healthy
// lab: its kube-proxy runs with flags (nftables mode, internal/lab/
// kubeproxy.go), so there is no ConfigMap kube-system/kube-proxy to read
// the mode from. Nothing else: the lab's ServiceCIDR objects are read, no
// other load balancer runs, every node's speaker has published its
// interfaces, and no pool, peer or Service exists until a check makes one.
var doctorHealthy = []string{"info kube-proxy-config ConfigMap/kube-system/kube-proxy"}

// TestDoctor runs `ironlb doctor` against the lab: clean when the lab is
// healthy, then each problem made, found and undone in turn.
//
// Each check was seen to fail: with a check's entry removed from
// internal/doctor's checks list (the binary passed as IRONLB_BIN), the step
// that makes its problem failed, and only that step:
//   - l2-subnets: "the pool's subnet reported: not within 40s: exit code 0
//     (want 2)", the findings the healthy ones only;
//   - pool-overlaps: "the overlaps reported": pool-overlaps-service-cidr
//     found, pool-overlaps-node-address missing;
//   - service-cidr: the same step, pool-overlaps-node-address found,
//     pool-overlaps-service-cidr missing;
//   - other-load-balancer: "MetalLB reported: exit code 0 (want 1)", no
//     other-load-balancer warning;
//   - kube-proxy: "the healthy lab" itself, no kube-proxy-config info;
//   - bgp-sessions: "both peers reported down: exit code 0 (want 1)",
//     neither bgp-session-down warning;
//   - members: see its step;
//   - services: "the pool's subnet reported" without
//     service-not-announced, and "the Service without address reported:
//     exit code 0 (want 2)".
func TestDoctor(t *testing.T) {
	requireLab(t)
	l := newL2Env(t)
	p, err := l.state.Plan()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// Expected: the lab is healthy at once; a few seconds when an earlier
	// test's objects are still being deleted.
	l.waitDoctor(t, "the healthy lab", testkit.Budget(10*time.Second), doctorHealthy, 0, nil)

	t.Run("an L2 pool in a subnet no node has", func(t *testing.T) {
		l.createPool(t, "dr-nosubnet", []string{"10.203.7.0/29"})
		name := l.pools["dr-nosubnet"]
		// A Service of the pool gets an address nobody may announce.
		svc := l.createLB(t, "dr-nosubnet", "none", "dr-nosubnet", corev1.IPFamilyPolicySingleStack, []corev1.IPFamily{corev1.IPv4Protocol}, false)
		want := append(slices.Clone(doctorHealthy), "error l2-subnet IPAddressPool/ironlb-system/"+name,
			"error service-not-announced Service/"+l.ns+"/"+svc)
		// Expected: the doctor reads the new objects at once; the Service's
		// address and its Announced condition come within a second or two.
		l.waitDoctor(t, "the pool's subnet reported", testkit.Budget(5*time.Second), want, 2, func(r doctor.Report) error {
			msg := findingOf(r, "l2-subnet").Message
			for _, n := range p.Nodes {
				if !strings.Contains(msg, "node "+n.Name+" has no interface to answer on for 10.203.7.0/29") {
					return fmt.Errorf("the message does not name node %s: %s", n.Name, msg)
				}
			}
			if msg := findingOf(r, "service-not-announced").Message; !strings.Contains(msg, "without an interface whose subnet contains 10.203.7.") {
				return fmt.Errorf("the Service's finding does not give the condition's reason: %s", msg)
			}
			return nil
		})
		l.delete(t, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: l.ns, Name: svc}})
		l.deletePool(t, "dr-nosubnet")
		l.waitDoctor(t, "healthy again", testkit.Budget(5*time.Second), doctorHealthy, 0, nil)
	})

	t.Run("pools overlapping a node address and the Service CIDR", func(t *testing.T) {
		node1 := p.Nodes[0]
		l.createPool(t, "dr-nodeaddr", []string{node1.IPv4.String() + "/32"})
		svcPool := &v1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Namespace: ironlbNamespace, Name: "e2e-dr-svccidr-" + l.id},
			Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"10.96.255.240/29"}, AutoAssign: ptr.To(false)}}
		l.create(t, svcPool)
		want := append(slices.Clone(doctorHealthy),
			"error pool-overlaps-node-address IPAddressPool/ironlb-system/"+l.pools["dr-nodeaddr"],
			"error pool-overlaps-service-cidr IPAddressPool/ironlb-system/"+svcPool.Name)
		l.waitDoctor(t, "the overlaps reported", testkit.Budget(5*time.Second), want, 2, func(r doctor.Report) error {
			if msg := findingOf(r, "pool-overlaps-node-address").Message; !strings.Contains(msg, node1.IPv4.String()+", the InternalIP of node "+node1.Name) {
				return fmt.Errorf("the node address finding does not name %s of %s: %s", node1.IPv4, node1.Name, msg)
			}
			return nil
		})
		l.deletePool(t, "dr-nodeaddr")
		l.delete(t, svcPool)
		l.waitDoctor(t, "healthy again", testkit.Budget(5*time.Second), doctorHealthy, 0, nil)
	})

	t.Run("a Service without an address", func(t *testing.T) {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: l.ns, Name: "dr-nopool", Annotations: map[string]string{"ironlb.io/address-pool": "e2e-dr-missing-" + l.id}},
			Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
		}
		l.create(t, svc)
		want := append(slices.Clone(doctorHealthy), "error service-no-address Service/"+l.ns+"/dr-nopool")
		// Expected: the controller judges the Service within a second.
		l.waitDoctor(t, "the Service without address reported", testkit.Budget(5*time.Second), want, 2, func(r doctor.Report) error {
			if msg := findingOf(r, "service-no-address").Message; !strings.Contains(msg, "e2e-dr-missing-"+l.id) || !strings.Contains(msg, "AllocationFailed") {
				return fmt.Errorf("the finding does not give the condition's message: %s", msg)
			}
			return nil
		})
		l.delete(t, svc)
		l.waitDoctor(t, "healthy again", testkit.Budget(5*time.Second), doctorHealthy, 0, nil)
	})

	t.Run("a MetalLB Deployment", func(t *testing.T) {
		dep := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: l.ns, Name: "metallb-controller"},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To(int32(0)),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "metallb"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "metallb"}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "controller", Image: "quay.io/metallb/controller:v0.16.2"}}},
				},
			},
		}
		l.create(t, dep)
		want := append(slices.Clone(doctorHealthy), "warning other-load-balancer Deployment/"+l.ns+"/metallb-controller")
		l.waitDoctor(t, "MetalLB reported", testkit.Budget(5*time.Second), want, 1, nil)
		l.delete(t, dep)
		l.waitDoctor(t, "healthy again", testkit.Budget(5*time.Second), doctorHealthy, 0, nil)
	})

	t.Run("kube-proxy in IPVS mode without strictARP", func(t *testing.T) {
		// The lab's kube-proxy reads its flags, not this ConfigMap: it is
		// data for the doctor only.
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-proxy"},
			Data: map[string]string{doctor.KubeProxyConfigKey: "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: ipvs\nipvs:\n  strictARP: false\n"}}
		l.create(t, cm)
		l.waitDoctor(t, "strictARP reported", testkit.Budget(5*time.Second),
			[]string{"error kube-proxy-strict-arp ConfigMap/kube-system/kube-proxy"}, 2, nil)
		cm.Data[doctor.KubeProxyConfigKey] = strings.Replace(cm.Data[doctor.KubeProxyConfigKey], "strictARP: false", "strictARP: true", 1)
		if err := l.cl.Update(ctx, cm); err != nil {
			t.Fatal(err)
		}
		l.waitDoctor(t, "IPVS with strictARP: nothing to report", testkit.Budget(5*time.Second), nil, 0, nil)
		l.delete(t, cm)
		l.waitDoctor(t, "healthy again", testkit.Budget(5*time.Second), doctorHealthy, 0, nil)
	})

	t.Run("BGP peers down", func(t *testing.T) {
		// The speakers' Event library (client-go tools/events) merges every
		// BGPSessionUp (or Down) Event on one Node within 6 minutes into one
		// series, whatever peer its note names, and sends only the first two
		// occurrences: the sessions of an earlier test (TestBGP) would hide
		// this test's. Restarted speakers start with an empty Event cache.
		for _, n := range p.Nodes {
			ironlb(t, "restart", "speaker", n.Name)
		}
		// Expected: every speaker back and its node's interfaces published
		// within a few seconds of its restart.
		l.waitDoctor(t, "the restarted speakers back", testkit.Budget(10*time.Second), doctorHealthy, 0, nil)
		st := status(t)
		spec := func(addr string) v1beta1.BGPPeerSpec {
			return v1beta1.BGPPeerSpec{MyASN: uint32(st.NodeASN), PeerASN: uint32(st.Router.ASN), PeerAddress: addr, //nolint:gosec // ASNs fit
				ConnectTime: &metav1.Duration{Duration: time.Second}}
		}
		// One peer the router answers, whose sessions the router then shuts
		// down (BGPSessionDown Events), and one at an address nobody
		// answers, never Established (no Event at all).
		router := &v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Namespace: ironlbNamespace, Name: "e2e-dr-router-" + l.id}, Spec: spec(p.Router.IPv4.String())}
		nobody := &v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Namespace: ironlbNamespace, Name: "e2e-dr-nobody-" + l.id}, Spec: spec("192.0.2.1")}
		l.create(t, router)
		l.create(t, nobody)
		routerObj := "BGPPeer/ironlb-system/" + router.Name
		// Expected: Established within 3 s (TestBGP).
		eventually(t, testkit.Budget(3*time.Second), "a BGP session from every node Established", func() error {
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
		// The Up Events are recorded within a second of the sessions.
		eventually(t, testkit.Budget(3*time.Second), "no finding about the established peer", func() error {
			r, _, err := runDoctor(l)
			if err != nil {
				return err
			}
			for _, f := range r.Findings {
				if f.Object.String() == routerObj {
					return fmt.Errorf("found %+v", f)
				}
			}
			return nil
		})
		shutdown := func(no string) {
			t.Helper()
			out, err := ironlbErr("router", "--", "-c", "configure terminal", "-c", fmt.Sprintf("router bgp %d", st.Router.ASN),
				"-c", no+"neighbor nodes shutdown")
			if err != nil {
				t.Fatalf("%sneighbor nodes shutdown: %v\n%s", no, err, out)
			}
		}
		shutdown("")
		t.Cleanup(func() { shutdown("no ") })
		want := slices.Clone(doctorHealthy)
		for range p.Nodes {
			want = append(want, "warning bgp-session-down "+routerObj, "warning bgp-session-down BGPPeer/ironlb-system/"+nobody.Name)
		}
		// Expected: the sessions drop at once; the peer nobody answers is
		// reported once it is older than 3 connect times + 10 s (13 s).
		l.waitDoctor(t, "both peers reported down", testkit.Budget(20*time.Second), want, 1, func(r doctor.Report) error {
			for _, f := range r.Findings {
				switch {
				case f.Object.String() == routerObj && !strings.Contains(f.Message, "went down"):
					return fmt.Errorf("the router's finding does not quote the Event: %s", f.Message)
				case f.Object.Name == nobody.Name && !strings.Contains(f.Message, "has not been Established since the BGPPeer was created"):
					return fmt.Errorf("the unanswered peer's finding: %s", f.Message)
				}
			}
			return nil
		})
		shutdown("no ")
		l.delete(t, nobody)
		// The sessions come back: the speakers relate each session Event to
		// its BGPPeer, so each (node, peer) has its own series and the
		// second BGPSessionUp Event (merged into the first's series, with a
		// later lastObservedTime) is seen as the latest: nothing to report.
		// Expected: GoBGP reconnects within its 1 s connect time.
		l.waitDoctor(t, "the sessions back", testkit.Budget(10*time.Second), doctorHealthy, 0, nil)
		l.delete(t, router)
		l.waitDoctor(t, "healthy again", testkit.Budget(5*time.Second), doctorHealthy, 0, nil)
	})

	t.Run("memberlist traffic cut from node1", func(t *testing.T) {
		// node1 keeps its link (the client and the API server still reach
		// it); only memberlist's port is dropped in its namespace, both
		// ways. Seen failing with the speakers' sync not kicking the
		// members annotation's writer: "the cut reported: not within 4m0s:
		// exit code 0 (want 1)", no finding.
		ns1 := p.Namespace(p.Nodes[0].Name)
		table := "e2e-members-" + l.id
		nft := func(script string) {
			t.Helper()
			if err := nftIn(ctx, ns1, script); err != nil {
				t.Fatal(err)
			}
		}
		nft(fmt.Sprintf("table inet %s {\n chain in { type filter hook input priority 0; meta l4proto { tcp, udp } th dport 7946 drop; }\n"+
			" chain out { type filter hook output priority 0; meta l4proto { tcp, udp } th dport 7946 drop; }\n}\n", table))
		restored := false
		restore := func() {
			if !restored {
				restored = true
				nft("delete table inet " + table)
			}
		}
		t.Cleanup(restore)
		want := slices.Clone(doctorHealthy)
		for _, n := range p.Nodes {
			want = append(want, "warning members Node/"+n.Name)
		}
		// Expected: memberlist marks the other side failed within a few
		// seconds (the lab's probe interval and suspicion timeout), and
		// each speaker writes its new view at once.
		l.waitDoctor(t, "the cut reported", testkit.Budget(30*time.Second), want, 1, func(r doctor.Report) error {
			for _, f := range r.Findings {
				switch {
				case f.Check != "members":
				case f.Object.Name == p.Nodes[0].Name && !strings.Contains(f.Message, fmt.Sprintf("sees 1 of the %d speakers", len(p.Nodes))):
					return fmt.Errorf("node1's finding: %s", f.Message)
				case f.Object.Name != p.Nodes[0].Name && !strings.Contains(f.Message, "takes "+p.Nodes[0].Name+" as failed"):
					return fmt.Errorf("%s's finding: %s", f.Object.Name, f.Message)
				}
			}
			return nil
		})
		restore()
		// Expected: the speakers join the missing members again within
		// their join interval (10 s).
		l.waitDoctor(t, "healthy again", testkit.Budget(20*time.Second), doctorHealthy, 0, nil)
	})

	l.waitDoctor(t, "the lab healthy at the end", testkit.Budget(5*time.Second), doctorHealthy, 0, nil)
}

// runDoctor runs `ironlb doctor -o json` against the lab and returns its
// report and exit code.
func runDoctor(l *l2Env) (doctor.Report, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Budget(15*time.Second))
	defer cancel()
	cmd := exec.CommandContext(ctx, e2e.ironlb, "doctor", "--kubeconfig", l.state.Kubeconfig(), "-o", "json")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		return doctor.Report{}, 0, err
	}
	var r doctor.Report
	if err := json.Unmarshal(out, &r); err != nil {
		return r, code, fmt.Errorf("doctor exited %d with no report: %w\n%s%s", code, err, out, stderr.String())
	}
	return r, code, nil
}

// waitDoctor waits until the doctor's findings are exactly want (each
// "severity check kind/namespace/name", in the report's order), its exit
// code is code and check, when not nil, accepts the report.
func (l *l2Env) waitDoctor(t *testing.T, what string, budget time.Duration, want []string, code int, check func(doctor.Report) error) {
	t.Helper()
	eventually(t, budget, what, func() error {
		r, got, err := runDoctor(l)
		if err != nil {
			return err
		}
		var keys []string
		for _, f := range r.Findings {
			keys = append(keys, string(f.Severity)+" "+f.Check+" "+f.Object.String())
		}
		sortedWant := slices.Clone(want)
		slices.Sort(sortedWant)
		sortedGot := slices.Clone(keys)
		slices.Sort(sortedGot)
		if !slices.Equal(sortedGot, sortedWant) || got != code {
			b, _ := json.MarshalIndent(r.Findings, "", "  ")
			return fmt.Errorf("exit code %d (want %d), findings:\n  %s\nwant:\n  %s\n%s", got, code,
				strings.Join(keys, "\n  "), strings.Join(want, "\n  "), b)
		}
		if check != nil {
			return check(r)
		}
		return nil
	})
}

// findingOf returns the first finding of a check.
func findingOf(r doctor.Report, check string) doctor.Finding {
	for _, f := range r.Findings {
		if f.Check == check {
			return f
		}
	}
	return doctor.Finding{}
}

// create creates o; t's cleanup deletes it if it is still there.
func (l *l2Env) create(t *testing.T, o client.Object) {
	t.Helper()
	if err := l.cl.Create(context.Background(), o); err != nil {
		t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
	}
	t.Cleanup(func() {
		if err := l.cl.Delete(context.Background(), o); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting %T %s: %v", o, o.GetName(), err)
		}
	})
}

// delete deletes o now.
func (l *l2Env) delete(t *testing.T, o client.Object) {
	t.Helper()
	if err := l.cl.Delete(context.Background(), o); err != nil && !apierrors.IsNotFound(err) {
		t.Fatalf("deleting %T %s: %v", o, o.GetName(), err)
	}
}

// deletePool deletes the pool createPool made and its L2Advertisement.
func (l *l2Env) deletePool(t *testing.T, short string) {
	t.Helper()
	meta := metav1.ObjectMeta{Namespace: ironlbNamespace, Name: l.pools[short]}
	l.delete(t, &v1beta1.L2Advertisement{ObjectMeta: meta})
	l.delete(t, &v1beta1.IPAddressPool{ObjectMeta: meta})
}

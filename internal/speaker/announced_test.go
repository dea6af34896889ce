package speaker

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/speaker/decide"
)

// announcedWorld is a configuration with pool "lan" (10.0.0.0/24) whose
// L2Advertisement lists interfaces, and two nodes with eth0 on the pool's
// subnet.
func announcedWorld(t *testing.T, interfaces ...string) (*config.Snapshot, []decide.Node) {
	t.Helper()
	res := config.Build(config.Input{Objects: config.Objects{
		IPAddressPools: []v1beta1.IPAddressPool{{ObjectMeta: metav1.ObjectMeta{Namespace: config.DefaultNamespace, Name: "lan"},
			Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"10.0.0.0/24"}}}},
		L2Advertisements: []v1beta1.L2Advertisement{{ObjectMeta: metav1.ObjectMeta{Namespace: config.DefaultNamespace, Name: "lan"},
			Spec: v1beta1.L2AdvertisementSpec{Interfaces: interfaces}}},
	}})
	if !res.Valid() {
		t.Fatalf("configuration: %v", res.Problems())
	}
	eth0 := []decide.Interface{{Name: "eth0", Prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}}}
	return res.Snapshot, []decide.Node{{Name: "n1", Interfaces: eth0}, {Name: "n2", Interfaces: eth0}}
}

func withCondition(s corev1.Service, status metav1.ConditionStatus, reason, msg string) corev1.Service {
	s.Status.Conditions = append(s.Status.Conditions, metav1.Condition{Type: ConditionAnnounced, Status: status, Reason: reason, Message: msg})
	return s
}

func TestAnnouncedTarget(t *testing.T) {
	cfg, nodes := announcedWorld(t, "nosuch0")
	cluster := corev1.ServiceExternalTrafficPolicyCluster
	all := []corev1.Service{
		lbService("app", "a", nil, cluster, "10.0.0.10"),
		lbService("app", "b", nil, cluster, "10.0.0.11", "10.0.0.12"),
		lbService("app", "c", nil, cluster, "10.0.0.13"),
		lbService("app", "d", nil, cluster, "10.0.0.14"),
		// In no pool, with a condition left over: removed.
		withCondition(lbService("app", "outside", nil, cluster, "192.168.0.1"), metav1.ConditionTrue, ReasonAnnounced, messageAnnounced),
		// No LoadBalancer any more: removed.
		withCondition(corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "plain"}}, metav1.ConditionTrue, ReasonAnnounced, messageAnnounced),
		// In no pool, without a condition: nothing.
		lbService("app", "elsewhere", nil, cluster, "192.168.0.2"),
	}
	// c already carries the right condition: nothing to write.
	in := decide.Input{Config: cfg, Nodes: nodes, Members: []string{"n1", "n2"}}
	in.Services, _ = toServices(all, "", nil)
	res := decide.Decide(&in)
	msgC := decide.Cover(&in, res, nil)["app/c"].Message()
	all[2] = withCondition(all[2], metav1.ConditionFalse, ReasonNotAnnounced, msgC)
	var byKey map[string]*corev1.Service
	in.Services, byKey = toServices(all, "", nil)

	seen := map[string]string{}
	total := 0
	for _, self := range []string{"n1", "n2"} {
		in.Self = self
		res := decide.Decide(&in)
		tg := announcedTargetOf(self, all, &in, res, byKey, nil)
		total += tg.notAnnounced
		for key, w := range tg.services {
			if prev, ok := seen[key]; ok {
				t.Errorf("%s reported by %s and %s", key, prev, self)
			}
			seen[key] = self
			var ips []string
			if s := byKey[key]; s != nil {
				ips = []string{s.Status.LoadBalancer.Ingress[0].IP}
			}
			if want := reporter(key, addrs(ips...), in.Members); want != self {
				t.Errorf("%s reported by %s, want %s", key, self, want)
			}
			switch key {
			case "app/a", "app/b", "app/d":
				if w.cond == nil || w.cond.Status != metav1.ConditionFalse || w.cond.Reason != ReasonNotAnnounced {
					t.Errorf("%s: condition %+v", key, w.cond)
					continue
				}
				if !strings.Contains(w.cond.Message, byKey[key].Status.LoadBalancer.Ingress[0].IP+" is not announced. Layer 2: no node may announce it") {
					t.Errorf("%s: message %q", key, w.cond.Message)
				}
			case "app/outside", "app/plain":
				if w.cond != nil {
					t.Errorf("%s: condition %+v, want it removed", key, w.cond)
				}
			default:
				t.Errorf("%s in the target: %+v", key, w)
			}
		}
	}
	if len(seen) != 5 {
		t.Errorf("reported: %v, want a, b, d, outside and plain", seen)
	}
	if total != 4 {
		t.Errorf("%d not announced, want 4 (a, b, c, d)", total)
	}
	if m := decide.Cover(&in, decide.Decide(&in), nil)["app/b"].Message(); !strings.Contains(m, "10.0.0.11 is not announced") || !strings.Contains(m, "10.0.0.12 is not announced") {
		t.Errorf("b: %q", m)
	}

	// Fixed: True everywhere, with a message naming no node.
	cfg2, _ := announcedWorld(t)
	in.Config = cfg2
	for _, self := range []string{"n1", "n2"} {
		tg := announcedTargetOf(self, all, &in, decide.Decide(&in), byKey, nil)
		for key, w := range tg.services {
			if key == "app/outside" || key == "app/plain" {
				continue
			}
			if w.cond == nil || w.cond.Status != metav1.ConditionTrue || w.cond.Message != messageAnnounced {
				t.Errorf("%s: condition %+v", key, w.cond)
			}
		}
	}

	// A pending address (leaseFencing, no holder known yet): its Service
	// keeps the condition it has — nothing written, nothing counted —
	// whatever the decision says; the others are reported as before.
	in.Config = cfg
	pending := map[netip.Addr]bool{netip.MustParseAddr("10.0.0.11"): true} // b's first address
	for _, self := range []string{"n1", "n2"} {
		in.Self = self
		tg := announcedTargetOf(self, all, &in, decide.Decide(&in), byKey, pending)
		if _, ok := tg.services["app/b"]; ok {
			t.Errorf("%s: app/b, with a pending address, is in the target", self)
		}
		if reporter("app/a", addrs("10.0.0.10"), in.Members) == self {
			if _, ok := tg.services["app/a"]; !ok {
				t.Errorf("%s: app/a left out of the target with b's address pending", self)
			}
		}
	}
}

// announcedSetup returns a fake API server with Service app/web
// (10.0.0.10) and a writer on it.
func announcedSetup(t *testing.T) (client.Client, *announcedWriter, *events.FakeRecorder) {
	t.Helper()
	scheme, err := newScheme()
	if err != nil {
		t.Fatal(err)
	}
	svc := lbService("app", "web", nil, corev1.ServiceExternalTrafficPolicyCluster, "10.0.0.10")
	svc.UID = "u-web"
	c := fake.NewClientBuilder().WithScheme(scheme).WithStatusSubresource(&corev1.Service{}).WithObjects(&svc).Build()
	w, rec := newAnnouncedWriter(c, c)
	return c, w, rec
}

func newAnnouncedWriter(c client.Client, cache client.Reader) (*announcedWriter, *events.FakeRecorder) {
	rec := events.NewFakeRecorder(10)
	return &announcedWriter{client: c, cache: cache, recorder: rec, log: slog.New(slog.DiscardHandler)}, rec
}

func webWant(cond *metav1.Condition) *announcedTarget {
	return &announcedTarget{services: map[string]wantCondition{
		"app/web": {namespace: "app", name: "web", uid: "u-web", ips: addrs("10.0.0.10"), cond: cond},
	}}
}

func notAnnounced(msg string) *metav1.Condition {
	return &metav1.Condition{Type: ConditionAnnounced, Status: metav1.ConditionFalse, Reason: ReasonNotAnnounced, Message: msg}
}

var announcedTrue = &metav1.Condition{Type: ConditionAnnounced, Status: metav1.ConditionTrue, Reason: ReasonAnnounced, Message: messageAnnounced}

// webCondition reads the condition of app/web.
func webCondition(t *testing.T, c client.Client) *metav1.Condition {
	t.Helper()
	var svc corev1.Service
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: "app", Name: "web"}, &svc); err != nil {
		t.Fatal(err)
	}
	return apimeta.FindStatusCondition(svc.Status.Conditions, ConditionAnnounced)
}

func TestAnnouncedWriter(t *testing.T) {
	ctx := context.Background()
	c, w, rec := announcedSetup(t)
	step := func(name string, tg *announcedTarget, want *metav1.Condition, events ...string) {
		t.Helper()
		w.setTarget(tg)
		if err := w.write(ctx); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := webCondition(t, c)
		if !sameCondition(got, want) {
			t.Errorf("%s: condition %+v, want %+v", name, got, want)
		}
		evs := drainEvents(rec)
		if len(evs) != len(events) {
			t.Errorf("%s: events %q, want %d", name, evs, len(events))
			return
		}
		for i, e := range events {
			if !strings.HasPrefix(evs[i], e) {
				t.Errorf("%s: event %q, want %q...", name, evs[i], e)
			}
		}
	}
	// A new Service announced at once: True, no Event.
	step("first True", webWant(announcedTrue), announcedTrue)

	step("goes False", webWant(notAnnounced("10.0.0.10 is not announced. Layer 2: a.")), notAnnounced("10.0.0.10 is not announced. Layer 2: a."),
		"Warning NotAnnounced 10.0.0.10 is not announced. Layer 2: a.")
	step("resync", webWant(notAnnounced("10.0.0.10 is not announced. Layer 2: a.")), notAnnounced("10.0.0.10 is not announced. Layer 2: a."))
	w2, rec2 := newAnnouncedWriter(c, c)
	w2.setTarget(webWant(notAnnounced("10.0.0.10 is not announced. Layer 2: a.")))
	if err := w2.write(ctx); err != nil {
		t.Fatal(err)
	}
	if evs := drainEvents(rec2); len(evs) != 0 {
		t.Errorf("a restarted (or another) reporter recorded %q", evs)
	}
	step("another reason", webWant(notAnnounced("10.0.0.10 is not announced. Layer 2: b.")), notAnnounced("10.0.0.10 is not announced. Layer 2: b."),
		"Warning NotAnnounced 10.0.0.10 is not announced. Layer 2: b.")
	step("back to True", webWant(announcedTrue), announcedTrue,
		"Normal Announced every address of the Service is announced again (10.0.0.10)")
	step("True again", webWant(announcedTrue), announcedTrue)
	step("removed", webWant(nil), nil)
	step("removed again", webWant(nil), nil)
	step("False from none", webWant(notAnnounced("x")), notAnnounced("x"), "Warning NotAnnounced x")

	// A Service of the same name but another UID is left alone.
	w.setTarget(&announcedTarget{services: map[string]wantCondition{
		"app/web":  {namespace: "app", name: "web", uid: "u-old", cond: announcedTrue},
		"app/gone": {namespace: "app", name: "gone", uid: "u-gone", cond: announcedTrue},
	}})
	if err := w.write(ctx); err != nil {
		t.Fatal(err)
	}
	if got := webCondition(t, c); !sameCondition(got, notAnnounced("x")) {
		t.Errorf("another Service's target was written: %+v", got)
	}
}

// TestAnnouncedWriterConflict: a write from a stale cached Service is
// refused (errStale) and records nothing; the controller's condition
// written meanwhile stays.
func TestAnnouncedWriterConflict(t *testing.T) {
	ctx := context.Background()
	c, _, _ := announcedSetup(t)
	var old corev1.Service
	if err := c.Get(ctx, client.ObjectKey{Namespace: "app", Name: "web"}, &old); err != nil {
		t.Fatal(err)
	}
	staleCache := fake.NewClientBuilder().WithScheme(c.Scheme()).WithObjects(old.DeepCopy()).Build()
	// The controller writes its own condition.
	cur := old.DeepCopy()
	apimeta.SetStatusCondition(&cur.Status.Conditions, metav1.Condition{Type: "ironlb.io/IPAllocated", Status: metav1.ConditionTrue, Reason: "IPAllocated", Message: "x"})
	if err := c.Status().Patch(ctx, cur, client.MergeFromWithOptions(&old, client.MergeFromWithOptimisticLock{})); err != nil {
		t.Fatal(err)
	}
	w, rec := newAnnouncedWriter(c, staleCache)
	w.setTarget(webWant(notAnnounced("x")))
	if err := w.write(ctx); !errors.Is(err, errStale) {
		t.Fatalf("write from a stale cache: %v, want errStale", err)
	}
	if evs := drainEvents(rec); len(evs) != 0 {
		t.Errorf("events of a refused write: %q", evs)
	}
	// With the cache up to date, it is written beside the controller's.
	w.cache = c
	if err := w.write(ctx); err != nil {
		t.Fatal(err)
	}
	var svc corev1.Service
	if err := c.Get(ctx, client.ObjectKey{Namespace: "app", Name: "web"}, &svc); err != nil {
		t.Fatal(err)
	}
	if apimeta.FindStatusCondition(svc.Status.Conditions, "ironlb.io/IPAllocated") == nil ||
		!sameCondition(apimeta.FindStatusCondition(svc.Status.Conditions, ConditionAnnounced), notAnnounced("x")) {
		t.Errorf("conditions %+v", svc.Status.Conditions)
	}
	if evs := drainEvents(rec); len(evs) != 1 {
		t.Errorf("events %q, want one", evs)
	}
}

func TestReporterWithoutAddress(t *testing.T) {
	members := []string{"n1", "n2", "n3"}
	if a, b := reporter("app/x", nil, members), reporter("app/x", nil, []string{"n3", "n2", "n1"}); a == "" || a != b {
		t.Errorf("reporter of a Service without address: %q, %q", a, b)
	}
	if got, want := reporter("app/x", addrs("10.0.0.1", "10.0.0.2"), members), decide.Elect(addrs("10.0.0.1")[0], members); got != want {
		t.Errorf("reporter %s, want %s (the first address's)", got, want)
	}
}

func TestNotAnnouncedGauge(t *testing.T) {
	g := newNotAnnouncedGauge(func() int { return 3 })
	const want = `
# HELP ironlb_speaker_services_not_announced Services this speaker reports (it writes their ironlb.io/Announced condition) with an address no node announces. Summed over the speakers it is the cluster's count; a Service may count twice for a moment while membership changes.
# TYPE ironlb_speaker_services_not_announced gauge
ironlb_speaker_services_not_announced 3
`
	if err := testutil.CollectAndCompare(g, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(g); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}

// TestReporters: only live members running a speaker (their Node carries
// published interfaces) are elected; with the Node readiness fallback a
// Ready Node without a speaker is a member, but never writes.
func TestReporters(t *testing.T) {
	ifs := []decide.Interface{{Name: "eth0"}}
	in := &decide.Input{
		Nodes:   []decide.Node{{Name: "n1", Interfaces: ifs}, {Name: "control-plane"}, {Name: "n3", Interfaces: ifs}},
		Members: []string{"control-plane", "n1"},
	}
	if got := reporters(in); len(got) != 1 || got[0] != "n1" {
		t.Errorf("reporters %v, want [n1]", got)
	}
}

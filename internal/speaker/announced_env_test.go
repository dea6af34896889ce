package speaker

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/speaker/decide"
	"github.com/ironlb/ironlb/internal/testenv"
	"github.com/ironlb/ironlb/internal/testkit"
)

// settle is how long a check that nothing more happens waits: twice what
// a speaker takes to see a change and write what follows.
const settle = 2 * apiReaction

// speakerRoleFile is the generated RBAC of the speaker (make generate).
var speakerRoleFile = filepath.Join("..", "..", "config", "rbac", "speaker", "role.yaml")

// startFakeNetSpeaker runs a speaker for node against the API server of
// cfg with no network of its own: memberlist disabled (Node readiness),
// the node's interfaces given by ifs, its responders fake. It returns
// the speaker and a stop function (also called at the end of the test).
func startFakeNetSpeaker(t *testing.T, cfg *rest.Config, ns, node string, ifs []decide.Interface) (*Speaker, func()) {
	t.Helper()
	opts := Options{
		NodeName: node, Namespace: ns, DisableMemberlist: true,
		HealthProbeBindAddress: "0", MetricsBindAddress: "0", Registry: prometheus.NewRegistry(),
		skipNameValidation: true, logger: testLog(node),
	}
	mgr, err := NewManager(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Setup(mgr, opts)
	if err != nil {
		t.Fatal(err)
	}
	s.scan = func() ([]decide.Interface, error) { return ifs, nil }
	index := map[string]int{}
	for i, ifc := range ifs {
		index[ifc.Name] = i + 2
	}
	s.responders = (&fakeNet{index: index}).responders()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	stopIt := func() { once.Do(func() { stop(t, node, cancel, done) }) }
	t.Cleanup(stopIt)
	return s, stopIt
}

// eventCount counts the Events of reason on Service ns/name, each Event
// object counted as many times as its series says it happened.
func eventCount(ctx context.Context, c client.Client, ns, name, reason string) (int, []string, error) {
	var list eventsv1.EventList
	if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return 0, nil, err
	}
	n := 0
	var notes []string
	for _, e := range list.Items {
		if e.Reason != reason || e.Regarding.Kind != "Service" || e.Regarding.Name != name {
			continue
		}
		n++
		if e.Series != nil {
			n += int(e.Series.Count) - 1
		}
		notes = append(notes, e.Type+" "+e.Note)
	}
	return n, notes, nil
}

// TestAnnouncedCondition runs a speaker, as a ServiceAccount holding
// exactly the generated RBAC, against a real API server: a Service whose
// pool's L2Advertisement lists an interface no node has gets
// ironlb.io/Announced=False and one NotAnnounced Warning Event, however
// many syncs follow and across a speaker restart; the controller's
// condition on the same status stays; with the advertisement fixed, the
// condition turns True with one Announced Event.
func TestAnnouncedCondition(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	c := env.Client
	ns, app := env.NewNamespace(t), env.NewNamespace(t)
	mustCreate := func(o client.Object) {
		t.Helper()
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}

	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node1"}}
	mustCreate(n)
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.2"}}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	if err := c.Status().Update(ctx, n); err != nil {
		t.Fatal(err)
	}
	mustCreate(&v1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lan"},
		Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"10.201.0.100-10.201.0.110"}}})
	adv := &v1beta1.L2Advertisement{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lan"},
		Spec: v1beta1.L2AdvertisementSpec{Interfaces: []string{"nosuch0"}}}
	mustCreate(adv)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: app, Name: "web"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, AllocateLoadBalancerNodePorts: ptr.To(false),
			Ports: []corev1.ServicePort{{Port: 80}}},
	}
	mustCreate(svc)
	// As the controller writes it: the address and its own condition.
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "10.201.0.100"}}
	svc.Status.Conditions = []metav1.Condition{{Type: "ironlb.io/IPAllocated", Status: metav1.ConditionTrue, Reason: "IPAllocated",
		Message: "Assigned IP 10.201.0.100", LastTransitionTime: metav1.Now()}}
	if err := c.Status().Update(ctx, svc); err != nil {
		t.Fatal(err)
	}

	cfg := env.AsServiceAccount(t, ns, "ironlb-speaker", []string{speakerRoleFile}, nil)
	eth0 := []decide.Interface{{Name: "eth0", Prefixes: []netip.Prefix{netip.MustParsePrefix("10.201.0.0/24")}}}
	s, stopSpeaker := startFakeNetSpeaker(t, cfg, ns, "node1", eth0)

	condition := func() (*metav1.Condition, []metav1.Condition, error) {
		var cur corev1.Service
		if err := c.Get(ctx, client.ObjectKeyFromObject(svc), &cur); err != nil {
			return nil, nil, err
		}
		return apimeta.FindStatusCondition(cur.Status.Conditions, ConditionAnnounced), cur.Status.Conditions, nil
	}
	waitEvents := func(reason string, want int) {
		t.Helper()
		poll(t, fmt.Sprintf("%d %s Event(s)", want, reason), testkit.Budget(apiReaction), func() error {
			got, notes, err := eventCount(ctx, c, app, "web", reason)
			if err == nil && got != want {
				err = fmt.Errorf("%d: %q", got, notes)
			}
			return err
		})
	}
	const wantWhy = "10.201.0.100 is not announced. Layer 2: no node may announce it: of 1 nodes, 1 without an interface"
	poll(t, "ironlb.io/Announced=False", testkit.Budget(speakerStart+apiReaction), func() error {
		cond, _, err := condition()
		switch {
		case err != nil:
			return err
		case cond == nil:
			return fmt.Errorf("no condition %s", ConditionAnnounced)
		case cond.Status != metav1.ConditionFalse || cond.Reason != ReasonNotAnnounced || !strings.HasPrefix(cond.Message, wantWhy):
			return fmt.Errorf("condition %+v", cond)
		}
		return nil
	})
	waitEvents(ReasonNotAnnounced, 1)
	if v := s.notAnnounced.Load(); v != 1 {
		t.Errorf("%s = %d, want 1", SpeakerServicesNotAnnounced, v)
	}

	// Resyncs, and an update of the Service, write nothing and record
	// nothing more.
	var before corev1.Service
	if err := c.Get(ctx, client.ObjectKeyFromObject(svc), &before); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		kick(s.trigger)
		time.Sleep(50 * time.Millisecond)
	}
	before.Labels = map[string]string{"touched": "yes"}
	if err := c.Update(ctx, &before); err != nil {
		t.Fatal(err)
	}
	time.Sleep(settle)
	cond, conds, err := condition()
	if err != nil {
		t.Fatal(err)
	}
	if cond == nil || cond.Status != metav1.ConditionFalse {
		t.Fatalf("after the resyncs: %+v", cond)
	}
	if apimeta.FindStatusCondition(conds, "ironlb.io/IPAllocated") == nil {
		t.Errorf("the controller's condition is gone: %+v", conds)
	}
	waitEvents(ReasonNotAnnounced, 1)

	// A restarted speaker finds the condition written: nothing again.
	stopSpeaker()
	s, _ = startFakeNetSpeaker(t, cfg, ns, "node1", eth0)
	poll(t, "the restarted speaker's first decision", testkit.Budget(speakerStart), func() error {
		if s.notAnnounced.Load() != 1 {
			return fmt.Errorf("not decided yet")
		}
		return nil
	})
	time.Sleep(settle)
	waitEvents(ReasonNotAnnounced, 1)

	// Fixed: True, one Announced Event, the address answered.
	if err := c.Get(ctx, client.ObjectKeyFromObject(adv), adv); err != nil {
		t.Fatal(err)
	}
	adv.Spec.Interfaces = nil
	if err := c.Update(ctx, adv); err != nil {
		t.Fatal(err)
	}
	poll(t, "ironlb.io/Announced=True", testkit.Budget(apiReaction), func() error {
		cond, _, err := condition()
		switch {
		case err != nil:
			return err
		case cond == nil || cond.Status != metav1.ConditionTrue || cond.Reason != ReasonAnnounced || cond.Message != messageAnnounced:
			return fmt.Errorf("condition %+v", cond)
		}
		return nil
	})
	waitEvents(ReasonAnnounced, 1)
	waitEvents(ReasonNotAnnounced, 1)
	if v := s.notAnnounced.Load(); v != 0 {
		t.Errorf("%s = %d, want 0", SpeakerServicesNotAnnounced, v)
	}
	if v4, _ := s.responders.counts(); v4 != 1 {
		t.Errorf("the speaker answers for %d IPv4 addresses, want 1", v4)
	}
}

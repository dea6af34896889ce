package controller

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/metrics"
)

// TestAllocateWriteAndRelease follows one Service through its life:
// allocation (status, condition, annotation, Event, pool status, metrics),
// a resync that must change nothing, release on deletion and reuse of the
// address, and release when the type changes away from LoadBalancer.
func TestAllocateWriteAndRelease(t *testing.T) {
	h := newHarness(t)
	h.pool("default", "10.10.0.0/30")
	run := h.start(h.options(), true)

	h.service("a")
	got := h.waitIPs("a")
	if want := []string{"10.10.0.0"}; !slices.Equal(got, want) {
		t.Fatalf("Service a: ingress %v, want %v", got, want)
	}
	svc := h.get("a")
	if m := svc.Status.LoadBalancer.Ingress[0].IPMode; m == nil || *m != corev1.LoadBalancerIPModeVIP {
		t.Errorf("Service a: ipMode %v, want VIP", m)
	}
	if p := svc.Annotations[AnnotationAllocatedFromPool]; p != "default" {
		t.Errorf("Service a: annotation %s = %q, want default", AnnotationAllocatedFromPool, p)
	}
	cond := h.waitCondition("a", metav1.ConditionTrue, ReasonIPAllocated)
	if want := "Assigned IP 10.10.0.0 from pool default"; cond.Message != want {
		t.Errorf("condition message %q, want %q", cond.Message, want)
	}
	if msg := h.waitEvent(h.app, "Service", "a", ReasonIPAllocated); msg != "Assigned IP 10.10.0.0 from pool default" {
		t.Errorf("IPAllocated Event: %q", msg)
	}
	st := h.poolStatus("default", "one address assigned", func(s v1beta1.IPAddressPoolStatus) bool {
		return s.AssignedIPv4 == 1 && s.AvailableIPv4 == 3
	})
	if !hasCondition(st.Conditions, v1beta1.ConditionValid, metav1.ConditionTrue, v1beta1.ReasonAccepted) ||
		!hasCondition(st.Conditions, v1beta1.ConditionExhausted, metav1.ConditionFalse, v1beta1.ReasonAddressesAvailable) {
		t.Errorf("pool conditions: %+v", st.Conditions)
	}
	checkGauge(t, run, metrics.AllocatorAddressesInUse, map[string]string{"pool": "default", "family": "IPv4"}, 1)
	checkGauge(t, run, metrics.AllocatorAddresses, map[string]string{"pool": "default", "family": "IPv4"}, 4)

	// A resync (here: a label edit) changes nothing and records nothing.
	before := run.ctrl.stats.reconciles.Load()
	h.update(&corev1.Service{}, "a", h.app, func(o client.Object) { o.SetLabels(map[string]string{"touched": "yes"}) })
	h.eventually("the Service controller to look at a again", func() (bool, string) {
		return run.ctrl.stats.reconciles.Load() > before, ""
	})
	// Events are written in the order recorded: once b's is there, any
	// Event about a's resync would be too.
	h.service("b")
	h.waitEvent(h.app, "Service", "b", ReasonIPAllocated)
	if r := h.reasons("a"); !slices.Equal(r, []string{ReasonIPAllocated}) {
		t.Errorf("Service a: Events %v after a resync, want only the first IPAllocated", r)
	}
	if got := ips(h.get("a")); !slices.Equal(got, []string{"10.10.0.0"}) {
		t.Errorf("Service a: ingress %v after a resync", got)
	}

	// Deleting a frees 10.10.0.0 for the next Service.
	if err := h.c.Delete(t.Context(), h.get("a")); err != nil {
		t.Fatal(err)
	}
	h.poolStatus("default", "a's address freed", func(s v1beta1.IPAddressPoolStatus) bool { return s.AssignedIPv4 == 1 })
	h.service("c")
	if got := h.waitIPs("c"); !slices.Equal(got, []string{"10.10.0.0"}) {
		t.Errorf("Service c: ingress %v, want a's freed 10.10.0.0", got)
	}

	// b stops being a LoadBalancer: everything ironlb wrote goes.
	h.update(&corev1.Service{}, "b", h.app, func(o client.Object) {
		s := o.(*corev1.Service)
		s.Spec.Type = corev1.ServiceTypeClusterIP
		s.Spec.LoadBalancerClass = nil
		s.Spec.AllocateLoadBalancerNodePorts = nil
	})
	h.eventually("Service b to lose what ironlb wrote", func() (bool, string) {
		s := h.get("b")
		_, ann := s.Annotations[AnnotationAllocatedFromPool]
		cond := meta.FindStatusCondition(s.Status.Conditions, ConditionIPAllocated)
		return !ann && cond == nil && len(s.Status.LoadBalancer.Ingress) == 0,
			fmt.Sprintf("annotation %v, condition %v, ingress %v", ann, cond, ips(s))
	})
	if msg := h.waitEvent(h.app, "Service", "b", ReasonIPReleased); !strings.Contains(msg, "10.10.0.1") {
		t.Errorf("IPReleased Event %q does not name the address", msg)
	}
	h.poolStatus("default", "b's address freed", func(s v1beta1.IPAddressPoolStatus) bool { return s.AssignedIPv4 == 1 })
}

// TestClassSelection checks that a controller with a class handles only
// Services of that class, and a controller without one only Services
// without a class.
func TestClassSelection(t *testing.T) {
	h := newHarness(t)
	h.pool("default", "10.11.0.0/29")
	opts := h.options()
	opts.LoadBalancerClass = ""
	h.start(opts, true)

	h.service("no-class", func(s *corev1.Service) { s.Spec.LoadBalancerClass = nil })
	h.service("other-class") // the harness's class: not this controller's
	if got := h.waitIPs("no-class"); !slices.Equal(got, []string{"10.11.0.0"}) {
		t.Errorf("Service without a class: ingress %v", got)
	}
	h.service("later", func(s *corev1.Service) { s.Spec.LoadBalancerClass = nil })
	h.waitIPs("later")
	other := h.get("other-class")
	if len(other.Status.LoadBalancer.Ingress) > 0 || len(other.Status.Conditions) > 0 || other.Annotations[AnnotationAllocatedFromPool] != "" {
		t.Errorf("a Service of another class was touched: %+v %v", other.Status, other.Annotations)
	}
	if r := h.reasons("other-class"); len(r) > 0 {
		t.Errorf("Events on a Service of another class: %v", r)
	}
	// Services without a class would be picked up by later tests'
	// controllers without a class: remove them.
	for _, n := range []string{"no-class", "later"} {
		if err := h.c.Delete(t.Context(), h.get(n)); err != nil {
			t.Fatal(err)
		}
	}
}

// checkGauge compares one series of a gauge of the running controller.
func checkGauge(t *testing.T, run *running, name string, labels map[string]string, want float64) {
	t.Helper()
	mfs, err := run.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			if cmp.Equal(got, labels) {
				if v := m.GetGauge().GetValue(); v != want {
					t.Errorf("%s%v = %v, want %v", name, labels, v, want)
				}
				return
			}
		}
	}
	t.Errorf("%s%v: no such series", name, labels)
}

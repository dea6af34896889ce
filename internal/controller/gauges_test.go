package controller

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/ipam"
	"github.com/ironlb/ironlb/internal/metrics"
)

// gaugeSeries returns every series of the gauge name in reg, keyed by its
// label values joined with "/" in label-name order.
func gaugeSeries(reg *prometheus.Registry, name string) (map[string]float64, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var vals []string
			for _, l := range m.GetLabel() {
				vals = append(vals, l.GetValue())
			}
			out[strings.Join(vals, "/")] = m.GetGauge().GetValue()
		}
	}
	return out, nil
}

// waitGauge waits until the series of the gauge name are exactly want
// plus, at 0, every key of zeros not in want.
func (h *harness) waitGauge(reg *prometheus.Registry, name, what string, zeros []string, want map[string]float64) {
	h.t.Helper()
	full := map[string]float64{}
	for _, k := range zeros {
		full[k] = 0
	}
	maps.Copy(full, want)
	h.eventually(name+": "+what, func() (bool, string) {
		got, err := gaugeSeries(reg, name)
		if err != nil {
			return false, err.Error()
		}
		d := cmp.Diff(full, got)
		return d == "", "(-want +got)\n" + d
	})
}

// TestPendingGaugeIsExact: ironlb_allocator_services_pending counts the
// Services whose allocation failed, by reason, from the first scrape (every
// reason at 0) on; it goes back down when a Service is fixed, deleted
// while waiting, or no longer managed, and never leaves a Service behind.
func TestPendingGaugeIsExact(t *testing.T) {
	h := newHarness(t)
	h.pool("p", "10.14.0.0/32")
	run := h.start(h.options(), true)
	reasons := ipam.Reasons()
	h.waitGauge(run.reg, metrics.AllocatorServicesPending, "every reason at 0 before any Service", reasons, nil)

	h.service("holder")
	h.waitIPs("holder")
	h.service("full") // the pool's one address is taken
	h.service("elsewhere", func(s *corev1.Service) {
		s.Annotations = map[string]string{"ironlb.io/loadBalancerIPs": "192.0.2.1"} // in no pool
	})
	h.service("malformed", func(s *corev1.Service) {
		s.Annotations = map[string]string{"ironlb.io/loadBalancerIPs": "not-an-address"}
	})
	h.waitCondition("full", metav1.ConditionFalse, ReasonAllocationFailed)
	h.waitGauge(run.reg, metrics.AllocatorServicesPending, "three Services waiting", reasons, map[string]float64{
		ipam.ReasonPoolExhausted: 1, ipam.ReasonIPNotInPool: 1, ipam.ReasonInvalidRequest: 1,
	})
	checkGauge(t, run, metrics.AllocatorServicesAllocated, map[string]string{}, 1)

	// Deleted while waiting: it leaves the gauge.
	if err := h.c.Delete(t.Context(), h.get("full")); err != nil {
		t.Fatal(err)
	}
	h.waitGauge(run.reg, metrics.AllocatorServicesPending, "the waiting Service deleted", reasons, map[string]float64{
		ipam.ReasonIPNotInPool: 1, ipam.ReasonInvalidRequest: 1,
	})

	// Fixed: the pool grows and the Service asks for the new address.
	h.setPoolAddresses("p", "10.14.0.0/31")
	h.update(&corev1.Service{}, "elsewhere", h.app, func(o client.Object) {
		o.SetAnnotations(map[string]string{"ironlb.io/loadBalancerIPs": "10.14.0.1"})
	})
	h.waitCondition("elsewhere", metav1.ConditionTrue, ReasonIPAllocated)
	h.waitGauge(run.reg, metrics.AllocatorServicesPending, "the Service fixed", reasons, map[string]float64{
		ipam.ReasonInvalidRequest: 1,
	})

	// No longer a LoadBalancer: no longer managed, no longer waiting.
	h.update(&corev1.Service{}, "malformed", h.app, func(o client.Object) {
		s := o.(*corev1.Service)
		s.Spec.Type = corev1.ServiceTypeClusterIP
		s.Spec.LoadBalancerClass = nil
		s.Spec.AllocateLoadBalancerNodePorts = nil
	})
	h.waitGauge(run.reg, metrics.AllocatorServicesPending, "the malformed Service unmanaged", reasons, nil)
	checkGauge(t, run, metrics.AllocatorServicesAllocated, map[string]string{}, 2)
}

// TestConfigObjectsGaugeIsExact: ironlb_config_objects follows the
// verdicts of every build — valid, stale (an invalid edit of a pool in
// use), invalid (a new invalid pool, an advertisement naming no pool) —
// back to valid when fixed and to 0 when deleted; every kind and state is
// exported from the start.
func TestConfigObjectsGaugeIsExact(t *testing.T) {
	h := newHarness(t)
	var zeros []string
	for _, k := range append([]string{config.KindConfigMap}, kindNames()...) {
		for _, s := range metrics.States() {
			zeros = append(zeros, k+"/"+s)
		}
	}
	h.pool("p", "10.15.0.0/29")
	run := h.start(h.options(), true)
	h.waitGauge(run.reg, metrics.ConfigObjects, "one valid pool", zeros, map[string]float64{
		"IPAddressPool/valid": 1,
	})

	adv := &v1beta1.L2Advertisement{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "adv"},
		Spec:       v1beta1.L2AdvertisementSpec{IPAddressPools: []string{"missing"}},
	}
	if err := h.c.Create(t.Context(), adv); err != nil {
		t.Fatal(err)
	}
	// A new pool with an IPv6 range written backwards (the API server
	// stores it, internal/config refuses it): invalid, nothing to fall
	// back to. The same edit of p: stale, its last valid version in use.
	h.pool("bad", "fd00:15::9-fd00:15::1")
	h.setPoolAddresses("p", "10.15.0.0/29", "fd00:15::19-fd00:15::11")
	h.waitGauge(run.reg, metrics.ConfigObjects, "a stale pool, an invalid pool and advertisement", zeros, map[string]float64{
		"IPAddressPool/stale": 1, "IPAddressPool/invalid": 1, "L2Advertisement/invalid": 1,
	})

	h.setPoolAddresses("p", "10.15.0.0/29")
	h.waitGauge(run.reg, metrics.ConfigObjects, "p fixed", zeros, map[string]float64{
		"IPAddressPool/valid": 1, "IPAddressPool/invalid": 1, "L2Advertisement/invalid": 1,
	})
	for _, o := range []client.Object{adv, &v1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "bad"}}} {
		if err := h.c.Delete(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
	h.waitGauge(run.reg, metrics.ConfigObjects, "the invalid objects deleted", zeros, map[string]float64{
		"IPAddressPool/valid": 1,
	})
	h.waitValid(&v1beta1.IPAddressPool{}, "p", metav1.ConditionTrue, v1beta1.ReasonAccepted)
}

// kindNames lists the configuration kinds whose status the controller
// writes.
func kindNames() []string {
	var out []string
	for _, k := range configKinds() {
		out = append(out, k.kind)
	}
	return out
}

// TestObjectCounts maps every kind of verdict to its state: valid with
// or without warnings, stale, invalid (excluded, or a legacy ConfigMap that
// does not parse), legacy objects under their kind.
func TestObjectCounts(t *testing.T) {
	st := func(kind string, status metav1.ConditionStatus, stale, legacy bool) config.ObjectStatus {
		return config.ObjectStatus{Kind: kind, Name: fmt.Sprint(kind, status, stale, legacy), Legacy: legacy, Stale: stale,
			Condition: metav1.Condition{Type: v1beta1.ConditionValid, Status: status}}
	}
	warned := st(config.KindBGPAdvertisement, metav1.ConditionTrue, false, false)
	warned.Problems = []config.FieldError{{Warning: true, Message: "a pool it names is not in use"}}
	got := objectCounts([]config.ObjectStatus{
		st(config.KindConfigMap, metav1.ConditionFalse, false, true),
		st(config.KindIPAddressPool, metav1.ConditionTrue, false, false),
		st(config.KindIPAddressPool, metav1.ConditionTrue, false, true),
		st(config.KindIPAddressPool, metav1.ConditionFalse, true, false),
		st(config.KindIPAddressPool, metav1.ConditionFalse, false, false),
		warned,
		st(config.KindBGPPeer, metav1.ConditionFalse, true, true),
	})
	want := map[metrics.ObjectCount]int{
		{Kind: config.KindConfigMap, State: metrics.StateInvalid}:      1,
		{Kind: config.KindIPAddressPool, State: metrics.StateValid}:    2,
		{Kind: config.KindIPAddressPool, State: metrics.StateStale}:    1,
		{Kind: config.KindIPAddressPool, State: metrics.StateInvalid}:  1,
		{Kind: config.KindBGPAdvertisement, State: metrics.StateValid}: 1,
		{Kind: config.KindBGPPeer, State: metrics.StateStale}:          1,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("objectCounts (-want +got):\n%s", d)
	}
}

// TestAddressBookPendingGauge follows the pending gauge through the
// address book without a cluster: failures by reason, a malformed
// request, an incomplete dual-stack Service counted once with its
// cause's reason, and every way out (allocated, released).
func TestAddressBookPendingGauge(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.NewAllocator(reg)
	if err != nil {
		t.Fatal(err)
	}
	b := newAddressBook("ironlb-system", &queueRef{}, &queueRef{}, m)
	check := func(what string, want map[string]float64) {
		t.Helper()
		full := map[string]float64{}
		for _, r := range ipam.Reasons() {
			full[r] = 0
		}
		maps.Copy(full, want)
		got, err := gaugeSeries(reg, metrics.AllocatorServicesPending)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(full, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", what, d)
		}
	}
	check("before anything", nil)

	b.allocate(ipam.Service{Key: "ns/early"}) // no pools yet
	check("no pool", map[string]float64{ipam.ReasonNoPool: 1})

	snap := &config.Snapshot{Pools: []config.Pool{{Name: "one", AutoAssign: true, Ranges: []config.AddressRange{mustRange(t, "10.0.0.1/32")}}}}
	if _, err := b.setPools(snap); err != nil {
		t.Fatal(err)
	}
	if r := b.allocate(ipam.Service{Key: "ns/early"}); r.Err != nil {
		t.Fatalf("early: %v", r.Err)
	}
	b.allocate(ipam.Service{Key: "ns/late"})
	b.allocate(ipam.Service{Key: "ns/late"}) // a retry counts once
	b.reject("ns/bad")
	check("one exhausted, one malformed", map[string]float64{ipam.ReasonPoolExhausted: 1, ipam.ReasonInvalidRequest: 1})

	b.reject("ns/bad") // again: still one
	b.release("ns/bad")
	b.release("ns/early")
	check("the malformed Service deleted, an address freed", map[string]float64{ipam.ReasonPoolExhausted: 1})
	if r := b.allocate(ipam.Service{Key: "ns/late"}); r.Err != nil {
		t.Fatalf("late after the release: %v", r.Err)
	}
	check("late allocated", nil)

	// A RequireDualStack Service keeping its IPv4 address when its pool
	// loses IPv6: it holds an address and still waits.
	dual := &config.Snapshot{Pools: []config.Pool{{Name: "dual", AutoAssign: true, Ranges: []config.AddressRange{
		mustRange(t, "10.0.1.1/32"), mustRange(t, "fd00::1/128"),
	}}}}
	if _, err := b.setPools(dual); err != nil {
		t.Fatal(err)
	}
	ds := ipam.Service{Key: "ns/dual", FamilyPolicy: ipam.RequireDualStack, Families: []ipam.Family{ipam.IPv4, ipam.IPv6}}
	if r := b.allocate(ds); r.Err != nil {
		t.Fatalf("dual: %v", r.Err)
	}
	v4only := &config.Snapshot{Pools: []config.Pool{{Name: "dual", AutoAssign: true, Ranges: []config.AddressRange{mustRange(t, "10.0.1.1/32")}}}}
	if _, err := b.setPools(v4only); err != nil {
		t.Fatal(err)
	}
	r := b.allocate(ds)
	var ie *ipam.IncompleteError
	if !errors.As(r.Err, &ie) {
		t.Fatalf("dual after its pool lost IPv6: %v, want an ipam.IncompleteError", r.Err)
	}
	check("the incomplete Service", map[string]float64{ie.Reason(): 1})
	if got := slices.Collect(maps.Keys(b.held)); !slices.Contains(got, "ns/dual") {
		t.Errorf("the incomplete Service holds nothing: held %v", got)
	}
	b.release("ns/dual")
	b.release("ns/late")
	check("everything released", nil)
}

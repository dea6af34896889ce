package controller

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/ipam"
)

func mustRange(t *testing.T, s string) config.AddressRange {
	t.Helper()
	r, err := config.ParseAddressRange(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestIPAMPools(t *testing.T) {
	snap := &config.Snapshot{Pools: []config.Pool{
		{Name: "a", AutoAssign: true, Ranges: []config.AddressRange{mustRange(t, "10.0.0.0/30"), mustRange(t, "fd00::1-fd00::5")}},
		{Name: "b", AvoidBuggyIPs: true, Ranges: []config.AddressRange{mustRange(t, "10.1.0.0/24")},
			ServiceAllocation: &config.ServiceAllocation{
				Priority: 2, Namespaces: []string{"ns1"},
				NamespaceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"env": "prod"}}},
				ServiceSelectors: []metav1.LabelSelector{{MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"web"}}}}},
			}},
	}}
	got, err := ipamPools(snap)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d pools", len(got))
	}
	wantA := ipam.Pool{Name: "a", AutoAssign: true, Ranges: []ipam.Range{
		{First: netip.MustParseAddr("10.0.0.0"), Last: netip.MustParseAddr("10.0.0.3")},
		{First: netip.MustParseAddr("fd00::1"), Last: netip.MustParseAddr("fd00::5")},
	}}
	if d := cmp.Diff(wantA, got[0], cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Errorf("pool a (-want +got):\n%s", d)
	}
	b := got[1]
	if !b.AvoidBuggyIPs || b.AutoAssign || b.Allocation == nil || b.Allocation.Priority != 2 ||
		!cmp.Equal(b.Allocation.Namespaces, []string{"ns1"}) {
		t.Fatalf("pool b: %+v", b)
	}
	if !b.Allocation.NamespaceSelectors[0](map[string]string{"env": "prod"}) || b.Allocation.NamespaceSelectors[0](map[string]string{"env": "dev"}) {
		t.Error("namespace selector does not match as written")
	}
	if !b.Allocation.ServiceSelectors[0](map[string]string{"tier": "web"}) || b.Allocation.ServiceSelectors[0](nil) {
		t.Error("service selector does not match as written")
	}
}

func TestSamePools(t *testing.T) {
	base := func() *config.Snapshot {
		return &config.Snapshot{Pools: []config.Pool{{Name: "a", AutoAssign: true, Ranges: []config.AddressRange{mustRange(t, "10.0.0.0/30")}}}}
	}
	origin := base()
	origin.Pools[0].Origin = config.Origin{Generation: 7, Stale: true}
	origin.Pools[0].Labels = map[string]string{"x": "y"}
	wider := base()
	wider.Pools[0].Ranges = []config.AddressRange{mustRange(t, "10.0.0.0/29")}
	renamed := base()
	renamed.Pools[0].Name = "b"
	tests := []struct {
		name string
		a, b *config.Snapshot
		want bool
	}{
		{"equal", base(), base(), true},
		{"origin and labels do not matter", base(), origin, true},
		{"ranges matter", base(), wider, false},
		{"names matter", base(), renamed, false},
		{"nil and empty", nil, base(), false},
		{"more pools", base(), &config.Snapshot{Pools: append(base().Pools, renamed.Pools...)}, false},
	}
	for _, tt := range tests {
		if got := samePools(tt.a, tt.b); got != tt.want {
			t.Errorf("%s: samePools = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestOptions(t *testing.T) {
	d := Options{}.withDefaults()
	if d.Namespace != "ironlb-system" || d.ConfigMap != "ironlb-system/config" || d.MetricsBindAddress != ":7472" ||
		d.HealthProbeBindAddress != ":8081" || d.KubeAPIQPS != 200 || d.KubeAPIBurst != 400 || d.LeaderElectionID != "ironlb-controller" {
		t.Errorf("defaults: %+v", d)
	}
	if err := d.validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
	tests := []struct {
		name string
		mod  func(*Options)
		want string
	}{
		{"namespace", func(o *Options) { o.Namespace = "Bad_NS" }, `namespace "Bad_NS"`},
		{"config map", func(o *Options) { o.ConfigMap = "no-slash" }, `config map "no-slash": want namespace/name`},
		{"class", func(o *Options) { o.LoadBalancerClass = "not a class" }, `load-balancer class "not a class"`},
		{"qps", func(o *Options) { o.KubeAPIQPS = -1 }, "must not be negative"},
	}
	for _, tt := range tests {
		o := Options{}.withDefaults()
		tt.mod(&o)
		err := o.validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

func TestStatusEvents(t *testing.T) {
	valid := metav1.Condition{Type: v1beta1.ConditionValid, Status: metav1.ConditionTrue, Reason: v1beta1.ReasonAccepted, Message: "in use"}
	overlap := metav1.Condition{Type: v1beta1.ConditionValid, Status: metav1.ConditionFalse, Reason: v1beta1.ReasonOverlap, Message: "overlaps b"}
	full := metav1.Condition{Type: v1beta1.ConditionExhausted, Status: metav1.ConditionTrue, Reason: v1beta1.ReasonNoAddressesAvailable, Message: "full"}
	free := metav1.Condition{Type: v1beta1.ConditionExhausted, Status: metav1.ConditionFalse, Reason: v1beta1.ReasonAddressesAvailable}
	bad := config.ObjectStatus{Condition: overlap, Problems: []config.FieldError{{Reason: v1beta1.ReasonOverlap}}}
	tests := []struct {
		name          string
		before, after []metav1.Condition
		st            config.ObjectStatus
		want          []k8sEvent
	}{
		{"new valid object", nil, []metav1.Condition{valid}, config.ObjectStatus{Condition: valid}, nil},
		{"unchanged", []metav1.Condition{valid}, []metav1.Condition{valid}, config.ObjectStatus{Condition: valid}, nil},
		{"becomes invalid", []metav1.Condition{valid}, []metav1.Condition{overlap}, bad,
			[]k8sEvent{{corev1.EventTypeWarning, v1beta1.ReasonOverlap, actionValidate, "overlaps b"}}},
		{"stays invalid", []metav1.Condition{overlap}, []metav1.Condition{overlap}, bad, nil},
		{"valid again", []metav1.Condition{overlap}, []metav1.Condition{valid}, config.ObjectStatus{Condition: valid},
			[]k8sEvent{{corev1.EventTypeNormal, v1beta1.ReasonAccepted, actionValidate, "the object is valid again and in use"}}},
		{"runs out", []metav1.Condition{valid, free}, []metav1.Condition{valid, full}, config.ObjectStatus{Condition: valid},
			[]k8sEvent{{corev1.EventTypeWarning, v1beta1.ReasonNoAddressesAvailable, actionAllocate, "full"}}},
		{"still out", []metav1.Condition{valid, full}, []metav1.Condition{valid, full}, config.ObjectStatus{Condition: valid}, nil},
	}
	for _, tt := range tests {
		if d := cmp.Diff(tt.want, statusEvents(tt.before, tt.after, tt.st)); d != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, d)
		}
	}
}

// TestAddressBookRequeuesWaiting checks that a Service waiting for an
// address is queued again when another Service releases one, and that
// the pool's status is asked for.
func TestAddressBookRequeuesWaiting(t *testing.T) {
	newQueue := func() (*queueRef, workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
		t.Cleanup(q.ShutDown)
		r := &queueRef{}
		if err := r.source().Start(t.Context(), q); err != nil {
			t.Fatal(err)
		}
		return r, q
	}
	svcRef, svcQ := newQueue()
	poolRef, poolQ := newQueue()
	b := newAddressBook("ironlb-system", svcRef, poolRef, nil)
	snap := &config.Snapshot{Pools: []config.Pool{{Name: "one", AutoAssign: true, Ranges: []config.AddressRange{mustRange(t, "10.0.0.1/32")}}}}
	if _, err := b.setPools(snap); err != nil {
		t.Fatal(err)
	}
	drain := func(q workqueue.TypedRateLimitingInterface[reconcile.Request], wait time.Duration) []string {
		var out []string
		deadline := time.Now().Add(wait)
		for {
			for q.Len() > 0 {
				item, _ := q.Get()
				out = append(out, item.String())
				q.Done(item)
			}
			if !time.Now().Before(deadline) {
				return out
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	drain(svcQ, 0)
	drain(poolQ, 0)

	first := b.allocate(ipam.Service{Key: "ns/first"})
	if first.Err != nil || first.Allocation.IPs[0] != netip.MustParseAddr("10.0.0.1") {
		t.Fatalf("first: %+v", first)
	}
	if w := b.allocate(ipam.Service{Key: "ns/waiting"}); w.Err == nil {
		t.Fatalf("waiting got %v from a full pool", w.Allocation)
	}
	if got := drain(svcQ, 0); len(got) != 0 {
		t.Fatalf("queued %v before anything was freed", got)
	}
	if !b.release("ns/first") {
		t.Fatal("release: first held nothing")
	}
	if got := drain(svcQ, 0); !cmp.Equal(got, []string{"ns/waiting"}) {
		t.Errorf("after the release queued %v, want [ns/waiting]", got)
	}
	if got := drain(poolQ, 2*poolStatusDelay); !cmp.Equal(got, []string{"ironlb-system/one"}) {
		t.Errorf("pool status requests %v, want one for the pool", got)
	}
	if w := b.allocate(ipam.Service{Key: "ns/waiting"}); w.Err != nil {
		t.Errorf("waiting: %v after the release", w.Err)
	}
	b.release("ns/waiting")
	if got := drain(svcQ, 0); len(got) != 0 {
		t.Errorf("queued %v with nothing waiting", got)
	}
}

package controller

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/internal/ipam"
)

func addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

// lbService returns a LoadBalancer Service showing ips, with the pool
// annotation and condition when it has any.
func lbService(ips ...string) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "svc", Generation: 3},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer},
	}
	if len(ips) > 0 {
		svc = withResult(svc, allocResult{Allocation: ipam.Allocation{IPs: addrs(ips...), Pool: "p"}})
	}
	return svc
}

func TestWithResult(t *testing.T) {
	vip := ptr.To(corev1.LoadBalancerIPModeVIP)
	tests := []struct {
		name        string
		svc         *corev1.Service
		res         allocResult
		wantIngress []corev1.LoadBalancerIngress
		wantPool    string // "" means no annotation
		wantCond    metav1.Condition
	}{
		{
			name:        "one address",
			svc:         lbService(),
			res:         allocResult{Allocation: ipam.Allocation{IPs: addrs("10.0.0.1"), Pool: "default"}},
			wantIngress: []corev1.LoadBalancerIngress{{IP: "10.0.0.1", IPMode: vip}},
			wantPool:    "default",
			wantCond: metav1.Condition{Type: ConditionIPAllocated, Status: metav1.ConditionTrue, Reason: ReasonIPAllocated,
				Message: "Assigned IP 10.0.0.1 from pool default", ObservedGeneration: 3},
		},
		{
			name:        "dual stack keeps the family order",
			svc:         lbService(),
			res:         allocResult{Allocation: ipam.Allocation{IPs: addrs("fd00::1", "10.0.0.1"), Pool: "dual"}},
			wantIngress: []corev1.LoadBalancerIngress{{IP: "fd00::1", IPMode: vip}, {IP: "10.0.0.1", IPMode: vip}},
			wantPool:    "dual",
			wantCond: metav1.Condition{Type: ConditionIPAllocated, Status: metav1.ConditionTrue, Reason: ReasonIPAllocated,
				Message: "Assigned IPs fd00::1, 10.0.0.1 from pool dual", ObservedGeneration: 3},
		},
		{
			name: "failure clears the address and the annotation",
			svc:  lbService("10.0.0.1"),
			res:  allocResult{Err: &ipam.PoolExhaustedError{Family: ipam.IPv4, Pools: []string{"p"}}},
			wantCond: metav1.Condition{Type: ConditionIPAllocated, Status: metav1.ConditionFalse, Reason: ReasonAllocationFailed,
				Message: (&ipam.PoolExhaustedError{Family: ipam.IPv4, Pools: []string{"p"}}).Error(), ObservedGeneration: 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.svc.DeepCopy()
			got := withResult(tt.svc, tt.res)
			if d := cmp.Diff(before, tt.svc); d != "" {
				t.Errorf("withResult modified its input (-before +after):\n%s", d)
			}
			if d := cmp.Diff(tt.wantIngress, got.Status.LoadBalancer.Ingress); d != "" {
				t.Errorf("ingress (-want +got):\n%s", d)
			}
			if pool, ok := got.Annotations[AnnotationAllocatedFromPool]; pool != tt.wantPool || ok != (tt.wantPool != "") {
				t.Errorf("annotation %q (present %v), want %q", pool, ok, tt.wantPool)
			}
			c := meta.FindStatusCondition(got.Status.Conditions, ConditionIPAllocated)
			if c == nil {
				t.Fatal("no condition")
			}
			c.LastTransitionTime = metav1.Time{}
			if d := cmp.Diff(tt.wantCond, *c); d != "" {
				t.Errorf("condition (-want +got):\n%s", d)
			}
		})
	}
}

func TestWithoutResult(t *testing.T) {
	svc := lbService("10.0.0.1")
	svc.Status.Conditions = append(svc.Status.Conditions, metav1.Condition{Type: "other.io/Kept", Status: metav1.ConditionTrue})

	got := withoutResult(svc)
	if _, ok := got.Annotations[AnnotationAllocatedFromPool]; ok {
		t.Error("annotation kept")
	}
	if meta.FindStatusCondition(got.Status.Conditions, ConditionIPAllocated) != nil {
		t.Error("condition kept")
	}
	if meta.FindStatusCondition(got.Status.Conditions, "other.io/Kept") == nil {
		t.Error("another controller's condition removed")
	}
	if len(got.Status.LoadBalancer.Ingress) != 1 {
		t.Error("a LoadBalancer's ingress removed (its own controller owns it now)")
	}
	svc.Spec.Type = corev1.ServiceTypeClusterIP
	if got := withoutResult(svc); len(got.Status.LoadBalancer.Ingress) != 0 {
		t.Error("ingress kept on a Service that is no LoadBalancer")
	}
}

func TestAllocationEvents(t *testing.T) {
	exhausted := &ipam.PoolExhaustedError{Family: ipam.IPv4, Pools: []string{"p"}}
	failed := withResult(lbService(), allocResult{Err: exhausted})
	ok := func(ips ...string) allocResult {
		return allocResult{Allocation: ipam.Allocation{IPs: addrs(ips...), Pool: "p"}}
	}
	tests := []struct {
		name string
		old  *corev1.Service
		res  allocResult
		want []k8sEvent
	}{
		{"first address", lbService(), ok("10.0.0.1"),
			[]k8sEvent{{corev1.EventTypeNormal, ReasonIPAllocated, actionAllocate, "Assigned IP 10.0.0.1 from pool p"}}},
		{"resync: nothing changed", lbService("10.0.0.1"), ok("10.0.0.1"), nil},
		{"pool edit moved it", lbService("10.0.0.1"), allocResult{Allocation: ok("10.0.0.9").Allocation, Lost: "gone"},
			[]k8sEvent{{corev1.EventTypeWarning, ReasonIPChanged, actionAllocate, "Changed IP from 10.0.0.1 to 10.0.0.9 (pool p): gone"}}},
		{"its own request moved it", lbService("10.0.0.1"), ok("10.0.0.9"),
			[]k8sEvent{{corev1.EventTypeNormal, ReasonIPChanged, actionAllocate, "Changed IP from 10.0.0.1 to 10.0.0.9 (pool p) as the Service's request changed"}}},
		{"new failure", lbService("10.0.0.1"), allocResult{Err: exhausted},
			[]k8sEvent{{corev1.EventTypeWarning, ReasonAllocationFailed, actionAllocate, exhausted.Error()}}},
		{"same failure again", failed, allocResult{Err: exhausted}, nil},
		{"another failure", failed, allocResult{Err: errors.New("other")},
			[]k8sEvent{{corev1.EventTypeWarning, ReasonAllocationFailed, actionAllocate, "other"}}},
		{"recovered", failed, ok("10.0.0.1"),
			[]k8sEvent{{corev1.EventTypeNormal, ReasonIPAllocated, actionAllocate, "Assigned IP 10.0.0.1 from pool p"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := allocationEvents(tt.old, withResult(tt.old, tt.res), tt.res)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
		})
	}
}

func TestServiceInput(t *testing.T) {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", Labels: map[string]string{"a": "b"},
			Annotations: map[string]string{"metallb.universe.tf/address-pool": "gold", "ironlb.io/allow-shared-ip": "k"}},
		Spec: corev1.ServiceSpec{
			Type:                  corev1.ServiceTypeLoadBalancer,
			IPFamilyPolicy:        ptr.To(corev1.IPFamilyPolicyPreferDualStack),
			IPFamilies:            []corev1.IPFamily{corev1.IPv6Protocol, corev1.IPv4Protocol},
			Ports:                 []corev1.ServicePort{{Port: 53, Protocol: corev1.ProtocolUDP}},
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
			Selector:              map[string]string{"app": "web"},
		},
	}
	got, err := serviceInput(svc, map[string]string{"env": "prod"})
	if err != nil {
		t.Fatal(err)
	}
	want := ipam.Service{
		Key: "ns/web", Namespace: "ns", Labels: map[string]string{"a": "b"},
		NamespaceLabels: map[string]string{"env": "prod"},
		FamilyPolicy:    ipam.PreferDualStack, Families: []ipam.Family{ipam.IPv6, ipam.IPv4},
		Request:       ipam.Request{Pool: "gold", SharingKey: "k"},
		Ports:         []ipam.Port{{Protocol: "UDP", Port: 53}},
		TrafficPolicy: ipam.TrafficLocal, Selector: map[string]string{"app": "web"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("serviceInput (-want +got):\n%s", d)
	}

	svc.Annotations = map[string]string{"ironlb.io/loadBalancerIPs": "nope"}
	var ire *ipam.InvalidRequestError
	if _, err := serviceInput(svc, nil); !errors.As(err, &ire) {
		t.Errorf("malformed request: error %v, want *ipam.InvalidRequestError", err)
	}
}

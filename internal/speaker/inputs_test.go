package speaker

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/internal/speaker/decide"
)

func lbService(ns, name string, class *string, etp corev1.ServiceExternalTrafficPolicy, ips ...string) corev1.Service {
	s := corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: class, ExternalTrafficPolicy: etp},
	}
	for _, ip := range ips {
		s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
	}
	return s
}

func TestToServices(t *testing.T) {
	cluster, local := corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal
	svcs := []corev1.Service{
		lbService("a", "plain", nil, cluster, "10.0.0.1", "fd00::1", "10.0.0.1", "::ffff:10.0.0.2", "not-an-ip", "fe80::1%eth0"),
		lbService("a", "local", nil, local, "10.0.0.3"),
		lbService("a", "classy", ptr.To("other"), cluster, "10.0.0.4"),
		lbService("a", "pending", nil, cluster),
		{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "clusterip"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP}},
	}
	eps := map[string][]string{"a/local": {"n1"}, "a/plain": {"n9"}}
	got, byKey := toServices(svcs, "", eps)
	want := []decide.Service{
		{Key: "a/plain", IPs: []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("fd00::1"), netip.MustParseAddr("10.0.0.2")}},
		{Key: "a/local", IPs: []netip.Addr{netip.MustParseAddr("10.0.0.3")}, Local: true, EndpointNodes: []string{"n1"}},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("services (-want +got):\n%s", diff)
	}
	if len(byKey) != 2 || byKey["a/local"].Name != "local" {
		t.Errorf("by key: %v", byKey)
	}
	got, _ = toServices(svcs, "other", eps)
	if len(got) != 1 || got[0].Key != "a/classy" {
		t.Errorf("class other: %+v", got)
	}
}

func TestReadyEndpointNodes(t *testing.T) {
	ep := func(node string, ready *bool) discoveryv1.Endpoint {
		e := discoveryv1.Endpoint{Conditions: discoveryv1.EndpointConditions{Ready: ready}}
		if node != "" {
			e.NodeName = ptr.To(node)
		}
		return e
	}
	slice := func(ns, svc string, eps ...discoveryv1.Endpoint) discoveryv1.EndpointSlice {
		s := discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: svc + "-x"}, Endpoints: eps}
		if svc != "" {
			s.Labels = map[string]string{discoveryv1.LabelServiceName: svc}
		}
		return s
	}
	got := readyEndpointNodes([]discoveryv1.EndpointSlice{
		slice("a", "web", ep("n2", nil), ep("n1", ptr.To(true)), ep("n3", ptr.To(false)), ep("", nil)),
		slice("a", "web", ep("n4", nil), ep("n1", nil)),
		slice("b", "web", ep("n5", nil)),
		slice("a", "", ep("n6", nil)),
		slice("a", "none", ep("n7", ptr.To(false))),
	})
	want := map[string][]string{"a/web": {"n1", "n2", "n4"}, "b/web": {"n5"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ready nodes (-want +got):\n%s", diff)
	}
}

func TestToNode(t *testing.T) {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{"a": "b"},
			Annotations: map[string]string{AnnotationL2Subnets: `{"eth0":["10.0.0.5/24"]}`}},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionTrue}},
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeHostName, Address: "n1"},
				{Type: corev1.NodeInternalIP, Address: "fd00::5"},
				{Type: corev1.NodeInternalIP, Address: "10.0.0.5"},
			},
		},
	}
	d, err := toNode(n)
	if err != nil {
		t.Fatal(err)
	}
	want := decide.Node{Name: "n1", Labels: n.Labels, NetworkUnavailable: true,
		Interfaces: []decide.Interface{{Name: "eth0", Prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}}}}
	if diff := cmp.Diff(want, d, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("node (-want +got):\n%s", diff)
	}
	if ip := internalIP(n); ip != netip.MustParseAddr("10.0.0.5") {
		t.Errorf("internal IP %s, want the IPv4 one", ip)
	}
	n.Status.Addresses = n.Status.Addresses[:2]
	if ip := internalIP(n); ip != netip.MustParseAddr("fd00::5") {
		t.Errorf("internal IP %s, want the IPv6 one", ip)
	}

	n.Annotations[AnnotationL2Subnets] = "garbage"
	if d, err := toNode(n); err == nil || d.Interfaces != nil {
		t.Errorf("a bad annotation: %+v, %v", d.Interfaces, err)
	}
	delete(n.Annotations, AnnotationL2Subnets)
	if d, err := toNode(n); err != nil || d.Interfaces != nil {
		t.Errorf("no annotation: %+v, %v", d.Interfaces, err)
	}
}

func TestL2SubnetsAnnotation(t *testing.T) {
	ifs := []decide.Interface{
		{Name: "eth1", Prefixes: []netip.Prefix{}},
		{Name: "eth0", Prefixes: []netip.Prefix{netip.MustParsePrefix("fd00::7/64"), netip.MustParsePrefix("10.0.0.7/24"), netip.MustParsePrefix("10.0.0.0/24")}},
	}
	got := EncodeL2Subnets(ifs)
	want := `{"eth0":["10.0.0.0/24","fd00::/64"],"eth1":[]}`
	if got != want {
		t.Errorf("encoded %s, want %s", got, want)
	}
	back, err := DecodeL2Subnets(got)
	if err != nil {
		t.Fatal(err)
	}
	if again := EncodeL2Subnets(back); again != want {
		t.Errorf("round trip %s, want %s", again, want)
	}
	if back[0].Name != "eth0" || back[1].Name != "eth1" || len(back[0].Prefixes) != 2 {
		t.Errorf("decoded %+v", back)
	}
	for _, bad := range []string{"", "[]", `{"eth0":"10.0.0.0/24"}`, `{"eth0":["10.0.0.0"]}`} {
		if _, err := DecodeL2Subnets(bad); err == nil || !strings.Contains(err.Error(), AnnotationL2Subnets) {
			t.Errorf("%q: error %v, want one naming the annotation", bad, err)
		}
	}
}

func TestScanInterfaces(t *testing.T) {
	ifs, err := scanInterfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		if i.Name == "lo" || skippedInterface(i.Name) {
			t.Errorf("scan lists %s", i.Name)
		}
		for _, p := range i.Prefixes {
			if p != p.Masked() || !p.Addr().IsGlobalUnicast() {
				t.Errorf("%s: prefix %s is not a masked global unicast subnet", i.Name, p)
			}
		}
	}
	if !slices.IsSortedFunc(ifs, func(a, b decide.Interface) int { return strings.Compare(a.Name, b.Name) }) {
		t.Errorf("not sorted: %+v", ifs)
	}
	for name, want := range map[string]bool{"veth1234": true, "cali0": true, "kube-ipvs0": true, "eth0": false, "bond0.100": false, "br0": false} {
		if got := skippedInterface(name); got != want {
			t.Errorf("skippedInterface(%s) = %v", name, got)
		}
	}
}

package migrate

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/ironlb/ironlb/internal/config"
)

// cr reads one MetalLB object as the dynamic client returns it.
func cr(t *testing.T, doc string) unstructured.Unstructured {
	t.Helper()
	var u unstructured.Unstructured
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

// liveSource is a MetalLB 0.16 installation as read from a cluster: what
// the API server adds (uid, resourceVersion, managedFields, status) and
// kubectl's last-applied copy included.
func liveSource(t *testing.T) *Source {
	return &Source{
		Namespace: "metallb-system",
		CRs: []unstructured.Unstructured{
			cr(t, `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: lab
  namespace: metallb-system
  uid: 0f6c1c1e-0000-4000-8000-000000000001
  resourceVersion: "812"
  generation: 3
  labels: {team: net}
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"the":"old manifest"}'
    note: kept
  managedFields: [{manager: kubectl, operation: Apply}]
spec:
  addresses: [10.0.0.0/30, "fd00::/126"]
  autoAssign: true
status:
  assignedIPv4: 1
`),
			cr(t, `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: reserved, namespace: metallb-system}
spec:
  addresses: [10.0.1.0/31]
  autoAssign: false
`),
			cr(t, `apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: all, namespace: metallb-system}
`),
			cr(t, `apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: router, namespace: metallb-system}
spec:
  myASN: 64513
  peerASN: 64512
  peerAddress: 10.0.9.1
  passwordSecret: {name: bgp-pass, namespace: metallb-system}
`),
		},
		Secrets: []corev1.Secret{{
			ObjectMeta: metav1.ObjectMeta{Name: "bgp-pass", Namespace: "metallb-system", UID: "x", ResourceVersion: "9"},
			Type:       corev1.SecretTypeBasicAuth,
			Data:       map[string][]byte{"password": []byte("s3cret")},
		}},
		Services: []corev1.Service{
			lbService("default", "web", nil, nil, "10.0.0.1", "fd00::1"),
			lbService("default", "picky", map[string]string{"metallb.universe.tf/address-pool": "reserved"}, nil, "10.0.1.0"),
			lbService("default", "stray", nil, nil, "192.0.2.7"),
			lbService("default", "wrongpool", map[string]string{"metallb.io/address-pool": "reserved"}, nil, "10.0.0.2"),
			lbService("other", "classy", nil, ptr("example.com/lb"), "10.0.0.3"),
			lbService("default", "pending", nil, nil),
			{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "plain"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP}},
		},
		Workloads: []string{"deployment/controller", "daemonset/speaker"},
	}
}

func ptr[T any](v T) *T { return &v }

func lbService(ns, name string, ann map[string]string, class *string, ips ...string) corev1.Service {
	s := corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: ann},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: class},
	}
	for _, ip := range ips {
		s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
	}
	return s
}

func TestConvertCRs(t *testing.T) {
	p := Convert(liveSource(t), "ironlb-system")
	if len(p.Problems) > 0 {
		t.Fatalf("problems: %v", p.Problems)
	}
	if len(p.Objects.IPAddressPools) != 2 || len(p.Objects.L2Advertisements) != 1 || len(p.Objects.BGPPeers) != 1 {
		t.Fatalf("objects: %d pools, %d L2Advertisements, %d peers", len(p.Objects.IPAddressPools), len(p.Objects.L2Advertisements), len(p.Objects.BGPPeers))
	}
	pool := p.Objects.IPAddressPools[0]
	if pool.APIVersion != "ironlb.io/v1beta1" || pool.Namespace != "ironlb-system" || pool.Name != "lab" {
		t.Errorf("pool %s %s/%s, want ironlb.io/v1beta1 ironlb-system/lab", pool.APIVersion, pool.Namespace, pool.Name)
	}
	if pool.UID != "" || pool.ResourceVersion != "" || len(pool.ManagedFields) > 0 {
		t.Errorf("pool carries the old cluster's identity: uid %q, resourceVersion %q, managedFields %v", pool.UID, pool.ResourceVersion, pool.ManagedFields)
	}
	if pool.Labels["team"] != "net" || pool.Annotations["note"] != "kept" || pool.Annotations[lastApplied] != "" {
		t.Errorf("pool labels %v annotations %v: want the user's kept and kubectl's last-applied copy dropped", pool.Labels, pool.Annotations)
	}
	m, err := config.Manifest(&pool)
	if err != nil {
		t.Fatal(err)
	}
	md := m["metadata"].(map[string]any)
	if _, ok := md["generation"]; ok {
		t.Errorf("manifest metadata %v: a generation is the API server's", md)
	}
	if _, ok := m["status"]; ok {
		t.Errorf("manifest has a status: %v", m["status"])
	}
	peer := p.Objects.BGPPeers[0]
	if peer.Spec.PasswordSecret == nil || peer.Spec.PasswordSecret.Namespace != "ironlb-system" {
		t.Errorf("BGPPeer passwordSecret %+v: want it to follow the Secret to ironlb-system", peer.Spec.PasswordSecret)
	}
	if len(p.Secrets) != 1 || p.Secrets[0].Namespace != "ironlb-system" || p.Secrets[0].UID != "" || string(p.Secrets[0].Data["password"]) != "s3cret" || p.Secrets[0].Type != corev1.SecretTypeBasicAuth {
		t.Errorf("Secrets %+v: want bgp-pass copied to ironlb-system without its identity", p.Secrets)
	}
}

// TestConvertServices: what happens to each Service's addresses, with the
// reason when one would change.
func TestConvertServices(t *testing.T) {
	p := Convert(liveSource(t), "ironlb-system")
	got := map[string]ServicePlan{}
	for _, s := range p.Services {
		got[s.Namespace+"/"+s.Name] = s
	}
	if len(got) != 5 {
		t.Errorf("%d Services planned, want the 5 LoadBalancer Services with addresses: %+v", len(got), p.Services)
	}
	for name, want := range map[string]struct {
		keeps bool
		pools string
		why   string
	}{
		"default/web":       {true, "lab,lab", ""},
		"default/picky":     {true, "reserved", ""},
		"default/stray":     {false, "", "192.0.2.7 is in no converted pool"},
		"default/wrongpool": {false, "lab", "10.0.0.2 is in pool lab but the Service asks for pool reserved"},
		"other/classy":      {false, "lab", `loadBalancerClass "example.com/lb"`},
	} {
		s, ok := got[name]
		if !ok {
			t.Errorf("%s: not planned", name)
			continue
		}
		if s.Keeps != want.keeps || strings.Join(s.Pools, ",") != want.pools || !strings.Contains(s.Why, want.why) {
			t.Errorf("%s: keeps %v pools %q why %q; want %v %q %q", name, s.Keeps, s.Pools, s.Why, want.keeps, want.pools, want.why)
		}
	}
	if p.KeepsAll() {
		t.Error("KeepsAll with Services that lose addresses")
	}
	if len(p.Workloads) != 2 {
		t.Errorf("workloads %v", p.Workloads)
	}
}

// TestConvertRefuses: what ironlb would refuse is reported, naming the
// object, whether the API server (schema) or ironlb's rules refuse it.
// TestConvertSharingAcrossNamespaces: a pool whose address Services of two
// namespaces share under one key (MetalLB allows it) is converted with
// allowCrossNamespaceSharing, with a note; a pool shared within one
// namespace, or by Services without one key, is not.
func TestConvertSharingAcrossNamespaces(t *testing.T) {
	src := liveSource(t)
	shared := func(key string) map[string]string {
		return map[string]string{"metallb.universe.tf/allow-shared-ip": key}
	}
	src.Services = []corev1.Service{
		lbService("dns", "udp", shared("dns"), nil, "10.0.0.1"),
		lbService("web", "tcp", shared("dns"), nil, "10.0.0.1"),
		lbService("web", "a", shared("web"), nil, "10.0.1.0"),
		lbService("web", "b", shared("web"), nil, "10.0.1.0"),
	}
	p := Convert(src, "ironlb-system")
	if len(p.Problems) > 0 {
		t.Fatalf("problems: %v", p.Problems)
	}
	for _, pool := range p.Objects.IPAddressPools {
		if want := pool.Name == "lab"; pool.Spec.AllowCrossNamespaceSharing != want {
			t.Errorf("pool %s: allowCrossNamespaceSharing %v, want %v", pool.Name, pool.Spec.AllowCrossNamespaceSharing, want)
		}
	}
	var notes []string
	for _, n := range p.Notes {
		if strings.Contains(n, "allowCrossNamespaceSharing") {
			notes = append(notes, n)
		}
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "IPAddressPool lab") || !strings.Contains(notes[0], "10.0.0.1 (namespaces dns, web)") {
		t.Errorf("notes %q: want one naming pool lab, 10.0.0.1 and both namespaces", notes)
	}
}

func TestConvertRefuses(t *testing.T) {
	src := &Source{Namespace: "metallb-system", CRs: []unstructured.Unstructured{
		cr(t, `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: a, namespace: metallb-system}
spec: {addresses: [10.0.0.0/24]}
`),
		cr(t, `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: b, namespace: metallb-system}
spec: {addresses: [10.0.0.128/25]}
`),
		cr(t, `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: c, namespace: metallb-system}
spec: {addresses: [10.0.0.0/24], unknownField: 1}
`),
		cr(t, `apiVersion: metallb.io/v1beta1
kind: AddressPool
metadata: {name: old, namespace: metallb-system}
spec: {protocol: layer2, addresses: [10.9.0.0/24]}
`),
	}}
	p := Convert(src, "")
	if p.To != config.DefaultNamespace {
		t.Errorf("default namespace %q", p.To)
	}
	all := ""
	for _, pr := range p.Problems {
		all += pr.Error() + "\n"
	}
	for _, want := range []string{"IPAddressPool", "unknownField", "overlap", "AddressPool is MetalLB's removed kind"} {
		if !strings.Contains(all, want) {
			t.Errorf("problems do not mention %q:\n%s", want, all)
		}
	}
}

func TestConvertLegacyConfigMap(t *testing.T) {
	src := &Source{
		Namespace: "metallb-system",
		ConfigMap: &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: "metallb-system", Name: "config"},
			Data: map[string]string{"config": `address-pools:
- name: default
  protocol: layer2
  addresses:
  - 192.168.1.240/28
`},
		},
		Services: []corev1.Service{lbService("default", "web", nil, nil, "192.168.1.241")},
	}
	p := Convert(src, "ironlb-system")
	if len(p.Problems) > 0 {
		t.Fatalf("problems: %v", p.Problems)
	}
	if len(p.Objects.IPAddressPools) != 1 || p.Objects.IPAddressPools[0].Namespace != "ironlb-system" || len(p.Objects.L2Advertisements) != 1 {
		t.Fatalf("objects %+v", p.Objects)
	}
	if !p.KeepsAll() || p.Services[0].Pools[0] != p.Objects.IPAddressPools[0].Name {
		t.Errorf("services %+v: want web kept in the converted pool", p.Services)
	}
}

func TestSecretNames(t *testing.T) {
	crs := []unstructured.Unstructured{
		cr(t, `{apiVersion: metallb.io/v1beta2, kind: BGPPeer, metadata: {name: a}, spec: {passwordSecret: {name: s2}}}`),
		cr(t, `{apiVersion: metallb.io/v1beta2, kind: BGPPeer, metadata: {name: b}, spec: {passwordSecret: {name: s1, namespace: metallb-system}}}`),
		cr(t, `{apiVersion: metallb.io/v1beta2, kind: BGPPeer, metadata: {name: c}, spec: {passwordSecret: {name: s3, namespace: elsewhere}}}`),
		cr(t, `{apiVersion: metallb.io/v1beta2, kind: BGPPeer, metadata: {name: d}, spec: {passwordSecret: {name: s1}}}`),
		cr(t, `{apiVersion: metallb.io/v1beta1, kind: IPAddressPool, metadata: {name: e}, spec: {passwordSecret: {name: nope}}}`),
	}
	if got := strings.Join(SecretNames(crs, "metallb-system"), ","); got != "s1,s2" {
		t.Errorf("SecretNames = %q, want s1,s2", got)
	}
}

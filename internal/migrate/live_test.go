package migrate

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
)

// listKinds are the list kinds of the resources Read and Diff ask the
// (fake) dynamic client for.
func listKinds() map[schema.GroupVersionResource]string {
	out := map[schema.GroupVersionResource]string{}
	for _, r := range metallbResources {
		for _, v := range r.versions {
			out[schema.GroupVersionResource{Group: "metallb.io", Version: v, Resource: r.resource}] = "List"
		}
	}
	for _, res := range plurals {
		out[schema.GroupVersionResource{Group: "ironlb.io", Version: "v1beta1", Resource: res}] = "List"
	}
	out[corev1.SchemeGroupVersion.WithResource("secrets")] = "SecretList"
	return out
}

// TestRead: the pure logic around the API calls — which namespace, which
// versions, which Secrets, which Services. (Reading a real MetalLB is
// proven by e2e's TestMetalLB.)
func TestRead(t *testing.T) {
	pool := cr(t, `{apiVersion: metallb.io/v1beta1, kind: IPAddressPool, metadata: {name: lab, namespace: metallb-system}, spec: {addresses: [10.0.0.0/30]}}`)
	other := cr(t, `{apiVersion: metallb.io/v1beta1, kind: IPAddressPool, metadata: {name: elsewhere, namespace: default}, spec: {addresses: [10.1.0.0/30]}}`)
	peer := cr(t, `{apiVersion: metallb.io/v1beta2, kind: BGPPeer, metadata: {name: r, namespace: metallb-system}, spec: {myASN: 1, peerASN: 2, peerAddress: 10.0.9.1, passwordSecret: {name: pass}}}`)
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds(), &pool, &other, &peer)
	web := lbService("default", "web", nil, nil, "10.0.0.1")
	cs := fake.NewClientset(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "metallb-system", Name: "config"}, Data: map[string]string{"config": "address-pools: []\n"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "metallb-system", Name: "pass"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "metallb-system", Name: "unrelated"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "metallb-system", Name: "controller"}},
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "metallb-system", Name: "speaker"}},
		&web,
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "cluster"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP}},
	)
	src, err := Read(context.Background(), cs, dyn, "metallb-system")
	if err != nil {
		t.Fatal(err)
	}
	if src.ConfigMap == nil || len(src.CRs) != 2 || len(src.Secrets) != 1 || src.Secrets[0].Name != "pass" || len(src.Services) != 1 {
		t.Errorf("read: ConfigMap %v, %d CRs, Secrets %v, %d Services", src.ConfigMap != nil, len(src.CRs), src.Secrets, len(src.Services))
	}
	if strings.Join(src.Workloads, ",") != "deployment/controller,daemonset/speaker" {
		t.Errorf("workloads %v", src.Workloads)
	}
}

// TestDiff: an object the cluster lacks is created; one equal to the plan
// but for what the API server adds (defaults, status, metadata) is
// unchanged; one whose spec differs is an update, with the difference
// shown — but never a Secret's data.
func TestDiff(t *testing.T) {
	existing := cr(t, `apiVersion: ironlb.io/v1beta1
kind: IPAddressPool
metadata: {name: same, namespace: ironlb-system, uid: u1, resourceVersion: "5", generation: 2}
spec: {addresses: [10.0.0.0/30], autoAssign: true, avoidBuggyIPs: false}
status: {assignedIPv4: 1}
`)
	changed := cr(t, `apiVersion: ironlb.io/v1beta1
kind: IPAddressPool
metadata: {name: changed, namespace: ironlb-system}
spec: {addresses: [10.0.0.4/30]}
`)
	secret := cr(t, `{apiVersion: v1, kind: Secret, metadata: {name: pass, namespace: ironlb-system}, data: {password: b2xk}}`)
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds(), &existing, &changed, &secret)
	want := []*unstructured.Unstructured{
		ptr(cr(t, `{apiVersion: v1, kind: Secret, metadata: {name: pass, namespace: ironlb-system}, data: {password: bmV3}}`)),
		ptr(cr(t, `{apiVersion: ironlb.io/v1beta1, kind: IPAddressPool, metadata: {name: same, namespace: ironlb-system}, spec: {addresses: [10.0.0.0/30]}}`)),
		ptr(cr(t, `{apiVersion: ironlb.io/v1beta1, kind: IPAddressPool, metadata: {name: changed, namespace: ironlb-system}, spec: {addresses: [10.0.0.0/30]}}`)),
		ptr(cr(t, `{apiVersion: ironlb.io/v1beta1, kind: L2Advertisement, metadata: {name: new, namespace: ironlb-system}, spec: {}}`)),
	}
	changes, err := Diff(context.Background(), dyn, want)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Change{}
	for _, c := range changes {
		got[c.Kind+"/"+c.Name] = c
	}
	for key, action := range map[string]string{"Secret/pass": "update", "IPAddressPool/same": "unchanged", "IPAddressPool/changed": "update", "L2Advertisement/new": "create"} {
		if got[key].Action != action {
			t.Errorf("%s: %q, want %q (%s)", key, got[key].Action, action, got[key].Diff)
		}
	}
	if d := got["IPAddressPool/changed"].Diff; !strings.Contains(d, "10.0.0.4/30") || !strings.Contains(d, "10.0.0.0/30") {
		t.Errorf("update diff does not show both address lists:\n%s", d)
	}
	if d := got["Secret/pass"].Diff; strings.Contains(d, "b2xk") || strings.Contains(d, "bmV3") {
		t.Errorf("a Secret's data shown: %s", d)
	}
}

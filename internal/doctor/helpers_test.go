package doctor

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/speaker"
)

// now is the Input.Now of the tests.
var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

const ns = "ironlb-system"

// node is a Node with labels, the l2-subnets annotation (subnets "" for
// none), addresses and Pod CIDRs.
func node(name, subnets string, labels map[string]string, addrs []string, podCIDRs ...string) corev1.Node {
	n := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: map[string]string{}}}
	if subnets != "" {
		n.Annotations[speaker.AnnotationL2Subnets] = subnets
	}
	for _, a := range addrs {
		n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: a})
	}
	n.Spec.PodCIDRs = podCIDRs
	return n
}

func pool(name string, addrs ...string) v1beta1.IPAddressPool {
	return v1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: v1beta1.IPAddressPoolSpec{Addresses: addrs}}
}

func l2(name string, pools []string, sel ...metav1.LabelSelector) v1beta1.L2Advertisement {
	return v1beta1.L2Advertisement{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1beta1.L2AdvertisementSpec{IPAddressPools: pools, NodeSelectors: sel}}
}

// input is an Input with every part gathered.
func input(objs config.Objects, nodes ...corev1.Node) *Input {
	in := &Input{Config: config.Input{Namespace: ns, Objects: objs}, Nodes: nodes, Now: now, Gathered: map[Part]bool{}}
	for _, p := range []Part{PartNodes, PartKubeProxy, PartServiceCIDRs, PartServices, PartWorkloads, PartPods, PartCRDs, PartEvents} {
		in.Gathered[p] = true
	}
	return in
}

// only runs one check on in and returns its findings, each as
// "severity check object: message".
func only(t *testing.T, run func(*checker), in *Input) []string {
	t.Helper()
	c := &checker{in: in, res: config.Build(in.Config)}
	run(c)
	var out []string
	for _, f := range c.out {
		out = append(out, string(f.Severity)+" "+f.Check+" "+f.Object.String()+": "+f.Message)
	}
	return out
}

// match checks that got has one finding per want entry, each holding
// every part of its entry (split on "|"), in order.
func match(t *testing.T, got []string, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d findings, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		for _, part := range strings.Split(w, "|") {
			if !strings.Contains(got[i], part) {
				t.Errorf("finding %d lacks %q:\n%s", i, part, got[i])
			}
		}
	}
}

func sel(k, v string) metav1.LabelSelector {
	return metav1.LabelSelector{MatchLabels: map[string]string{k: v}}
}

func serviceCIDR(name string, cidrs ...string) networkingv1.ServiceCIDR {
	return networkingv1.ServiceCIDR{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: networkingv1.ServiceCIDRSpec{CIDRs: cidrs}}
}

func externalIP(n corev1.Node, addr string) corev1.Node {
	n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: addr})
	return n
}

package testenv_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestStart checks a private control plane: the API server reports a release
// version (so the build's version flags took), and kubectl reaches it through
// the kubeconfig file.
func TestStart(t *testing.T) {
	e := testenv.Start(t)
	cs, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("server version: %v", err)
	}
	if !regexp.MustCompile(`^v1\.[0-9]+\.[0-9]+$`).MatchString(v.GitVersion) {
		t.Errorf("server version %q, want a release version like v1.37.2", v.GitVersion)
	}
	out, err := e.Kubectl(t.Context(), nil, "get", "namespace", "default", "-o", "name")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "namespace/default" {
		t.Errorf("kubectl get namespace default = %q, want namespace/default", got)
	}
}

// TestServiceLoadBalancerStatus writes what the ironlb controller writes, a
// LoadBalancer ingress with ipMode VIP, and reads it back through the client
// and through kubectl.
func TestServiceLoadBalancerStatus(t *testing.T) {
	t.Parallel()
	e := testenv.Shared(t)
	ctx := t.Context()
	ns := e.NewNamespace(t)

	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: corev1.ServiceSpec{
			Type:  corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
		},
	}
	if err := e.Client.Create(ctx, svc); err != nil {
		t.Fatalf("creating Service %s/web: %v", ns, err)
	}
	vip := corev1.LoadBalancerIPModeVIP
	want := []corev1.LoadBalancerIngress{{IP: "192.0.2.10", IPMode: &vip}}
	base := svc.DeepCopy()
	svc.Status.LoadBalancer.Ingress = want
	if err := e.Client.Status().Patch(ctx, svc, client.MergeFrom(base)); err != nil {
		t.Fatalf("patching status of Service %s/web: %v", ns, err)
	}

	var got corev1.Service
	if err := e.Client.Get(ctx, client.ObjectKeyFromObject(svc), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got.Status.LoadBalancer.Ingress); diff != "" {
		t.Errorf("status.loadBalancer.ingress (-want +got):\n%s", diff)
	}
	out, err := e.Kubectl(ctx, nil, "get", "service", "web", "-n", ns,
		"-o", "jsonpath={.status.loadBalancer.ingress[0].ip} {.status.loadBalancer.ingress[0].ipMode}")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(out); got != "192.0.2.10 VIP" {
		t.Errorf("kubectl jsonpath = %q, want %q", got, "192.0.2.10 VIP")
	}
}

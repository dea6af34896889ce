package main

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/testenv"
	"github.com/ironlb/ironlb/internal/testkit"
)

func TestControllerFlagDefaults(t *testing.T) {
	t.Setenv(namespaceEnv, "from-env")
	cmd := newControllerCommand()
	want := map[string]string{
		"namespace":                 "from-env",
		"config-map":                "",
		"lb-class":                  "",
		"memberlist-secret":         "",
		"keep-memberlist-secret":    "false",
		"leader-elect":              "true",
		"health-probe-bind-address": ":8081",
		"pprof-bind-address":        "0",
		"metrics-bind-address":      ":7472",
		"metrics-secure":            "true",
		"metrics-cert-dir":          "",
		"enable-http2":              "false",
		"webhook-port":              "0",
		"webhook-service":           "ironlb-webhook",
		"webhook-configuration":     "ironlb-validating-webhook",
		"kube-api-qps":              "200",
		"kube-api-burst":            "400",
		"kubeconfig":                "",
	}
	checkFlagDefaults(t, cmd, want)
}

func TestControllerBadKubeconfig(t *testing.T) {
	root := newRootCommand()
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	missing := filepath.Join(t.TempDir(), "nope")
	root.SetArgs([]string{"controller", "--kubeconfig", missing})
	err := root.ExecuteContext(t.Context())
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("error %v, want one naming %s", err, missing)
	}
}

// TestControllerCommand runs `ironlb controller` against a real API server,
// as its ServiceAccount with the generated role: it serves /healthz,
// /readyz and /metrics (over HTTPS, to readers the API server allows:
// checkSecureMetrics), gives a Service its address, and stops cleanly when
// its context ends.
//
// Seen failing with the controller's role lacking tokenreviews create:
// "waiting for metrics over HTTPS with the reader's token: status 500:
// Authentication failed".
func TestControllerCommand(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	ns := env.NewNamespace(t)
	createPool(t, env, ns, "10.70.0.0/30")
	health, metrics := freeAddr(t), freeAddr(t)
	readers := newMetricsReaders(t, env, ns)
	kubeconfig := kubeconfigAs(t, env, env.AsServiceAccount(t, ns, "ironlb-controller", []string{roleFile("controller")}, nil))

	// SIGTERM is how Kubernetes stops a Pod: the controller must release
	// its Lease and exit 0.
	stop := startCommand(t, "controller", "--log-level", "warn", "--kubeconfig", kubeconfig, "--namespace", ns,
		"--health-probe-bind-address", health, "--metrics-bind-address", metrics)
	defer func() {
		stop()
		lease := &coordinationv1.Lease{}
		if err := env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "ironlb-controller"}, lease); err != nil {
			t.Errorf("reading the leader-election Lease: %v", err)
		} else if h := lease.Spec.HolderIdentity; h != nil && *h != "" {
			t.Errorf("the Lease is still held by %q after the controller stopped", *h)
		}
	}()

	svc := createWeb(t, env, ns)
	poll(t, "the Service's address", func() error {
		if err := env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "web"}, svc); err != nil {
			return err
		}
		if len(svc.Status.LoadBalancer.Ingress) == 0 || svc.Status.LoadBalancer.Ingress[0].IP != "10.70.0.0" {
			return fmt.Errorf("ingress %+v", svc.Status.LoadBalancer.Ingress)
		}
		return nil
	})
	for _, path := range []string{"/healthz", "/readyz"} {
		poll(t, path, func() error { _, err := get(ctx, "http://"+health+path); return err })
	}
	checkSecureMetrics(t, readers, metrics, `ironlb_allocator_addresses_in_use{family="IPv4",pool="default"} 1`)
}

// TestControllerWaitsForAPIServer starts `ironlb controller` while its API
// server cannot be reached (its kubeconfig names a port nothing listens on
// yet): it must wait, not exit — in a cluster an exit means the kubelet's
// crash-loop back-off, minutes of delay after the API server returns —
// and give a Service its address once a forwarder to the API server opens
// on that port.
//
// Seen failing without waitForAPIServer: "waiting for the Service's
// address: ingress []", the child having exited with "creating the
// manager: failed to determine if *v1.Secret is namespaced: ...".
func TestControllerWaitsForAPIServer(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	ns := env.NewNamespace(t)
	createPool(t, env, ns, "10.71.0.0/30")
	late := freeAddr(t)
	u, err := url.Parse(env.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := editKubeconfig(t, env, func(kc *clientcmdapi.Config) {
		for _, c := range kc.Clusters {
			c.Server = "https://" + late
			c.TLSServerName = u.Hostname()
		}
	})
	stop := startCommand(t, "controller", "--log-level", "warn", "--kubeconfig", kubeconfig, "--namespace", ns,
		"--health-probe-bind-address", "0", "--metrics-bind-address", "0", "--leader-elect=false")
	defer stop()

	svc := createWeb(t, env, ns)
	time.Sleep(3 * time.Second) // a few failed attempts (1 s, then 2 s apart)

	// The API server "returns": a forwarder opens on the port.
	ln, err := net.Listen("tcp", late)
	if err != nil {
		t.Fatalf("listening on %s: %v", late, err)
	}
	t.Cleanup(testkit.Forward(ln, u.Host).Close)
	poll(t, "the Service's address", func() error {
		if err := env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "web"}, svc); err != nil {
			return err
		}
		if len(svc.Status.LoadBalancer.Ingress) == 0 {
			return fmt.Errorf("ingress %+v", svc.Status.LoadBalancer.Ingress)
		}
		return nil
	})
}

// createPool creates IPAddressPool "default" with addrs in ns.
func createPool(t *testing.T, env *testenv.Env, ns string, addrs ...string) {
	t.Helper()
	pool := &v1beta1.IPAddressPool{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "default"},
		Spec:       v1beta1.IPAddressPoolSpec{Addresses: addrs},
	}
	if err := env.Client.Create(t.Context(), pool); err != nil {
		t.Fatal(err)
	}
}

// createWeb creates LoadBalancer Service "web" (port 80, no NodePorts) in
// ns and returns it.
func createWeb(t *testing.T, env *testenv.Env, ns string) *corev1.Service {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: corev1.ServiceSpec{
			Type:                          corev1.ServiceTypeLoadBalancer,
			AllocateLoadBalancerNodePorts: ptr.To(false),
			Ports:                         []corev1.ServicePort{{Port: 80}},
		},
	}
	if err := env.Client.Create(t.Context(), svc); err != nil {
		t.Fatal(err)
	}
	return svc
}

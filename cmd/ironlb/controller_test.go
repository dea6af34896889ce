package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/testenv"
)

func TestControllerFlagDefaults(t *testing.T) {
	t.Setenv(namespaceEnv, "from-env")
	cmd := newControllerCommand()
	want := map[string]string{
		"namespace":                 "from-env",
		"config-map":                "",
		"lb-class":                  "",
		"leader-elect":              "true",
		"health-probe-bind-address": ":8081",
		"metrics-bind-address":      ":7472",
		"metrics-secure":            "false",
		"enable-http2":              "false",
		"kube-api-qps":              "200",
		"kube-api-burst":            "400",
		"kubeconfig":                "",
	}
	for name, def := range want {
		f := cmd.Flags().Lookup(name)
		if f == nil {
			t.Errorf("no --%s flag", name)
			continue
		}
		if f.DefValue != def {
			t.Errorf("--%s defaults to %q, want %q", name, f.DefValue, def)
		}
	}
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

// TestControllerCommand runs `ironlb controller` against a real API server:
// it serves /healthz, /readyz and /metrics, gives a Service its address,
// and stops cleanly when its context ends.
func TestControllerCommand(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	ns := env.NewNamespace(t)
	pool := &v1beta1.IPAddressPool{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "default"},
		Spec:       v1beta1.IPAddressPoolSpec{Addresses: []string{"10.70.0.0/30"}},
	}
	if err := env.Client.Create(ctx, pool); err != nil {
		t.Fatal(err)
	}
	health, metrics := freeAddr(t), freeAddr(t)

	// The controller runs in a child process (this test binary, see
	// TestControllerProcess): a command installs process-wide loggers, and
	// controller-runtime's goroutines outlive a stopped manager, so in this
	// process they would race with the next test's logging set-up.
	args := []string{"controller", "--log-level", "warn", "--kubeconfig", env.Kubeconfig, "--namespace", ns,
		"--health-probe-bind-address", health, "--metrics-bind-address", metrics}
	var stderr strings.Builder
	child := exec.Command(os.Args[0], "-test.run=^TestControllerProcess$", "-test.count=1")
	encoded, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	child.Env = append(os.Environ(), controllerArgsEnv+"="+string(encoded))
	child.Stdout, child.Stderr = &stderr, &stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	defer func() {
		// SIGTERM is how Kubernetes stops a Pod: the controller must
		// release its Lease and exit 0.
		if err := child.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("signalling the controller: %v", err)
		}
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("controller exited with %v:\n%s", err, stderr.String())
			}
		case <-time.After(time.Minute):
			_ = child.Process.Kill()
			t.Errorf("the controller did not stop on SIGTERM:\n%s", stderr.String())
		}
		lease := &coordinationv1.Lease{}
		if err := env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "ironlb-controller"}, lease); err != nil {
			t.Errorf("reading the leader-election Lease: %v", err)
		} else if h := lease.Spec.HolderIdentity; h != nil && *h != "" {
			t.Errorf("the Lease is still held by %q after the controller stopped", *h)
		}
	}()

	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: corev1.ServiceSpec{
			Type:                          corev1.ServiceTypeLoadBalancer,
			AllocateLoadBalancerNodePorts: ptr.To(false),
			Ports:                         []corev1.ServicePort{{Port: 80}},
		},
	}
	if err := env.Client.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
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
	poll(t, "allocator metrics", func() error {
		body, err := get(ctx, "http://"+metrics+"/metrics")
		if err != nil {
			return err
		}
		if !strings.Contains(body, `ironlb_allocator_addresses_in_use{family="IPv4",pool="default"} 1`) {
			return errors.New("no ironlb_allocator_addresses_in_use series for the pool")
		}
		return nil
	})
}

// controllerArgsEnv carries the arguments of the controller child process
// of TestControllerCommand, as a JSON list.
const controllerArgsEnv = "IRONLB_TEST_CONTROLLER_ARGS"

// TestControllerProcess is the child process of TestControllerCommand: it
// runs the root command with the arguments in controllerArgsEnv until
// SIGTERM, as main does.
func TestControllerProcess(t *testing.T) {
	encoded := os.Getenv(controllerArgsEnv)
	if encoded == "" {
		t.Skip("the child process of TestControllerCommand")
	}
	var args []string
	if err := json.Unmarshal([]byte(encoded), &args); err != nil {
		t.Fatalf("%s: %v", controllerArgsEnv, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	root := newRootCommand()
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatalf("ironlb %s: %v", args, err)
	}
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// get fetches a URL and returns its body; a status other than 200 is an
// error.
func get(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s: %s", url, resp.Status, b)
	}
	return string(b), nil
}

// poll retries f until it succeeds, failing the test after a minute.
func poll(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

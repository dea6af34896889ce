package webhook

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/logging"
	"github.com/ironlb/ironlb/internal/testenv"
)

func TestMain(m *testing.M) {
	level := slog.LevelWarn
	if v := os.Getenv("IRONLB_TEST_LOG"); v != "" {
		if l, err := logging.ParseLevel(v); err == nil {
			level = l
		}
	}
	logging.Install(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	testenv.Main(m)
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// startWebhook runs a manager (with cfg's identity) serving only the
// webhook on 127.0.0.1:port and waits until its certificate is served and in the configuration's
// caBundle. It returns a function that stops the manager.
func startWebhook(t *testing.T, env *testenv.Env, cfg *rest.Config, opts Options) (*Webhook, func()) {
	t.Helper()
	begin := time.Now()
	wh, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := manager.New(cfg, manager.Options{
		Scheme:                 env.Scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		WebhookServer:          wh.Server,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Register(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var vwc admissionregistrationv1.ValidatingWebhookConfiguration
		err := env.Client.Get(t.Context(), types.NamespacedName{Name: opts.Configuration}, &vwc)
		if err == nil && wh.Certs.Ready() == nil && len(vwc.Webhooks[0].ClientConfig.CABundle) > 0 {
			if conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", opts.Port)); err == nil {
				_ = conn.Close()
				break
			}
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("the webhook did not become ready (last error %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ready := time.Since(begin)
	// The API server picks the new caBundle up a moment later: until then
	// it fails to call the webhook. A dry run calls it without storing.
	probe := &v1beta1.IPAddressPool{
		ObjectMeta: metav1.ObjectMeta{Namespace: opts.Namespace, Name: "probe"},
		Spec:       v1beta1.IPAddressPoolSpec{Addresses: []string{"192.0.2.1/32"}},
	}
	for {
		err := env.Client.Create(t.Context(), probe.DeepCopy(), client.DryRunAll)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("the API server cannot call the webhook: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("webhook serving %v after New; the API server calls it %v after New",
		ready.Round(time.Millisecond), time.Since(begin).Round(time.Millisecond))
	return wh, stop
}

// TestWebhookOnAPIServer proves that the API server trusts the
// certificates ironlb issues itself and that it refuses, through the
// webhook, what config.Build would exclude.
func TestWebhookOnAPIServer(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	ns := env.NewNamespace(t)
	port := freePort(t)
	opts := Options{
		Port: port, Host: "127.0.0.1", Namespace: ns,
		Configuration: "ironlb-validating-webhook-" + ns,
		ExtraHosts:    []string{"127.0.0.1"},
	}

	// The configuration as the manifests have it, but with a url: envtest
	// has no Service routing. No caBundle: ironlb writes it.
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: opts.Configuration},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:                    "validate.ironlb.io",
			AdmissionReviewVersions: []string{"v1"},
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: ptr.To(fmt.Sprintf("https://127.0.0.1:%d%s", port, Path))},
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			MatchPolicy:             ptr.To(admissionregistrationv1.Equivalent),
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
				Rule: admissionregistrationv1.Rule{
					APIGroups: []string{v1beta1.GroupVersion.Group}, APIVersions: []string{v1beta1.GroupVersion.Version},
					Resources: []string{"ipaddresspools", "l2advertisements", "bgpadvertisements", "bgppeers", "bfdprofiles", "communities"},
					Scope:     ptr.To(admissionregistrationv1.NamespacedScope),
				},
			}},
		}},
	}
	if err := env.Client.Create(ctx, vwc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), vwc) })

	// The manager runs with exactly the RBAC of the install manifests.
	cfg := asController(t, env, ns, opts.Configuration)
	wh, stop := startWebhook(t, env, cfg, opts)
	secretKey := types.NamespacedName{Namespace: ns, Name: DefaultSecret}
	var first corev1.Secret
	if err := env.Client.Get(ctx, secretKey, &first); err != nil {
		t.Fatalf("the certificate Secret: %v", err)
	}
	if first.Type != corev1.SecretTypeTLS {
		t.Errorf("Secret type %s, want %s", first.Type, corev1.SecretTypeTLS)
	}
	checkCABundle(t, env, opts.Configuration, first.Data[SecretCAKey])

	newPool := func(name string, addrs ...string) *v1beta1.IPAddressPool {
		return &v1beta1.IPAddressPool{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec:       v1beta1.IPAddressPoolSpec{Addresses: addrs},
		}
	}
	t.Run("valid pool accepted", func(t *testing.T) {
		if err := env.Client.Create(ctx, newPool("first", "10.80.0.0/24")); err != nil {
			t.Fatalf("creating a valid pool: %v", err)
		}
	})
	t.Run("overlapping pool refused", func(t *testing.T) {
		err := env.Client.Create(ctx, newPool("second", "10.80.0.128/25"))
		t.Logf("create: %v", err)
		if !apierrors.IsForbidden(err) {
			t.Fatalf("error %v, want Forbidden from the webhook", err)
		}
		for _, want := range []string{`IPAddressPool "second"`, `spec.addresses[0] "10.80.0.128/25"`, `overlaps 10.80.0.0/24 of IPAddressPool "first"`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%q lacks %q", err, want)
			}
		}
	})
	t.Run("kubectl shows the reason", func(t *testing.T) {
		manifest := fmt.Sprintf(`apiVersion: ironlb.io/v1beta1
kind: IPAddressPool
metadata:
  name: third
  namespace: %s
spec:
  addresses:
  - 10.80.0.10-10.80.0.20
`, ns)
		out, err := env.Kubectl(ctx, strings.NewReader(manifest), "apply", "--server-side", "-f", "-")
		t.Logf("kubectl: %s", bytes.TrimSpace(out))
		if err == nil {
			t.Fatal("kubectl apply of an overlapping pool succeeded")
		}
		for _, want := range []string{"denied the request", `spec.addresses[0] "10.80.0.10-10.80.0.20"`, "make the pools disjoint"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("kubectl output lacks %q", want)
			}
		}
	})
	t.Run("advertisement of a missing pool refused", func(t *testing.T) {
		adv := &v1beta1.BGPAdvertisement{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "adv"},
			Spec:       v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"missing"}},
		}
		err := env.Client.Create(ctx, adv)
		t.Logf("create: %v", err)
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `spec.ipAddressPools[0] "missing"`) {
			t.Fatalf("error %v, want Forbidden naming spec.ipAddressPools[0]", err)
		}
		adv.Spec.IPAddressPools = []string{"first"}
		if err := env.Client.Create(ctx, adv); err != nil {
			t.Fatalf("creating an advertisement of an existing pool: %v", err)
		}
	})
	t.Run("status writes are not judged", func(t *testing.T) {
		p := &v1beta1.IPAddressPool{}
		if err := env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "first"}, p); err != nil {
			t.Fatal(err)
		}
		p.Status.AvailableIPv4 = 256
		if err := env.Client.Status().Update(ctx, p); err != nil {
			t.Fatalf("status update: %v", err)
		}
	})
	stop()
	if err := wh.Certs.Ready(); err != nil {
		t.Errorf("the stopped webhook's certificate: %v", err)
	}

	// A second start (a restart, or another replica) reuses the Secret.
	opts.Port = freePort(t)
	vwcNow := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := env.Client.Get(ctx, types.NamespacedName{Name: opts.Configuration}, vwcNow); err != nil {
		t.Fatal(err)
	}
	vwcNow.Webhooks[0].ClientConfig.URL = ptr.To(fmt.Sprintf("https://127.0.0.1:%d%s", opts.Port, Path))
	if err := env.Client.Update(ctx, vwcNow); err != nil {
		t.Fatal(err)
	}
	_, stop = startWebhook(t, env, cfg, opts)
	defer stop()
	var second corev1.Secret
	if err := env.Client.Get(ctx, secretKey, &second); err != nil {
		t.Fatal(err)
	}
	if second.UID != first.UID || second.ResourceVersion != first.ResourceVersion {
		t.Errorf("the Secret changed on the second start: uid %s -> %s, resourceVersion %s -> %s",
			first.UID, second.UID, first.ResourceVersion, second.ResourceVersion)
	}
	checkCABundle(t, env, opts.Configuration, first.Data[SecretCAKey])
	if err := env.Client.Create(ctx, &v1beta1.IPAddressPool{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fourth"},
		Spec:       v1beta1.IPAddressPoolSpec{Addresses: []string{"10.80.1.0/24"}},
	}); err != nil {
		t.Fatalf("creating a valid pool after the restart: %v", err)
	}
	err := env.Client.Create(ctx, &v1beta1.IPAddressPool{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fifth"},
		Spec:       v1beta1.IPAddressPoolSpec{Addresses: []string{"10.80.1.7/32"}},
	})
	if !apierrors.IsForbidden(err) {
		t.Errorf("overlapping pool after the restart: %v, want Forbidden", err)
	}

	// Renewal, 20 days before expiry, with the same RBAC: the Secret and
	// the caBundle are updated, the old CA stays trusted.
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	renewer := &Certificates{
		Reader: c, Writer: c, Secret: secretKey, Hosts: opts.Hosts(), Configuration: opts.Configuration,
		Now: func() time.Time { return time.Now().Add(CertValidity - 20*24*time.Hour) },
	}
	if _, err := renewer.Sync(ctx); err != nil {
		t.Fatalf("renewing as the controller: %v", err)
	}
	var renewed corev1.Secret
	if err := env.Client.Get(ctx, secretKey, &renewed); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(renewed.Data[SecretCertKey], first.Data[SecretCertKey]) {
		t.Error("the certificate was not renewed")
	}
	if !bytes.Contains(renewed.Data[SecretCAKey], first.Data[SecretCAKey]) {
		t.Error("the renewed ca.crt lacks the previous CA")
	}
	checkCABundle(t, env, opts.Configuration, renewed.Data[SecretCAKey])
}

func checkCABundle(t *testing.T, env *testenv.Env, name string, want []byte) {
	t.Helper()
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	if err := env.Client.Get(t.Context(), client.ObjectKey{Name: name}, &vwc); err != nil {
		t.Fatal(err)
	}
	if got := vwc.Webhooks[0].ClientConfig.CABundle; !bytes.Equal(got, want) {
		t.Errorf("caBundle is not the Secret's ca.crt (%d bytes vs %d)", len(got), len(want))
	}
}

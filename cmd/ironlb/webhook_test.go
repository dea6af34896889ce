package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/internal/testenv"
	"github.com/ironlb/ironlb/internal/webhook"
)

// TestControllerServesWebhook runs `ironlb controller --webhook-port`, as
// the webhook's kustomize component and Helm value do: the command wires
// internal/webhook into the controller's manager, which creates the
// certificate Secret, writes the caBundle, serves the webhook with a
// certificate for ironlb-webhook.<namespace>.svc, and reports ready only
// then.
func TestControllerServesWebhook(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	ns := env.NewNamespace(t)
	addr, health := freeAddr(t), freeAddr(t)
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	cfgName := "ironlb-validating-webhook-" + ns
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: cfgName},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:                    "validate.ironlb.io",
			AdmissionReviewVersions: []string{"v1"},
			ClientConfig: admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{
				Namespace: ns, Name: webhook.DefaultService, Path: ptr.To(webhook.Path),
			}},
			SideEffects: ptr.To(admissionregistrationv1.SideEffectClassNone),
			// Nothing is sent to it: envtest cannot route to a Service.
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: "nowhere-" + ns}},
		}},
	}
	if err := env.Client.Create(ctx, vwc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), vwc) })

	begin := time.Now()
	startCommand(t, "controller", "--log-level", "warn", "--kubeconfig", env.Kubeconfig, "--namespace", ns,
		"--webhook-port", port, "--webhook-configuration", cfgName, "--keep-memberlist-secret",
		"--metrics-bind-address", "0", "--health-probe-bind-address", health)
	poll(t, "the controller ready (webhook certificate served)", func() error { _, err := get(ctx, "http://"+health+"/readyz"); return err })
	t.Logf("controller ready %v after start", time.Since(begin).Round(time.Millisecond))

	var sec corev1.Secret
	if err := env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: webhook.DefaultSecret}, &sec); err != nil {
		t.Fatalf("the certificate Secret: %v", err)
	}
	if err := env.Client.Get(ctx, types.NamespacedName{Name: cfgName}, vwc); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(vwc.Webhooks[0].ClientConfig.CABundle) {
		t.Fatal("the caBundle holds no certificate")
	}
	host := webhook.DefaultService + "." + ns + ".svc"
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: host, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatalf("TLS to the webhook as %s with the caBundle: %v", host, err)
	}
	if p := conn.ConnectionState().NegotiatedProtocol; p == "h2" {
		t.Errorf("negotiated %s; HTTP/2 must be off by default", p)
	}
	_ = conn.Close()
}

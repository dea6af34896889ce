package webhook

import (
	"bytes"
	"context"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/ironlb/ironlb/internal/testenv"
)

// TestCertificatesSync drives Certificates through a fake API server:
// create, keep, renew, and a second replica that finds the Secret.
func TestCertificatesSync(t *testing.T) {
	scheme, err := testenv.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: DefaultConfiguration},
		Webhooks:   []admissionregistrationv1.ValidatingWebhook{{Name: "a.ironlb.io"}, {Name: "b.ironlb.io"}},
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(vwc).Build()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	name := types.NamespacedName{Namespace: "ironlb-system", Name: DefaultSecret}
	newCerts := func() *Certificates {
		return &Certificates{
			Reader: c, Writer: c, Secret: name, Hosts: testHosts, Configuration: DefaultConfiguration,
			Now: func() time.Time { return now },
		}
	}
	ctx := context.Background()
	secret := func() *corev1.Secret {
		var s corev1.Secret
		if err := c.Get(ctx, name, &s); err != nil {
			t.Fatal(err)
		}
		return &s
	}
	checkBundle := func(want []byte) {
		t.Helper()
		var got admissionregistrationv1.ValidatingWebhookConfiguration
		if err := c.Get(ctx, client.ObjectKey{Name: DefaultConfiguration}, &got); err != nil {
			t.Fatal(err)
		}
		for _, w := range got.Webhooks {
			if !bytes.Equal(w.ClientConfig.CABundle, want) {
				t.Errorf("webhook %s: caBundle is not the Secret's ca.crt", w.Name)
			}
		}
	}

	a := newCerts()
	if a.Ready() == nil {
		t.Error("ready before the first sync")
	}
	if ok, err := a.Sync(ctx); err != nil || !ok {
		t.Fatalf("first sync: %v, configured %v", err, ok)
	}
	created := secret()
	if a.Ready() != nil {
		t.Error("not ready after the first sync")
	}
	checkBundle(created.Data[SecretCAKey])

	// Another replica finds the Secret and uses it as it is.
	b := newCerts()
	if _, err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := secret(); got.ResourceVersion != created.ResourceVersion {
		t.Error("the second replica changed the Secret")
	}
	ca, _ := a.GetCertificate(nil)
	cb, _ := b.GetCertificate(nil)
	if !bytes.Equal(ca.Certificate[0], cb.Certificate[0]) {
		t.Error("the replicas serve different certificates")
	}

	// 20 days before expiry: renewed, both CAs in the caBundle.
	now = now.Add(CertValidity - 20*24*time.Hour)
	if _, err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	renewed := secret()
	if bytes.Equal(renewed.Data[SecretCertKey], created.Data[SecretCertKey]) {
		t.Fatal("the certificate was not renewed")
	}
	cas, err := parseCerts(renewed.Data[SecretCAKey])
	if err != nil || len(cas) != 2 {
		t.Errorf("renewed ca.crt holds %d CAs (%v), want the new one and the old one", len(cas), err)
	}
	checkBundle(renewed.Data[SecretCAKey])
	// The other replica picks the renewal up at its next sync.
	if _, err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := secret(); got.ResourceVersion != renewed.ResourceVersion {
		t.Error("the second replica renewed again")
	}
	ca, _ = a.GetCertificate(nil)
	cb, _ = b.GetCertificate(nil)
	if !bytes.Equal(ca.Certificate[0], cb.Certificate[0]) {
		t.Error("the replicas serve different certificates after the renewal")
	}

	// A Secret someone broke is replaced, keeping its type.
	broken := secret()
	broken.Data[SecretKeyKey] = []byte("garbage")
	if err := c.Update(ctx, broken); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if bundle, err := BundleFromSecret(secret().Data); err != nil || bundle.Check(testHosts, now) != nil {
		t.Errorf("the broken Secret was not repaired: %v", err)
	}

	// Without the configuration the certificate is still served.
	if err := c.Delete(ctx, vwc); err != nil {
		t.Fatal(err)
	}
	if ok, err := newCerts().Sync(ctx); err != nil || ok {
		t.Errorf("sync without configuration: %v, configured %v; want nil, false", err, ok)
	}
}

package webhook

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"strings"
	"testing"
	"time"
)

var testHosts = []string{"ironlb-webhook.ironlb-system.svc", "ironlb-webhook.ironlb-system", "127.0.0.1"}

func newTestBundle(t *testing.T, now time.Time, previous *Bundle) *Bundle {
	t.Helper()
	b, err := NewBundle(testHosts, now, previous)
	if err != nil {
		t.Fatalf("NewBundle: %v", err)
	}
	return b
}

func TestNewBundleServesEveryHost(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	b := newTestBundle(t, now, nil)
	if err := b.Check(testHosts, now); err != nil {
		t.Fatalf("Check of a new bundle: %v", err)
	}
	cert, err := b.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	leaf := cert.Leaf
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("serving key is %T, want ECDSA P-256", leaf.PublicKey)
	}
	if got := leaf.NotAfter.Sub(now); got != CertValidity {
		t.Errorf("validity %v, want %v", got, CertValidity)
	}
	if len(leaf.IPAddresses) != 1 || leaf.IPAddresses[0].String() != "127.0.0.1" {
		t.Errorf("IP SANs %v, want [127.0.0.1]", leaf.IPAddresses)
	}
	if len(leaf.DNSNames) != 2 {
		t.Errorf("DNS SANs %v, want the two names", leaf.DNSNames)
	}
	if len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("ext key usage %v, want server auth only", leaf.ExtKeyUsage)
	}
	cas, err := parseCerts(b.CACerts)
	if err != nil || len(cas) != 1 || !cas[0].IsCA {
		t.Fatalf("CA certs %v (%v), want one CA", cas, err)
	}
}

func TestBundleRoundTripsThroughSecretData(t *testing.T) {
	now := time.Now()
	b := newTestBundle(t, now, nil)
	got, err := BundleFromSecret(b.SecretData())
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(b) {
		t.Error("the bundle read back differs")
	}
	data := b.SecretData()
	delete(data, SecretCAKeyKey)
	delete(data, SecretKeyKey)
	_, err = BundleFromSecret(data)
	if err == nil || !strings.Contains(err.Error(), "[ca.key tls.key]") {
		t.Errorf("error %v, want one naming ca.key and tls.key", err)
	}
}

func TestCheckSaysWhenToRenew(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := newTestBundle(t, now, nil)
	other := newTestBundle(t, now, nil)
	tests := []struct {
		name   string
		bundle *Bundle
		hosts  []string
		at     time.Time
		want   string // substring of the error; empty means keep
	}{
		{name: "fresh", bundle: b, hosts: testHosts, at: now},
		{name: "31 days left", bundle: b, hosts: testHosts, at: now.Add(CertValidity - 31*24*time.Hour)},
		{name: "29 days left", bundle: b, hosts: testHosts, at: now.Add(CertValidity - 29*24*time.Hour), want: "in less than"},
		{name: "expired", bundle: b, hosts: testHosts, at: now.Add(CertValidity + time.Hour), want: "expired"},
		{name: "new host", bundle: b, hosts: append([]string{"ironlb-webhook.other.svc"}, testHosts...), at: now, want: "ironlb-webhook.other.svc"},
		{name: "key of another bundle", bundle: &Bundle{CACerts: b.CACerts, CAKey: b.CAKey, Cert: b.Cert, Key: other.Key}, hosts: testHosts, at: now, want: "serving certificate"},
		{name: "signed by another CA", bundle: &Bundle{CACerts: other.CACerts, CAKey: other.CAKey, Cert: b.Cert, Key: b.Key}, hosts: testHosts, at: now, want: "unknown authority"},
		{name: "garbage CA", bundle: &Bundle{CACerts: []byte("nope"), CAKey: b.CAKey, Cert: b.Cert, Key: b.Key}, hosts: testHosts, at: now, want: "no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.bundle.Check(tt.hosts, tt.at)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Check: %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Check: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestRenewalKeepsThePreviousCAWhileValid(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	old := newTestBundle(t, now, nil)
	renewAt := now.Add(CertValidity - 10*24*time.Hour)
	renewed := newTestBundle(t, renewAt, old)
	if err := renewed.Check(testHosts, renewAt); err != nil {
		t.Fatalf("Check of the renewed bundle: %v", err)
	}
	cas, err := parseCerts(renewed.CACerts)
	if err != nil || len(cas) != 2 {
		t.Fatalf("CA certs: %d (%v), want the new CA and the old one", len(cas), err)
	}
	oldCAs, _ := parseCerts(old.CACerts)
	if !cas[1].Equal(oldCAs[0]) {
		t.Error("the second CA is not the previous one")
	}
	// A client trusting the renewed bundle accepts the old serving
	// certificate, which other replicas may still serve.
	roots := x509.NewCertPool()
	for _, c := range cas {
		roots.AddCert(c)
	}
	oldCert, _ := old.TLSCertificate()
	if _, err := oldCert.Leaf.Verify(x509.VerifyOptions{DNSName: testHosts[0], Roots: roots, CurrentTime: renewAt}); err != nil {
		t.Errorf("the old serving certificate is refused by the renewed bundle: %v", err)
	}
	// Renewed again after the old CA expired: only the current CA stays.
	later := now.Add(CertValidity + time.Hour)
	again := newTestBundle(t, later, renewed)
	cas, _ = parseCerts(again.CACerts)
	if len(cas) != 2 {
		t.Errorf("%d CAs after a second renewal, want 2 (new and previous; the expired one dropped)", len(cas))
	}
}

func TestNewBundleNeedsAHost(t *testing.T) {
	if _, err := NewBundle(nil, time.Now(), nil); err == nil {
		t.Error("NewBundle without hosts succeeded")
	}
}

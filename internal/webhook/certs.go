package webhook

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Keys of the certificate Secret. tls.crt and tls.key are the serving
// certificate and its key (so the Secret is a valid kubernetes.io/tls
// Secret); ca.crt holds the CA that signed it followed by the previous CA
// while that one is still valid (the caBundle written to the
// ValidatingWebhookConfiguration); ca.key is the current CA's key.
const (
	SecretCAKey     = "ca.crt"
	SecretCAKeyKey  = "ca.key"
	SecretCertKey   = corev1.TLSCertKey
	SecretKeyKey    = corev1.TLSPrivateKeyKey
	CertValidity    = 365 * 24 * time.Hour
	CertRenewBefore = 30 * 24 * time.Hour
)

// clockSkew backdates NotBefore so an API server whose clock is a little
// behind accepts a certificate issued a moment ago.
const clockSkew = time.Hour

// Bundle is a self-signed CA and a serving certificate it signed, all PEM
// encoded, as stored in the certificate Secret. A Bundle is immutable.
type Bundle struct {
	// CACerts is the current CA certificate, then the previous one while
	// it is valid, so clients that trust the bundle accept both the
	// serving certificate just issued and the one other replicas may
	// still serve.
	CACerts []byte
	CAKey   []byte
	Cert    []byte
	Key     []byte
}

// NewBundle issues a new CA and a serving certificate for hosts (DNS names
// or IP addresses; the first is the subject's common name), valid from now
// for CertValidity. previous, when not nil, is the bundle being renewed:
// its current CA stays in CACerts while it has not expired.
func NewBundle(hosts []string, now time.Time, previous *Bundle) (*Bundle, error) {
	if len(hosts) == 0 {
		return nil, errors.New("issuing the webhook certificate: no host name")
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the webhook CA key: %w", err)
	}
	notBefore, notAfter := now.Add(-clockSkew), now.Add(CertValidity)
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "ironlb-webhook-ca", Organization: []string{"ironlb"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("signing the webhook CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("parsing the webhook CA certificate: %w", err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the webhook serving key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: hosts[0], Organization: []string{"ironlb"}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if a, err := netip.ParseAddr(h); err == nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, a.AsSlice())
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("signing the webhook serving certificate: %w", err)
	}

	b := &Bundle{CACerts: pemBlock("CERTIFICATE", caDER), Cert: pemBlock("CERTIFICATE", der)}
	if b.CAKey, err = keyPEM(caKey); err != nil {
		return nil, err
	}
	if b.Key, err = keyPEM(key); err != nil {
		return nil, err
	}
	if previous != nil {
		if cas, err := parseCerts(previous.CACerts); err == nil && now.Before(cas[0].NotAfter) {
			b.CACerts = append(b.CACerts, pemBlock("CERTIFICATE", cas[0].Raw)...)
		}
	}
	return b, nil
}

// BundleFromSecret reads a Bundle from the data of the certificate Secret.
// It fails when a key is missing; Check judges the contents.
func BundleFromSecret(data map[string][]byte) (*Bundle, error) {
	b := &Bundle{CACerts: data[SecretCAKey], CAKey: data[SecretCAKeyKey], Cert: data[SecretCertKey], Key: data[SecretKeyKey]}
	var missing []string
	for k, v := range map[string][]byte{SecretCAKey: b.CACerts, SecretCAKeyKey: b.CAKey, SecretCertKey: b.Cert, SecretKeyKey: b.Key} {
		if len(v) == 0 {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, fmt.Errorf("the certificate Secret lacks %v", missing)
	}
	return b, nil
}

// SecretData returns the Secret data holding b.
func (b *Bundle) SecretData() map[string][]byte {
	return map[string][]byte{SecretCAKey: b.CACerts, SecretCAKeyKey: b.CAKey, SecretCertKey: b.Cert, SecretKeyKey: b.Key}
}

// Check reports why b cannot be kept at time now for hosts: nil when b is
// usable and has more than CertRenewBefore left, otherwise an error saying
// why it must be renewed (malformed, key mismatch, not signed by the CA,
// a host missing, expiring soon).
func (b *Bundle) Check(hosts []string, now time.Time) error {
	cas, err := parseCerts(b.CACerts)
	if err != nil {
		return fmt.Errorf("CA certificate: %w", err)
	}
	if _, err := tls.X509KeyPair(b.CACerts, b.CAKey); err != nil {
		return fmt.Errorf("CA key: %w", err)
	}
	pair, err := tls.X509KeyPair(b.Cert, b.Key)
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	leaf := pair.Leaf
	roots := x509.NewCertPool()
	roots.AddCert(cas[0])
	for _, h := range hosts {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: h, Roots: roots, CurrentTime: now}); err != nil {
			return fmt.Errorf("serving certificate for %s: %w", h, err)
		}
	}
	for _, c := range []*x509.Certificate{cas[0], leaf} {
		if left := c.NotAfter.Sub(now); left < CertRenewBefore {
			return fmt.Errorf("certificate %q expires at %s, in less than %v", c.Subject.CommonName, c.NotAfter.UTC().Format(time.RFC3339), CertRenewBefore)
		}
	}
	return nil
}

// TLSCertificate returns the serving certificate for a TLS server.
func (b *Bundle) TLSCertificate() (*tls.Certificate, error) {
	pair, err := tls.X509KeyPair(b.Cert, b.Key)
	if err != nil {
		return nil, fmt.Errorf("loading the webhook serving certificate: %w", err)
	}
	return &pair, nil
}

// Equal reports whether two bundles hold the same bytes.
func (b *Bundle) Equal(o *Bundle) bool {
	return o != nil && bytes.Equal(b.CACerts, o.CACerts) && bytes.Equal(b.CAKey, o.CAKey) &&
		bytes.Equal(b.Cert, o.Cert) && bytes.Equal(b.Key, o.Key)
}

// parseCerts parses every CERTIFICATE block of a PEM text; there must be
// at least one.
func parseCerts(text []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, text = pem.Decode(text)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return out, nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func keyPEM(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("encoding the webhook key: %w", err)
	}
	return pemBlock("EC PRIVATE KEY", der), nil
}

// serial returns a random 128-bit certificate serial number.
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err)) // never happens: crypto/rand does not fail on Linux
	}
	return n
}

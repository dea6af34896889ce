package lab

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"
)

// pki is the lab's certificate material, in <dir>/pki.
type pki struct {
	dir string
}

// Files in the pki directory.
func (k pki) path(name string) string { return filepath.Join(k.dir, name) }
func (k pki) caCert() string          { return k.path("ca.crt") }
func (k pki) serverCert() string      { return k.path("apiserver.crt") }
func (k pki) serverKey() string       { return k.path("apiserver.key") }
func (k pki) adminCert() string       { return k.path("admin.crt") }
func (k pki) adminKey() string        { return k.path("admin.key") }
func (k pki) saKey() string           { return k.path("sa.key") }
func (k pki) saPub() string           { return k.path("sa.pub") }

// generate writes a CA, the API server's serving certificate for sans, an
// admin client certificate (O=system:masters) and the ECDSA Service
// Account signing key pair. ECDSA P-256 keeps generation instant.
func (k pki) generate(sans []netip.Addr, dnsNames []string) error {
	if err := os.MkdirAll(k.dir, 0o700); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	now := time.Now().Add(-time.Hour)
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("pki: CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ironlb-lab-ca"},
		NotBefore:             now,
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("pki: CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return fmt.Errorf("pki: CA certificate: %w", err)
	}
	if err := writePEM(k.caCert(), "CERTIFICATE", caDER); err != nil {
		return err
	}
	ips := make([]net.IP, 0, len(sans))
	for _, a := range sans {
		ips = append(ips, a.AsSlice())
	}
	if err := k.leaf(ca, caKey, 2, pkix.Name{CommonName: "kube-apiserver"}, ips, dnsNames,
		x509.ExtKeyUsageServerAuth, k.serverCert(), k.serverKey()); err != nil {
		return err
	}
	if err := k.leaf(ca, caKey, 3, pkix.Name{CommonName: "ironlb-lab-admin", Organization: []string{"system:masters"}}, nil, nil,
		x509.ExtKeyUsageClientAuth, k.adminCert(), k.adminKey()); err != nil {
		return err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("pki: service account key: %w", err)
	}
	if err := writeKey(k.saKey(), saKey); err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return fmt.Errorf("pki: service account public key: %w", err)
	}
	return writePEM(k.saPub(), "PUBLIC KEY", pub)
}

func (k pki) leaf(ca *x509.Certificate, caKey *ecdsa.PrivateKey, serial int64, subject pkix.Name,
	ips []net.IP, dns []string, usage x509.ExtKeyUsage, certPath, keyPath string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("pki: key for %s: %w", subject.CommonName, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      subject,
		NotBefore:    ca.NotBefore,
		NotAfter:     ca.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  ips,
		DNSNames:     dns,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("pki: certificate for %s: %w", subject.CommonName, err)
	}
	if err := writePEM(certPath, "CERTIFICATE", der); err != nil {
		return err
	}
	return writeKey(keyPath, key)
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("pki: encoding %s: %w", path, err)
	}
	return writePEM(path, "EC PRIVATE KEY", der)
}

func writePEM(path, typ string, der []byte) error {
	b := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	return nil
}

// kubeconfig renders a kubeconfig for server with the admin identity,
// certificates inline so the file stands alone.
func (k pki) kubeconfig(server string) ([]byte, error) {
	var data [3]string
	for i, f := range []string{k.caCert(), k.adminCert(), k.adminKey()} {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig: %w", err)
		}
		data[i] = base64.StdEncoding.EncodeToString(b)
	}
	return fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: ironlb-lab
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: admin
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: ironlb-lab
  context:
    cluster: ironlb-lab
    user: admin
current-context: ironlb-lab
`, server, data[0], data[1], data[2]), nil
}

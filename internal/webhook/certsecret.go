package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Pauses of Certificates.Start: between checks when all is well, and
// before retrying after an error or while the webhook configuration is
// missing.
const (
	DefaultResync = 10 * time.Minute
	DefaultRetry  = 15 * time.Second
)

// maxAttempts bounds the re-reads after losing a race with another replica
// in one sync.
const maxAttempts = 5

// Certificates keeps the webhook's serving certificate: it makes sure the
// certificate Secret holds a valid bundle (creating it when missing,
// renewing it when it is malformed, lacks a host or has less than
// CertRenewBefore left), writes the bundle's CAs into the caBundle of every
// webhook of the ValidatingWebhookConfiguration, and only then serves the
// new certificate through GetCertificate — so the API server trusts it
// before it is presented.
//
// Every replica runs one (NeedLeaderElection is false): they agree through
// the Secret. Creation is create-if-absent and renewal an update on the
// resourceVersion that was read; the replica that loses either race re-reads
// the Secret and uses the winner's bundle.
type Certificates struct {
	// Reader reads straight from the API server (the manager's API reader).
	Reader client.Reader
	// Writer creates and updates the Secret and updates the
	// ValidatingWebhookConfiguration.
	Writer client.Writer
	// Secret names the certificate Secret.
	Secret types.NamespacedName
	// Hosts are the names the serving certificate is valid for:
	// "<service>.<namespace>.svc" and its longer forms, plus any the
	// webhook configuration's URL uses.
	Hosts []string
	// Configuration names the ValidatingWebhookConfiguration whose
	// caBundle is kept; a missing one is retried every Retry.
	Configuration string
	// Resync and Retry default to DefaultResync and DefaultRetry.
	Resync, Retry time.Duration
	// Now defaults to time.Now.
	Now func() time.Time
	Log *slog.Logger

	cert   atomic.Pointer[tls.Certificate]
	served atomic.Pointer[Bundle]
	// missingReported avoids logging the missing configuration at every retry.
	missingReported bool
}

// NeedLeaderElection is false: every replica serves the webhook.
func (c *Certificates) NeedLeaderElection() bool { return false }

// GetCertificate is the TLS server's certificate callback; it fails until
// the first sync succeeded.
func (c *Certificates) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if cert := c.cert.Load(); cert != nil {
		return cert, nil
	}
	return nil, errors.New("the webhook serving certificate is not ready yet")
}

// Ready reports whether a certificate is being served (a readiness check).
func (c *Certificates) Ready() error {
	if c.cert.Load() == nil {
		return errors.New("the webhook serving certificate is not ready yet")
	}
	return nil
}

// Start syncs at once, then every Resync (every Retry after a failure or
// while the webhook configuration is missing), until ctx ends.
func (c *Certificates) Start(ctx context.Context) error {
	resync, retry := c.Resync, c.Retry
	if resync <= 0 {
		resync = DefaultResync
	}
	if retry <= 0 {
		retry = DefaultRetry
	}
	for {
		wait := resync
		patched, err := c.Sync(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			c.log().Error("cannot make sure of the webhook certificate; retrying", "secret", c.Secret.String(), "error", err)
			wait = retry
		case !patched:
			wait = retry
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// Sync makes sure of the Secret, writes the caBundle and serves the
// Secret's certificate. It reports whether the webhook configuration was
// found; a missing one is not an error (the certificate is served anyway).
func (c *Certificates) Sync(ctx context.Context) (configured bool, err error) {
	b, err := c.ensureSecret(ctx)
	if err != nil {
		return false, err
	}
	configured, err = c.patchCABundle(ctx, b.CACerts)
	if err != nil {
		return false, err
	}
	if b.Equal(c.served.Load()) {
		return configured, nil
	}
	cert, err := b.TLSCertificate()
	if err != nil {
		return configured, err
	}
	c.cert.Store(cert)
	c.served.Store(b)
	c.log().Info("serving the webhook certificate", "secret", c.Secret.String(), "notAfter", cert.Leaf.NotAfter.UTC())
	return configured, nil
}

// ensureSecret returns a valid bundle from the Secret, creating or renewing
// it when needed.
func (c *Certificates) ensureSecret(ctx context.Context) (*Bundle, error) {
	var lastErr error
	for range maxAttempts {
		now := c.now()
		var sec corev1.Secret
		err := c.Reader.Get(ctx, c.Secret, &sec)
		switch {
		case apierrors.IsNotFound(err):
			b, err := NewBundle(c.Hosts, now, nil)
			if err != nil {
				return nil, err
			}
			sec := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{
					Namespace: c.Secret.Namespace, Name: c.Secret.Name,
					Labels: map[string]string{"app.kubernetes.io/name": "ironlb", "app.kubernetes.io/component": "webhook"},
				},
				Type: corev1.SecretTypeTLS,
				Data: b.SecretData(),
			}
			switch err := c.Writer.Create(ctx, sec); {
			case err == nil:
				c.log().Info("created the webhook certificate Secret", "secret", c.Secret.String())
				return b, nil
			case apierrors.IsAlreadyExists(err):
				lastErr = err // another replica was first: use its bundle
				continue
			default:
				return nil, fmt.Errorf("creating the webhook certificate Secret %s: %w", c.Secret, err)
			}
		case err != nil:
			return nil, fmt.Errorf("reading the webhook certificate Secret %s: %w", c.Secret, err)
		}

		old, err := BundleFromSecret(sec.Data)
		if err == nil {
			if err = old.Check(c.Hosts, now); err == nil {
				return old, nil
			}
		} else {
			old = nil
		}
		c.log().Info("renewing the webhook certificate", "secret", c.Secret.String(), "reason", err.Error())
		b, err := NewBundle(c.Hosts, now, old)
		if err != nil {
			return nil, err
		}
		sec.Data = b.SecretData() // the resourceVersion read guards the update
		switch err := c.Writer.Update(ctx, &sec); {
		case err == nil:
			return b, nil
		case apierrors.IsConflict(err):
			lastErr = err // another replica renewed it: use its bundle
			continue
		default:
			return nil, fmt.Errorf("renewing the webhook certificate Secret %s: %w", c.Secret, err)
		}
	}
	return nil, fmt.Errorf("the webhook certificate Secret %s keeps changing under us: %w", c.Secret, lastErr)
}

// patchCABundle writes caBundle into every webhook of the configuration
// that does not hold it yet. It reports whether the configuration exists.
func (c *Certificates) patchCABundle(ctx context.Context, caBundle []byte) (bool, error) {
	var lastErr error
	for range maxAttempts {
		var vwc admissionregistrationv1.ValidatingWebhookConfiguration
		err := c.Reader.Get(ctx, types.NamespacedName{Name: c.Configuration}, &vwc)
		switch {
		case apierrors.IsNotFound(err):
			if !c.missingReported {
				c.log().Warn("the ValidatingWebhookConfiguration is missing; will write its caBundle when it appears",
					"configuration", c.Configuration)
				c.missingReported = true
			}
			return false, nil
		case err != nil:
			return false, fmt.Errorf("reading the ValidatingWebhookConfiguration %s: %w", c.Configuration, err)
		}
		c.missingReported = false
		changed := false
		for i := range vwc.Webhooks {
			if !bytes.Equal(vwc.Webhooks[i].ClientConfig.CABundle, caBundle) {
				vwc.Webhooks[i].ClientConfig.CABundle = caBundle
				changed = true
			}
		}
		if !changed {
			return true, nil
		}
		switch err := c.Writer.Update(ctx, &vwc); {
		case err == nil:
			c.log().Info("wrote the webhook CA into the ValidatingWebhookConfiguration", "configuration", c.Configuration)
			return true, nil
		case apierrors.IsConflict(err):
			lastErr = err
			continue
		default:
			return false, fmt.Errorf("writing the caBundle of the ValidatingWebhookConfiguration %s: %w", c.Configuration, err)
		}
	}
	return false, fmt.Errorf("the ValidatingWebhookConfiguration %s keeps changing under us: %w", c.Configuration, lastErr)
}

func (c *Certificates) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Certificates) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.Default()
}

package webhook

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// Defaults of Options.
const (
	DefaultService       = "ironlb-webhook"
	DefaultConfiguration = "ironlb-validating-webhook"
	DefaultSecret        = "ironlb-webhook-cert"
	// Path is where the webhook is served; the ValidatingWebhookConfiguration
	// of the manifests points there.
	Path = "/validate-ironlb-io-v1beta1"
)

// Options configure the webhook.
type Options struct {
	// Port is the HTTPS port; it must be positive.
	Port int
	// Host is the address to listen on; empty means every address.
	Host string
	// Namespace is ironlb's namespace: the configuration is read there and
	// the certificate Secret lives there.
	Namespace string
	// Service is the name of the Service in front of the webhook; the
	// certificate is issued for <Service>.<Namespace>.svc. Default
	// DefaultService.
	Service string
	// Configuration names the ValidatingWebhookConfiguration whose caBundle
	// is kept. Default DefaultConfiguration.
	Configuration string
	// Secret names the certificate Secret in Namespace. Default
	// DefaultSecret.
	Secret string
	// ExtraHosts are more names or IP addresses for the certificate (a
	// webhook configuration with a url, as in tests).
	ExtraHosts []string
	// LegacyConfigMap names the legacy ConfigMap; zero means none.
	LegacyConfigMap types.NamespacedName
	// EnableHTTP2 allows HTTP/2 (off: HTTP/2 Rapid Reset, CVE-2023-44487).
	EnableHTTP2 bool
}

func (o Options) withDefaults() Options {
	if o.Service == "" {
		o.Service = DefaultService
	}
	if o.Configuration == "" {
		o.Configuration = DefaultConfiguration
	}
	if o.Secret == "" {
		o.Secret = DefaultSecret
	}
	return o
}

// Hosts returns the names the serving certificate is issued for.
func (o Options) Hosts() []string {
	o = o.withDefaults()
	svc := o.Service + "." + o.Namespace
	return append([]string{svc + ".svc", svc, svc + ".svc.cluster.local"}, o.ExtraHosts...)
}

// Webhook is the webhook server and its certificates, to be given to a
// manager: Server goes in manager.Options.WebhookServer, then Register
// adds the rest once the manager exists.
type Webhook struct {
	Server ctrlwebhook.Server
	Certs  *Certificates
	opts   Options
}

// New returns the webhook server, serving the certificate Certs keeps.
func New(opts Options) (*Webhook, error) {
	opts = opts.withDefaults()
	if opts.Port <= 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("webhook port %d: want 1-65535", opts.Port)
	}
	if opts.Namespace == "" {
		return nil, fmt.Errorf("webhook: no namespace")
	}
	if msgs := validation.IsDNS1123Label(opts.Service); len(msgs) > 0 {
		return nil, fmt.Errorf("webhook service %q: %s", opts.Service, strings.Join(msgs, "; "))
	}
	if msgs := validation.IsDNS1123Subdomain(opts.Configuration); len(msgs) > 0 {
		return nil, fmt.Errorf("webhook configuration %q: %s", opts.Configuration, strings.Join(msgs, "; "))
	}
	certs := &Certificates{
		Secret:        types.NamespacedName{Namespace: opts.Namespace, Name: opts.Secret},
		Hosts:         opts.Hosts(),
		Configuration: opts.Configuration,
		Log:           slog.Default().With("part", "webhook-certificates"),
	}
	tlsOpts := []func(*tls.Config){func(c *tls.Config) {
		c.GetCertificate = certs.GetCertificate
		c.MinVersion = tls.VersionTLS12
		if !opts.EnableHTTP2 {
			c.NextProtos = []string{"http/1.1"}
		}
	}}
	srv := ctrlwebhook.NewServer(ctrlwebhook.Options{Host: opts.Host, Port: opts.Port, TLSOpts: tlsOpts})
	return &Webhook{Server: srv, Certs: certs, opts: opts}, nil
}

// Register gives the certificates mgr's clients, adds them as a runnable,
// registers the Validator at Path on the webhook server (which must be
// w.Server) and adds a readiness check that passes once a certificate is
// served and the server is listening.
func (w *Webhook) Register(mgr manager.Manager) error {
	if mgr.GetWebhookServer() != w.Server {
		return fmt.Errorf("webhook: the manager's webhook server is not this webhook's")
	}
	w.Certs.Reader, w.Certs.Writer = mgr.GetAPIReader(), mgr.GetClient()
	if err := mgr.Add(w.Certs); err != nil {
		return fmt.Errorf("adding the webhook certificates: %w", err)
	}
	v := NewValidator(mgr.GetAPIReader(), mgr.GetScheme(), w.opts.Namespace, w.opts.LegacyConfigMap)
	w.Server.Register(Path, &admission.Webhook{Handler: v})
	started := w.Server.StartedChecker()
	if err := mgr.AddReadyzCheck("webhook", func(req *http.Request) error {
		if err := w.Certs.Ready(); err != nil {
			return err
		}
		return started(req)
	}); err != nil {
		return fmt.Errorf("adding the webhook readiness check: %w", err)
	}
	return nil
}

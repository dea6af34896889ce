package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/metrics"
)

// readyTimeout bounds the wait of one /readyz request for the caches.
const readyTimeout = time.Second

// NewScheme returns a scheme holding client-go's types and ironlb's API.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("adding client-go types to the scheme: %w", err)
	}
	if err := v1beta1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("adding %s to the scheme: %w", v1beta1.GroupVersion, err)
	}
	return s, nil
}

// CacheOptions limits the manager's cache to what the controller reads:
// the configuration CRs and Secrets of the ironlb namespace, the one legacy
// ConfigMap, and Services and Namespaces everywhere. Managed fields are
// dropped to save memory.
func CacheOptions(opts Options) (cache.Options, error) {
	opts = opts.withDefaults()
	cm, err := opts.LegacyConfigMapName()
	if err != nil {
		return cache.Options{}, err
	}
	own := map[string]cache.Config{opts.Namespace: {}}
	by := map[client.Object]cache.ByObject{
		&corev1.Secret{}: {Namespaces: own},
		&corev1.ConfigMap{}: {
			Namespaces: map[string]cache.Config{cm.Namespace: {}},
			Field:      fields.OneTermEqualSelector("metadata.name", cm.Name),
		},
	}
	for _, k := range configKinds() {
		by[k.newObject()] = cache.ByObject{Namespaces: own}
	}
	return cache.Options{ByObject: by, DefaultTransform: cache.TransformStripManagedFields()}, nil
}

// NewManager returns a manager set up for the controller: its scheme and
// cache, the API rate limits, leader election on a Lease in the ironlb
// namespace (released when the manager stops, so a standby takes over at
// once), /healthz and /readyz, the metrics server (HTTP/1.1 only unless
// EnableHTTP2) and, when WebhookServer is set, that server on every
// replica.
func NewManager(cfg *rest.Config, opts Options) (manager.Manager, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("controller options: %w", err)
	}
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}
	cacheOpts, err := CacheOptions(opts)
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = opts.KubeAPIQPS, opts.KubeAPIBurst

	mo := manager.Options{
		Scheme: scheme,
		Cache:  cacheOpts,
		Metrics: metrics.Serving{BindAddress: opts.MetricsBindAddress, Secure: opts.MetricsSecure,
			CertDir: opts.MetricsCertDir, EnableHTTP2: opts.EnableHTTP2}.Options(),
		HealthProbeBindAddress:        opts.HealthProbeBindAddress,
		PprofBindAddress:              opts.PprofBindAddress,
		LeaderElection:                opts.LeaderElection,
		LeaderElectionID:              opts.LeaderElectionID,
		LeaderElectionNamespace:       opts.Namespace,
		LeaderElectionReleaseOnCancel: true,
	}
	if opts.LeaseDuration > 0 {
		mo.LeaseDuration = ptr.To(opts.LeaseDuration)
	}
	if opts.RenewDeadline > 0 {
		mo.RenewDeadline = ptr.To(opts.RenewDeadline)
	}
	if opts.RetryPeriod > 0 {
		mo.RetryPeriod = ptr.To(opts.RetryPeriod)
	}
	mo.WebhookServer = opts.WebhookServer
	mgr, err := manager.New(cfg, mo)
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, fmt.Errorf("adding the health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("caches", func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), readyTimeout)
		defer cancel()
		if !mgr.GetCache().WaitForCacheSync(ctx) {
			return errors.New("the informer caches have not synced yet")
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("adding the readiness check: %w", err)
	}
	return mgr, nil
}

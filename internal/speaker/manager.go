package speaker

import (
	"context"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/bgp"
	"github.com/ironlb/ironlb/internal/configread"
	"github.com/ironlb/ironlb/internal/fence"
	"github.com/ironlb/ironlb/internal/layer2"
	"github.com/ironlb/ironlb/internal/metrics"
)

// EventSource is the reporting controller of the Events the speaker
// records.
const EventSource = "ironlb-speaker"

// newScheme returns a scheme holding client-go's types and ironlb's API.
func newScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("adding client-go types to the scheme: %w", err)
	}
	if err := v1beta1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("adding %s to the scheme: %w", v1beta1.GroupVersion, err)
	}
	return s, nil
}

// cacheOptions limits the cache to what the speaker reads: the
// configuration CRs and Secrets of the ironlb namespace (and the memberlist
// Secret's, should it be elsewhere), the one legacy
// ConfigMap, and Nodes, Services, EndpointSlices and ServiceL2Statuses
// everywhere. Managed fields are dropped to save memory.
func cacheOptions(o Options) cache.Options {
	cm, _ := o.configMapName()        // validated
	ml, _ := o.memberlistSecretName() // validated
	own := map[string]cache.Config{o.Namespace: {}}
	secrets := map[string]cache.Config{o.Namespace: {}, ml.Namespace: {}}
	by := map[client.Object]cache.ByObject{
		&corev1.Secret{}: {Namespaces: secrets},
		&corev1.ConfigMap{}: {
			Namespaces: map[string]cache.Config{cm.Namespace: {}},
			Field:      fields.OneTermEqualSelector("metadata.name", cm.Name),
		},
	}
	for _, k := range configread.Objects() {
		by[k] = cache.ByObject{Namespaces: own}
	}
	return cache.Options{ByObject: by, DefaultTransform: cache.TransformStripManagedFields()}
}

// NewManager returns a manager for the speaker: its scheme and cache, the
// API rate limits, no leader election (one speaker per node), /healthz,
// and the metrics server over HTTP/1.1.
func NewManager(cfg *rest.Config, opts Options) (manager.Manager, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("speaker options: %w", err)
	}
	scheme, err := newScheme()
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = opts.KubeAPIQPS, opts.KubeAPIBurst
	mgr, err := manager.New(cfg, manager.Options{
		Scheme: scheme,
		Cache:  cacheOptions(opts),
		Metrics: metrics.Serving{BindAddress: opts.MetricsBindAddress, Secure: opts.MetricsSecure,
			CertDir: opts.MetricsCertDir}.Options(),
		HealthProbeBindAddress: opts.HealthProbeBindAddress,
		PprofBindAddress:       opts.PprofBindAddress,
		Controller:             config.Controller{SkipNameValidation: ptr.To(opts.skipNameValidation)},
	})
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, fmt.Errorf("adding the health check: %w", err)
	}
	return mgr, nil
}

// Setup creates the speaker and adds it to mgr, with its readiness check
// (/readyz: the speaker has decided and its responders are up) and its
// metrics. mgr's scheme must hold client-go's types and ironlb's API, and
// its cache should be limited as NewManager does.
func Setup(mgr manager.Manager, opts Options) (*Speaker, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("speaker options: %w", err)
	}
	log := opts.logger.With("node", opts.NodeName)
	s := &Speaker{
		opts: opts, client: mgr.GetClient(), cache: mgr.GetCache(), live: mgr.GetAPIReader(),
		log: log, counters: &layer2.Counters{}, scan: scanInterfaces,
		trigger: make(chan struct{}, 1), statusTrigger: make(chan struct{}, 1), joinTrigger: make(chan struct{}, 1),
		keyTrigger:       make(chan struct{}, 1),
		bgpStatusTrigger: make(chan struct{}, 1), announcedTrigger: make(chan struct{}, 1),
		membersTrigger: make(chan struct{}, 1),
	}
	s.membersView = &membersWriter{s: s}
	// The Leases of leaseFencing get a client of their own without a
	// client-side rate limit: a renewal held back by the limiter of the
	// speaker's other requests (a burst of status writes) would cost the
	// node its addresses. The API server's priority and fairness still
	// applies.
	fenceCfg := rest.CopyConfig(mgr.GetConfig())
	fenceCfg.QPS = -1
	fenceClient, err := kubernetes.NewForConfig(fenceCfg)
	if err != nil {
		return nil, fmt.Errorf("the Lease client of leaseFencing: %w", err)
	}
	s.fence = fence.New(fence.Config{
		Client: fenceClient.CoordinationV1(), Namespace: opts.Namespace, Identity: opts.NodeName,
		OnChange: func() { kick(s.trigger) }, Log: log.With("component", "fence"),
	})
	recorder := mgr.GetEventRecorder(EventSource)
	s.recorder = recorder
	s.conflicts = &conflictReporter{node: opts.NodeName, recorder: recorder, log: log}
	s.responders = layer2Responders(opts.inNetNS, s.counters, s.conflicts.observe, log)
	s.status = &statusWriter{
		client: mgr.GetClient(), cache: mgr.GetCache(), node: opts.NodeName,
		recorder: recorder, log: log,
	}
	s.bgpStatus = &statusWriter{
		client: mgr.GetClient(), cache: mgr.GetCache(), node: opts.NodeName,
		recorder: recorder, log: log, kind: bgpKind,
	}
	s.announced = &announcedWriter{client: mgr.GetClient(), cache: mgr.GetCache(), recorder: recorder, log: log}
	s.bgp = newBGPAnnouncer(bgp.New(log.With("component", "bgp")), opts.NodeName, recorder, log)
	s.bgp.namespace = opts.Namespace
	reg := opts.Registry
	if reg == nil {
		reg = ctrlmetrics.Registry
	}
	col := newLayer2Collector(s.counters, s.responders.counts, func() int { return int(s.memberN.Load()) })
	if err := reg.Register(col); err != nil {
		return nil, fmt.Errorf("registering the layer 2 metrics: %w", err)
	}
	if err := reg.Register(newNotAnnouncedGauge(func() int { return int(s.notAnnounced.Load()) })); err != nil {
		return nil, fmt.Errorf("registering the announcement metrics: %w", err)
	}
	for _, g := range newFencedGauges(&s.fenced) {
		if err := reg.Register(g); err != nil {
			return nil, fmt.Errorf("registering the leaseFencing metrics: %w", err)
		}
	}
	if err := reg.Register(newAnnouncedCollector(&s.announcedMetrics, opts.NodeName)); err != nil {
		return nil, fmt.Errorf("registering the announcement metrics: %w", err)
	}
	if err := reg.Register(newMemberlistCollector(s.gossipUp.Load)); err != nil {
		return nil, fmt.Errorf("registering the memberlist metrics: %w", err)
	}
	if err := reg.Register(newBGPCollector(s.bgp.metrics)); err != nil {
		return nil, fmt.Errorf("registering the BGP metrics: %w", err)
	}
	cfgMetrics, err := configread.NewMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("registering the configuration metrics: %w", err)
	}
	s.configMetrics = cfgMetrics
	if err := mgr.AddReadyzCheck("speaker", func(*http.Request) error { return s.Ready() }); err != nil {
		return nil, fmt.Errorf("adding the readiness check: %w", err)
	}
	if err := mgr.Add(s); err != nil {
		return nil, fmt.Errorf("adding the speaker to the manager: %w", err)
	}
	return s, nil
}

// Run runs the speaker against the API server of cfg until ctx ends.
func Run(ctx context.Context, cfg *rest.Config, opts Options) error {
	mgr, err := NewManager(cfg, opts)
	if err != nil {
		return err
	}
	if _, err := Setup(mgr, opts); err != nil {
		return err
	}
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("running the speaker: %w", err)
	}
	return nil
}

package controller

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/membership"
)

// Defaults of Options.
const (
	DefaultNamespace               = config.DefaultNamespace
	DefaultConfigMap               = config.DefaultNamespace + "/" + config.DefaultLegacyName
	DefaultMetricsBindAddress      = ":7472"
	DefaultHealthProbeBindAddress  = ":8081"
	DefaultLeaderElectionID        = "ironlb-controller"
	DefaultKubeAPIQPS              = 200
	DefaultKubeAPIBurst            = 400
	DefaultMaxConcurrentReconciles = 8
)

// Options configure the controller. The zero value of a field means its
// default, except for the booleans, whose Go zero value is what they say.
type Options struct {
	// Namespace is where ironlb runs: the configuration CRs and the
	// Secrets they name are read there, and the leader-election Lease
	// lives there. Default DefaultNamespace.
	Namespace string
	// ConfigMap is the legacy ConfigMap as "namespace/name" (key "config").
	// Default "<Namespace>/config" (DefaultConfigMap with the default
	// namespace). A missing ConfigMap means no legacy configuration.
	ConfigMap string
	// MemberlistSecret is the speakers' memberlist Secret as
	// "namespace/name", which the controller creates with a random key when
	// it is missing (never changing an existing one). Default
	// "<Namespace>/ironlb-memberlist".
	MemberlistSecret string
	// KeepMemberlistSecret stops the controller from creating the
	// memberlist Secret: the operator manages it.
	KeepMemberlistSecret bool
	// LoadBalancerClass, when set, makes the controller handle only
	// LoadBalancer Services with that spec.loadBalancerClass. When empty it
	// handles those without a class.
	LoadBalancerClass string

	// LeaderElection runs the controller only while it holds the Lease
	// LeaderElectionID in Namespace; other replicas wait as standbys.
	LeaderElection bool
	// LeaderElectionID names the Lease. Default DefaultLeaderElectionID.
	LeaderElectionID string
	// LeaseDuration, RenewDeadline and RetryPeriod tune leader election;
	// zero means controller-runtime's defaults (15 s, 10 s, 2 s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration

	// MetricsBindAddress is where /metrics is served; "0" disables it.
	// Default DefaultMetricsBindAddress.
	MetricsBindAddress string
	// MetricsSecure serves metrics over HTTPS with Kubernetes authentication
	// and authorization (a self-signed certificate unless MetricsCertDir
	// holds tls.crt and tls.key); see metrics.Serving. Plain HTTP
	// otherwise. The command turns it on unless --metrics-secure=false.
	MetricsSecure  bool
	MetricsCertDir string
	// HealthProbeBindAddress serves /healthz and /readyz; "0" disables
	// them. Default DefaultHealthProbeBindAddress.
	HealthProbeBindAddress string
	// PprofBindAddress serves Go's profiles (/debug/pprof/) for
	// diagnosis; "" or "0" (the default) disables them. Bind it to a
	// loopback or otherwise protected address: profiles show the
	// process's memory.
	PprofBindAddress string
	// EnableHTTP2 allows HTTP/2 on the metrics server. Off by default, as
	// controller-runtime recommends (HTTP/2 Rapid Reset, CVE-2023-44487).
	EnableHTTP2 bool

	// WebhookServer, when set, is served by the manager on every replica
	// (leader or not). This package does not know what it serves:
	// cmd/ironlb assembles the validating webhook (internal/webhook) and
	// registers it on the manager.
	WebhookServer ctrlwebhook.Server

	// KubeAPIQPS and KubeAPIBurst limit the requests to the API server.
	// Defaults DefaultKubeAPIQPS and DefaultKubeAPIBurst.
	KubeAPIQPS   float32
	KubeAPIBurst int
	// MaxConcurrentReconciles is the number of Service workers. Status
	// writes run in parallel; allocator calls are serialized. Default
	// DefaultMaxConcurrentReconciles.
	MaxConcurrentReconciles int

	// Registry receives the allocator metrics. Default controller-runtime's
	// metrics.Registry (served at /metrics). Tests that run several
	// managers in one process pass their own.
	Registry prometheus.Registerer

	// skipNameValidation lets tests build several managers in one process
	// (controller-runtime refuses duplicate controller names otherwise).
	skipNameValidation bool
	// onReconciled, when set, is called after each Service reconcile
	// (tests wait for every Service to have been looked at).
	onReconciled func(types.NamespacedName)
}

// withDefaults returns o with every unset field defaulted.
func (o Options) withDefaults() Options {
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.ConfigMap == "" {
		o.ConfigMap = o.Namespace + "/" + config.DefaultLegacyName
	}
	if o.MemberlistSecret == "" {
		o.MemberlistSecret = o.Namespace + "/" + membership.DefaultSecretName
	}
	if o.LeaderElectionID == "" {
		o.LeaderElectionID = DefaultLeaderElectionID
	}
	if o.MetricsBindAddress == "" {
		o.MetricsBindAddress = DefaultMetricsBindAddress
	}
	if o.HealthProbeBindAddress == "" {
		o.HealthProbeBindAddress = DefaultHealthProbeBindAddress
	}
	if o.KubeAPIQPS == 0 {
		o.KubeAPIQPS = DefaultKubeAPIQPS
	}
	if o.KubeAPIBurst == 0 {
		o.KubeAPIBurst = DefaultKubeAPIBurst
	}
	if o.MaxConcurrentReconciles == 0 {
		o.MaxConcurrentReconciles = DefaultMaxConcurrentReconciles
	}
	return o
}

// validate checks the options after defaulting; messages name the option,
// the bad value and what would be valid.
// Check reports what is wrong with the options, as NewManager would,
// without contacting the API server.
func (o Options) Check() error {
	if err := o.withDefaults().validate(); err != nil {
		return fmt.Errorf("%s options: %w", "controller", err)
	}
	return nil
}

func (o Options) validate() error {
	var errs []error
	if msgs := validation.IsDNS1123Label(o.Namespace); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("namespace %q: %s", o.Namespace, strings.Join(msgs, "; ")))
	}
	if _, err := o.LegacyConfigMapName(); err != nil {
		errs = append(errs, err)
	}
	if _, err := o.memberlistSecretName(); err != nil {
		errs = append(errs, err)
	}
	if o.LoadBalancerClass != "" {
		if msgs := validation.IsQualifiedName(o.LoadBalancerClass); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("load-balancer class %q: %s", o.LoadBalancerClass, strings.Join(msgs, "; ")))
		}
	}
	if o.KubeAPIQPS < 0 || o.KubeAPIBurst < 0 {
		errs = append(errs, fmt.Errorf("kube-api-qps %v, kube-api-burst %d: must not be negative", o.KubeAPIQPS, o.KubeAPIBurst))
	}
	if o.MaxConcurrentReconciles < 0 {
		errs = append(errs, fmt.Errorf("max concurrent reconciles %d: must be positive", o.MaxConcurrentReconciles))
	}
	return errors.Join(errs...)
}

// LegacyConfigMapName is the legacy ConfigMap the controller reads:
// ConfigMap ("namespace/name") parsed, or <namespace>/config by default.
func (o Options) LegacyConfigMapName() (types.NamespacedName, error) {
	o = o.withDefaults()
	return config.ParseNamespacedName("config map", o.ConfigMap, DefaultConfigMap)
}

// memberlistSecretName parses MemberlistSecret ("namespace/name").
func (o Options) memberlistSecretName() (types.NamespacedName, error) {
	return config.ParseNamespacedName("memberlist secret", o.MemberlistSecret, DefaultNamespace+"/"+membership.DefaultSecretName)
}

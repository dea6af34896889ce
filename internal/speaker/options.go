package speaker

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/membership"
)

// Defaults of Options.
const (
	DefaultNamespace              = config.DefaultNamespace
	DefaultMemberlistSecretName   = membership.DefaultSecretName
	DefaultMemberlistBindAddress  = ":7946"
	DefaultMemberlistSecretWait   = 30 * time.Second
	DefaultMetricsBindAddress     = ":7473"
	DefaultHealthProbeBindAddress = ":8081"
	DefaultKubeAPIQPS             = 50
	DefaultKubeAPIBurst           = 100
	// MemberlistSecretKey is the key of the memberlist Secret holding the
	// shared secret the gossip key is derived from.
	MemberlistSecretKey = membership.SecretDataKey
)

// Options configure the speaker. The zero value of a field means its
// default, except for the booleans, whose Go zero value is what they say.
type Options struct {
	// NodeName is the node the speaker runs on. Required.
	NodeName string
	// Namespace is where ironlb runs: the configuration CRs, the Secrets
	// they name and the memberlist Secret are read there. Default
	// DefaultNamespace.
	Namespace string
	// ConfigMap is the legacy ConfigMap as "namespace/name" (key "config").
	// Default "<Namespace>/config".
	ConfigMap string
	// LoadBalancerClass, when set, makes the speaker announce only
	// LoadBalancer Services with that spec.loadBalancerClass; when empty,
	// those without a class (the controller's rule).
	LoadBalancerClass string

	// DisableMemberlist makes the speaker judge liveness by the Nodes'
	// Ready condition instead of running memberlist. Failover after a
	// crash then takes as long as the node controller needs to mark the
	// Node not Ready (40 s and more by default).
	DisableMemberlist bool
	// MemberlistSecret is the Secret, "namespace/name", whose key
	// MemberlistSecretKey encrypts the gossip. Default
	// "<Namespace>/ironlb-memberlist". When it cannot be read the speaker
	// falls back to Node readiness.
	MemberlistSecret string
	// MemberlistBindAddress is "host:port" or ":port" for memberlist (UDP
	// and TCP). Default DefaultMemberlistBindAddress. With no host it
	// listens on every address and advertises the Node's InternalIP;
	// every speaker must use the same port, since peers are joined at
	// <InternalIP>:<port>.
	MemberlistBindAddress string
	// MemberlistTuning tunes failure detection; zero fields mean
	// membership.DefaultTuning.
	MemberlistTuning membership.Tuning

	// MetricsBindAddress is where /metrics is served; "0" disables it.
	// Default DefaultMetricsBindAddress.
	MetricsBindAddress string
	// MetricsSecure serves metrics over HTTPS with Kubernetes
	// authentication and authorization (a self-signed certificate unless
	// MetricsCertDir holds tls.crt and tls.key); see metrics.Serving.
	// Plain HTTP otherwise. The command turns it on unless
	// --metrics-secure=false.
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
	// KubeAPIQPS and KubeAPIBurst limit the requests to the API server.
	KubeAPIQPS   float32
	KubeAPIBurst int

	// Registry receives the speaker's metrics. Default controller-runtime's
	// metrics.Registry (served at /metrics).
	Registry prometheus.Registerer

	// MemberlistSecretWait is how long the speaker waits at start for a
	// missing memberlist Secret (the controller creates it) before falling
	// back to Node readiness. Default DefaultMemberlistSecretWait; negative
	// means no wait.
	MemberlistSecretWait time.Duration

	// InterfaceScanInterval is how often the node's interfaces are read
	// for the subnets annotation. Default 10 s.
	InterfaceScanInterval time.Duration

	// inNetNS, when set, runs the functions that open sockets on the
	// node's interfaces (listing interfaces, the layer 2 responders) in
	// another network namespace (tests run several speakers in one
	// process).
	inNetNS func(func() error) error
	// skipNameValidation lets tests run several managers in one process.
	skipNameValidation bool
	// logger replaces slog.Default() (tests running several speakers).
	logger *slog.Logger
	// crashOnStop makes the speaker stop as if it crashed: no memberlist
	// leave, no cleanup (tests of the crash failover).
	crashOnStop bool
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
		o.MemberlistSecret = o.Namespace + "/" + DefaultMemberlistSecretName
	}
	if o.MemberlistBindAddress == "" {
		o.MemberlistBindAddress = DefaultMemberlistBindAddress
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
	if o.MemberlistSecretWait == 0 {
		o.MemberlistSecretWait = DefaultMemberlistSecretWait
	}
	if o.InterfaceScanInterval == 0 {
		o.InterfaceScanInterval = 10 * time.Second
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	if o.inNetNS == nil {
		o.inNetNS = func(f func() error) error { return f() }
	}
	return o
}

// validate checks the options after defaulting; messages name the option,
// the bad value and what would be valid.
// Check reports what is wrong with the options, as NewManager would,
// without contacting the API server.
func (o Options) Check() error {
	if err := o.withDefaults().validate(); err != nil {
		return fmt.Errorf("%s options: %w", "speaker", err)
	}
	return nil
}

func (o Options) validate() error {
	var errs []error
	if o.NodeName == "" {
		errs = append(errs, errors.New("node name is empty: pass --node-name or set NODE_NAME (the Downward API's spec.nodeName)"))
	} else if msgs := validation.IsDNS1123Subdomain(o.NodeName); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("node name %q: %s", o.NodeName, strings.Join(msgs, "; ")))
	}
	if msgs := validation.IsDNS1123Label(o.Namespace); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("namespace %q: %s", o.Namespace, strings.Join(msgs, "; ")))
	}
	if _, err := o.configMapName(); err != nil {
		errs = append(errs, err)
	}
	if _, err := o.memberlistSecretName(); err != nil {
		errs = append(errs, err)
	}
	if _, _, err := o.memberlistBind(); err != nil {
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
	if o.InterfaceScanInterval < 0 {
		errs = append(errs, fmt.Errorf("interface scan interval %v: must be positive", o.InterfaceScanInterval))
	}
	return errors.Join(errs...)
}

// configMapName parses ConfigMap ("namespace/name").
func (o Options) configMapName() (types.NamespacedName, error) {
	return config.ParseNamespacedName("config map", o.ConfigMap, DefaultNamespace+"/"+config.DefaultLegacyName)
}

// memberlistSecretName parses MemberlistSecret ("namespace/name").
func (o Options) memberlistSecretName() (types.NamespacedName, error) {
	return config.ParseNamespacedName("memberlist secret", o.MemberlistSecret, DefaultNamespace+"/"+DefaultMemberlistSecretName)
}

// memberlistBind parses MemberlistBindAddress: the host (invalid when
// unspecified, meaning every address) and the port.
func (o Options) memberlistBind() (netip.Addr, int, error) {
	host, portText, err := net.SplitHostPort(o.MemberlistBindAddress)
	bad := func(why string) error {
		return fmt.Errorf("memberlist bind address %q: %s; want host:port or :port, such as %s", o.MemberlistBindAddress, why, DefaultMemberlistBindAddress)
	}
	if err != nil {
		return netip.Addr{}, 0, bad(err.Error())
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		return netip.Addr{}, 0, bad("the port must be 1-65535")
	}
	if host == "" {
		return netip.Addr{}, port, nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, 0, bad("the host must be an IP address")
	}
	if a.IsUnspecified() {
		return netip.Addr{}, port, nil
	}
	return a.Unmap(), port, nil
}

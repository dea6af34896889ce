package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"

	"github.com/ironlb/ironlb/internal/controller"
	"github.com/ironlb/ironlb/internal/membership"
	"github.com/ironlb/ironlb/internal/webhook"
)

// namespaceEnv names the environment variable that gives the default of
// --namespace (the Downward API sets it in the Deployment).
const namespaceEnv = "IRONLB_NAMESPACE"

func newControllerCommand() *cobra.Command {
	var (
		o          controller.Options
		wo         webhook.Options
		kubeconfig string
	)
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "Run the controller: allocate IPs to LoadBalancer Services",
		Long: `Run the controller: it reads ironlb's configuration (the ironlb.io CRs in
--namespace and the legacy ConfigMap), gives LoadBalancer Services their
addresses, and reports on Services and configuration objects through their
status, conditions and Events. Several replicas may run; with leader
election one allocates and the others wait.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := controller.LoadConfig(kubeconfig)
			if err != nil {
				return err
			}
			if err := o.Check(); err != nil {
				return err
			}
			if up, err := waitForAPIServer(cmd.Context(), cfg, apiWaitMaxController); !up {
				return err
			}
			return runController(cmd.Context(), cfg, o, wo)
		},
	}
	ns := os.Getenv(namespaceEnv)
	if ns == "" {
		ns = controller.DefaultNamespace
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file; default: in-cluster configuration, else $KUBECONFIG or ~/.kube/config")
	f.StringVar(&o.Namespace, "namespace", ns, "namespace of ironlb's configuration, Secrets and leader-election Lease (default from $"+namespaceEnv+")")
	f.StringVar(&o.ConfigMap, "config-map", "", "legacy configuration ConfigMap as namespace/name, key \"config\" (default <namespace>/config)")
	f.StringVar(&o.MemberlistSecret, "memberlist-secret", "", "the speakers' memberlist Secret as namespace/name, created with a random key when missing (default <namespace>/"+membership.DefaultSecretName+")")
	f.BoolVar(&o.KeepMemberlistSecret, "keep-memberlist-secret", false, "never create the memberlist Secret: the operator manages it")
	f.StringVar(&o.LoadBalancerClass, "lb-class", "", "handle only LoadBalancer Services with this spec.loadBalancerClass; default: those without a class")
	f.BoolVar(&o.LeaderElection, "leader-elect", true, "run only while holding the leader-election Lease, so several replicas can run")
	f.StringVar(&o.HealthProbeBindAddress, "health-probe-bind-address", controller.DefaultHealthProbeBindAddress, "address of /healthz and /readyz; 0 disables them")
	f.StringVar(&o.PprofBindAddress, "pprof-bind-address", "0", "address of Go's profiles (/debug/pprof/), for diagnosis; 0 disables them (keep it on a loopback address)")
	metricsFlags(f, &o.MetricsBindAddress, &o.MetricsSecure, &o.MetricsCertDir, controller.DefaultMetricsBindAddress)
	f.BoolVar(&o.EnableHTTP2, "enable-http2", false, "allow HTTP/2 on the metrics server (off: HTTP/2 Rapid Reset, CVE-2023-44487)")
	f.IntVar(&wo.Port, "webhook-port", 0, "serve the validating webhook on this HTTPS port, with a certificate ironlb keeps in the Secret "+webhook.DefaultSecret+"; 0 disables it")
	f.StringVar(&wo.Service, "webhook-service", webhook.DefaultService, "the webhook's Service in --namespace: the certificate is issued for <service>.<namespace>.svc")
	f.StringVar(&wo.Configuration, "webhook-configuration", webhook.DefaultConfiguration, "the ValidatingWebhookConfiguration whose caBundle ironlb keeps")
	f.Float32Var(&o.KubeAPIQPS, "kube-api-qps", controller.DefaultKubeAPIQPS, "requests per second to the API server")
	f.IntVar(&o.KubeAPIBurst, "kube-api-burst", controller.DefaultKubeAPIBurst, "requests to the API server allowed in a burst")
	return cmd
}

// runController assembles and runs the controller's manager: the
// allocation controllers of internal/controller and, when wo.Port is set,
// the validating webhook of internal/webhook on every replica. The two
// packages do not know each other; this is where they meet.
func runController(ctx context.Context, cfg *rest.Config, o controller.Options, wo webhook.Options) error {
	var wh *webhook.Webhook
	if wo.Port != 0 {
		cm, err := o.LegacyConfigMapName()
		if err != nil {
			return fmt.Errorf("controller options: %w", err)
		}
		wo.Namespace, wo.LegacyConfigMap, wo.EnableHTTP2 = o.Namespace, cm, o.EnableHTTP2
		if wo.Namespace == "" {
			wo.Namespace = controller.DefaultNamespace
		}
		if wh, err = webhook.New(wo); err != nil {
			return err
		}
		o.WebhookServer = wh.Server
	}
	mgr, err := controller.NewManager(cfg, o)
	if err != nil {
		return err
	}
	if wh != nil {
		if err := wh.Register(mgr); err != nil {
			return err
		}
	}
	if _, err := controller.Setup(mgr, o); err != nil {
		return err
	}
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("running the controller: %w", err)
	}
	return nil
}

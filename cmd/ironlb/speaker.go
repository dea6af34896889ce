package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/ironlb/ironlb/internal/controller"
	"github.com/ironlb/ironlb/internal/speaker"
)

// nodeNameEnv names the environment variable that gives the default of
// --node-name (the Downward API sets it from spec.nodeName in the
// DaemonSet).
const nodeNameEnv = "NODE_NAME"

func newSpeakerCommand() *cobra.Command {
	var (
		o          speaker.Options
		kubeconfig string
		memberlist bool
	)
	cmd := &cobra.Command{
		Use:   "speaker",
		Short: "Run the speaker on a node: announce Service IPs with ARP/NDP and BGP",
		Long: `Run the speaker on a node. Every speaker elects, for each LoadBalancer
Service address, one node to answer ARP (IPv4) and NDP (IPv6) for it —
among the live speakers (memberlist) whose node an L2Advertisement selects
and is attached to the address's subnet — and answers when that node is
its own. It reports the announcing node in ServiceL2Status objects and
in an AnnouncingNodeChanged Event on the Service.

It also peers over BGP with the BGPPeers that select its node (with BFD
when a peer names a BFDProfile) and announces to them the addresses of
the pools a BGPAdvertisement names, from this node; it reports them in
ServiceBGPStatus objects and session changes in Events on the Node.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.DisableMemberlist = !memberlist
			cfg, err := controller.LoadConfig(kubeconfig)
			if err != nil {
				return err
			}
			if err := o.Check(); err != nil {
				return err
			}
			if up, err := waitForAPIServer(cmd.Context(), cfg, apiWaitMaxSpeaker); !up {
				return err
			}
			return speaker.Run(cmd.Context(), cfg, o)
		},
	}
	ns := os.Getenv(namespaceEnv)
	if ns == "" {
		ns = speaker.DefaultNamespace
	}
	f := cmd.Flags()
	f.StringVar(&o.NodeName, "node-name", os.Getenv(nodeNameEnv), "the node this speaker runs on (default from $"+nodeNameEnv+")")
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file; default: in-cluster configuration, else $KUBECONFIG or ~/.kube/config")
	f.StringVar(&o.Namespace, "namespace", ns, "namespace of ironlb's configuration and Secrets (default from $"+namespaceEnv+")")
	f.StringVar(&o.ConfigMap, "config-map", "", "legacy configuration ConfigMap as namespace/name, key \"config\" (default <namespace>/config)")
	f.StringVar(&o.LoadBalancerClass, "lb-class", "", "announce only LoadBalancer Services with this spec.loadBalancerClass; default: those without a class")
	f.BoolVar(&memberlist, "memberlist", true, "detect failed speakers with memberlist; false: trust the Nodes' Ready condition (slow failover)")
	f.StringVar(&o.MemberlistSecret, "memberlist-secret", "", "Secret namespace/name whose key \""+speaker.MemberlistSecretKey+"\" encrypts the gossip (default <namespace>/"+speaker.DefaultMemberlistSecretName+")")
	f.DurationVar(&o.MemberlistSecretWait, "memberlist-secret-wait", speaker.DefaultMemberlistSecretWait, "how long to wait at start for a missing memberlist Secret (the controller creates it) before falling back to the Nodes' Ready condition")
	f.StringVar(&o.MemberlistBindAddress, "memberlist-bind-address", speaker.DefaultMemberlistBindAddress, "host:port or :port of memberlist (UDP and TCP); the same port on every node")
	f.StringVar(&o.HealthProbeBindAddress, "health-probe-bind-address", speaker.DefaultHealthProbeBindAddress, "address of /healthz and /readyz; 0 disables them")
	f.StringVar(&o.PprofBindAddress, "pprof-bind-address", "0", "address of Go's profiles (/debug/pprof/), for diagnosis; 0 disables them (keep it on a loopback address)")
	metricsFlags(f, &o.MetricsBindAddress, &o.MetricsSecure, &o.MetricsCertDir, speaker.DefaultMetricsBindAddress)
	f.Float32Var(&o.KubeAPIQPS, "kube-api-qps", speaker.DefaultKubeAPIQPS, "requests per second to the API server")
	f.IntVar(&o.KubeAPIBurst, "kube-api-burst", speaker.DefaultKubeAPIBurst, "requests to the API server allowed in a burst")
	return cmd
}

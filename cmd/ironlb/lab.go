package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ironlb/ironlb/internal/lab"
)

// labDirDefault is --dir's default: $IRONLB_LAB_DIR, else lab.DefaultDir.
func labDirDefault() string {
	if d := os.Getenv("IRONLB_LAB_DIR"); d != "" {
		return d
	}
	return lab.DefaultDir
}

func newLabCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Run a local bare-metal cluster of real parts in network namespaces",
		Long: "The lab is a Kubernetes cluster on this machine: network namespaces as hosts (node1..nodeN, client, router)\n" +
			"on a bridge of their own, the pinned control plane and kube-proxy, FRR as the router, a kubelet stand-in per\n" +
			"node, and ironlb. It adds nothing to the machine's own network. It needs root. See docs/lab.md.",
	}
	cmd.PersistentFlags().StringVar(&dir, "dir", labDirDefault(), "lab directory: state, kubeconfig, certificates, logs (env IRONLB_LAB_DIR)")
	cmd.AddCommand(
		newLabUpCommand(&dir),
		newLabDownCommand(&dir),
		newLabStatusCommand(&dir),
		newLabKubectlCommand(&dir),
		newLabExecCommand(&dir),
		newLabRouterCommand(&dir),
		newLabNodeCommand(&dir),
		newLabRestartCommand(&dir),
		newLabStopCommand(&dir),
		newLabSwitchCommand(&dir),
		newLabSuperviseCommand(&dir),
		newLabAgentCommand(&dir),
	)
	return cmd
}

// labCommandFlags are the long flags of this binary's controller and
// speaker commands, own and inherited, read from their definitions: the lab
// runs this binary with them.
func labCommandFlags() lab.CommandFlags {
	root := newRootCommand()
	out := lab.CommandFlags{}
	for _, sub := range []string{"controller", "speaker"} {
		c, _, err := root.Find([]string{sub})
		if err != nil || c == root {
			continue // CommandFlags.Check names what is missing
		}
		names := map[string]bool{}
		add := func(f *pflag.Flag) { names[f.Name] = true }
		c.LocalFlags().VisitAll(add)
		c.InheritedFlags().VisitAll(add)
		out[sub] = names
	}
	return out
}

func newLabUpCommand(dir *string) *cobra.Command {
	o := lab.UpOptions{}
	var family, kubelet, lb string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Bring the lab up (replacing any lab in --dir, running or crashed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := lab.ParseIPFamily(family)
			if err != nil {
				return err
			}
			if o.Kubelet, err = lab.ParseKubeletMode(kubelet); err != nil {
				return err
			}
			if o.LB, err = lab.ParseLB(lb); err != nil {
				return err
			}
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("finding the ironlb binary: %w", err)
			}
			if self, err = filepath.EvalSymlinks(self); err != nil {
				return fmt.Errorf("finding the ironlb binary: %w", err)
			}
			o.Dir, o.IPFamily, o.Ironlb, o.Out = *dir, f, self, cmd.OutOrStdout()
			o.Flags = labCommandFlags()
			_, err = lab.Up(cmd.Context(), o)
			return err
		},
	}
	cmd.Flags().IntVar(&o.Nodes, "nodes", 3, fmt.Sprintf("number of nodes (1 to %d)", lab.MaxNodes))
	cmd.Flags().IntVar(&o.KubeProxyNodes, "kube-proxy-nodes", 0, "run kube-proxy on the first N nodes only (0: every node); for big labs, where Service traffic through a few nodes is enough")
	cmd.Flags().StringVar(&family, "ip-family", string(lab.DualStack), "cluster IP families: dual, ipv4 or ipv6 (the network is always dual-stack)")
	cmd.Flags().StringVar(&o.Prefix, "prefix", lab.DefaultPrefix, "prefix of the lab's network namespace names")
	cmd.Flags().StringVar(&o.K8sDir, "k8s-dir", "", "directory of the Kubernetes binaries (default $IRONLB_K8S_DIR, else hack/build-k8s.sh's cache)")
	cmd.Flags().StringVar(&o.CRDDir, "crds", "", "directory of CRD manifests to apply (default config/crd/bases of this checkout)")
	cmd.Flags().StringVar(&kubelet, "kubelet", string(lab.KubeletStandIn), "what runs Pods on the nodes: stand-in (the lab agent) or real (kubelet and containerd per node)")
	cmd.Flags().StringVar(&lb, "lb", string(lab.LBIronlb), "the load balancer the lab runs: ironlb, or metallb (MetalLB built by hack/build-metallb.sh) for side by side runs")
	cmd.Flags().BoolVar(&o.Audit, "audit", false, "write the API server's audit log (logs/audit.log: every request's user, user agent, verb and times)")
	cmd.Flags().StringVar(&o.MetalLBDir, "metallb-dir", "", "with --lb metallb: directory of MetalLB's binaries and CRDs (default $IRONLB_METALLB_DIR, else hack/build-metallb.sh's cache)")
	cmd.Flags().BoolVar(&o.Monitoring, "monitoring", false, "also run Prometheus (hack/build-prometheus.sh) in the client namespace, scraping the controller and every speaker, with ironlb's alerting rules; its API on a root-namespace loopback port shown by `lab status`")
	cmd.Flags().StringVar(&o.Images, "images", "", "with --kubelet real: directory of OCI image tarballs imported into every node's containerd (default bin/lab-images of this checkout, from hack/lab-images.sh)")
	return cmd
}

func newLabDownCommand(dir *string) *cobra.Command {
	o := lab.DownOptions{}
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Remove the lab: its processes, namespaces and files (idempotent)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := lab.CheckRoot(); err != nil {
				return err
			}
			o.Dir, o.Out = *dir, cmd.OutOrStdout()
			if err := lab.Down(cmd.Context(), o); err != nil {
				return err
			}
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "lab down")
			return err
		},
	}
	cmd.Flags().StringVar(&o.Prefix, "prefix", lab.DefaultPrefix, "namespace prefix to sweep when --dir holds no lab state")
	cmd.Flags().BoolVar(&o.KeepLogs, "keep-logs", false, "keep the logs directory")
	return cmd
}

func newLabStatusCommand(dir *string) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the lab's hosts (interface, MAC, addresses), router, kubeconfig and processes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" {
				return fmt.Errorf("--output %q: want text or json", output)
			}
			if err := lab.CheckRoot(); err != nil {
				return err
			}
			st, err := lab.GetStatus(cmd.Context(), *dir)
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			return st.WriteText(cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func newLabKubectlCommand(dir *string) *cobra.Command {
	return &cobra.Command{
		Use:   "kubectl -- ARGS...",
		Short: "Run the pinned kubectl against the lab",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := lab.KubectlCommand(cmd.Context(), *dir, args)
			if err != nil {
				return err
			}
			return runAttached(cmd, c)
		},
	}
}

func newLabExecCommand(dir *string) *cobra.Command {
	return &cobra.Command{
		Use:   "exec HOST -- CMD...",
		Short: "Run a command inside a host's namespace (node1..nodeN, client, router, lan)",
		Long: "Run CMD inside the network namespace of HOST, with KUBECONFIG set to the lab's and the pinned\n" +
			"Kubernetes binaries on PATH. Without CMD it runs /bin/sh.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := lab.CheckRoot(); err != nil {
				return err
			}
			c, err := lab.ExecCommand(cmd.Context(), *dir, args[0], args[1:])
			if err != nil {
				return err
			}
			return runAttached(cmd, c)
		},
	}
}

func newLabRouterCommand(dir *string) *cobra.Command {
	return &cobra.Command{
		Use:   "router -- VTYSH-ARGS...",
		Short: "Run vtysh against the lab's FRR router (e.g. -- -c 'show bgp summary')",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := lab.RouterCommand(cmd.Context(), *dir, args)
			if err != nil {
				return err
			}
			return runAttached(cmd, c)
		},
	}
}

func newLabNodeCommand(dir *string) *cobra.Command {
	cmd := &cobra.Command{Use: "node", Short: "Fail or recover a node, or stop its speaker"}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "fail NODE",
			Short: "Crash a node: kill its speaker and cut its link to the bridge",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				if err := lab.CheckRoot(); err != nil {
					return err
				}
				return lab.NodeFail(cmd.Context(), *dir, args[0], cmd.OutOrStdout())
			},
		},
		&cobra.Command{
			Use:   "recover NODE",
			Short: "Bring a failed node back: link up, speaker started",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				if err := lab.CheckRoot(); err != nil {
					return err
				}
				return lab.NodeRecover(cmd.Context(), *dir, args[0], cmd.OutOrStdout())
			},
		},
		&cobra.Command{
			Use:   "stop-speaker NODE",
			Short: "Stop a node's speaker gracefully (SIGTERM) and keep it stopped until `node recover`",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				if err := lab.CheckRoot(); err != nil {
					return err
				}
				return lab.StopSpeaker(*dir, args[0], cmd.OutOrStdout())
			},
		},
	)
	return cmd
}

func newLabRestartCommand(dir *string) *cobra.Command {
	cmd := &cobra.Command{Use: "restart", Short: "Restart the ironlb controller, a speaker or the router's bgpd"}
	var graceful bool
	router := &cobra.Command{
		Use:   "router",
		Short: "Restart the router's bgpd: a clean stop that withdraws its routes, or with --graceful a kill that keeps forwarding",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := lab.CheckRoot(); err != nil {
				return err
			}
			return lab.RestartRouter(cmd.Context(), *dir, graceful, cmd.OutOrStdout())
		},
	}
	router.Flags().BoolVar(&graceful, "graceful", false,
		"kill bgpd (SIGKILL) instead of stopping it: the router keeps its routes in the kernel (graceful restart, forwarding state preserved) while the new bgpd learns them again")
	cmd.AddCommand(router,
		&cobra.Command{
			Use:   "controller",
			Short: "Restart the ironlb controller",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				if err := lab.CheckRoot(); err != nil {
					return err
				}
				return lab.Restart(*dir, "controller", cmd.OutOrStdout())
			},
		},
		&cobra.Command{
			Use:   "speaker NODE",
			Short: "Restart the ironlb speaker of a node",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				if err := lab.CheckRoot(); err != nil {
					return err
				}
				return lab.Restart(*dir, "speaker/"+args[0], cmd.OutOrStdout())
			},
		},
	)
	return cmd
}

func newLabStopCommand(dir *string) *cobra.Command {
	cmd := &cobra.Command{Use: "stop", Short: "Stop the ironlb controller and keep it down"}
	cmd.AddCommand(&cobra.Command{
		Use:   "controller",
		Short: "Stop the ironlb controller gracefully and keep it down until `lab restart controller`",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := lab.CheckRoot(); err != nil {
				return err
			}
			return lab.StopController(*dir, cmd.OutOrStdout())
		},
	})
	return cmd
}

func newLabSwitchCommand(dir *string) *cobra.Command {
	o := lab.SwitchOptions{}
	cmd := &cobra.Command{
		Use:   "switch-lb ironlb|metallb",
		Short: "Replace the load balancer the lab runs: stop every controller and speaker of one, then start the other's",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			to, err := lab.ParseLB(args[0])
			if err != nil {
				return err
			}
			o.Dir, o.To, o.Flags, o.Out = *dir, to, labCommandFlags(), cmd.OutOrStdout()
			return lab.SwitchLB(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.MetalLBDir, "metallb-dir", "", "for metallb: directory of MetalLB's binaries and CRDs (default $IRONLB_METALLB_DIR, else hack/build-metallb.sh's cache)")
	return cmd
}

func newLabSuperviseCommand(dir *string) *cobra.Command {
	return &cobra.Command{
		Use:    "supervise",
		Short:  "Internal: API forwarders into the host namespaces and restarts of crashed processes",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return lab.Supervise(cmd.Context(), *dir, slog.Default())
		},
	}
}

func newLabAgentCommand(dir *string) *cobra.Command {
	var node string
	cmd := &cobra.Command{
		Use:    "agent",
		Short:  "Internal: the kubelet stand-in of one node (run inside the node's namespace)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return lab.RunAgent(cmd.Context(), *dir, node, slog.Default())
		},
	}
	cmd.Flags().StringVar(&node, "node", "", "the node this agent plays (node1..nodeN)")
	_ = cmd.MarkFlagRequired("node")
	return cmd
}

// runAttached runs c with the command's standard streams and passes its
// exit code on.
func runAttached(cmd *cobra.Command, c *exec.Cmd) error {
	c.Stdin, c.Stdout, c.Stderr = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	err := c.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exitCodeError{code: ee.ExitCode()}
	}
	return err
}

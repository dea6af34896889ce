package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/controller"
	"github.com/ironlb/ironlb/internal/status"
)

// watchInterval is how often `status --watch` refreshes.
const watchInterval = 2 * time.Second

func newStatusCommand() *cobra.Command {
	var (
		kubeconfig, namespace, output string
		watch                         bool
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the pools and their use, the Services with who announces them, and the BGP sessions",
		Long: `Show what ironlb does in the cluster: each IPAddressPool with a usage bar
per family (assigned / total), each Service ironlb handles with its
addresses, pool, mode (layer2, bgp) and the nodes announcing it (with
their interfaces or BGP peers) — or why it has no address or is not
announced — and the last known state of each node's BGP sessions.

Also a kubectl plugin: installed (or linked) as kubectl-ironlb on the PATH,
this binary answers "kubectl ironlb status".

It only reads: list on ironlb.io IPAddressPools (in --namespace),
ServiceL2Statuses and ServiceBGPStatuses, and on core Services and Events.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "text" && output != "json" && output != "yaml" {
				return fmt.Errorf("-o %s: want text, json or yaml", output)
			}
			cfg, err := controller.LoadConfig(kubeconfig)
			if err != nil {
				return err
			}
			scheme, err := controller.NewScheme()
			if err != nil {
				return err
			}
			c, err := client.New(cfg, client.Options{Scheme: scheme})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			tty := isTerminal(out)
			for {
				if err := showStatus(cmd.Context(), c, namespace, output, out, tty, watch); err != nil {
					return err
				}
				if !watch {
					return nil
				}
				select {
				case <-cmd.Context().Done():
					return nil
				case <-time.After(watchInterval):
				}
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file; default: $KUBECONFIG or ~/.kube/config, else in-cluster")
	f.StringVarP(&namespace, "namespace", "n", config.DefaultNamespace, "namespace ironlb runs in (its pools live there)")
	f.StringVarP(&output, "output", "o", "text", "output format: text, json or yaml")
	f.BoolVarP(&watch, "watch", "w", false, "refresh every 2 s until interrupted")
	return cmd
}

// showStatus gathers and prints one status; on a terminal, --watch
// redraws it in place.
func showStatus(ctx context.Context, c client.Reader, namespace, output string, w io.Writer, tty, watch bool) error {
	objs, err := status.Gather(ctx, c, namespace)
	if err != nil {
		return err
	}
	st := status.From(objs)
	switch output {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	case "yaml":
		b, err := yaml.Marshal(st)
		if err != nil {
			return err
		}
		if watch {
			if _, err := fmt.Fprintln(w, "---"); err != nil {
				return err
			}
		}
		_, err = w.Write(b)
		return err
	}
	if watch && tty {
		if _, err := fmt.Fprint(w, "\x1b[H\x1b[2J"); err != nil { // home, clear
			return err
		}
	}
	return status.Render(w, st, status.Options{Color: tty, Now: time.Now()})
}

// isTerminal reports whether w is a terminal (colour and redraws).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) //nolint:gosec // a file descriptor fits an int
}

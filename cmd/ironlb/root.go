package main

import (
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ironlb/ironlb/internal/logging"
	"github.com/ironlb/ironlb/internal/metrics"
)

// globalFlags are shared by every subcommand.
type globalFlags struct {
	logLevel  string
	logFormat string
}

func newRootCommand() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:           rootName(),
		Short:         "ironlb: a network load balancer for bare-metal Kubernetes",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			l, err := logging.New(os.Stderr, logging.Options{Level: g.logLevel, Format: g.logFormat})
			if err != nil {
				return err
			}
			logging.Install(l.With("component", cmd.Name()))
			return nil
		},
	}
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "json", "log format: json or text")
	root.AddCommand(
		newVersionCommand(),
		newConfigCommand(),
		newControllerCommand(),
		newSpeakerCommand(),
		newLabCommand(),
		newDoctorCommand(),
		newStatusCommand(),
		newMigrateCommand(),
	)
	return root
}

// rootName is the command's name in help: "kubectl ironlb" when run as the
// kubectl plugin kubectl-ironlb, else "ironlb".
func rootName() string {
	if filepath.Base(os.Args[0]) == "kubectl-ironlb" {
		return "kubectl ironlb"
	}
	return "ironlb"
}

// metricsFlags adds the flags of the /metrics endpoint, the same for the
// controller and the speaker: HTTPS with the API server deciding who may
// read (metrics.Serving) unless --metrics-secure=false.
func metricsFlags(f *pflag.FlagSet, bind *string, secure *bool, certDir *string, defaultBind string) {
	f.StringVar(bind, "metrics-bind-address", defaultBind, "address of /metrics; 0 disables it")
	f.BoolVar(secure, "metrics-secure", true, "serve /metrics over HTTPS to clients the API server authenticates and authorizes (get on the non-resource URL /metrics, ClusterRole "+metrics.ReaderClusterRole+"); false: plain HTTP to anyone")
	f.StringVar(certDir, "metrics-cert-dir", "", "directory with tls.crt and tls.key for --metrics-secure; default: a self-signed certificate")
}

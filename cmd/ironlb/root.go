package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/ironlb/ironlb/internal/logging"
)

// globalFlags are shared by every subcommand.
type globalFlags struct {
	logLevel  string
	logFormat string
}

func newRootCommand() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:           "ironlb",
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
	)
	return root
}

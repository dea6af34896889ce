package main

import (
	"os"
	"path/filepath"

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

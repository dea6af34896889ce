package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// Subcommands whose implementation lands with later issues live here as
// stubs, so the command tree is stable and scripts can refer to them.

func newLabCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "lab",
		Short: "Run a local bare-metal cluster of real parts in network namespaces",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("the lab is not implemented yet")
		},
	}
}

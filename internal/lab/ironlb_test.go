package lab

import (
	"slices"
	"testing"
)

const speakerHelp = `Run the speaker on a node

Usage:
  ironlb speaker [flags]

Flags:
  -h, --help                  help for speaker
      --kubeconfig string     path to a kubeconfig
      --node-name string      the node this speaker runs on

Global Flags:
      --log-format string   log format: json or text (default "json")
`

func TestParseFlagsAndFlagArgs(t *testing.T) {
	flags := parseFlags(speakerHelp)
	for _, f := range []string{"help", "kubeconfig", "node-name", "log-format"} {
		if !flags[f] {
			t.Errorf("flag %q not found in %v", f, flags)
		}
	}
	got := flagArgs(flags,
		[2]string{"node-name", "node1"},
		[2]string{"namespace", "ironlb-system"}, // not accepted: left out
		[2]string{"kubeconfig", "/lab/kubeconfig"},
	)
	want := []string{"--node-name=node1", "--kubeconfig=/lab/kubeconfig"}
	if !slices.Equal(got, want) {
		t.Errorf("flagArgs = %q, want %q", got, want)
	}
	if f := parseFlags("Error: unknown command"); len(f) != 0 {
		t.Errorf("flags from an error: %v", f)
	}
}

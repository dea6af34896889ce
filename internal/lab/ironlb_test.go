package lab

import (
	"slices"
	"strings"
	"testing"
)

func TestFlagArgs(t *testing.T) {
	flags := testFlags["speaker"]
	got, err := flagArgs(flags, [2]string{"node-name", "node1"}, [2]string{"kubeconfig", "/lab/kubeconfig"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"--node-name=node1", "--kubeconfig=/lab/kubeconfig"}; !slices.Equal(got, want) {
		t.Errorf("flagArgs = %q, want %q", got, want)
	}
	if _, err := flagArgs(flags, [2]string{"leader-elect", "true"}); err == nil {
		t.Error("flagArgs accepted a flag the speaker does not have")
	}
}

// TestCommandFlagsCheck: a lab whose ironlb lacks a flag the lab sets
// refuses to come up, naming every missing flag.
func TestCommandFlagsCheck(t *testing.T) {
	if err := testFlags.Check(); err != nil {
		t.Fatalf("complete flags: %v", err)
	}
	partial := CommandFlags{"controller": testFlags["controller"], "speaker": flagSet("kubeconfig", "namespace")}
	err := partial.Check()
	if err == nil {
		t.Fatal("Check accepted a speaker without --node-name")
	}
	for _, want := range []string{"ironlb speaker --node-name", "ironlb speaker --memberlist-bind-address", "ironlb speaker --log-format"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check() = %v, want it to name %s", err, want)
		}
	}
	if err := CommandFlags(nil).Check(); err == nil {
		t.Error("Check accepted no flags at all")
	}
}

package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/ironlb/ironlb/internal/lab"
)

func TestLabCommandTree(t *testing.T) {
	root := newRootCommand()
	for _, path := range [][]string{
		{"lab", "up"}, {"lab", "down"}, {"lab", "status"}, {"lab", "kubectl"}, {"lab", "exec"}, {"lab", "router"},
		{"lab", "node", "fail"}, {"lab", "node", "recover"}, {"lab", "node", "stop-speaker"}, {"lab", "restart", "controller"}, {"lab", "restart", "speaker"}, {"lab", "restart", "router"},
		{"lab", "supervise"}, {"lab", "agent"}, {"lab", "switch-lb"}, {"lab", "stop", "controller"}, {"migrate"},
	} {
		cmd, rest, err := root.Find(path)
		if err != nil || len(rest) != 0 || cmd.Name() != path[len(path)-1] {
			t.Errorf("ironlb %s: not found (%v, rest %v)", strings.Join(path, " "), err, rest)
		}
	}
	for _, hidden := range []string{"supervise", "agent"} {
		if cmd, _, _ := root.Find([]string{"lab", hidden}); !cmd.Hidden {
			t.Errorf("lab %s is not hidden", hidden)
		}
	}
}

func TestLabUpFlagDefaults(t *testing.T) {
	up, _, err := newRootCommand().Find([]string{"lab", "up"})
	if err != nil {
		t.Fatal(err)
	}
	for flag, want := range map[string]string{
		"nodes": "3", "ip-family": "dual", "prefix": lab.DefaultPrefix, "k8s-dir": "", "crds": "", "lb": "ironlb", "metallb-dir": "",
	} {
		if f := up.Flags().Lookup(flag); f == nil || f.DefValue != want {
			t.Errorf("--%s default = %v, want %q", flag, f, want)
		}
	}
}

func TestLabDirDefault(t *testing.T) {
	t.Setenv("IRONLB_LAB_DIR", "")
	if got := labDirDefault(); got != lab.DefaultDir {
		t.Errorf("default dir = %q, want %q", got, lab.DefaultDir)
	}
	t.Setenv("IRONLB_LAB_DIR", "/tmp/mylab")
	if got := labDirDefault(); got != "/tmp/mylab" {
		t.Errorf("dir from the environment = %q", got)
	}
}

func TestLabRejectsBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"lab", "up", "--ip-family", "ipv5"}, `--ip-family "ipv5": want dual, ipv4 or ipv6`},
		{[]string{"lab", "status", "-o", "yaml"}, `--output "yaml": want text or json`},
		{[]string{"lab", "node", "fail"}, "accepts 1 arg"},
		{[]string{"lab", "up", "--lb", "bogus"}, `load balancer "bogus": want ironlb or metallb`},
		{[]string{"lab", "switch-lb", "haproxy"}, `load balancer "haproxy": want ironlb or metallb`},
		{[]string{"migrate", "-o", "xml"}, `--output "xml": want yaml or json`},
		{[]string{"migrate", "--diff", "--apply"}, "--diff and --apply: pick one"},
		{[]string{"lab", "kubectl", "--dir", t.TempDir(), "--", "get", "pods"}, "no lab state"},
	}
	for _, tt := range tests {
		root := newRootCommand()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(tt.args)
		err := root.Execute()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ironlb %s: err = %v, want it to contain %q", strings.Join(tt.args, " "), err, tt.want)
		}
		var ec exitCodeError
		if errors.As(err, &ec) {
			t.Errorf("ironlb %s: exit code error %v, want a message", strings.Join(tt.args, " "), ec)
		}
	}
}

// TestLabCommandFlags: the flags the lab reads from this binary's command
// definitions include every flag the lab sets (renaming one fails here,
// and `lab up` refuses to start).
func TestLabCommandFlags(t *testing.T) {
	flags := labCommandFlags()
	if err := flags.Check(); err != nil {
		t.Fatal(err)
	}
	for sub, want := range map[string]string{"controller": "leader-elect", "speaker": "node-name"} {
		if !flags[sub][want] || !flags[sub]["log-format"] {
			t.Errorf("ironlb %s: flags %v lack --%s or the inherited --log-format", sub, flags[sub], want)
		}
	}
}

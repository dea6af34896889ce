package netnstest

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// netnsDir is where `ip netns` keeps its named namespaces.
const netnsDir = "/run/netns"

// netnsPath is the file naming a namespace, for setns.
func netnsPath(ns string) string { return filepath.Join(netnsDir, ns) }

// run runs a command in the root namespace and returns its combined output.
func run(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// mustRun runs a command and fails the test if it fails.
func mustRun(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := run(name, args...); err != nil {
		t.Fatalf("netnstest: %s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// mustBatch runs `ip -n ns -batch -` with one command per line.
func mustBatch(t testing.TB, ns string, lines ...string) {
	t.Helper()
	cmd := exec.Command("ip", "-n", ns, "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("netnstest: ip -n %s -batch:\n%s\n: %v: %s", ns, strings.Join(lines, "\n"), err, out)
	}
}

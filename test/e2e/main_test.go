//go:build e2e

// Package e2e holds ironlb's end-to-end tests. They run on the lab
// (internal/lab): by default each run brings up a lab of its own in a
// temporary directory with a unique namespace prefix, so a developer's
// running lab is left alone; IRONLB_E2E_LAB_DIR=<dir> reuses a running lab
// instead (the destructive lifecycle tests are then skipped).
//
//	sudo go test -tags e2e -count=1 ./test/e2e/
//
// They need root, the lab's Debian packages and the binaries of
// `hack/build-k8s.sh --all`. Missing any of these skips the tests on a
// developer machine and fails them when CI=true.
package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/internal/lab"
)

// env is the lab the tests run on, set up once by TestMain.
type env struct {
	// unavailable, when set, says why the lab cannot run here.
	unavailable string
	// ironlb is the ironlb binary under test.
	ironlb string
	dir    string
	prefix string
	nodes  int
	// owned is true when this run brought the lab up (and takes it down).
	owned bool
	// work is this run's temporary directory: the binary, the lab's dir.
	work string
}

var e2e env

func TestMain(m *testing.M) {
	if reason := setup(); reason != "" {
		e2e.unavailable = reason
		fmt.Fprintln(os.Stderr, "e2e:", reason)
	}
	code := m.Run() // without a lab every test skips (or fails in CI) with the reason
	if e2e.owned {
		// Normally TestLab/down did this already; make sure, even after a failed up.
		out, err := exec.Command(e2e.ironlb, "lab", "down", "--dir", e2e.dir, "--prefix", e2e.prefix).CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "e2e: lab down: %v\n%s", err, out)
			code = 1
		}
	}
	if e2e.work != "" {
		_ = os.RemoveAll(e2e.work)
	}
	os.Exit(code)
}

// setup finds or builds what the lab needs and brings the lab up; it
// returns why the lab is unavailable, or "".
func setup() string {
	if err := lab.CheckRoot(); err != nil {
		return "not root: " + err.Error()
	}
	if err := lab.CheckPrerequisites(); err != nil {
		return err.Error()
	}
	if _, err := lab.FindK8sDir(""); err != nil {
		return err.Error()
	}
	work, err := os.MkdirTemp("", "ironlb-e2e-")
	if err != nil {
		return err.Error()
	}
	e2e.work = work
	if err := os.Chmod(work, 0o755); err != nil { // FRR's user must reach the router directory
		return err.Error()
	}
	bin, err := ironlbBinary(work)
	if err != nil {
		return err.Error()
	}
	e2e.ironlb = bin
	if dir := os.Getenv("IRONLB_E2E_LAB_DIR"); dir != "" {
		s, err := lab.LoadState(dir)
		if err != nil {
			return fmt.Sprintf("IRONLB_E2E_LAB_DIR=%s: %v", dir, err)
		}
		e2e.dir, e2e.prefix, e2e.nodes = s.Dir, s.Prefix, s.Nodes
		return ""
	}
	e2e.dir = filepath.Join(work, "lab")
	e2e.prefix = "ie2e" + randomHex(3) + "-"
	e2e.nodes = 2
	e2e.owned = true // from here on, TestMain takes the lab down
	start := time.Now()
	if out, err := labUp(); err != nil {
		return fmt.Sprintf("lab up failed: %v\n%s", err, out)
	}
	fmt.Fprintf(os.Stderr, "e2e: lab up in %s (dir %s, prefix %s)\n", time.Since(start).Round(100*time.Millisecond), e2e.dir, e2e.prefix)
	return ""
}

// labUp runs `ironlb lab up` for the test lab.
func labUp() ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e2e.ironlb, "lab", "up", "--dir", e2e.dir, "--prefix", e2e.prefix,
		"--nodes", strconv.Itoa(e2e.nodes), "--crds", filepath.Join(repoRoot(), "config", "crd", "bases"))
	cmd.Dir = repoRoot()
	return cmd.CombinedOutput()
}

// ironlbBinary is $IRONLB_BIN, or this checkout's cmd/ironlb built into
// work.
func ironlbBinary(work string) (string, error) {
	if b := os.Getenv("IRONLB_BIN"); b != "" {
		return filepath.Abs(b)
	}
	out := filepath.Join(work, "ironlb")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/ironlb")
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building ironlb: %w\n%s", err, b)
	}
	return out, nil
}

func repoRoot() string {
	wd, _ := os.Getwd()
	return lab.FindRepoRoot(wd)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// requireLab skips t (fails it under CI=true) when the lab is unavailable.
func requireLab(t *testing.T) {
	t.Helper()
	if e2e.unavailable == "" {
		return
	}
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatalf("the lab is unavailable and CI=true: %s", e2e.unavailable)
	}
	t.Skipf("the lab is unavailable (set CI=true to fail instead): %s", firstLine(e2e.unavailable))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

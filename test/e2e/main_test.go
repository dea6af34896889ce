//go:build e2e

// Package e2e holds ironlb's end-to-end tests. They run on the lab
// (internal/lab): by default each run brings up a lab of its own in a
// temporary directory with a unique namespace prefix, so a developer's
// running lab is left alone; IRONLB_E2E_LAB_DIR=<dir> reuses a running lab
// instead (the destructive lifecycle tests are then skipped). The lab is
// dual-stack; IRONLB_E2E_IP_FAMILY=ipv4|ipv6 makes it single-stack (`make
// test` runs the BGP suite a second time on an IPv6-only lab).
//
//	sudo go test -tags e2e -count=1 ./test/e2e/
//	sudo IRONLB_E2E_IP_FAMILY=ipv6 go test -tags e2e -count=1 -run 'TestBGP$' ./test/e2e/
//
// They need root, the lab's Debian packages and the binaries of
// `hack/build-k8s.sh --all`. Missing any of these skips the tests on a
// developer machine and fails them under CI (testkit.Unavailable). Anything
// else that keeps the lab from coming up — ironlb failing to build, `lab up`
// failing — fails every test, under CI or not: it is a defect, not a
// missing prerequisite.
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
	"testing"
	"time"

	"github.com/ironlb/ironlb/internal/lab"
	"github.com/ironlb/ironlb/internal/testkit"
)

// env is the lab the tests run on, set up once by TestMain.
type env struct {
	// unavailable, when set, names the missing prerequisite (root, a
	// Debian package, the Kubernetes binaries) that keeps the lab from
	// running here: the tests skip, or fail under CI.
	unavailable string
	// broken, when set, says why the lab could not be made although its
	// prerequisites are there (ironlb does not build, `lab up` fails):
	// every test fails, and so does the run.
	broken string
	// ironlb is the ironlb binary under test.
	ironlb string
	dir    string
	prefix string
	nodes  int
	// family is the lab's IP family when this run brings it up.
	family lab.IPFamily
	// owned is true when this run brought the lab up (and takes it down).
	owned bool
	// work is this run's temporary directory: the binary, the lab's dir.
	work string
}

var e2e env

func TestMain(m *testing.M) {
	missing, err := setup()
	switch {
	case err != nil:
		e2e.broken = err.Error()
		fmt.Fprintln(os.Stderr, "e2e: FAIL: the lab could not be set up:", e2e.broken)
	case missing != "":
		e2e.unavailable = missing
		fmt.Fprintln(os.Stderr, "e2e:", missing)
	}
	// Without a lab every test skips (fails under CI) with the missing
	// prerequisite, or fails with what broke.
	code := m.Run()
	if e2e.broken != "" && code == 0 {
		// Even when no selected test asked for the lab (a -run matching
		// only benches without IRONLB_BENCH): a broken setup never passes.
		fmt.Fprintln(os.Stderr, "e2e: FAIL: the lab could not be set up (see above)")
		code = 1
	}
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

// setup finds or builds what the lab needs and brings the lab up. It
// returns the missing prerequisite that keeps the lab from running here
// (the tests then skip, or fail under CI), or an error when the lab could
// not be made for any other reason (the tests then fail).
//
// Only what a developer machine may lack counts as missing: root, the
// lab's Debian packages, the binaries of `hack/build-k8s.sh --all`. A
// build of ironlb that fails, a `lab up` that fails, a lab directory that
// IRONLB_E2E_LAB_DIR names but holds no lab: errors.
func setup() (missing string, err error) {
	if err := lab.CheckRoot(); err != nil {
		return "not root: " + err.Error(), nil
	}
	if err := lab.CheckPrerequisites(); err != nil {
		return err.Error(), nil
	}
	if _, err := lab.FindK8sDir(""); err != nil {
		return err.Error(), nil
	}
	work, err := os.MkdirTemp("", "ironlb-e2e-")
	if err != nil {
		return "", err
	}
	e2e.work = work
	if err := os.Chmod(work, 0o755); err != nil { // FRR's user must reach the router directory
		return "", err
	}
	bin, err := ironlbBinary(work)
	if err != nil {
		return "", err
	}
	e2e.ironlb = bin
	if dir := os.Getenv("IRONLB_E2E_LAB_DIR"); dir != "" {
		s, err := lab.LoadState(dir)
		if err != nil {
			return "", fmt.Errorf("IRONLB_E2E_LAB_DIR=%s: %w", dir, err)
		}
		e2e.dir, e2e.prefix, e2e.nodes = s.Dir, s.Prefix, s.Nodes
		return "", nil
	}
	e2e.dir = filepath.Join(work, "lab")
	e2e.prefix = "ie2e" + randomHex(3) + "-"
	e2e.nodes = 3
	e2e.family = lab.DualStack
	if f := os.Getenv("IRONLB_E2E_IP_FAMILY"); f != "" {
		if e2e.family, err = lab.ParseIPFamily(f); err != nil {
			return "", fmt.Errorf("IRONLB_E2E_IP_FAMILY: %w", err)
		}
	}
	e2e.owned = true // from here on, TestMain takes the lab down
	start := time.Now()
	if out, err := labUp(); err != nil {
		return "", fmt.Errorf("lab up failed: %w\n%s", err, out)
	}
	fmt.Fprintf(os.Stderr, "e2e: lab up in %s (dir %s, prefix %s, %s stack)\n", time.Since(start).Round(100*time.Millisecond), e2e.dir, e2e.prefix, e2e.family)
	return "", nil
}

// labUp runs `ironlb lab up` for the test lab.
func labUp() ([]byte, error) {
	// Expected: 6-14 s with warm binaries (docs/lab.md), up to half a
	// minute on a machine busy with builds.
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Budget(30*time.Second))
	defer cancel()
	cmd := exec.CommandContext(ctx, e2e.ironlb, "lab", "up", "--dir", e2e.dir, "--prefix", e2e.prefix,
		"--nodes", strconv.Itoa(e2e.nodes), "--ip-family", string(e2e.family), "--crds", filepath.Join(repoRoot(), "config", "crd", "bases"))
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

// requireLab fails t when the lab could not be set up, and skips it (fails
// it under CI) when a prerequisite of the lab is missing.
func requireLab(t *testing.T) {
	t.Helper()
	if e2e.broken != "" {
		t.Fatalf("the lab could not be set up: %s", e2e.broken)
	}
	if e2e.unavailable != "" {
		testkit.Unavailable(t, "the lab cannot run here: %s", e2e.unavailable)
	}
}

// requireNodes ends t when the lab has fewer than n nodes: a check that
// needs them cannot run. The suite's own lab has the default shape (two
// nodes), so this only happens on a lab reused with IRONLB_E2E_LAB_DIR; it
// skips there, and fails under CI, where nothing may hide behind a skip.
func requireNodes(t *testing.T, n int, why string) {
	t.Helper()
	if e2e.nodes < n {
		testkit.Unavailable(t, "%s needs %d nodes, the lab in %s has %d (bring it up with `ironlb lab up --nodes %d`)",
			why, n, e2e.dir, e2e.nodes, n)
	}
}

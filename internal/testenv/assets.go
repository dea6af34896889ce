package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ironlb/ironlb/internal/testkit"
)

const (
	// versionsFile pins the control-plane versions, relative to the root.
	versionsFile = "hack/k8s/versions.env"
	// crdDir holds the generated CRD manifests, relative to the root.
	crdDir = "config/crd/bases"
	// buildCommand builds the binaries, run from the root.
	buildCommand = "hack/build-k8s.sh"
)

// binaries are the files envtest runs, all required in the assets directory.
var binaries = []string{"kube-apiserver", "etcd", "kubectl"}

// unavailableError means the control plane cannot start on this machine
// because binaries are missing: a skip outside CI, a failure in CI.
type unavailableError struct{ msg string }

func (e *unavailableError) Error() string { return e.msg }

// report ends the test t for err: Skipf when err is an unavailableError and
// CI is not set, Fatalf otherwise. Real testing.TB implementations do not
// return from either.
func report(t testing.TB, err error) {
	t.Helper()
	var u *unavailableError
	if errors.As(err, &u) && !testkit.InCI() {
		t.Skipf("%v", err)
		return
	}
	t.Fatalf("%v", err)
}

// k8sVersion reads K8S_VERSION from hack/k8s/versions.env under root.
func k8sVersion(root string) (string, error) {
	path := filepath.Join(root, versionsFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("testenv: reading pinned versions: %w", err)
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "K8S_VERSION="); ok && v != "" {
			return strings.Trim(v, `"'`), nil
		}
	}
	return "", fmt.Errorf("testenv: %s sets no K8S_VERSION", path)
}

// assetsDir returns the directory holding the control-plane binaries:
// KUBEBUILDER_ASSETS when set, otherwise the directory hack/build-k8s.sh
// fills, ${IRONLB_CACHE:-$HOME/.cache/ironlb}/k8s-<K8S_VERSION>. fromEnv says
// which.
func assetsDir(root string) (dir string, fromEnv bool, err error) {
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d, true, nil
	}
	version, err := k8sVersion(root)
	if err != nil {
		return "", false, err
	}
	cache, err := testkit.CacheDir()
	if err != nil {
		return "", false, err
	}
	return filepath.Join(cache, "k8s-"+version), false, nil
}

// checkBinaries returns an unavailableError naming every binary missing from
// dir, or not executable, and how to get it; nil when all are there.
func checkBinaries(dir string, fromEnv bool) error {
	var missing []string
	for _, name := range binaries {
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path)
		switch {
		case err != nil:
			missing = append(missing, path)
		case !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0:
			missing = append(missing, path+" (not an executable file)")
		}
	}
	if len(missing) == 0 {
		return nil
	}
	how := fmt.Sprintf("build them with %s from the repository root (about 5 min on a cold cache)", buildCommand)
	if fromEnv {
		how = fmt.Sprintf("KUBEBUILDER_ASSETS=%s must hold kube-apiserver, etcd and kubectl; unset it to use the ones %s builds", dir, buildCommand)
	}
	return &unavailableError{msg: fmt.Sprintf(
		"testenv: control-plane binaries missing: %s; %s", strings.Join(missing, ", "), how)}
}

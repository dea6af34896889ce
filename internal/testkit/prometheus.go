package testkit

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BuildPrometheusCommand is the step that builds the pinned Prometheus and
// promtool, run from the repository root; `make test` runs it before any
// test.
const BuildPrometheusCommand = "hack/build-prometheus.sh"

// Prometheus returns the path of "prometheus" or "promtool" as
// hack/build-prometheus.sh built it for the version pinned in
// hack/k8s/versions.env. When it is missing or was built for another pin,
// t is skipped — or failed under CI — with a message naming the step that
// builds it.
func Prometheus(t testing.TB, name string) string {
	t.Helper()
	path, err := PrometheusPath(name)
	if err != nil {
		Unavailable(t, "%v", err)
	}
	return path
}

// PrometheusPath is [Prometheus] without a test.
func PrometheusPath(name string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	version, err := pinnedVersion(filepath.Join(root, "hack", "k8s", "versions.env"), "PROMETHEUS_VERSION")
	if err != nil {
		return "", err
	}
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "prometheus-"+version)
	path := filepath.Join(dir, name)
	hint := fmt.Sprintf("run %s (make test runs it first)", BuildPrometheusCommand)
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("testkit: %s %s is not built at %s: %s", name, version, path, hint)
	}
	// The stamp is "<name> <version> <flags hash>"; the flags are the
	// script's business, the version is the pin's.
	stamp, err := os.ReadFile(filepath.Join(dir, ".stamps", name))
	if err != nil {
		return "", fmt.Errorf("testkit: %s has no stamp (%s): %w", path, hint, err)
	}
	if f := strings.Fields(string(stamp)); len(f) < 2 || f[0] != name || f[1] != version {
		return "", fmt.Errorf("testkit: %s was built for another pin (stamp %q, want %s %s): %s",
			path, strings.TrimSpace(string(stamp)), name, version, hint)
	}
	return path, nil
}

// pinnedVersion reads KEY=value from a versions file that bash sources
// (comments, blank lines and plain assignments only).
func pinnedVersion(file, key string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("testkit: reading the pins: %w", err)
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "="); ok && k == key && v != "" {
			return v, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("testkit: reading %s: %w", file, err)
	}
	return "", fmt.Errorf("testkit: %s pins no %s", file, key)
}

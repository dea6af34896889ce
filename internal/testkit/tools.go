package testkit

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// modulePath identifies the go.mod of the repository root.
const modulePath = "github.com/ironlb/ironlb"

// BuildToolsCommand is the step that builds the pinned tools, run from the
// repository root; `make test` runs it before any test.
const BuildToolsCommand = "hack/build-tools.sh"

// Tool returns the path of a tool pinned in hack/tools/go.mod ("helm",
// "kustomize", "golangci-lint") as hack/build-tools.sh built it. When the
// tool is missing or was built from other pins, t is skipped — or failed
// under CI — with a message naming the step that builds it.
func Tool(t testing.TB, name string) string {
	t.Helper()
	path, err := ToolPath(name)
	if err != nil {
		Unavailable(t, "%v", err)
	}
	return path
}

// ToolPath is [Tool] without a test: the tool's path, or an error saying
// why it cannot be used and how to build it.
func ToolPath(name string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	want, err := ToolsHash(root)
	if err != nil {
		return "", err
	}
	dir, err := CacheDir()
	if err != nil {
		return "", err
	}
	dir = filepath.Join(dir, "tools")
	path := filepath.Join(dir, name)
	hint := fmt.Sprintf("run %s (make test runs it first)", BuildToolsCommand)
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("testkit: the pinned tool %s is not built at %s: %s", name, path, hint)
	}
	stamp, err := os.ReadFile(filepath.Join(dir, ".stamps", name))
	if err != nil {
		return "", fmt.Errorf("testkit: the pinned tool %s has no stamp (%s): %w", name, hint, err)
	}
	if got := strings.TrimSpace(string(stamp)); got != name+" "+want {
		return "", fmt.Errorf("testkit: %s was built from other pins (stamp %q, hack/tools pins %s): %s", path, got, want, hint)
	}
	return path, nil
}

// ToolsHash is the first 16 hex digits of the SHA-256 of hack/tools/go.mod
// followed by hack/tools/go.sum: what hack/build-tools.sh writes into each
// tool's stamp (`cat go.mod go.sum | sha256sum`).
func ToolsHash(root string) (string, error) {
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(root, "hack", "tools", f))
		if err != nil {
			return "", fmt.Errorf("testkit: reading the tool pins: %w", err)
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// CacheDir is where hack/ scripts keep what they build:
// $IRONLB_CACHE, else $HOME/.cache/ironlb.
func CacheDir() (string, error) {
	if d := os.Getenv("IRONLB_CACHE"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("testkit: locating the build cache (set IRONLB_CACHE or HOME): %w", err)
	}
	return filepath.Join(home, ".cache", "ironlb"), nil
}

// RepoRoot walks up from the working directory (a test's package directory)
// to the directory whose go.mod declares the ironlb module.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("testkit: finding the repository root: %w", err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && declaresModule(string(data), modulePath) {
			return dir, nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("testkit: finding the repository root: %w", err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("testkit: no go.mod declaring module %s above the working directory", modulePath)
		}
		dir = parent
	}
}

// declaresModule reports whether the go.mod text declares module path.
func declaresModule(gomod, path string) bool {
	for line := range strings.Lines(gomod) {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "module" && strings.Trim(f[1], `"`) == path {
			return true
		}
	}
	return false
}

package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ironlb/ironlb/internal/testkit"
)

func TestK8sVersion(t *testing.T) {
	tests := []struct {
		name, file string
		want       string
		wantErr    bool
	}{
		{"plain", "# pins\nK8S_VERSION=v1.37.2\nETCD_VERSION=v3.7.3\n", "v1.37.2", false},
		{"quoted", "K8S_VERSION=\"v1.38.0\"\n", "v1.38.0", false},
		{"missing", "ETCD_VERSION=v3.7.3\n", "", true},
		{"empty", "K8S_VERSION=\n", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			writeFile(t, filepath.Join(root, versionsFile), tt.file, 0o644)
			got, err := k8sVersion(root)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("k8sVersion() = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestAssetsDir(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, versionsFile), "K8S_VERSION=v1.2.3\n", 0o644)
	tests := []struct {
		name                string
		assets, cache, home string
		wantDir             string
		wantFromEnv         bool
	}{
		{"KUBEBUILDER_ASSETS wins", "/opt/assets", "/c", "/h", "/opt/assets", true},
		{"IRONLB_CACHE", "", "/c", "/h", "/c/k8s-v1.2.3", false},
		{"HOME", "", "", "/h", "/h/.cache/ironlb/k8s-v1.2.3", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("KUBEBUILDER_ASSETS", tt.assets)
			t.Setenv("IRONLB_CACHE", tt.cache)
			t.Setenv("HOME", tt.home)
			dir, fromEnv, err := assetsDir(root)
			if err != nil || dir != tt.wantDir || fromEnv != tt.wantFromEnv {
				t.Errorf("assetsDir() = %q, %v, %v; want %q, %v, nil", dir, fromEnv, err, tt.wantDir, tt.wantFromEnv)
			}
		})
	}
}

// TestAssetsDirMatchesBuildScript keeps the Go and the shell side agreeing on
// where the binaries live.
func TestAssetsDirMatchesBuildScript(t *testing.T) {
	t.Setenv("KUBEBUILDER_ASSETS", "")
	root, err := testkit.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir, _, err := assetsDir(root)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), filepath.Join(root, buildCommand), "--print-dir").Output()
	if err != nil {
		t.Fatalf("%s --print-dir: %v", buildCommand, err)
	}
	if got := strings.TrimSpace(string(out)); got != dir {
		t.Errorf("%s --print-dir = %q, testenv uses %q", buildCommand, got, dir)
	}
}

func TestCheckBinaries(t *testing.T) {
	tests := []struct {
		name        string
		files       map[string]os.FileMode // binary name -> mode; absent = missing
		fromEnv     bool
		wantErr     bool
		wantInError []string
	}{
		{"all present", map[string]os.FileMode{"kube-apiserver": 0o755, "etcd": 0o755, "kubectl": 0o755}, false, false, nil},
		{"etcd missing", map[string]os.FileMode{"kube-apiserver": 0o755, "kubectl": 0o755}, false, true,
			[]string{"/etcd", "hack/build-k8s.sh"}},
		{"not executable", map[string]os.FileMode{"kube-apiserver": 0o644, "etcd": 0o755, "kubectl": 0o755}, false, true,
			[]string{"/kube-apiserver (not an executable file)"}},
		{"empty KUBEBUILDER_ASSETS dir", nil, true, true,
			[]string{"/kube-apiserver", "/etcd", "/kubectl", "KUBEBUILDER_ASSETS="}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, mode := range tt.files {
				writeFile(t, filepath.Join(dir, name), "#!/bin/sh\n", mode)
			}
			err := checkBinaries(dir, tt.fromEnv)
			if (err != nil) != tt.wantErr {
				t.Fatalf("checkBinaries() = %v, want error %v", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			var u *unavailableError
			if !errors.As(err, &u) {
				t.Errorf("checkBinaries() error %T, want *unavailableError", err)
			}
			for _, s := range tt.wantInError {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("checkBinaries() = %q, want it to mention %q", err, s)
				}
			}
		})
	}
}

// recorder is a testing.TB that records Skipf and Fatalf instead of ending
// the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Skipf(format string, a ...any)  { r.skipped = fmt.Sprintf(format, a...) }
func (r *recorder) Fatalf(format string, a ...any) { r.failed = fmt.Sprintf(format, a...) }

func TestReport(t *testing.T) {
	missing := &unavailableError{msg: "binaries missing"}
	tests := []struct {
		name                    string
		ci                      string
		err                     error
		wantSkipped, wantFailed string
	}{
		{"missing outside CI skips", "", missing, "binaries missing", ""},
		{"missing with CI=false skips", "false", missing, "binaries missing", ""},
		{"missing in CI fails", "true", missing, "", "binaries missing"},
		{"missing with CI=1 fails", "1", missing, "", "binaries missing"},
		{"wrapped missing in CI fails", "true", fmt.Errorf("x: %w", missing), "", "x: binaries missing"},
		{"start failure outside CI fails", "", errors.New("apiserver did not start"), "", "apiserver did not start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			r := &recorder{TB: t}
			report(r, tt.err)
			if r.skipped != tt.wantSkipped || r.failed != tt.wantFailed {
				t.Errorf("report() skipped %q, failed %q; want %q, %q", r.skipped, r.failed, tt.wantSkipped, tt.wantFailed)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // WriteFile's mode is masked by umask
		t.Fatal(err)
	}
}

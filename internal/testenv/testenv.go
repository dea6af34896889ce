package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/ironlb/ironlb/internal/testkit"
)

// startTimeout bounds the start of etcd and of kube-apiserver each, unless
// KUBEBUILDER_CONTROLPLANE_START_TIMEOUT says otherwise. envtest's 20 s
// default is too tight on a busy 2-core CI machine.
const startTimeout = 60 * time.Second

// serviceClusterIPRange is the test API server's ClusterIP range: one
// range per family, so the cluster is dual-stack.
const serviceClusterIPRange = "10.0.0.0/24,fd00:10:96::/112"

// Env is a running control plane. Its fields are set once by Start or Shared
// and must not be modified; it is safe for concurrent use by parallel tests.
type Env struct {
	// Config authenticates as an administrator (group system:masters).
	Config *rest.Config
	// Client is a controller-runtime client using Scheme; it reads straight
	// from the API server (no cache).
	Client client.Client
	// Scheme holds client-go's built-in types and ironlb's API types.
	Scheme *runtime.Scheme
	// Kubeconfig is the path of a kubeconfig file equivalent to Config, for
	// `kubectl --kubeconfig` and other processes. It lives as long as Env.
	Kubeconfig string
	// KubectlPath is the kubectl built with the control plane.
	KubectlPath string
	// AssetsDir is the directory the binaries were taken from.
	AssetsDir string

	env    *envtest.Environment
	tmpDir string
}

// Start starts a control plane for the test t and stops it when t ends. It
// skips t (or, with CI=true, fails it) when the binaries are missing, and
// fails t when the control plane does not come up.
func Start(t testing.TB) *Env {
	t.Helper()
	if testing.Short() {
		t.Skip("testenv: -short skips tests that need a control plane")
	}
	begin := time.Now()
	e, err := start()
	if err != nil {
		report(t, err)
		return nil
	}
	t.Logf("testenv: control plane from %s up in %v", e.AssetsDir, time.Since(begin).Round(time.Millisecond))
	t.Cleanup(func() {
		begin := time.Now()
		if err := e.stop(); err != nil {
			t.Errorf("%v", err)
		}
		t.Logf("testenv: control plane stopped in %v", time.Since(begin).Round(time.Millisecond))
	})
	return e
}

// start finds the binaries and the CRDs, starts etcd and kube-apiserver and
// installs the CRDs. On error nothing is left running.
func start() (_ *Env, err error) {
	root, err := testkit.RepoRoot()
	if err != nil {
		return nil, err
	}
	dir, fromEnv, err := assetsDir(root)
	if err != nil {
		return nil, err
	}
	if err := checkBinaries(dir, fromEnv); err != nil {
		return nil, err
	}
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}

	env := &envtest.Environment{
		Scheme:                scheme,
		BinaryAssetsDirectory: dir,
		ErrorIfCRDPathMissing: false,
	}
	env.ControlPlane.GetAPIServer().Path = filepath.Join(dir, "kube-apiserver")
	env.ControlPlane.Etcd = &envtest.Etcd{Path: filepath.Join(dir, "etcd")}
	env.ControlPlane.KubectlPath = filepath.Join(dir, "kubectl")
	// A host with only loopback addresses cannot run the default endpoint
	// reconciler (it refuses to advertise 127.0.0.1).
	env.ControlPlane.GetAPIServer().Configure().Set("endpoint-reconciler-type", "none")
	// Dual-stack, as the clusters ironlb serves: Services may ask for
	// RequireDualStack / PreferDualStack and either family order.
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", serviceClusterIPRange)
	if os.Getenv("KUBEBUILDER_CONTROLPLANE_START_TIMEOUT") == "" {
		env.ControlPlaneStartTimeout = startTimeout
	}
	crds := filepath.Join(root, crdDir)
	if _, err := os.Stat(crds); err == nil {
		env.CRDDirectoryPaths = []string{crds}
	}

	cfg, err := env.Start()
	if err != nil {
		// Start may fail after etcd or the API server came up.
		return nil, errors.Join(
			fmt.Errorf("testenv: starting the control plane from %s: %w", dir, err),
			stopEnv(env))
	}
	e := &Env{Config: cfg, Scheme: scheme, KubectlPath: env.ControlPlane.KubectlPath, AssetsDir: dir, env: env}
	defer func() {
		if err != nil {
			err = errors.Join(err, e.stop())
		}
	}()
	if e.Client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return nil, fmt.Errorf("testenv: creating client: %w", err)
	}
	if e.tmpDir, err = os.MkdirTemp("", "ironlb-testenv-"); err != nil {
		return nil, fmt.Errorf("testenv: creating kubeconfig directory: %w", err)
	}
	e.Kubeconfig = filepath.Join(e.tmpDir, "kubeconfig")
	if err := os.WriteFile(e.Kubeconfig, env.KubeConfig, 0o600); err != nil {
		return nil, fmt.Errorf("testenv: writing kubeconfig: %w", err)
	}
	return e, nil
}

// stop stops the control plane and removes the kubeconfig.
func (e *Env) stop() error {
	err := stopEnv(e.env)
	if e.tmpDir != "" {
		if rmErr := os.RemoveAll(e.tmpDir); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("testenv: removing %s: %w", e.tmpDir, rmErr))
		}
	}
	return err
}

func stopEnv(env *envtest.Environment) error {
	if err := env.Stop(); err != nil {
		return fmt.Errorf("testenv: stopping the control plane: %w", err)
	}
	return nil
}

// Kubectl runs the control plane's kubectl against it with args, feeding it
// stdin (may be nil), and returns its combined output. The error reports a
// non-zero exit and includes the output.
func (e *Env) Kubectl(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, e.KubectlPath, append([]string{"--kubeconfig", e.Kubeconfig}, args...)...)
	cmd.Stdin = stdin
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("testenv: kubectl %v: %w: %s", args, err, out)
	}
	return out, nil
}

// NewNamespace creates a namespace with a unique name for the test t and
// returns its name. Without a namespace controller a deleted namespace never
// goes away, so it is left in place; the control plane is thrown away anyway.
func (e *Env) NewNamespace(t testing.TB) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-"}}
	if err := e.Client.Create(t.Context(), ns); err != nil {
		t.Fatalf("testenv: creating a namespace for %s: %v", t.Name(), err)
	}
	return ns.Name
}

package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// K8sBinaries are the pinned Kubernetes binaries the lab runs, all built by
// `hack/build-k8s.sh --all` into one directory.
var K8sBinaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy", "kubectl"}

// FindK8sDir picks the directory of the Kubernetes binaries: dir when set,
// else $IRONLB_K8S_DIR, else the newest ${IRONLB_CACHE:-~/.cache/ironlb}/k8s-*
// holding all of K8sBinaries (where hack/build-k8s.sh puts them).
func FindK8sDir(dir string) (string, error) {
	if dir == "" {
		dir = os.Getenv("IRONLB_K8S_DIR")
	}
	if dir != "" {
		if missing := missingBinaries(dir); len(missing) > 0 {
			return "", fmt.Errorf("the Kubernetes binaries %s are missing in %s; build them with `hack/build-k8s.sh --all`",
				strings.Join(missing, ", "), dir)
		}
		return dir, nil
	}
	cache, err := cacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the Kubernetes binaries: %w", err)
	}
	dirs, _ := filepath.Glob(filepath.Join(cache, "k8s-v*"))
	slices.Reverse(dirs) // newest version first (by name; good enough for one pin)
	for _, d := range dirs {
		if len(missingBinaries(d)) == 0 {
			return d, nil
		}
	}
	return "", fmt.Errorf("no directory %s/k8s-* holds all of %s; build them with `hack/build-k8s.sh --all` "+
		"(or pass --k8s-dir)", cache, strings.Join(K8sBinaries, ", "))
}

// cacheDir is where the hack/ scripts build into: $IRONLB_CACHE, else
// ~/.cache/ironlb.
func cacheDir() (string, error) {
	if c := os.Getenv("IRONLB_CACHE"); c != "" {
		return c, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the build cache: %w", err)
	}
	return filepath.Join(home, ".cache", "ironlb"), nil
}

func missingBinaries(dir string) []string {
	var missing []string
	for _, b := range K8sBinaries {
		if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.Mode()&0o111 == 0 {
			missing = append(missing, b)
		}
	}
	return missing
}

// freePort asks the kernel for an unused loopback port. Another process
// may take it before the lab binds it; `up` then fails with a clear log
// and a retry picks new ports.
func freePort(prefer int) (int, error) {
	if prefer > 0 {
		if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(prefer)); err == nil {
			_ = ln.Close()
			return prefer, nil
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free loopback port: %w", err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// pickPorts chooses every root-namespace port of a lab at once, so two
// labs (a developer's and an e2e run's) never collide. The API server
// prefers 6443.
func pickPorts() (Ports, error) {
	var p Ports
	seen := map[int]bool{}
	for _, f := range []struct {
		dst    *int
		prefer int
	}{
		{&p.APIServer, 6443}, {&p.EtcdClient, 0}, {&p.EtcdPeer, 0},
		{&p.ControllerManager, 0}, {&p.Scheduler, 0},
		{&p.ControllerHealth, 0}, {&p.ControllerMetrics, 0},
	} {
		for {
			n, err := freePort(f.prefer)
			if err != nil {
				return Ports{}, err
			}
			f.prefer = 0
			if !seen[n] {
				seen[n] = true
				*f.dst = n
				break
			}
		}
	}
	return p, nil
}

// Paths of the lab directory.
func kubeconfigPath(dir string) string { return filepath.Join(dir, "kubeconfig") }
func logPath(dir, name string) string {
	return filepath.Join(dir, "logs", strings.ReplaceAll(name, "/", "-")+".log")
}

// LogPath is the log file of the lab process name ("speaker/node1") in
// the lab directory dir.
func LogPath(dir, name string) string { return logPath(dir, name) }

// apiServerURL is the API server's address, the same in every namespace:
// the root namespace's loopback, or a forwarder on each host's loopback.
func (s *State) apiServerURL() string {
	return "https://127.0.0.1:" + strconv.Itoa(s.Ports.APIServer)
}

// Kubeconfig is the admin kubeconfig path.
func (s *State) Kubeconfig() string { return kubeconfigPath(s.Dir) }

func (s *State) bin(name string) string { return filepath.Join(s.K8sDir, name) }

// auditPolicy logs every request once, when its response is complete,
// with its metadata (user, user agent, verb, resource, times): enough to
// count who asks the API server for what, nothing of the bodies.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived, ResponseStarted]
rules:
- level: Metadata
`

// AuditLog is the API server's audit log of a lab brought up with audit
// on (UpOptions.Audit): one JSON event per request.
func AuditLog(dir string) string { return filepath.Join(dir, "logs", "audit.log") }

// auditPolicyFile is the lab directory's entry for the audit policy.
const auditPolicyFile = "audit-policy.yaml"

func auditPolicyPath(dir string) string { return filepath.Join(dir, auditPolicyFile) }

// auditArgs are the API server's audit flags when the lab has audit on.
func auditArgs(s *State) []string {
	if !s.Audit {
		return nil
	}
	return []string{"--audit-policy-file=" + auditPolicyPath(s.Dir), "--audit-log-path=" + AuditLog(s.Dir),
		"--audit-log-format=json", "--audit-log-maxsize=0"}
}

// controlPlaneProcs are etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler, all on the root namespace's loopback.
func controlPlaneProcs(s *State, p Plan) []*Proc {
	k := pki{dir: filepath.Join(s.Dir, "pki")}
	etcdPeer := "http://127.0.0.1:" + strconv.Itoa(s.Ports.EtcdPeer)
	etcdClient := "http://127.0.0.1:" + strconv.Itoa(s.Ports.EtcdClient)
	advertise := "127.0.0.1"
	if !p.IPFamily.HasV4() {
		advertise = "::1"
	}
	kc := s.Kubeconfig()
	return []*Proc{
		{Name: "etcd", Order: 30, Supervised: true, Args: []string{
			s.bin("etcd"), "--name=lab", "--data-dir=" + filepath.Join(s.Dir, "etcd"),
			"--listen-client-urls=" + etcdClient, "--advertise-client-urls=" + etcdClient,
			"--listen-peer-urls=" + etcdPeer, "--initial-advertise-peer-urls=" + etcdPeer,
			"--initial-cluster=lab=" + etcdPeer, "--unsafe-no-fsync", "--log-level=warn",
		}},
		{Name: "kube-apiserver", Order: 40, Supervised: true, Args: append([]string{
			s.bin("kube-apiserver"), "--etcd-servers=" + etcdClient,
			"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(s.Ports.APIServer),
			"--advertise-address=" + advertise, "--endpoint-reconciler-type=none",
			"--tls-cert-file=" + k.serverCert(), "--tls-private-key-file=" + k.serverKey(),
			"--client-ca-file=" + k.caCert(),
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file=" + k.saPub(), "--service-account-signing-key-file=" + k.saKey(),
			"--service-cluster-ip-range=" + joinPrefixes(p.ServiceCIDRs()),
			"--authorization-mode=Node,RBAC", "--allow-privileged=true", "--profiling=false",
		}, append(egressArgs(s, k), auditArgs(s)...)...)},
		{Name: "kube-controller-manager", Order: 50, Supervised: true, Args: []string{
			s.bin("kube-controller-manager"), "--kubeconfig=" + kc,
			"--authentication-skip-lookup=true", "--leader-elect=false",
			"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(s.Ports.ControllerManager),
			"--service-account-private-key-file=" + k.saKey(), "--root-ca-file=" + k.caCert(),
			"--controllers=" + strings.Join(controllers, ","), "--profiling=false",
		}},
		{Name: "kube-scheduler", Order: 50, Supervised: true, Args: []string{
			s.bin("kube-scheduler"), "--kubeconfig=" + kc,
			"--authentication-skip-lookup=true", "--leader-elect=false",
			"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(s.Ports.Scheduler),
			"--profiling=false",
		}},
	}
}

// controllers are the kube-controller-manager loops the lab runs: enough
// for Deployments, DaemonSets, StatefulSets and Jobs to become Pods, Pods
// to become EndpointSlices, namespaces to be deleted and nodes watched.
var controllers = []string{
	"endpointslice-controller", "endpointslice-mirroring-controller",
	"namespace-controller", "serviceaccount-controller", "serviceaccount-token-controller",
	"garbage-collector-controller", "deployment-controller", "replicaset-controller",
	"daemonset-controller", "statefulset-controller", "job-controller",
	"node-lifecycle-controller", "taint-eviction-controller", "pod-garbage-collector-controller",
	"root-ca-certificate-publisher-controller",
}

// restConfig loads the lab's admin kubeconfig.
func restConfig(dir string) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfigPath(dir))
	if err != nil {
		return nil, fmt.Errorf("loading lab kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	cfg.UserAgent = "ironlb-lab"
	return cfg, nil
}

// Clientset returns a client for the lab's API server (root namespace).
func Clientset(dir string) (*kubernetes.Clientset, error) {
	cfg, err := restConfig(dir)
	if err != nil {
		return nil, err
	}
	return kubernetes.NewForConfig(cfg)
}

// waitReady polls the API server's /readyz until it answers ok.
func waitReady(ctx context.Context, cs kubernetes.Interface, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil && string(body) == "ok" {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("readyz: %q", body)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("the API server was not ready after %s: %w", timeout, errors.Join(ctx.Err(), last))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

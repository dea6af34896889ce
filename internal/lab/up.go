package lab

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// DefaultDir is where the lab keeps its state unless told otherwise.
const DefaultDir = "/var/lib/ironlb-lab"

// UpOptions configure `ironlb lab up`.
type UpOptions struct {
	Dir      string
	Prefix   string
	Nodes    int
	IPFamily IPFamily
	// K8sDir holds the Kubernetes binaries; see FindK8sDir.
	K8sDir string
	// CRDDir holds the CRD manifests applied at up; empty means
	// <repository>/config/crd/bases when the repository can be found.
	CRDDir string
	// Ironlb is the ironlb binary the lab runs (its agents, supervisor,
	// controller and speakers).
	Ironlb string
	// Flags are the flags of Ironlb's controller and speaker commands,
	// from their definitions; Up refuses to start without every flag the
	// lab sets (CommandFlags.Check).
	Flags CommandFlags
	// Kubelet selects the stand-in agent (default) or real kubelets with
	// containerd per node.
	Kubelet KubeletMode
	// Images is the directory of OCI image tarballs imported into every
	// node's containerd with real kubelets; empty means bin/lab-images of
	// the checkout (hack/lab-images.sh).
	Images string
	// LB is the load balancer the lab runs: ironlb (default) or MetalLB
	// from MetalLBDir (see FindMetalLBDir), for side by side runs.
	LB         LB
	MetalLBDir string
	// Audit turns on the API server's audit log (AuditLog): every
	// request's user, user agent, verb and times, for counting who asks
	// what (make compare).
	Audit bool
	// Monitoring runs a Prometheus scraping the controller and the
	// speakers (see monitoring.go); it needs hack/build-prometheus.sh's
	// binary.
	Monitoring bool
	// KubeProxyNodes runs kube-proxy on the first KubeProxyNodes nodes
	// only; 0 means every node. Big labs (the scale bench) need traffic
	// through a few nodes, not 30 kube-proxies rewriting rules for every
	// Service.
	KubeProxyNodes int
	// Out receives the progress lines.
	Out io.Writer
}

// Up brings a lab up in o.Dir, replacing whatever lab was there (running
// or crashed). The processes it starts outlive it.
func Up(ctx context.Context, o UpOptions) (*State, error) {
	if err := CheckRoot(); err != nil {
		return nil, err
	}
	if err := CheckPrerequisites(); err != nil {
		return nil, err
	}
	if err := o.Flags.Check(); err != nil {
		return nil, err
	}
	p, err := NewPlan(o.Prefix, o.Nodes, o.IPFamily)
	if err != nil {
		return nil, err
	}
	if o.KubeProxyNodes < 0 || o.KubeProxyNodes > len(p.Nodes) {
		return nil, fmt.Errorf("--kube-proxy-nodes %d: want 0 (every node) to %d", o.KubeProxyNodes, len(p.Nodes))
	}
	k8sDir, err := FindK8sDir(o.K8sDir)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("--dir %q: %w", o.Dir, err)
	}
	crdDir, err := findCRDDir(o.CRDDir, o.Ironlb)
	if err != nil {
		return nil, err
	}
	if o.Kubelet == "" {
		o.Kubelet = KubeletStandIn
	}
	if o.LB == "" {
		o.LB = LBIronlb
	}
	if o.Monitoring && o.Kubelet.Real() {
		return nil, errors.New("--monitoring with --kubelet real: ironlb's Pods serve /metrics over HTTPS to ServiceAccount tokens (--metrics-secure), which the lab's Prometheus does not present; monitor a lab with the stand-in kubelets")
	}
	var metallbDir string
	if o.LB.MetalLB() {
		if metallbDir, err = FindMetalLBDir(o.MetalLBDir); err != nil {
			return nil, err
		}
	}
	var images []string
	if o.Kubelet.Real() {
		if err := CheckKubeletPrerequisites(k8sDir); err != nil {
			return nil, err
		}
		if images, err = findImages(o.Images, o.Ironlb); err != nil {
			return nil, err
		}
	}
	var prometheus string
	if o.Monitoring {
		if prometheus, err = FindPrometheus(""); err != nil {
			return nil, err
		}
	}
	pr := newProgress(o.Out)
	if err := cleanupEarlier(ctx, dir, o.Prefix, pr); err != nil {
		return nil, err
	}
	s := &State{
		Version: stateVersion, Dir: dir, Prefix: o.Prefix, Nodes: o.Nodes, IPFamily: o.IPFamily,
		K8sDir: k8sDir, Ironlb: o.Ironlb, CreatedAt: time.Now().UTC(), Kubelet: o.Kubelet,
		LB: o.LB, MetalLBDir: metallbDir, Audit: o.Audit, KubeProxyNodes: o.KubeProxyNodes,
		Namespaces: p.Namespaces(), Procs: map[string]*Proc{},
		// With real kubelets, ironlb is installed as an operator does:
		// its manifests' workloads become Pods.
		IronlbPods: o.Kubelet.Real() && o.LB == LBIronlb && findManifestDir(o.Ironlb) != "",
	}
	if err := pr.step("lab directory "+dir, func() (string, error) { return "", prepareDir(s) }); err != nil {
		return nil, err
	}
	if err := pr.step("network", func() (string, error) {
		if err := createNetwork(ctx, p); err != nil {
			return "", err
		}
		return fmt.Sprintf("namespaces %s{lan,router,client,node1..node%d}, bridge %s, %s and %s",
			o.Prefix, o.Nodes, bridge, lanV4, lanV6), nil
	}); err != nil {
		return nil, withLogs(err, dir)
	}
	cs, err := startControlPlane(ctx, s, p, pr)
	if err != nil {
		return nil, withLogs(err, dir)
	}
	if err := pr.step("cluster objects", func() (string, error) { return populate(ctx, s, p, cs, crdDir) }); err != nil {
		return nil, withLogs(err, dir)
	}
	// With MetalLB too: ironlb's RBAC and ServiceAccounts are then ready
	// for a switch to ironlb.
	if err := pr.step("ironlb install manifests", func() (string, error) { return installManifests(ctx, s) }); err != nil {
		return nil, withLogs(err, dir)
	}
	if s.LB.MetalLB() {
		if err := pr.step("MetalLB objects", func() (string, error) { return populateMetalLB(ctx, s, p, cs) }); err != nil {
			return nil, withLogs(err, dir)
		}
	}
	if err := pr.step("router (FRR zebra, bfdd, bgpd)", func() (string, error) {
		return fmt.Sprintf("AS %d at %s, %s; accepts AS %d from %s and %s", RouterASN, p.Router.IPv4, p.Router.IPv6,
			NodeASN, lanV4, lanV6), startRouter(ctx, s, p)
	}); err != nil {
		return nil, withLogs(err, dir)
	}
	// Before the supervisor starts: it opens the monitoring forwarders then.
	if o.Monitoring {
		if err := pr.step("monitoring", func() (string, error) { return setUpMonitoring(s, p, prometheus) }); err != nil {
			return nil, withLogs(err, dir)
		}
	}
	if err := pr.step("nodes, "+string(o.LB)+" and the supervisor", func() (string, error) { return startNodes(s, p, o.Flags) }); err != nil {
		return nil, withLogs(err, dir)
	}
	if o.Kubelet.Real() {
		if err := upRealKubelets(ctx, s, p, cs, images, pr); err != nil {
			return nil, withLogs(err, dir)
		}
	}
	if err := pr.step("waiting for the agents and kube-proxy", func() (string, error) {
		return "", waitHealthy(ctx, s, p, 2*time.Minute)
	}); err != nil {
		return nil, withLogs(err, dir)
	}
	if s.Controller || s.Speakers {
		_ = pr.step("waiting for "+string(o.LB), func() (string, error) {
			return strings.Join(ironlbHealth(ctx, s, 30*time.Second), "; "), nil
		})
	}
	if s.IronlbPods {
		if err := pr.step("waiting for ironlb's Pods", func() (string, error) {
			return waitIronlbPods(ctx, cs, len(p.Nodes), 2*time.Minute)
		}); err != nil {
			return nil, withLogs(err, dir)
		}
	}
	_, _ = fmt.Fprintf(o.Out, "==> lab up in %s: %d nodes, %s stack, %s; kubeconfig %s\n", pr.total(), o.Nodes, o.IPFamily, o.LB, s.Kubeconfig())
	return s, nil
}

func withLogs(err error, dir string) error {
	return fmt.Errorf("%w\n(logs in %s; `ironlb lab down --dir %s` removes what was made)", err, filepath.Join(dir, "logs"), dir)
}

// cleanupEarlier removes the lab recorded in dir, crashed or not. It
// refuses to go on when namespaces with prefix exist that dir's lab does
// not own: another lab (another --dir) may be using the prefix.
func cleanupEarlier(ctx context.Context, dir, prefix string, pr *progress) error {
	if _, err := os.Stat(filepath.Join(dir, stateFile)); err == nil {
		if err := pr.step("removing the earlier lab in "+dir, func() (string, error) {
			return "", Down(ctx, DownOptions{Dir: dir, Prefix: prefix, Out: io.Discard})
		}); err != nil {
			return err
		}
	}
	nss, err := labNamespaces(prefix)
	if err != nil {
		return err
	}
	if len(nss) > 0 {
		return fmt.Errorf("network namespaces %s exist but no lab in %s owns them: another lab may use the prefix %q; "+
			"remove it with `ironlb lab down --dir <its dir>` (or `ironlb lab down --dir %s --prefix %s` if its state is lost), "+
			"or pass another --prefix", strings.Join(nss, " "), dir, prefix, dir, prefix)
	}
	return nil
}

// prepareDir creates the lab directory (traversable by FRR's user), picks
// the ports and saves the first state, so a failure from here on leaves
// something `down` can clean.
func prepareDir(s *State) error {
	if err := checkTraversable(s.Dir); err != nil {
		return err
	}
	for _, d := range []string{s.Dir, filepath.Join(s.Dir, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("lab directory: %w", err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return fmt.Errorf("lab directory: %w", err)
		}
	}
	if s.Audit {
		if err := os.WriteFile(auditPolicyPath(s.Dir), []byte(auditPolicy), 0o644); err != nil {
			return fmt.Errorf("lab directory: %w", err)
		}
	}
	ports, err := pickPorts()
	if err != nil {
		return err
	}
	s.Ports = ports
	unlock, err := lockDir(s.Dir)
	if err != nil {
		return err
	}
	defer unlock()
	return s.save()
}

// checkTraversable fails when a directory above dir is closed to other
// users: FRR drops to its own user and must reach <dir>/router.
func checkTraversable(dir string) error {
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if errors.Is(err, os.ErrNotExist) {
			continue // created 0755 below
		}
		if err != nil {
			return fmt.Errorf("lab directory: %w", err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("--dir %s: FRR runs as user frr and must reach %s, but %s is not searchable by other users "+
				"(mode %04o); choose a directory under /var/lib or /tmp", dir, routerDir(dir), d, fi.Mode().Perm())
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// startControlPlane writes the certificates and kubeconfig, starts etcd and
// kube-apiserver, waits for readiness, then starts the controller manager
// and scheduler.
func startControlPlane(ctx context.Context, s *State, p Plan, pr *progress) (*kubernetes.Clientset, error) {
	var cs *kubernetes.Clientset
	err := pr.step("control plane (etcd, kube-apiserver)", func() (string, error) {
		k := pki{dir: filepath.Join(s.Dir, "pki")}
		sans := append(p.APIServerServiceIPs(), loopbacks...)
		dns := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local"}
		if err := k.generate(sans, dns); err != nil {
			return "", err
		}
		kc, err := k.kubeconfig(s.apiServerURL())
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(s.Kubeconfig(), kc, 0o600); err != nil {
			return "", fmt.Errorf("writing kubeconfig: %w", err)
		}
		if err := os.WriteFile(egressConfigPath(s.Dir), egressConfig(s.Dir), 0o600); err != nil {
			return "", fmt.Errorf("writing the egress selector configuration: %w", err)
		}
		procs := controlPlaneProcs(s, p)
		if err := startAndRecord(s, p, procs[:2]...); err != nil {
			return "", err
		}
		cs, err = Clientset(s.Dir)
		if err != nil {
			return "", err
		}
		if err := waitReady(ctx, cs, 3*time.Minute); err != nil {
			return "", err
		}
		if err := startAndRecord(s, p, procs[2:]...); err != nil {
			return "", err
		}
		return s.apiServerURL(), nil
	})
	return cs, err
}

// startAndRecord starts processes from the CLI (they outlive it) and
// records each in the state.
func startAndRecord(s *State, p Plan, procs ...*Proc) error {
	return updateState(s.Dir, func(st *State) error {
		for _, pr := range procs {
			cmd, err := startProc(st, p, pr)
			if err != nil {
				return err
			}
			_ = cmd.Process.Release()
			st.Procs[pr.Name] = pr
			s.Procs[pr.Name] = pr
		}
		return nil
	})
}

// populate creates what the cluster needs before the nodes' processes
// start: the ironlb namespace, the CRDs and every Node (kube-proxy reads
// its Node's addresses at start).
func populate(ctx context.Context, s *State, p Plan, cs kubernetes.Interface, crdDir string) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ironlbNamespace}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("creating namespace %s: %w", ironlbNamespace, err)
	}
	if err := createMemberlistSecret(ctx, cs); err != nil {
		return "", err
	}
	if err := publishAPIEndpoint(ctx, cs, s, p); err != nil {
		return "", err
	}
	for _, h := range p.Nodes {
		if s.Kubelet.Real() {
			if err := registerKubeletNode(ctx, cs, p, h); err != nil {
				return "", err
			}
			continue
		}
		if _, err := ensureNode(ctx, cs, p, h); err != nil {
			return "", err
		}
	}
	detail := fmt.Sprintf("namespace %s, Secret %s, the kubernetes Service's endpoint %s, %d Nodes",
		ironlbNamespace, memberlistSecret, apiEndpoint(s, p), len(p.Nodes))
	if crdDir == "" {
		return detail + ", no CRDs (repository not found; pass --crds)", nil
	}
	kubectl := []string{"--kubeconfig", s.Kubeconfig()}
	if _, err := run(ctx, s.bin("kubectl"), append(kubectl, "apply", "--server-side", "--force-conflicts", "-f", crdDir)...); err != nil {
		return "", fmt.Errorf("applying CRDs: %w", err)
	}
	if _, err := run(ctx, s.bin("kubectl"), append(kubectl, "wait", "--for=condition=Established", "--timeout=60s", "-f", crdDir)...); err != nil {
		return "", fmt.Errorf("waiting for CRDs: %w", err)
	}
	return detail + ", CRDs from " + crdDir, nil
}

// createMemberlistSecret creates the Secret whose random key encrypts the
// speakers' gossip, as an installation does.
func createMemberlistSecret(ctx context.Context, cs kubernetes.Interface) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("memberlist key: %w", err)
	}
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ironlbNamespace, Name: memberlistSecret},
		Data:       map[string][]byte{memberlistSecretKey: []byte(base64.StdEncoding.EncodeToString(key))},
	}
	if _, err := cs.CoreV1().Secrets(ironlbNamespace).Create(ctx, sec, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating Secret %s/%s: %w", ironlbNamespace, memberlistSecret, err)
	}
	return nil
}

// startNodes records kube-proxy and the agent of every node, the ironlb
// controller and speakers, then starts the supervisor, which starts them
// all.
func startNodes(s *State, p Plan, flags CommandFlags) (string, error) {
	var procs []*Proc
	for _, h := range p.Nodes {
		if s.RunsKubeProxy(p, h) {
			procs = append(procs, kubeProxyProc(s, p, h))
		}
		if s.Kubelet.Real() {
			n := realNodePaths(s.Dir, h.Name)
			procs = append(procs, containerdProc(h, n), kubeletProc(s, p, h, n))
		} else {
			procs = append(procs, agentProc(s, h))
		}
	}
	var ctrl *Proc
	var speakers []*Proc
	switch {
	case s.IronlbPods: // the kubelets run them
	case s.LB.MetalLB():
		ctrl, speakers = metallbControllerProc(s), metallbSpeakerProcs(s, p)
	default:
		var err error
		if ctrl, err = controllerProc(s, flags["controller"]); err != nil {
			return "", err
		}
		if speakers, err = speakerProcs(s, p, flags["speaker"]); err != nil {
			return "", err
		}
	}
	notes := []string{"ironlb's controller and speakers as Pods of its manifests"}
	if ctrl != nil {
		procs = append(append(procs, ctrl), speakers...)
		notes = []string{s.LB.Name() + " controller", fmt.Sprintf("%d %s speakers", len(speakers), s.LB.Name())}
	}
	err := updateState(s.Dir, func(st *State) error {
		if st.Kubelet.Real() {
			if err := prepareRealNodes(st, p); err != nil {
				return err
			}
		}
		for _, pr := range procs {
			st.Procs[pr.Name] = pr
		}
		st.Controller, st.Speakers = ctrl != nil, len(speakers) > 0
		*s = *st
		return nil
	})
	if err != nil {
		return "", err
	}
	if err := startAndRecord(s, p, supervisorProc(s)); err != nil {
		return "", err
	}
	return strings.Join(notes, "; "), nil
}

package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// kubeletPrerequisites are what `--kubelet real` runs besides the lab's
// usual programs (hack/install-prereqs.sh kubelet installs them).
var kubeletPrerequisites = []prerequisite{
	{"containerd", "containerd", "the container runtime of every node"},
	{"ctr", "containerd", "importing the lab's images"},
	{"runc", "runc", "containerd's OCI runtime"},
	{"nsenter", "util-linux", "starting containerd and the kubelet in a node's network namespace"},
	{cniBinDir + "/bridge", "containernetworking-plugins", "Pod networking"},
	{cniBinDir + "/host-local", "containernetworking-plugins", "Pod addresses"},
	{cniBinDir + "/loopback", "containernetworking-plugins", "the Pods' lo"},
	{cniBinDir + "/portmap", "containernetworking-plugins", "hostPort"},
}

// CheckKubeletPrerequisites names every program `--kubelet real` misses,
// and the kubelet binary when k8sDir lacks it.
func CheckKubeletPrerequisites(k8sDir string) error {
	var missing []string
	for _, p := range kubeletPrerequisites {
		if _, err := exec.LookPath(p.program); err != nil {
			missing = append(missing, fmt.Sprintf("  %s (Debian package %s): %s", p.program, p.pkg, p.why))
		}
	}
	if k8sDir != "" {
		if fi, err := os.Stat(filepath.Join(k8sDir, "kubelet")); err != nil || fi.Mode()&0o111 == 0 {
			missing = append(missing, fmt.Sprintf("  %s/kubelet: build it with `hack/build-k8s.sh --all`", k8sDir))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("--kubelet real is missing:\n%s\ninstall the packages with `hack/install-prereqs.sh kubelet` (as root)",
		strings.Join(missing, "\n"))
}

// kubeletSysctls are the machine-wide sysctls the kubelet's container
// manager sets on every start (setupKernelTunables in
// k8s.io/kubernetes/pkg/kubelet/cm): paths under /proc/sys. A network
// namespace does not hold them, so the lab records them before the first
// kubelet starts and `down` writes them back.
var kubeletSysctls = []string{
	"vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
	"kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes",
}

// ReadKubeletSysctls reads the current values of kubeletSysctls.
func ReadKubeletSysctls() (map[string]string, error) {
	out := map[string]string{}
	for _, k := range kubeletSysctls {
		b, err := os.ReadFile(filepath.Join("/proc/sys", k))
		if err != nil {
			return nil, fmt.Errorf("reading sysctl %s: %w", k, err)
		}
		out[k] = strings.TrimSpace(string(b))
	}
	return out, nil
}

// restoreSysctls writes recorded values back.
func restoreSysctls(m map[string]string) error {
	var errs []error
	for k, v := range m {
		if err := os.WriteFile(filepath.Join("/proc/sys", k), []byte(v+"\n"), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("restoring sysctl %s=%s: %w", k, v, err))
		}
	}
	return errors.Join(errs...)
}

// prepareRealNodes writes every node's containerd, CNI and kubelet files
// and creates its cgroup root (the kubelet refuses a root that does not
// exist in every hierarchy), and records the machine's sysctls in s.
func prepareRealNodes(s *State, p Plan) error {
	if s.HostSysctls == nil {
		sys, err := ReadKubeletSysctls()
		if err != nil {
			return err
		}
		s.HostSysctls = sys
	}
	ca := pki{dir: filepath.Join(s.Dir, "pki")}.caCert()
	for _, h := range p.Nodes {
		n := realNodePaths(s.Dir, h.Name)
		if err := writeNodeFiles(p, h, n, ca); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
		if err := createCgroup(cgroupRoot(p, h)); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
	}
	return nil
}

func writeNodeFiles(p Plan, h Host, n nodePaths, ca string) error {
	for _, d := range []string{n.base, n.cniConfDir(), n.kubeletRoot(), n.kubeletCerts(), n.volumePlugins(), n.podLogs()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	ctrd, err := containerdTOML(n)
	if err != nil {
		return err
	}
	cni, err := cniConfList(p, h, n)
	if err != nil {
		return err
	}
	kc, err := kubeletYAML(kubeletConfiguration(p, h, n, ca))
	if err != nil {
		return err
	}
	for path, b := range map[string][]byte{
		n.containerdConfig():                             ctrd,
		filepath.Join(n.cniConfDir(), "10-lab.conflist"): cni,
		n.kubeletConfig():                                kc,
	} {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// registerKubeletNode creates h's Node before its kubelet starts, with
// the plan's addresses and pod CIDRs but no condition: kube-proxy reads
// the addresses at start (and exits when they change), while Ready and
// everything else is the kubelet's to report.
func registerKubeletNode(ctx context.Context, cs kubernetes.Interface, p Plan, h Host) error {
	n := nodeObject(p, h, time.Now())
	n.Status = corev1.NodeStatus{Addresses: n.Status.Addresses}
	if _, err := cs.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("registering node %s: %w", h.Name, err)
	}
	return nil
}

// KubeletReady reports whether n is Ready as posted by a real kubelet
// (the stand-in reports another kubelet version).
func KubeletReady(n *corev1.Node) bool {
	return nodeReady(n) && strings.HasPrefix(n.Status.NodeInfo.KubeletVersion, "v")
}

// waitKubeletNodes waits until every node is Ready from its kubelet.
func waitKubeletNodes(ctx context.Context, cs kubernetes.Interface, p Plan, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		var last error
		for _, h := range p.Nodes {
			n, err := cs.CoreV1().Nodes().Get(ctx, h.Name, metav1.GetOptions{})
			switch {
			case err != nil:
				last = err
			case !KubeletReady(n):
				last = fmt.Errorf("node %s not Ready from its kubelet yet (kubelet version %q)", h.Name, n.Status.NodeInfo.KubeletVersion)
			}
		}
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kubelets: %w (%w)", last, ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// upRealKubelets is `up`'s part for real kubelets once the supervisor has
// started them: the images into every containerd, then every Node Ready
// from its kubelet.
func upRealKubelets(ctx context.Context, s *State, p Plan, cs kubernetes.Interface, images []string, pr *progress) error {
	if err := pr.step("images", func() (string, error) {
		var required []string
		if s.IronlbPods {
			required = append(required, ironlbImageName)
		}
		return importImages(ctx, p, s.Dir, images, required, time.Minute)
	}); err != nil {
		return err
	}
	return pr.step("kubelets", func() (string, error) {
		return fmt.Sprintf("%d Nodes Ready from their kubelets", len(p.Nodes)), waitKubeletNodes(ctx, cs, p, time.Minute)
	})
}

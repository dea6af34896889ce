package lab

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// LB is the load balancer a lab runs: ironlb (the default) or, for side by
// side comparisons, MetalLB built by hack/build-metallb.sh.
type LB string

// The load balancers a lab can run.
const (
	LBIronlb  LB = "ironlb"
	LBMetalLB LB = "metallb"
)

// ParseLB accepts ironlb or metallb.
func ParseLB(s string) (LB, error) {
	switch lb := LB(s); lb {
	case LBIronlb, LBMetalLB:
		return lb, nil
	}
	return "", fmt.Errorf("load balancer %q: want %s or %s", s, LBIronlb, LBMetalLB)
}

// orDefault is lb, or ironlb for the empty value of older states.
func (lb LB) orDefault() LB {
	if lb == "" {
		return LBIronlb
	}
	return lb
}

// Name is how the lab's messages name the load balancer.
func (lb LB) Name() string {
	if lb.MetalLB() {
		return "MetalLB"
	}
	return "ironlb"
}

// MetalLB reports whether the lab runs MetalLB instead of ironlb. The empty
// value (a state written before the choice existed) is ironlb.
func (lb LB) MetalLB() bool { return lb == LBMetalLB }

const (
	// metallbNamespace is where MetalLB runs and reads its CRs.
	metallbNamespace = "metallb-system"
	// metallbSpeakerLabels select the Pods whose IPs MetalLB's speakers
	// join for memberlist (their --ml-labels).
	metallbSpeakerLabels = "app=metallb,component=speaker"
	// metallbSecretKey is the file, in the directory given to
	// --ml-secret-key-path, holding the memberlist key.
	metallbSecretKey = "secretkey"
	// metallbMetricsPort is the speakers' metrics port inside each node's
	// namespace (MetalLB's default).
	metallbMetricsPort = 9120
)

// metallbBinaries are what hack/build-metallb.sh puts in its directory.
var metallbBinaries = []string{"controller", "speaker"}

// FindMetalLBDir returns the directory of MetalLB's binaries and CRDs:
// dir, else $IRONLB_METALLB_DIR, else the newest metallb-v* in the cache
// hack/build-metallb.sh builds into.
func FindMetalLBDir(dir string) (string, error) {
	if dir == "" {
		dir = os.Getenv("IRONLB_METALLB_DIR")
	}
	if dir != "" {
		if err := checkMetalLBDir(dir); err != nil {
			return "", err
		}
		return dir, nil
	}
	cache, err := cacheDir()
	if err != nil {
		return "", fmt.Errorf("finding MetalLB: %w", err)
	}
	dirs, _ := filepath.Glob(filepath.Join(cache, "metallb-v*"))
	slices.Reverse(dirs)
	for _, d := range dirs {
		if checkMetalLBDir(d) == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("no directory %s/metallb-v* holds MetalLB's controller, speaker and CRDs; "+
		"build them with `hack/build-metallb.sh` (or pass --metallb-dir)", cache)
}

func checkMetalLBDir(dir string) error {
	for _, b := range metallbBinaries {
		if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("MetalLB's %s is missing in %s; build it with `hack/build-metallb.sh`", b, dir)
		}
	}
	if crds, _ := filepath.Glob(filepath.Join(dir, "crds", "*.yaml")); len(crds) == 0 {
		return fmt.Errorf("MetalLB's CRDs are missing in %s/crds; build them with `hack/build-metallb.sh`", dir)
	}
	return nil
}

// metallbPodName is the name of the Pod object standing for a MetalLB
// process: "controller" or "speaker-<node>".
func metallbPodName(node string) string {
	if node == "" {
		return "controller"
	}
	return "speaker-" + node
}

// populateMetalLB creates what MetalLB needs before its processes start:
// its namespace and CRDs, a memberlist key file, and a Pod object for each
// of its processes. MetalLB's processes read their own Pod at start (owner
// of their ConfigurationState), and the speakers find each other by
// listing the speaker Pods by label and joining their IPs — so each node's
// speaker Pod is hostNetwork, bound to its node, and already carries the
// node's address when the speakers start (the speakers list them once at
// start, then every five minutes). The processes themselves run as lab
// processes, like ironlb's; the node's agent (or kubelet) keeps the Pods
// Running.
func populateMetalLB(ctx context.Context, s *State, p Plan, cs kubernetes.Interface) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: metallbNamespace}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("creating namespace %s: %w", metallbNamespace, err)
	}
	crds := filepath.Join(s.MetalLBDir, "crds")
	kubectl := []string{"--kubeconfig", s.Kubeconfig()}
	if _, err := run(ctx, s.bin("kubectl"), append(kubectl, "apply", "--server-side", "--force-conflicts", "-f", crds)...); err != nil {
		return "", fmt.Errorf("applying MetalLB's CRDs: %w", err)
	}
	if _, err := run(ctx, s.bin("kubectl"), append(kubectl, "wait", "--for=condition=Established", "--timeout=60s", "-f", crds)...); err != nil {
		return "", fmt.Errorf("waiting for MetalLB's CRDs: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("memberlist key: %w", err)
	}
	if err := os.MkdirAll(metallbSecretDir(s.Dir), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(metallbSecretDir(s.Dir), metallbSecretKey),
		[]byte(base64.StdEncoding.EncodeToString(key)), 0o600); err != nil {
		return "", err
	}
	pods := []*corev1.Pod{metallbPod(p, p.Nodes[0], "")}
	for _, h := range p.Nodes {
		pods = append(pods, metallbPod(p, h, h.Name))
	}
	for _, pod := range pods {
		if err := createRunningPod(ctx, cs, pod); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("namespace %s, MetalLB's CRDs from %s, %d Pods standing for its processes", metallbNamespace, crds, len(pods)), nil
}

// metallbDir is the lab directory's entry for MetalLB's files.
const metallbDir = "metallb"

func metallbSecretDir(dir string) string { return filepath.Join(dir, metallbDir, "memberlist") }

// metallbPod is the Pod object of a MetalLB process on host h: the
// controller (node "") or the speaker of node. It runs the pause image, so
// a real kubelet can run it too.
func metallbPod(p Plan, h Host, node string) *corev1.Pod {
	component := "speaker"
	if node == "" {
		component = "controller"
	}
	var ips []corev1.PodIP
	for _, a := range p.NodeIPs(h) {
		ips = append(ips, corev1.PodIP{IP: a.String()})
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: metallbNamespace, Name: metallbPodName(node),
			Labels: map[string]string{"app": "metallb", "component": component},
		},
		Spec: corev1.PodSpec{
			NodeName:    h.Name,
			HostNetwork: true,
			Containers: []corev1.Container{{
				Name: component, Image: SandboxImage, ImagePullPolicy: corev1.PullNever,
			}},
			Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, HostIP: ips[0].IP, PodIP: ips[0].IP, PodIPs: ips,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
		},
	}
}

// createRunningPod creates pod and writes its status (Running, its IPs),
// replacing a Pod of the same name.
func createRunningPod(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod) error {
	pods := cs.CoreV1().Pods(pod.Namespace)
	zero := int64(0)
	if err := pods.Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting Pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	status := pod.Status
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating Pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	created.Status = status
	now := metav1.Now()
	created.Status.StartTime = &now
	for i := range created.Status.Conditions {
		created.Status.Conditions[i].LastTransitionTime = now
	}
	if _, err := pods.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("writing the status of Pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// metallbControllerProc runs MetalLB's controller in the root namespace,
// as the ironlb controller runs: admin kubeconfig (MetalLB's RBAC is not
// installed), its webhook disabled, metrics off (they would listen on every
// address of the machine), health on the lab's loopback port.
func metallbControllerProc(s *State) *Proc {
	return &Proc{
		Name: "controller", Order: 90, Supervised: true,
		Args: []string{
			filepath.Join(s.MetalLBDir, "controller"),
			"--kubeconfig=" + s.Kubeconfig(),
			"--namespace=" + metallbNamespace,
			"--pod-name=" + metallbPodName(""),
			"--webhook-mode=disabled",
			"--disable-cert-rotation=true",
			"--port=0",
			"--health-probe-port=" + strconv.Itoa(s.Ports.ControllerHealth),
			"--log-level=info",
		},
	}
}

// metallbSpeakerProcs run one MetalLB speaker per node namespace in native
// BGP mode, memberlist bound to the node's address and keyed by the lab's
// key file, metrics and health on MetalLB's ports inside the namespace.
func metallbSpeakerProcs(s *State, p Plan) []*Proc {
	var out []*Proc
	for _, h := range p.Nodes {
		out = append(out, &Proc{
			Name: "speaker/" + h.Name, Host: h.Name, Order: 90, Supervised: true,
			Args: []string{
				filepath.Join(s.MetalLBDir, "speaker"),
				"--kubeconfig=" + s.Kubeconfig(),
				"--namespace=" + metallbNamespace,
				"--node-name=" + h.Name,
				"--pod-name=" + metallbPodName(h.Name),
				"--ml-bindaddr=" + p.NodeIPs(h)[0].String(),
				"--ml-bindport=" + strconv.Itoa(memberlistPort),
				"--ml-labels=" + metallbSpeakerLabels,
				"--ml-secret-key-path=" + metallbSecretDir(s.Dir),
				"--port=" + strconv.Itoa(metallbMetricsPort),
				"--log-level=info",
			},
			Env: []string{"METALLB_BGP_TYPE=native"},
		})
	}
	return out
}

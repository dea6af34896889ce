package lab

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ironlb as Pods (State.IronlbPods): with real kubelets the lab applies
// the install manifests' Deployment and DaemonSet as they are, and the
// kubelets run them from the ironlb:dev image (hack/lab-images.sh) with
// the manifests' security context, probes, Downward API environment and
// ServiceAccount tokens. Restarting a component deletes its Pods; the
// Deployment and the DaemonSet bring them back.

// Labels the install manifests give ironlb's Pods.
const (
	componentLabel  = "app.kubernetes.io/component"
	controllerPods  = componentLabel + "=controller"
	speakerPods     = componentLabel + "=speaker"
	ironlbImageName = "docker.io/library/ironlb:dev"
)

// waitIronlbPods waits until every Deployment and DaemonSet in ironlb's
// namespace has all its Pods ready (by the manifests' readiness probes)
// and the DaemonSets one per node.
func waitIronlbPods(ctx context.Context, cs kubernetes.Interface, nodes int, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		done, state, err := ironlbPodsReady(ctx, cs, nodes)
		if done {
			return state, nil
		}
		if err == nil {
			err = fmt.Errorf("not ready: %s", state)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("ironlb's Pods after %s: %w", timeout, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func ironlbPodsReady(ctx context.Context, cs kubernetes.Interface, nodes int) (bool, string, error) {
	deps, err := cs.AppsV1().Deployments(ironlbNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, "", err
	}
	dss, err := cs.AppsV1().DaemonSets(ironlbNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, "", err
	}
	ready := len(deps.Items) > 0 && len(dss.Items) > 0
	var state []string
	for _, d := range deps.Items {
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		ready = ready && deploymentReady(&d, want)
		state = append(state, fmt.Sprintf("Deployment %s %d/%d ready", d.Name, d.Status.ReadyReplicas, want))
	}
	for _, d := range dss.Items {
		ready = ready && d.Status.DesiredNumberScheduled == int32(nodes) && d.Status.NumberReady == int32(nodes) &&
			d.Status.ObservedGeneration >= d.Generation
		state = append(state, fmt.Sprintf("DaemonSet %s %d/%d ready", d.Name, d.Status.NumberReady, nodes))
	}
	if len(state) == 0 {
		state = append(state, "no Deployment or DaemonSet in "+ironlbNamespace)
	}
	return ready, strings.Join(state, ", "), nil
}

func deploymentReady(d *appsv1.Deployment, want int32) bool {
	return d.Status.ObservedGeneration >= d.Generation && d.Status.ReadyReplicas == want &&
		d.Status.UpdatedReplicas == want
}

// restartPods deletes the Pods of ironlb's component that match selector
// (and run on node, unless it is empty): their Deployment or DaemonSet
// starts new ones.
func restartPods(ctx context.Context, dir, selector, node string, out io.Writer) error {
	cs, err := Clientset(dir)
	if err != nil {
		return err
	}
	opts := metav1.ListOptions{LabelSelector: selector}
	if node != "" {
		opts.FieldSelector = "spec.nodeName=" + node
	}
	pods, err := cs.CoreV1().Pods(ironlbNamespace).List(ctx, opts)
	if err != nil {
		return err
	}
	if len(pods.Items) == 0 {
		return fmt.Errorf("no Pod %s in %s%s", selector, ironlbNamespace, map[bool]string{true: " on " + node}[node != ""])
	}
	for _, p := range pods.Items {
		if err := cs.CoreV1().Pods(ironlbNamespace).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
			return err
		}
		_, _ = fmt.Fprintf(out, "deleted Pod %s/%s (on %s); its %s starts a new one\n", ironlbNamespace, p.Name, p.Spec.NodeName,
			map[bool]string{true: "DaemonSet", false: "Deployment"}[node != ""])
	}
	return nil
}

// failRealNode is `lab node fail` on a node with a real kubelet: after its
// links go down, the machine "dies" — its kubelet and containerd are
// SIGKILLed and held down, then every container process (the node's
// cgroups) and runc shim (named by the node's containerd socket). kube-proxy
// keeps running, as with the stand-in; the Node turns NotReady once the
// node controller notices the silent kubelet.
func failRealNode(s *State, p Plan, h Host, out io.Writer) error {
	for _, name := range []string{"kubelet/" + h.Name, "containerd/" + h.Name} {
		pr := s.Procs[name]
		if pr == nil {
			continue
		}
		pr.Held = true
		if pr.Alive() {
			if err := terminate(pr.PID, pr.Start, 0); err != nil {
				return err
			}
			_, _ = fmt.Fprintf(out, "killed %s (pid %d)\n", name, pr.PID)
		}
	}
	hs, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	var roots []string
	for _, hier := range hs {
		roots = append(roots, filepath.Join(hier, strings.TrimPrefix(cgroupRoot(p, h), "/")))
	}
	if err := killCgroupProcs(roots, out); err != nil {
		return err
	}
	n := realNodePaths(s.Dir, h.Name)
	if err := killByArg(n.containerdSocket(), out); err != nil {
		return err
	}
	// A killed shim leaves its socket in the machine-wide directory; the
	// restarted containerd cleans up the tasks but not those.
	entries, _ := os.ReadDir(n.taskDir())
	for _, e := range entries {
		_ = os.Remove(shimSocket(n.containerdSocket(), criNamespace, e.Name()))
	}
	return nil
}

// recoverRealNode undoes failRealNode: containerd and the kubelet start
// again (the kubelet then restarts the node's Pods).
func recoverRealNode(s *State, p Plan, h Host, out io.Writer) error {
	for _, name := range []string{"containerd/" + h.Name, "kubelet/" + h.Name} {
		pr := s.Procs[name]
		if pr == nil || !pr.Held {
			continue
		}
		pr.Held = false
		if pr.Alive() {
			continue
		}
		cmd, err := startProc(s, p, pr)
		if err != nil {
			return err
		}
		_ = cmd.Process.Release()
		_, _ = fmt.Fprintf(out, "started %s (pid %d)\n", name, pr.PID)
	}
	return nil
}

// killByArg SIGKILLs every process with arg among its arguments.
func killByArg(arg string, out io.Writer) error {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !slices.Contains(strings.Split(string(cmdline), "\x00"), arg) {
			continue
		}
		st, err := readProcStat(pid)
		if err != nil {
			continue
		}
		if err := signal(pid, st.Start, unix.SIGKILL); err == nil {
			_, _ = fmt.Fprintf(out, "killed %s (pid %d)\n", filepath.Base(strings.SplitN(string(cmdline), "\x00", 2)[0]), pid)
		}
	}
	return nil
}

package lab

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

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

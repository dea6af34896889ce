//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/internal/lab"
	"github.com/ironlb/ironlb/internal/testkit"
)

// workload is a Deployment behind a NodePort Service, ready and answering.
type workload struct {
	namespace string
	nodePort  int32
	// pods are the names of the Deployment's Pods.
	pods []string
}

const (
	workloadReplicas = 2
	workloadPort     = 8080 // not 80: the stand-in serves the declared containerPort
)

// testWorkload deploys a Deployment and a NodePort Service and checks the
// real path end to end: Pods scheduled and made Ready, EndpointSlices built
// from them, and the NodePort answering from the client through every node
// over every address family of the cluster.
func testWorkload(t *testing.T, w *workload) {
	ctx := context.Background()
	cs := clientset(t)
	deployWorkload(t, cs, w)

	// Expected: scheduled and made Ready by the lab's agent in 2-4 s
	// (docs/lab.md); 10 s on a busy machine.
	eventually(t, testkit.Budget(10*time.Second), "Pods Running and Ready", func() error {
		pods, err := cs.CoreV1().Pods(w.namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return err
		}
		w.pods = nil
		for _, p := range pods.Items {
			if p.Status.Phase != corev1.PodRunning || !podReady(&p) || p.Spec.NodeName == "" || len(p.Status.PodIPs) == 0 {
				return fmt.Errorf("pod %s: phase %s, node %q, IPs %v", p.Name, p.Status.Phase, p.Spec.NodeName, p.Status.PodIPs)
			}
			w.pods = append(w.pods, p.Name)
		}
		if len(w.pods) != workloadReplicas {
			return fmt.Errorf("%d ready pods, want %d", len(w.pods), workloadReplicas)
		}
		return nil
	})

	svc, err := cs.CoreV1().Services(w.namespace).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.nodePort = svc.Spec.Ports[0].NodePort
	// Expected: the EndpointSlice controller follows the Pods within a
	// second or two.
	eventually(t, testkit.Budget(5*time.Second), "EndpointSlices with every pod IP ready", func() error {
		return checkEndpointSlices(ctx, cs, w, svc.Spec.IPFamilies)
	})

	st := status(t)
	for _, h := range st.Hosts {
		if h.Role != "node" {
			continue
		}
		for _, addr := range nodeAddrs(t, cs, h.Name) {
			target := netip.AddrPortFrom(addr, uint16(w.nodePort)).String()
			// Expected: kube-proxy programs the NodePort within a few
			// seconds of the EndpointSlice.
			eventually(t, testkit.Budget(5*time.Second), "NodePort "+target+" from the client", func() error {
				return answersFromPod(ctx, w, "client", target)
			})
		}
	}

	// kube-proxy spreads connections over both pods (once it has programmed
	// both endpoints, which may lag the EndpointSlice by a moment).
	first := nodeAddrs(t, cs, "node1")[0]
	seen := map[string]bool{}
	// Expected: as the NodePort above; both endpoints are usually there.
	eventually(t, testkit.Budget(5*time.Second), "requests spread over every pod", func() error {
		for i := 0; i < 20 && len(seen) < workloadReplicas; i++ {
			body, err := httpGetFrom(ctx, "client", netip.AddrPortFrom(first, uint16(w.nodePort)).String())
			if err != nil {
				return err
			}
			seen[field(body, "pod")] = true
		}
		if len(seen) != workloadReplicas {
			return fmt.Errorf("requests reached pods %v, want all %d", seen, workloadReplicas)
		}
		return nil
	})
}

// newWorkload names a workload; the caller deletes its namespace when done
// (the returned function).
func newWorkload() (*workload, func()) {
	w := &workload{namespace: "e2e-" + randomHex(2)}
	return w, func() {
		cs, err := lab.Clientset(e2e.dir)
		if err == nil {
			_ = cs.CoreV1().Namespaces().Delete(context.Background(), w.namespace, metav1.DeleteOptions{})
		}
	}
}

func deployWorkload(t *testing.T, cs kubernetes.Interface, w *workload) {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: w.namespace}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "web"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](workloadReplicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					// Spread the replicas so traffic crosses nodes.
					TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{
						MaxSkew: 1, TopologyKey: "kubernetes.io/hostname",
						WhenUnsatisfiable: corev1.DoNotSchedule,
						LabelSelector:     &metav1.LabelSelector{MatchLabels: labels},
					}},
					Containers: []corev1.Container{{
						Name: "web", Image: "registry.example/web:1",
						Ports: []corev1.ContainerPort{{ContainerPort: workloadPort}},
					}},
				},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments(w.namespace).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{
			Type:           corev1.ServiceTypeNodePort,
			IPFamilyPolicy: ptr.To(corev1.IPFamilyPolicyPreferDualStack),
			Selector:       labels,
			Ports: []corev1.ServicePort{{
				Name: "http", Port: 80, TargetPort: intstr.FromInt32(workloadPort),
			}},
		},
	}
	if _, err := cs.CoreV1().Services(w.namespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// checkEndpointSlices wants, per family of the Service, slices listing
// every pod IP of that family as a ready endpoint.
func checkEndpointSlices(ctx context.Context, cs kubernetes.Interface, w *workload, families []corev1.IPFamily) error {
	pods, err := cs.CoreV1().Pods(w.namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		return err
	}
	slices_, err := cs.DiscoveryV1().EndpointSlices(w.namespace).List(ctx,
		metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
	if err != nil {
		return err
	}
	for _, fam := range families {
		var want, got []string
		for _, p := range pods.Items {
			for _, ip := range p.Status.PodIPs {
				if a, err := netip.ParseAddr(ip.IP); err == nil && a.Is4() == (fam == corev1.IPv4Protocol) {
					want = append(want, ip.IP)
				}
			}
		}
		for _, s := range slices_.Items {
			if string(s.AddressType) != string(fam) {
				continue
			}
			if len(s.Ports) == 0 || s.Ports[0].Port == nil || *s.Ports[0].Port != workloadPort {
				return fmt.Errorf("%s slice %s: ports %v, want %d", fam, s.Name, s.Ports, workloadPort)
			}
			for _, ep := range s.Endpoints {
				if ep.Conditions.Ready != nil && *ep.Conditions.Ready {
					got = append(got, ep.Addresses...)
				}
			}
		}
		slices.Sort(want)
		slices.Sort(got)
		if len(want) != workloadReplicas || !slices.Equal(want, got) {
			return fmt.Errorf("%s: ready endpoints %v, want the pod IPs %v", fam, got, want)
		}
	}
	return nil
}

// nodeAddrs are a Node's InternalIPs.
func nodeAddrs(t *testing.T, cs kubernetes.Interface, node string) []netip.Addr {
	t.Helper()
	n, err := cs.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []netip.Addr
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			out = append(out, netip.MustParseAddr(a.Address))
		}
	}
	if len(out) == 0 {
		t.Fatalf("node %s has no InternalIP", node)
	}
	return out
}

// answersFromPod wants the stand-in's answer from one of w's pods.
func answersFromPod(ctx context.Context, w *workload, from, target string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	body, err := httpGetFrom(ctx, from, target)
	if err != nil {
		return err
	}
	pod := field(body, "pod")
	name, ok := strings.CutPrefix(pod, w.namespace+"/")
	if !ok || !slices.Contains(w.pods, name) {
		return fmt.Errorf("answer %q is not from a pod of %s (%v)", strings.TrimSpace(body), w.namespace, w.pods)
	}
	if port := field(body, "port"); port != strconv.Itoa(workloadPort) {
		return fmt.Errorf("answer %q: served on port %s, want %d", strings.TrimSpace(body), port, workloadPort)
	}
	return nil
}

// field extracts key's value from the stand-in's "key=value ..." answer.
func field(body, key string) string {
	for _, f := range strings.Fields(body) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

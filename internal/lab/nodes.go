package lab

import (
	"context"
	"fmt"
	"runtime"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// labRuntime is what the lab's Nodes report as kubelet and container
// runtime: nothing there is a real kubelet.
const labRuntime = "ironlb-lab://stand-in"

// nodeObject is the Node a lab host registers as: its addresses in the
// cluster's families, its pod CIDRs, a capacity the scheduler accepts and
// a Ready condition.
func nodeObject(p Plan, h Host, now time.Time) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: h.Name,
			Labels: map[string]string{
				"kubernetes.io/hostname": h.Name,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     runtime.GOARCH,
			},
		},
	}
	for _, c := range p.PodCIDRs(h) {
		n.Spec.PodCIDRs = append(n.Spec.PodCIDRs, c.String())
	}
	if len(n.Spec.PodCIDRs) > 0 {
		n.Spec.PodCIDR = n.Spec.PodCIDRs[0]
	}
	n.Status = nodeStatus(p, h, now)
	return n
}

// nodeStatus is the status the lab agent keeps on its Node.
func nodeStatus(p Plan, h Host, now time.Time) corev1.NodeStatus {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("2"),
		corev1.ResourceMemory: resource.MustParse("4Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	st := corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity.DeepCopy(),
		Phase:       corev1.NodeRunning,
		Conditions:  []corev1.NodeCondition{readyCondition(now)},
		NodeInfo: corev1.NodeSystemInfo{
			OperatingSystem:         "linux",
			Architecture:            runtime.GOARCH,
			KubeletVersion:          "ironlb-lab",
			ContainerRuntimeVersion: labRuntime,
			OSImage:                 "ironlb lab network namespace",
		},
	}
	for _, a := range p.NodeIPs(h) {
		st.Addresses = append(st.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: a.String()})
	}
	st.Addresses = append(st.Addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: h.Name})
	return st
}

func readyCondition(now time.Time) corev1.NodeCondition {
	t := metav1.NewTime(now)
	return corev1.NodeCondition{
		Type:               corev1.NodeReady,
		Status:             corev1.ConditionTrue,
		LastHeartbeatTime:  t,
		LastTransitionTime: t,
		Reason:             "KubeletReady",
		Message:            "ironlb lab agent is posting ready status",
	}
}

// nodeReady reports whether n's Ready condition is True.
func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// ensureNode registers h's Node, or brings an existing one back to Ready
// with the plan's addresses. It returns whether it wrote anything.
func ensureNode(ctx context.Context, cs kubernetes.Interface, p Plan, h Host) (bool, error) {
	now := time.Now()
	n, err := cs.CoreV1().Nodes().Get(ctx, h.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if _, err := cs.CoreV1().Nodes().Create(ctx, nodeObject(p, h, now), metav1.CreateOptions{}); err != nil {
			return false, fmt.Errorf("registering node %s: %w", h.Name, err)
		}
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading node %s: %w", h.Name, err)
	}
	want := nodeStatus(p, h, now)
	if nodeReady(n) && addressesEqual(n.Status.Addresses, want.Addresses) {
		return false, nil
	}
	n.Status.Addresses = want.Addresses
	n.Status.Capacity, n.Status.Allocatable = want.Capacity, want.Allocatable
	n.Status.NodeInfo = want.NodeInfo
	setNodeCondition(&n.Status, readyCondition(now))
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		return false, fmt.Errorf("marking node %s ready: %w", h.Name, err)
	}
	return true, nil
}

func setNodeCondition(st *corev1.NodeStatus, c corev1.NodeCondition) {
	for i := range st.Conditions {
		if st.Conditions[i].Type == c.Type {
			if st.Conditions[i].Status == c.Status {
				c.LastTransitionTime = st.Conditions[i].LastTransitionTime
			}
			st.Conditions[i] = c
			return
		}
	}
	st.Conditions = append(st.Conditions, c)
}

func addressesEqual(a, b []corev1.NodeAddress) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

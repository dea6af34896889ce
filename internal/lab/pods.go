package lab

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// defaultPodPort is served when a Pod declares no TCP containerPort.
const defaultPodPort = 80

// podPorts are the TCP ports a Pod's stand-in serves: every TCP
// containerPort of its containers, or 80.
func podPorts(pod *corev1.Pod) []int32 {
	var ports []int32
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if (p.Protocol == "" || p.Protocol == corev1.ProtocolTCP) && !slices.Contains(ports, p.ContainerPort) {
				ports = append(ports, p.ContainerPort)
			}
		}
	}
	if len(ports) == 0 {
		ports = []int32{defaultPodPort}
	}
	slices.Sort(ports)
	return ports
}

// podIPPool hands out pod IPs from a node's pod CIDRs: index i gives the
// i-th address of each family's CIDR, so a pod's IPv4 and IPv6 addresses
// end alike. Not safe for concurrent use.
type podIPPool struct {
	cidrs []netip.Prefix // in the cluster's family order
	used  map[int]types.UID
	size  int
}

func newPodIPPool(cidrs []netip.Prefix) *podIPPool {
	size := 1 << 16
	for _, c := range cidrs {
		if c.Addr().Is4() {
			size = min(size, 1<<(32-c.Bits()))
		}
	}
	return &podIPPool{cidrs: cidrs, used: map[int]types.UID{}, size: size}
}

// addrs are the addresses of index i, one per CIDR.
func (p *podIPPool) addrs(i int) []netip.Addr {
	out := make([]netip.Addr, 0, len(p.cidrs))
	for _, c := range p.cidrs {
		a := c.Addr()
		for range i {
			a = a.Next()
		}
		out = append(out, a)
	}
	return out
}

// indexOf finds the index of a, or -1 when a is not one of the pool's.
func (p *podIPPool) indexOf(a netip.Addr) int {
	for _, c := range p.cidrs {
		if !c.Contains(a) {
			continue
		}
		base := c.Addr()
		for i := 0; i < p.size; i++ {
			if base == a {
				if i < 2 || i >= p.size-1 {
					return -1
				}
				return i
			}
			base = base.Next()
		}
	}
	return -1
}

// assign gives uid its addresses: the index its recorded IPs already use
// when that index is free (a restarted agent keeps pod IPs), else the
// lowest free index from 2 (.1 is left out like a gateway would be).
func (p *podIPPool) assign(uid types.UID, recorded []string) ([]netip.Addr, error) {
	for i, u := range p.used {
		if u == uid {
			return p.addrs(i), nil
		}
	}
	for _, s := range recorded {
		a, err := netip.ParseAddr(s)
		if err != nil {
			continue
		}
		if i := p.indexOf(a); i >= 0 {
			if _, taken := p.used[i]; !taken {
				p.used[i] = uid
				return p.addrs(i), nil
			}
		}
	}
	for i := 2; i < p.size-1; i++ {
		if _, taken := p.used[i]; !taken {
			p.used[i] = uid
			return p.addrs(i), nil
		}
	}
	return nil, fmt.Errorf("pod CIDRs %v are full", p.cidrs)
}

// release frees uid's index.
func (p *podIPPool) release(uid types.UID) {
	for i, u := range p.used {
		if u == uid {
			delete(p.used, i)
		}
	}
}

// podStatusFor is the status a running, ready stand-in pod reports: phase
// Running, every condition True, the pod and host IPs, and each container
// running and ready.
func podStatusFor(pod *corev1.Pod, podIPs, hostIPs []netip.Addr, now time.Time) corev1.PodStatus {
	st := *pod.Status.DeepCopy()
	t := metav1.NewTime(now)
	st.Phase = corev1.PodRunning
	for _, c := range []corev1.PodConditionType{
		corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady, corev1.PodScheduled,
	} {
		setPodCondition(&st, corev1.PodCondition{Type: c, Status: corev1.ConditionTrue, LastTransitionTime: t})
	}
	st.PodIPs, st.HostIPs = nil, nil
	for _, a := range podIPs {
		st.PodIPs = append(st.PodIPs, corev1.PodIP{IP: a.String()})
	}
	for _, a := range hostIPs {
		st.HostIPs = append(st.HostIPs, corev1.HostIP{IP: a.String()})
	}
	st.PodIP, st.HostIP = "", ""
	if len(st.PodIPs) > 0 {
		st.PodIP = st.PodIPs[0].IP
	}
	if len(st.HostIPs) > 0 {
		st.HostIP = st.HostIPs[0].IP
	}
	if st.StartTime == nil {
		st.StartTime = &t
	}
	started := true
	var cs []corev1.ContainerStatus
	for _, c := range pod.Spec.Containers {
		s := corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: "ironlb-lab://" + c.Image,
			ContainerID: "ironlb-lab://" + string(pod.UID) + "/" + c.Name,
			Ready:       true, Started: &started,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: *st.StartTime}},
		}
		for _, old := range pod.Status.ContainerStatuses {
			if old.Name == c.Name && old.State.Running != nil {
				s.State.Running.StartedAt = old.State.Running.StartedAt
			}
		}
		cs = append(cs, s)
	}
	st.ContainerStatuses = cs
	return st
}

func setPodCondition(st *corev1.PodStatus, c corev1.PodCondition) {
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

// podStatusCurrent reports whether pod already shows what podStatusFor
// would write, so the agent skips a write.
func podStatusCurrent(pod *corev1.Pod, podIPs []netip.Addr) bool {
	if pod.Status.Phase != corev1.PodRunning || len(pod.Status.PodIPs) != len(podIPs) {
		return false
	}
	for i, a := range podIPs {
		if pod.Status.PodIPs[i].IP != a.String() {
			return false
		}
	}
	ready := false
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			ready = c.Status == corev1.ConditionTrue
		}
	}
	return ready && len(pod.Status.ContainerStatuses) == len(pod.Spec.Containers)
}

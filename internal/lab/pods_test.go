package lab

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestPodPorts(t *testing.T) {
	tests := []struct {
		name  string
		ports [][]corev1.ContainerPort
		want  []int32
	}{
		{"none means 80", nil, []int32{80}},
		{"tcp only, sorted, deduplicated", [][]corev1.ContainerPort{
			{{ContainerPort: 8080}, {ContainerPort: 53, Protocol: corev1.ProtocolUDP}},
			{{ContainerPort: 443, Protocol: corev1.ProtocolTCP}, {ContainerPort: 8080}},
		}, []int32{443, 8080}},
		{"udp only means 80", [][]corev1.ContainerPort{{{ContainerPort: 53, Protocol: corev1.ProtocolUDP}}}, []int32{80}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{}
			for _, ps := range tt.ports {
				pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Ports: ps})
			}
			if got := podPorts(pod); !slices.Equal(got, tt.want) {
				t.Errorf("podPorts = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPodIPPool(t *testing.T) {
	pool := newPodIPPool([]netip.Prefix{
		netip.MustParsePrefix("10.244.1.0/24"), netip.MustParsePrefix("fd00:10:244:1::/64"),
	})
	a, err := pool.assign("a", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := joinAddrs(a); got != "10.244.1.2 fd00:10:244:1::2" {
		t.Errorf("first pod = %s", got)
	}
	// A restarted agent keeps the recorded address when it is free.
	c, err := pool.assign("c", []string{"10.244.1.9", "fd00:10:244:1::9"})
	if err != nil {
		t.Fatal(err)
	}
	if got := joinAddrs(c); got != "10.244.1.9 fd00:10:244:1::9" {
		t.Errorf("recorded pod = %s", got)
	}
	// Recorded but taken, or outside the CIDRs: the next free index.
	d, _ := pool.assign("d", []string{"10.244.1.9"})
	e, _ := pool.assign("e", []string{"10.99.0.5", "bogus"})
	if got := joinAddrs(d) + " | " + joinAddrs(e); got != "10.244.1.3 fd00:10:244:1::3 | 10.244.1.4 fd00:10:244:1::4" {
		t.Errorf("d | e = %s", got)
	}
	again, _ := pool.assign("a", nil)
	if !slices.Equal(again, a) {
		t.Errorf("assign is not idempotent: %v then %v", a, again)
	}
	pool.release("a")
	f, _ := pool.assign("f", nil)
	if !slices.Equal(f, a) {
		t.Errorf("released address not reused: %v", f)
	}
	for _, s := range []string{"10.244.1.0", "10.244.1.1", "10.244.1.255"} {
		if i := pool.indexOf(netip.MustParseAddr(s)); i != -1 {
			t.Errorf("indexOf(%s) = %d, want -1 (reserved)", s, i)
		}
	}
}

func TestPodIPPoolFull(t *testing.T) {
	pool := newPodIPPool([]netip.Prefix{netip.MustParsePrefix("10.244.1.0/29")})
	var n int
	for ; n < 10; n++ {
		if _, err := pool.assign(types.UID(strconv.Itoa(n)), nil); err != nil {
			break
		}
	}
	if n != 5 { // .2 to .6
		t.Errorf("a /29 held %d pods, want 5", n)
	}
}

func TestPodStatus(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "u1"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1"}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-time.Hour))},
		}},
	}
	ips := []netip.Addr{netip.MustParseAddr("10.244.1.2"), netip.MustParseAddr("fd00:10:244:1::2")}
	if podStatusCurrent(pod, ips) {
		t.Fatal("a pending pod is current")
	}
	st := podStatusFor(pod, ips, []netip.Addr{netip.MustParseAddr("10.200.0.11")}, now)
	if st.Phase != corev1.PodRunning || st.PodIP != "10.244.1.2" || len(st.PodIPs) != 2 || st.HostIP != "10.200.0.11" {
		t.Errorf("status = %+v", st)
	}
	var conds []string
	for _, c := range st.Conditions {
		conds = append(conds, string(c.Type)+"="+string(c.Status))
		if c.Type == corev1.PodScheduled && !c.LastTransitionTime.Equal(&metav1.Time{Time: now.Add(-time.Hour)}) {
			t.Errorf("PodScheduled transition time changed to %v", c.LastTransitionTime)
		}
	}
	want := []string{"PodScheduled=True", "PodReadyToStartContainers=True", "Initialized=True", "ContainersReady=True", "Ready=True"}
	if d := cmp.Diff(want, conds); d != "" {
		t.Errorf("conditions (-want +got):\n%s", d)
	}
	if len(st.ContainerStatuses) != 1 || !st.ContainerStatuses[0].Ready || st.ContainerStatuses[0].State.Running == nil {
		t.Errorf("container statuses = %+v", st.ContainerStatuses)
	}
	pod.Status = st
	if !podStatusCurrent(pod, ips) {
		t.Error("the written status is not current")
	}
	if podStatusCurrent(pod, ips[:1]) {
		t.Error("current with different IPs")
	}
	pod.Status.Conditions[4].Status = corev1.ConditionFalse // marked not ready by the node lifecycle controller
	if podStatusCurrent(pod, ips) {
		t.Error("current while not Ready")
	}
}

func TestPodHandler(t *testing.T) {
	srv := httptest.NewServer(podHandler("default/web-1", "node2"))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	ap := netip.MustParseAddrPort(strings.TrimPrefix(srv.URL, "http://"))
	want := "pod=default/web-1 node=node2 ip=127.0.0.1 port=" + strings.TrimPrefix(ap.String(), "127.0.0.1:") + " client=127.0.0.1:"
	if !strings.HasPrefix(string(b), want) {
		t.Errorf("answer %q, want prefix %q", b, want)
	}
}

func TestNodeObject(t *testing.T) {
	p, err := NewPlan("ironlb-", 2, DualStack)
	if err != nil {
		t.Fatal(err)
	}
	n := nodeObject(p, p.Nodes[1], time.Now())
	if n.Name != "node2" || n.Spec.PodCIDR != "10.244.2.0/24" || len(n.Spec.PodCIDRs) != 2 {
		t.Errorf("node = %s %s %v", n.Name, n.Spec.PodCIDR, n.Spec.PodCIDRs)
	}
	var addrs []string
	for _, a := range n.Status.Addresses {
		addrs = append(addrs, string(a.Type)+":"+a.Address)
	}
	if d := cmp.Diff([]string{"InternalIP:10.200.0.12", "InternalIP:fd00:200::12", "Hostname:node2"}, addrs); d != "" {
		t.Errorf("addresses (-want +got):\n%s", d)
	}
	if !nodeReady(n) || n.Status.Allocatable.Pods().Value() != 110 {
		t.Errorf("node not ready or no pod capacity: %+v", n.Status)
	}
}

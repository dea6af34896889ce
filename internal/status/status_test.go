package status

import (
	"bytes"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/controller"
	"github.com/ironlb/ironlb/internal/speaker"
)

var now = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func cond(t string, ok bool, msg string) metav1.Condition {
	s := metav1.ConditionTrue
	if !ok {
		s = metav1.ConditionFalse
	}
	return metav1.Condition{Type: t, Status: s, Reason: "R", Message: msg}
}

func lb(ns, name, pool string, ips []string, conds ...metav1.Condition) corev1.Service {
	s := corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}}
	if pool != "" {
		s.Annotations = map[string]string{controller.AnnotationAllocatedFromPool: pool}
	}
	for _, ip := range ips {
		s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
	}
	s.Status.Conditions = conds
	return s
}

func nodeEvent(reason, msg string, at time.Time) corev1.Event {
	return corev1.Event{InvolvedObject: corev1.ObjectReference{Kind: "Node"}, Reason: reason, Message: msg,
		EventTime: metav1.NewMicroTime(at)}
}

func objects() *Objects {
	return &Objects{
		Pools: []v1beta1.IPAddressPool{
			{ObjectMeta: metav1.ObjectMeta{Name: "prod"}, Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"10.0.0.0/29", "fd00::/125"}},
				Status: v1beta1.IPAddressPoolStatus{AssignedIPv4: 2, AvailableIPv4: 6, AssignedIPv6: 1, AvailableIPv6: 7}},
			{ObjectMeta: metav1.ObjectMeta{Name: "bad"}, Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"10.1.0.10-10.1.0.11"}},
				Status: v1beta1.IPAddressPoolStatus{Conditions: []metav1.Condition{cond(v1beta1.ConditionValid, false, "overlaps prod")}}},
		},
		Services: []corev1.Service{
			lb("default", "web", "prod", []string{"10.0.0.1", "fd00::1"}, cond(controller.ConditionIPAllocated, true, ""), cond(speaker.ConditionAnnounced, true, "")),
			lb("default", "api", "prod", []string{"10.0.0.2"}, cond(controller.ConditionIPAllocated, true, "")),
			lb("shop", "stuck", "", nil, cond(controller.ConditionIPAllocated, false, "no free IPv4 address in pool \"prod\"")),
			lb("other", "theirs", "", []string{"192.0.2.1"}), // another class: no ironlb condition
		},
		L2Statuses: []v1beta1.ServiceL2Status{
			{Status: v1beta1.L2AnnouncementStatus{Node: "node2", ServiceNamespace: "default", ServiceName: "web", Interfaces: []v1beta1.InterfaceInfo{{Name: "eth0"}}}},
			{Status: v1beta1.L2AnnouncementStatus{Node: "node1", ServiceNamespace: "default", ServiceName: "web", Interfaces: []v1beta1.InterfaceInfo{{Name: "eth0"}}}},
		},
		BGPStatuses: []v1beta1.ServiceBGPStatus{
			{Status: v1beta1.BGPAnnouncementStatus{Node: "node1", ServiceNamespace: "default", ServiceName: "api", Peers: []string{"router"}}},
		},
		Events: []corev1.Event{
			nodeEvent(speaker.ReasonBGPSessionUp, "BGP session from node node1 to peer router (10.0.0.254) is established", now.Add(-10*time.Minute)),
			nodeEvent(speaker.ReasonBGPSessionDown, "BGP session from node node2 to peer router (10.0.0.254) went down (now Active)", now.Add(-30*time.Second)),
			nodeEvent(speaker.ReasonBGPSessionUp, "BGP session from node node2 to peer router (10.0.0.254) is established", now.Add(-time.Hour)),
			nodeEvent("BGPPeerNotRun", "node node2 cannot run some BGP configuration: x", now),
		},
	}
}

func TestFrom(t *testing.T) {
	st := From(objects())
	if len(st.Pools) != 2 || st.Pools[0].Name != "bad" || st.Pools[0].Valid || st.Pools[1].Families[1].Family != "IPv6" {
		t.Errorf("pools %+v", st.Pools)
	}
	if len(st.Services) != 3 {
		t.Fatalf("services %+v: want web, api and stuck (not another class's)", st.Services)
	}
	web := st.Services[1]
	if web.Name != "web" || web.Mode() != "layer2" || len(web.Layer2) != 2 || web.Layer2[0].Node != "node1" {
		t.Errorf("web %+v", web)
	}
	if api := st.Services[0]; api.Mode() != "bgp" || api.BGP[0].Details[0] != "router" {
		t.Errorf("api %+v", api)
	}
	if stuck := st.Services[2]; len(stuck.Problems) != 1 || len(stuck.Addresses) != 0 {
		t.Errorf("stuck %+v", stuck)
	}
	if len(st.Sessions) != 2 || !st.Sessions[0].Up || st.Sessions[1].Up || st.Sessions[1].State != "Active" {
		t.Errorf("sessions %+v: want node1 up, node2 down by its latest Event", st.Sessions)
	}
}

func TestRender(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, From(objects()), Options{Now: now}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"prod  [###-------] 2/8",
		"[##--------] 1/8",
		"no: overlaps prod",
		"default/web  ",
		"10.0.0.1, fd00::1",
		"node1 (eth0), node2 (eth0)",
		"node1 (router)",
		"shop/stuck",
		"<pending>",
		`no free IPv4 address in pool "prod"`,
		"down (now Active)",
		"10m",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "other/theirs") || strings.Contains(out, "\x1b[") {
		t.Errorf("another class's Service or colour codes without Color:\n%s", out)
	}
	b.Reset()
	if err := Render(&b, From(objects()), Options{Now: now, Color: true}); err != nil || !strings.Contains(b.String(), "\x1b[31m") {
		t.Errorf("no colour with Color: %v\n%s", err, b.String())
	}
}

func TestUsageBar(t *testing.T) {
	for _, c := range []struct {
		f    FamilyUsage
		want string
	}{
		{FamilyUsage{Assigned: 0, Available: 10}, "[----------] 0/10"},
		{FamilyUsage{Assigned: 1, Available: 255}, "[#---------] 1/256"},
		{FamilyUsage{Assigned: 10, Available: 0}, "[##########] 10/10"},
		{FamilyUsage{}, "[----------] 0/0"},
	} {
		if got := usage(c.f); got != c.want {
			t.Errorf("usage(%+v) = %q, want %q", c.f, got, c.want)
		}
	}
}

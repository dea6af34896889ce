package doctor

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/controller"
	"github.com/ironlb/ironlb/internal/speaker"
)

func podSpec(images ...string) corev1.PodTemplateSpec {
	var cs []corev1.Container
	for _, img := range images {
		cs = append(cs, corev1.Container{Name: "c", Image: img})
	}
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: cs}}
}

func TestOtherLoadBalancers(t *testing.T) {
	dep := func(ns, name, img string) appsv1.Deployment {
		return appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: appsv1.DeploymentSpec{Template: podSpec(img)}}
	}
	ds := func(ns, name, img string) appsv1.DaemonSet {
		return appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: appsv1.DaemonSetSpec{Template: podSpec(img)}}
	}
	for _, tt := range []struct {
		name string
		deps []appsv1.Deployment
		dss  []appsv1.DaemonSet
		pods []corev1.Pod
		crds []CRD
		want []string
	}{
		{"ironlb alone", []appsv1.Deployment{dep("ironlb-system", "ironlb-controller", "ironlb:dev")},
			[]appsv1.DaemonSet{ds("ironlb-system", "ironlb-speaker", "ironlb:dev")}, nil,
			[]CRD{{Name: "ipaddresspools.ironlb.io", Group: "ironlb.io"}}, nil},
		{"MetalLB's controller, even scaled to 0", []appsv1.Deployment{dep("metallb-system", "metallb-controller", "quay.io/metallb/controller:v0.16.2")}, nil, nil, nil,
			[]string{"warning other-load-balancer Deployment/metallb-system/metallb-controller|MetalLB is installed|quay.io/metallb/controller:v0.16.2"}},
		{"MetalLB's speaker", nil, []appsv1.DaemonSet{ds("metallb-system", "speaker", "quay.io/metallb/speaker:v0.14.9")}, nil, nil,
			[]string{"warning other-load-balancer DaemonSet/metallb-system/speaker|MetalLB"}},
		{"kube-vip as a DaemonSet", nil, []appsv1.DaemonSet{ds("kube-system", "kube-vip-ds", "ghcr.io/kube-vip/kube-vip:v0.8.0")}, nil, nil,
			[]string{"warning other-load-balancer|kube-vip"}},
		{"kube-vip as a static Pod", nil, nil, []corev1.Pod{{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-vip-cp1",
			OwnerReferences: []metav1.OwnerReference{{Kind: "Node", Name: "cp1"}}}, Spec: podSpec("ghcr.io/kube-vip/kube-vip:v0.8.0").Spec}}, nil,
			[]string{"warning other-load-balancer Pod/kube-system/kube-vip-cp1|kube-vip runs"}},
		{"a DaemonSet's Pod is reported through it", nil, nil, []corev1.Pod{{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-vip-x",
			OwnerReferences: []metav1.OwnerReference{{Kind: "DaemonSet", Name: "kube-vip-ds"}}}, Spec: podSpec("ghcr.io/kube-vip/kube-vip:v0.8.0").Spec}}, nil, nil},
		{"k3s servicelb by name", nil, []appsv1.DaemonSet{ds("kube-system", "svclb-traefik-1234", "rancher/mirrored-library-busybox")}, nil, nil,
			[]string{"warning other-load-balancer DaemonSet/kube-system/svclb-traefik-1234|klipper-lb|svclb-<service>"}},
		{"klipper-lb by image", nil, []appsv1.DaemonSet{ds("kube-system", "lb", "rancher/klipper-lb:v0.4.9")}, nil, nil,
			[]string{"warning other-load-balancer|klipper-lb"}},
		{"OpenELB", []appsv1.Deployment{dep("openelb-system", "openelb-manager", "kubesphere/openelb:v0.6.0")}, nil, nil, nil,
			[]string{"warning other-load-balancer|OpenELB"}},
		{"MetalLB CRDs with objects", nil, nil, nil, []CRD{{Name: "ipaddresspools.metallb.io", Group: "metallb.io", Objects: 2}},
			[]string{"warning other-load-balancer CustomResourceDefinition/ipaddresspools.metallb.io|MetalLB is configured: 2 object(s)"}},
		{"MetalLB CRDs without objects", nil, nil, nil, []CRD{{Name: "bgppeers.metallb.io", Group: "metallb.io"}},
			[]string{"info other-load-balancer-crd|without objects"}},
		{"Cilium LB-IPAM, not counted", nil, nil, nil, []CRD{{Name: "ciliumloadbalancerippools.cilium.io", Group: "cilium.io", Objects: -1},
			{Name: "ciliumnetworkpolicies.cilium.io", Group: "cilium.io", Objects: -1}},
			[]string{"warning other-load-balancer|Cilium LB-IPAM's CRD ciliumloadbalancerippools.cilium.io is installed"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := input(config.Objects{})
			in.Deployments, in.DaemonSets, in.Pods, in.CRDs = tt.deps, tt.dss, tt.pods, tt.crds
			got := only(t, checkOtherLBWorkloads, in)
			got = append(got, only(t, checkOtherLBPods, in)...)
			got = append(got, only(t, checkOtherLBCRDs, in)...)
			match(t, got, tt.want)
		})
	}
}

func lbService(name string, class *string, conds ...metav1.Condition) corev1.Service {
	s := corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: class}}
	s.Status.Conditions = conds
	return s
}

func TestServices(t *testing.T) {
	allocated := metav1.Condition{Type: controller.ConditionIPAllocated, Status: metav1.ConditionTrue, Reason: controller.ReasonIPAllocated}
	failed := metav1.Condition{Type: controller.ConditionIPAllocated, Status: metav1.ConditionFalse, Reason: controller.ReasonAllocationFailed, Message: "no available addresses in pool \"a\""}
	notAnn := metav1.Condition{Type: speaker.ConditionAnnounced, Status: metav1.ConditionFalse, Reason: speaker.ReasonNotAnnounced, Message: "10.0.0.5 is not announced. Layer 2: no node may announce it"}
	ann := metav1.Condition{Type: speaker.ConditionAnnounced, Status: metav1.ConditionTrue, Reason: speaker.ReasonAnnounced}
	withIngress := func(s corev1.Service) corev1.Service {
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "10.0.0.5"}}
		return s
	}
	for _, tt := range []struct {
		name  string
		svc   corev1.Service
		class string
		want  []string
	}{
		{"healthy", withIngress(lbService("web", nil, allocated, ann)), "", nil},
		{"ClusterIP", corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, "", nil},
		{"no address", lbService("web", nil, failed), "",
			[]string{"error service-no-address Service/default/web|no available addresses in pool \"a\"|AllocationFailed"}},
		{"not announced", withIngress(lbService("web", nil, allocated, notAnn)), "",
			[]string{"error service-not-announced Service/default/web|10.0.0.5 is not announced"}},
		{"never handled", lbService("web", nil), "", []string{"warning service-no-address|no ironlb.io/IPAllocated condition"}},
		{"another class", lbService("web", ptr.To("other.example/lb")), "",
			[]string{"info service-other-class Service/default/web|loadBalancerClass other.example/lb; ironlb handles Services without a class"}},
		{"no class while ironlb has one", lbService("web", nil), "ironlb.io/lb",
			[]string{"info service-other-class|has no loadBalancerClass; ironlb handles class ironlb.io/lb"}},
		{"ironlb's class", lbService("web", ptr.To("ironlb.io/lb"), failed), "ironlb.io/lb", []string{"error service-no-address"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := input(config.Objects{})
			in.Services, in.LoadBalancerClass = []corev1.Service{tt.svc}, tt.class
			match(t, only(t, checkServices, in), tt.want)
		})
	}
}

func speakerPod(nodeName string, ready bool) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ironlb-speaker-" + nodeName, Labels: SpeakerLabels,
		OwnerReferences: []metav1.OwnerReference{{Kind: "DaemonSet", Name: "ironlb-speaker"}}}, Spec: corev1.PodSpec{NodeName: nodeName}}
	p.Status.Phase = corev1.PodPending
	if ready {
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	}
	return p
}

func TestSpeakers(t *testing.T) {
	const sub = `{"eth0":["192.168.1.0/24"]}`
	objs := config.Objects{IPAddressPools: []v1beta1.IPAddressPool{pool("lan", "192.168.1.240/29")},
		L2Advertisements: []v1beta1.L2Advertisement{l2("a", nil, sel("lb", "yes"))}}
	yes := map[string]string{"lb": "yes"}
	for _, tt := range []struct {
		name      string
		nodes     []corev1.Node
		pods      []corev1.Pod
		want      []string
		wantNotes string
	}{
		{"a Ready Pod on each selected node", []corev1.Node{node("n1", sub, yes, nil), node("n2", "", nil, nil)},
			[]corev1.Pod{speakerPod("n1", true)}, nil, "judged by the 1 ironlb speaker Pods"},
		{"a selected node without a Pod", []corev1.Node{node("n1", sub, yes, nil), node("n2", sub, yes, nil)},
			[]corev1.Pod{speakerPod("n1", true)}, []string{"warning speaker-missing Node/n2|no ironlb speaker Pod runs on it"}, "Pods"},
		{"a Pod not Ready", []corev1.Node{node("n1", sub, yes, nil)},
			[]corev1.Pod{speakerPod("n1", false)}, []string{"warning speaker-missing Node/n1|is not running and Ready (phase Pending)"}, "Pods"},
		{"no Pods: the annotation is the evidence", []corev1.Node{node("n1", sub, yes, nil), node("n2", "", yes, nil), node("n3", "", nil, nil)},
			nil, []string{"warning speaker-missing Node/n2|there are no speaker Pods, and the node lacks the ironlb.io/l2-subnets annotation"},
			"no ironlb speaker Pods found; the ironlb.io/l2-subnets annotation"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := input(objs, tt.nodes...)
			in.Pods = tt.pods
			c := &checker{in: in, res: config.Build(in.Config)}
			checkSpeakers(c)
			match(t, only(t, checkSpeakers, in), tt.want)
			if len(c.notes) != 1 || !strings.Contains(c.notes[0], tt.wantNotes) {
				t.Errorf("notes %q, want one with %q", c.notes, tt.wantNotes)
			}
		})
	}
}

func fakeSessionEvent(nodeName, peer string, up bool, at time.Time) corev1.Event {
	e := corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: nodeName + "." + at.Format("150405"), Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: nodeName}, EventTime: metav1.NewMicroTime(at)}
	if up {
		e.Reason, e.Message = speaker.ReasonBGPSessionUp, "BGP session from node "+nodeName+" to peer "+peer+" (192.0.2.1) is established"
	} else {
		e.Reason, e.Message = speaker.ReasonBGPSessionDown, "BGP session from node "+nodeName+" to peer "+peer+" (192.0.2.1) went down (now active)"
	}
	return e
}

func TestBGPSessions(t *testing.T) {
	const sub = `{"eth0":["192.168.1.0/24"]}`
	peer := func(created time.Time, sels ...metav1.LabelSelector) config.Objects {
		p := v1beta1.BGPPeer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "router", CreationTimestamp: metav1.NewTime(created)},
			Spec: v1beta1.BGPPeerSpec{MyASN: 64512, PeerASN: 64513, PeerAddress: "192.0.2.1", NodeSelectors: sels,
				ConnectTime: &metav1.Duration{Duration: time.Second}}}
		return config.Objects{BGPPeers: []v1beta1.BGPPeer{p}}
	}
	old := now.Add(-2 * time.Hour)
	nodes := []corev1.Node{node("n1", sub, map[string]string{"rack": "1"}, nil), node("n2", sub, nil, nil)}
	for _, tt := range []struct {
		name   string
		objs   config.Objects
		events []corev1.Event
		want   []string
	}{
		{"up on both", peer(old), []corev1.Event{fakeSessionEvent("n1", "router", true, now.Add(-time.Minute)), fakeSessionEvent("n2", "router", true, now.Add(-time.Minute))}, nil},
		{"down after up", peer(old), []corev1.Event{
			fakeSessionEvent("n1", "router", true, now.Add(-2*time.Minute)), fakeSessionEvent("n1", "router", false, now.Add(-time.Minute)),
			fakeSessionEvent("n2", "router", true, now.Add(-time.Minute))},
			[]string{"warning bgp-session-down BGPPeer/ironlb-system/router|from node n1 is down since|went down (now active)"}},
		{"up again after down", peer(old), []corev1.Event{
			fakeSessionEvent("n1", "router", false, now.Add(-2*time.Minute)), fakeSessionEvent("n1", "router", true, now.Add(-time.Minute)),
			fakeSessionEvent("n2", "router", true, now.Add(-time.Minute))}, nil},
		{"another peer's Events do not count", peer(old), []corev1.Event{
			fakeSessionEvent("n1", "other", false, now.Add(-time.Minute)),
			fakeSessionEvent("n1", "router", true, now.Add(-2*time.Minute)), fakeSessionEvent("n2", "router", true, now.Add(-time.Minute))}, nil},
		{"nodeSelectors: only the selected node", peer(old, sel("rack", "1")), []corev1.Event{fakeSessionEvent("n2", "router", false, now.Add(-time.Minute)),
			fakeSessionEvent("n1", "router", true, now.Add(-time.Minute))}, nil},
		{"never up, new peer", peer(now.Add(-time.Minute)), nil, []string{
			"warning bgp-session-down|from node n1 has not been Established since the BGPPeer was created 1m0s ago",
			"warning bgp-session-down|from node n2"}},
		{"never up yet, within its connect attempts", peer(now.Add(-5 * time.Second)), nil, nil},
		{"no Event of an old peer", peer(old, sel("rack", "1")), nil, []string{"info bgp-session-unknown|node n1"}},
		{"a later Up merged into another peer's series", peer(old, sel("rack", "1")), []corev1.Event{
			fakeSessionEvent("n1", "router", false, now.Add(-3*time.Minute)),
			series(fakeSessionEvent("n1", "other", true, now.Add(-4*time.Minute)), now.Add(-time.Minute))},
			[]string{"info bgp-session-unknown|node n1 cannot be judged: the latest session Event naming this peer (2026-01-02T03:01:05Z) says down, but a later session Event on the node was merged"}},
		{"no Event of its own, but a merged series since its creation", peer(now.Add(-time.Minute), sel("rack", "1")), []corev1.Event{
			series(fakeSessionEvent("n1", "other", true, now.Add(-4*time.Minute)), now.Add(-30*time.Second))},
			[]string{"info bgp-session-unknown|no session Event names this peer"}},
		{"a series naming the BGPPeer as related is the peer's", peer(old, sel("rack", "1")), []corev1.Event{
			fakeSessionEvent("n1", "router", false, now.Add(-3*time.Minute)),
			related(series(fakeSessionEvent("n1", "router", true, now.Add(-4*time.Minute)), now.Add(-time.Minute)), "router")}, nil},
		{"Events of an earlier peer of the same name", peer(now.Add(-time.Minute), sel("rack", "1")),
			[]corev1.Event{fakeSessionEvent("n1", "router", true, now.Add(-10*time.Minute))}, []string{"warning bgp-session-down|has not been Established"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := input(tt.objs, nodes...)
			in.Events = tt.events
			match(t, only(t, checkBGPSessions, in), tt.want)
		})
	}
}

func TestCheck(t *testing.T) {
	in := input(config.Objects{IPAddressPools: []v1beta1.IPAddressPool{pool("p", "10.0.0.0/28")}}, node("n1", "", nil, []string{"10.0.0.1"}))
	in.Gathered[PartEvents] = false
	in.Gathered[PartServiceCIDRs] = false
	rep := Check(in)
	if rep.Worst() != Error {
		t.Errorf("Worst = %q, want error: %+v", rep.Worst(), rep.Findings)
	}
	var got []string
	for _, f := range rep.Findings {
		got = append(got, string(f.Severity)+" "+f.Check)
	}
	want := []string{"error pool-overlaps-node-address", "info kube-proxy-config"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("findings %q, want %q", got, want)
	}
	if strings.Join(rep.NotChecked, ";") != "service-cidr (needs ServiceCIDRs);bgp-sessions (needs Events)" {
		t.Errorf("NotChecked = %q", rep.NotChecked)
	}
	if (&Report{}).Worst() != "" {
		t.Error("an empty report has a worst severity")
	}
}

// series makes e a series of Events last observed at last.
func series(e corev1.Event, last time.Time) corev1.Event {
	e.Series = &corev1.EventSeries{Count: 2, LastObservedTime: metav1.NewMicroTime(last)}
	return e
}

// related names a BGPPeer as e's related object.
func related(e corev1.Event, peer string) corev1.Event {
	e.Related = &corev1.ObjectReference{Kind: config.KindBGPPeer, Name: peer}
	return e
}

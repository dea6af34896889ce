package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Status is `ironlb lab status -o json`: the lab as a test or a script
// needs it.
type Status struct {
	Dir        string   `json:"dir"`
	Prefix     string   `json:"prefix"`
	IPFamily   IPFamily `json:"ipFamily"`
	Kubeconfig string   `json:"kubeconfig"`
	APIServer  string   `json:"apiServer"`
	// Router is the FRR router; NodeASN is the AS it expects nodes in.
	Router  RouterStatus `json:"router"`
	NodeASN int          `json:"nodeASN"`
	Hosts   []HostStatus `json:"hosts"`
	// LB is the load balancer the lab runs: ironlb or metallb.
	LB LB `json:"lb"`
	// Controller and Speakers tell whether the lab runs them (and they
	// are running now).
	Controller bool `json:"controller"`
	Speakers   bool `json:"speakers"`
	// Prometheus is the URL of the lab's Prometheus (`up
	// --monitoring`), empty without.
	Prometheus string       `json:"prometheus,omitempty"`
	Processes  []ProcStatus `json:"processes"`
	// Pods are ironlb's Pods when it runs as Pods on real kubelets
	// (`up --kubelet real`); Controller and Speakers then come from them.
	// PodsError says why they could not be listed.
	Pods      []PodStatus `json:"pods,omitempty"`
	PodsError string      `json:"podsError,omitempty"`
}

// PodStatus is one of ironlb's Pods.
type PodStatus struct {
	Name      string `json:"name"`
	Component string `json:"component"`
	Node      string `json:"node"`
	Phase     string `json:"phase"`
	Ready     bool   `json:"ready"`
	Restarts  int32  `json:"restarts"`
}

// RouterStatus describes the FRR router.
type RouterStatus struct {
	Host      string `json:"host"`
	ASN       int    `json:"asn"`
	RouterID  string `json:"routerID"`
	VtySocket string `json:"vtySocketDir"`
}

// HostStatus is one host namespace.
type HostStatus struct {
	Name      string `json:"name"`
	Role      Role   `json:"role"`
	Namespace string `json:"namespace"`
	Interface string `json:"interface"`
	MAC       string `json:"mac"`
	// Addresses are the host's LAN and second-subnet addresses with
	// prefix length.
	Addresses []string `json:"addresses"`
	// LinkUp is false while the host is cut off (`lab node fail`).
	LinkUp   bool     `json:"linkUp"`
	PodCIDRs []string `json:"podCIDRs,omitempty"`
	// NIC2 is the host's second card (eth1 on the second bridge); nil on
	// the router, which has none.
	NIC2 *NICStatus `json:"nic2,omitempty"`
}

// NICStatus is one more network card of a host.
type NICStatus struct {
	Interface string `json:"interface"`
	MAC       string `json:"mac"`
	// Addresses are the card's addresses in its subnet, with prefix
	// length.
	Addresses []string `json:"addresses"`
	// LinkUp is false while the host is cut off (`lab node fail` cuts
	// both cards).
	LinkUp bool `json:"linkUp"`
}

// ProcStatus is one process of the lab.
type ProcStatus struct {
	Name     string `json:"name"`
	Host     string `json:"host,omitempty"`
	PID      int    `json:"pid"`
	Running  bool   `json:"running"`
	Held     bool   `json:"held,omitempty"`
	Restarts int    `json:"restarts"`
	Log      string `json:"log"`
}

// GetStatus reads the lab's state and inspects its namespaces.
func GetStatus(ctx context.Context, dir string) (*Status, error) {
	s, err := LoadState(dir)
	if err != nil {
		return nil, err
	}
	p, err := s.Plan()
	if err != nil {
		return nil, err
	}
	st := &Status{
		Dir: s.Dir, Prefix: s.Prefix, IPFamily: s.IPFamily, Kubeconfig: s.Kubeconfig(), APIServer: s.apiServerURL(), LB: s.LB.orDefault(),
		Router:  RouterStatus{Host: p.Router.Name, ASN: RouterASN, RouterID: p.Router.IPv4.String(), VtySocket: routerDir(s.Dir)},
		NodeASN: NodeASN,
	}
	lanLinks, _ := ipLinks(ctx, p.Namespace(lanNamespace), "link")
	for _, h := range p.Hosts() {
		hs := HostStatus{Name: h.Name, Role: h.Role, Namespace: p.Namespace(h.Name), Interface: hostInterface}
		if h.Role == RoleNode {
			for _, c := range p.PodCIDRs(h) {
				hs.PodCIDRs = append(hs.PodCIDRs, c.String())
			}
		}
		links, err := ipLinks(ctx, hs.Namespace, "addr", "show", "dev", hostInterface)
		if err != nil {
			return nil, err
		}
		for _, l := range links {
			hs.MAC = l.Address
			hs.Addresses = lanAddresses(l)
		}
		hs.LinkUp = portUp(lanLinks, bridgePort(h.Name))
		if h.HasNIC2() {
			nic := &NICStatus{Interface: nic2Interface, LinkUp: portUp(lanLinks, nic2BridgePort(h.Name))}
			links, err := ipLinks(ctx, hs.Namespace, "addr", "show", "dev", nic2Interface)
			if err != nil {
				return nil, err
			}
			for _, l := range links {
				nic.MAC = l.Address
				nic.Addresses = lanAddresses(l)
			}
			hs.NIC2 = nic
		}
		st.Hosts = append(st.Hosts, hs)
	}
	allSpeakers := s.Speakers
	for _, pr := range s.SortedProcs() {
		ps := ProcStatus{Name: pr.Name, Host: pr.Host, PID: pr.PID, Running: pr.Alive(), Held: pr.Held,
			Restarts: pr.Restarts, Log: pr.Log}
		if pr.Name == "controller" {
			st.Controller = ps.Running
		}
		if strings.HasPrefix(pr.Name, "speaker/") && !ps.Running {
			allSpeakers = false
		}
		st.Processes = append(st.Processes, ps)
	}
	st.Speakers = allSpeakers
	if s.IronlbPods {
		st.ironlbPods(ctx, s.Dir, len(p.Nodes))
	}
	if s.Monitoring != nil {
		st.Prometheus = s.Monitoring.URL()
	}
	slices.SortFunc(st.Processes, func(a, b ProcStatus) int { return strings.Compare(a.Name, b.Name) })
	return st, nil
}

// ironlbPods lists ironlb's Pods and judges Controller (one Ready) and
// Speakers (one Ready per node) from them.
func (st *Status) ironlbPods(ctx context.Context, dir string, nodes int) {
	st.Controller, st.Speakers = false, false
	cs, err := Clientset(dir)
	if err != nil {
		st.PodsError = err.Error()
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	pods, err := cs.CoreV1().Pods(ironlbNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=ironlb"})
	if err != nil {
		st.PodsError = fmt.Sprintf("listing ironlb's Pods: %v", err)
		return
	}
	readySpeakers := 0
	for _, pod := range pods.Items {
		ps := PodStatus{Name: pod.Name, Component: pod.Labels["app.kubernetes.io/component"], Node: pod.Spec.NodeName, Phase: string(pod.Status.Phase)}
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodReady {
				ps.Ready = c.Status == corev1.ConditionTrue
			}
		}
		for _, c := range pod.Status.ContainerStatuses {
			ps.Restarts += c.RestartCount
		}
		switch {
		case ps.Component == "controller" && ps.Ready:
			st.Controller = true
		case ps.Component == "speaker" && ps.Ready:
			readySpeakers++
		}
		st.Pods = append(st.Pods, ps)
	}
	st.Speakers = readySpeakers == nodes
	slices.SortFunc(st.Pods, func(a, b PodStatus) int { return strings.Compare(a.Name, b.Name) })
}

// portUp reports whether the bridge-side veth named port is up.
func portUp(lanLinks []ipLink, port string) bool {
	for _, l := range lanLinks {
		if l.IfName == port {
			return slices.Contains(l.Flags, "UP")
		}
	}
	return false
}

// lanAddresses are l's addresses inside the LAN prefixes, the second
// subnet and the second card's subnet (pod addresses and link-local ones
// are left out).
func lanAddresses(l ipLink) []string {
	var out []string
	nets := append(append(LANPrefixes(), SecondSubnetPrefixes()...), NIC2Prefixes()...)
	for _, ai := range l.AddrInfo {
		a, err := netip.ParseAddr(ai.Local)
		if err != nil {
			continue
		}
		for _, lan := range nets {
			if lan.Contains(a) {
				out = append(out, netip.PrefixFrom(a, ai.PrefixLen).String())
			}
		}
	}
	return out
}

// ipLinks runs `ip -j -n ns ARGS` and decodes the links.
func ipLinks(ctx context.Context, ns string, args ...string) ([]ipLink, error) {
	out, err := run(ctx, "ip", append([]string{"-j", "-n", ns}, args...)...)
	if err != nil {
		return nil, err
	}
	var links []ipLink
	if err := json.Unmarshal([]byte(out), &links); err != nil {
		return nil, fmt.Errorf("parsing `ip -j -n %s %s`: %w", ns, strings.Join(args, " "), err)
	}
	return links, nil
}

// WriteText prints the status for people.
func (st *Status) WriteText(w io.Writer) error {
	_, _ = fmt.Fprintf(w, "lab %s (namespaces %s*), %s stack\n", st.Dir, st.Prefix, st.IPFamily)
	_, _ = fmt.Fprintf(w, "kubeconfig %s (API server %s)\n", st.Kubeconfig, st.APIServer)
	_, _ = fmt.Fprintf(w, "load balancer %s\n", st.LB.Name())
	_, _ = fmt.Fprintf(w, "router AS %d (router ID %s); nodes peer as AS %d\n", st.Router.ASN, st.Router.RouterID, st.NodeASN)
	if st.Prometheus != "" {
		_, _ = fmt.Fprintf(w, "prometheus %s (runs in the client namespace, scrapes the controller and the speakers)\n", st.Prometheus)
	}
	_, _ = fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "HOST\tROLE\tCARD\tLINK\tMAC\tADDRESSES\tPOD CIDRS")
	for _, h := range st.Hosts {
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Name, h.Role, h.Interface, linkWord(h.LinkUp), h.MAC,
			strings.Join(h.Addresses, ","), strings.Join(h.PodCIDRs, ","))
		if n := h.NIC2; n != nil {
			_, _ = fmt.Fprintf(tw, "\t\t%s\t%s\t%s\t%s\t\n", n.Interface, linkWord(n.LinkUp), n.MAC, strings.Join(n.Addresses, ","))
		}
	}
	_, _ = fmt.Fprintln(tw)
	_, _ = fmt.Fprintln(tw, "PROCESS\tPID\tSTATE\tRESTARTS\tLOG")
	for _, p := range st.Processes {
		state := "running"
		switch {
		case p.Held:
			state = "held down"
		case !p.Running:
			state = "NOT RUNNING"
		}
		_, _ = fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\n", p.Name, p.PID, state, p.Restarts, p.Log)
	}
	if len(st.Pods) > 0 || st.PodsError != "" {
		_, _ = fmt.Fprintln(tw)
		_, _ = fmt.Fprintln(tw, "IRONLB POD\tNODE\tPHASE\tREADY\tRESTARTS")
		for _, p := range st.Pods {
			ready := "ready"
			if !p.Ready {
				ready = "NOT READY"
			}
			_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", p.Name, p.Node, p.Phase, ready, p.Restarts)
		}
		if st.PodsError != "" {
			_, _ = fmt.Fprintf(tw, "(%s)\n", st.PodsError)
		}
	}
	return tw.Flush()
}

// linkWord renders a link state for WriteText.
func linkWord(up bool) string {
	if up {
		return "up"
	}
	return "DOWN"
}

// Package status gathers what `ironlb status` shows — the pools and their
// use, each Service ironlb handles with its addresses and who announces
// them, and the BGP sessions per node — from the objects ironlb writes,
// and renders it as text, JSON or YAML. Gather reads; From and Render are
// pure.
package status

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/controller"
	"github.com/ironlb/ironlb/internal/speaker"
)

// Status is what `ironlb status` shows.
type Status struct {
	Pools    []Pool    `json:"pools"`
	Services []Service `json:"services"`
	Sessions []Session `json:"sessions"`
}

// Pool is one IPAddressPool and its use per family.
type Pool struct {
	Name     string        `json:"name"`
	Families []FamilyUsage `json:"families"`
	// Valid is the pool's Valid condition; Problem its message when not.
	Valid   bool   `json:"valid"`
	Problem string `json:"problem,omitempty"`
}

// FamilyUsage is one family of a pool: addresses assigned and free.
type FamilyUsage struct {
	Family    string `json:"family"`
	Assigned  int64  `json:"assigned"`
	Available int64  `json:"available"`
}

// Service is one Service ironlb handles.
type Service struct {
	Namespace string   `json:"namespace"`
	Name      string   `json:"name"`
	Addresses []string `json:"addresses"`
	Pool      string   `json:"pool,omitempty"`
	// Layer2 are the nodes answering for it (one per address, from the
	// ServiceL2Statuses) and BGP the nodes announcing it with their peers
	// (from the ServiceBGPStatuses).
	Layer2 []Announcer `json:"layer2,omitempty"`
	BGP    []Announcer `json:"bgp,omitempty"`
	// Problems are the messages of its ironlb conditions that are False.
	Problems []string `json:"problems,omitempty"`
}

// Announcer is a node announcing a Service, with the interfaces it
// answers on (layer 2) or the peers it announces to (BGP).
type Announcer struct {
	Node    string   `json:"node"`
	Details []string `json:"details,omitempty"`
}

// Mode says how the Service is announced: layer2, bgp, both or none.
func (s *Service) Mode() string {
	switch {
	case len(s.Layer2) > 0 && len(s.BGP) > 0:
		return "layer2+bgp"
	case len(s.Layer2) > 0:
		return "layer2"
	case len(s.BGP) > 0:
		return "bgp"
	}
	return "-"
}

// Session is the last known state of the BGP session from a node to a
// peer, from the speakers' BGPSessionUp and BGPSessionDown Events.
type Session struct {
	Node    string    `json:"node"`
	Peer    string    `json:"peer"`
	Address string    `json:"address"`
	Up      bool      `json:"up"`
	State   string    `json:"state"`
	Since   time.Time `json:"since"`
}

// Objects are what From reads.
type Objects struct {
	Pools       []v1beta1.IPAddressPool
	Services    []corev1.Service
	L2Statuses  []v1beta1.ServiceL2Status
	BGPStatuses []v1beta1.ServiceBGPStatus
	// Events are core Events about Nodes; only the speakers' session
	// Events are read.
	Events []corev1.Event
}

// From builds the Status of objs, sorted by name throughout.
func From(objs *Objects) *Status {
	st := &Status{Pools: []Pool{}, Services: []Service{}, Sessions: []Session{}}
	for i := range objs.Pools {
		st.Pools = append(st.Pools, pool(&objs.Pools[i]))
	}
	slices.SortFunc(st.Pools, func(a, b Pool) int { return strings.Compare(a.Name, b.Name) })

	l2 := map[string][]Announcer{}
	for i := range objs.L2Statuses {
		s := &objs.L2Statuses[i].Status
		var ifcs []string
		for _, ifc := range s.Interfaces {
			ifcs = append(ifcs, ifc.Name)
		}
		key := s.ServiceNamespace + "/" + s.ServiceName
		l2[key] = append(l2[key], Announcer{Node: s.Node, Details: ifcs})
	}
	bgp := map[string][]Announcer{}
	for i := range objs.BGPStatuses {
		s := &objs.BGPStatuses[i].Status
		key := s.ServiceNamespace + "/" + s.ServiceName
		bgp[key] = append(bgp[key], Announcer{Node: s.Node, Details: slices.Clone(s.Peers)})
	}
	for i := range objs.Services {
		svc := &objs.Services[i]
		if apimeta.FindStatusCondition(svc.Status.Conditions, controller.ConditionIPAllocated) == nil {
			continue // not ironlb's
		}
		key := svc.Namespace + "/" + svc.Name
		out := Service{
			Namespace: svc.Namespace, Name: svc.Name, Addresses: []string{},
			Pool: svc.Annotations[controller.AnnotationAllocatedFromPool],
			// The status objects of a Service that no longer has addresses
			// are on their way out: show none.
			Layer2: sortAnnouncers(l2[key]), BGP: sortAnnouncers(bgp[key]),
		}
		for _, in := range svc.Status.LoadBalancer.Ingress {
			out.Addresses = append(out.Addresses, cmp.Or(in.IP, in.Hostname))
		}
		for _, t := range []string{controller.ConditionIPAllocated, speaker.ConditionAnnounced} {
			if c := apimeta.FindStatusCondition(svc.Status.Conditions, t); c != nil && c.Status == metav1.ConditionFalse {
				out.Problems = append(out.Problems, c.Message)
			}
		}
		st.Services = append(st.Services, out)
	}
	slices.SortFunc(st.Services, func(a, b Service) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	st.Sessions = sessions(objs.Events)
	return st
}

func pool(p *v1beta1.IPAddressPool) Pool {
	out := Pool{Name: p.Name, Valid: true}
	v4, v6 := false, false
	for _, a := range p.Spec.Addresses {
		first, _, _ := strings.Cut(strings.TrimSpace(a), "-")
		first, _, _ = strings.Cut(strings.TrimSpace(first), "/")
		if ip, err := netip.ParseAddr(strings.TrimSpace(first)); err == nil {
			v4 = v4 || ip.Unmap().Is4()
			v6 = v6 || !ip.Unmap().Is4()
		}
	}
	if v4 {
		out.Families = append(out.Families, FamilyUsage{Family: "IPv4", Assigned: p.Status.AssignedIPv4, Available: p.Status.AvailableIPv4})
	}
	if v6 {
		out.Families = append(out.Families, FamilyUsage{Family: "IPv6", Assigned: p.Status.AssignedIPv6, Available: p.Status.AvailableIPv6})
	}
	if c := apimeta.FindStatusCondition(p.Status.Conditions, v1beta1.ConditionValid); c != nil && c.Status == metav1.ConditionFalse {
		out.Valid, out.Problem = false, c.Message
	}
	return out
}

func sortAnnouncers(as []Announcer) []Announcer {
	slices.SortFunc(as, func(a, b Announcer) int { return strings.Compare(a.Node, b.Node) })
	for i := range as {
		slices.Sort(as[i].Details)
	}
	return as
}

// sessions keeps, per node and peer, the latest session Event.
func sessions(events []corev1.Event) []Session {
	latest := map[[2]string]Session{}
	for i := range events {
		e := &events[i]
		if e.InvolvedObject.Kind != "Node" || (e.Reason != speaker.ReasonBGPSessionUp && e.Reason != speaker.ReasonBGPSessionDown) {
			continue
		}
		node, peer, addr, state, ok := speaker.ParseSessionNote(e.Message)
		if !ok {
			continue
		}
		s := Session{Node: node, Peer: peer, Address: addr, Up: e.Reason == speaker.ReasonBGPSessionUp, State: state, Since: eventTime(e)}
		if s.Up {
			s.State = "Established"
		}
		k := [2]string{node, peer}
		if cur, ok := latest[k]; !ok || s.Since.After(cur.Since) {
			latest[k] = s
		}
	}
	out := make([]Session, 0, len(latest))
	for _, s := range latest {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Session) int {
		return cmp.Or(strings.Compare(a.Node, b.Node), strings.Compare(a.Peer, b.Peer))
	})
	return out
}

// eventTime is when the Event last happened, whichever API wrote it.
func eventTime(e *corev1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

package ipam

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
)

// FamilyPolicy is spec.ipFamilyPolicy, spelled as Kubernetes spells it.
type FamilyPolicy string

// The family policies. The empty policy means SingleStack.
const (
	SingleStack      FamilyPolicy = "SingleStack"
	PreferDualStack  FamilyPolicy = "PreferDualStack"
	RequireDualStack FamilyPolicy = "RequireDualStack"
)

// TrafficPolicy is spec.externalTrafficPolicy. The empty policy means Cluster.
type TrafficPolicy string

// The external traffic policies.
const (
	TrafficCluster TrafficPolicy = "Cluster"
	TrafficLocal   TrafficPolicy = "Local"
)

// Port is one service port as far as sharing is concerned.
type Port struct {
	// Protocol is TCP, UDP or SCTP; empty means TCP.
	Protocol string
	Port     int32
}

func (p Port) proto() string {
	if p.Protocol == "" {
		return "TCP"
	}
	return p.Protocol
}

// String renders the port as "TCP/80".
func (p Port) String() string { return fmt.Sprintf("%s/%d", p.proto(), p.Port) }

// Service is the part of a LoadBalancer Service the allocator looks at.
//
// The allocator keeps the Service it was last given for a key (to re-check
// its allocation when pools change). It does not copy Labels,
// NamespaceLabels, Selector or Ports: callers must not modify them after
// the call.
type Service struct {
	// Key is "namespace/name"; it identifies the Service.
	Key       string
	Namespace string
	// Labels are the Service's labels (for serviceSelectors).
	Labels map[string]string
	// NamespaceLabels are the labels of its namespace (for namespaceSelectors).
	NamespaceLabels map[string]string
	// FamilyPolicy is spec.ipFamilyPolicy.
	FamilyPolicy FamilyPolicy
	// Families is spec.ipFamilies: which families the Service may get and
	// in which order its addresses are returned. When empty: the families
	// of the requested addresses, else IPv4 for SingleStack and
	// [IPv4, IPv6] for the dual-stack policies.
	Families []Family
	// Request holds the requested addresses, pool and sharing key (see
	// ParseServiceRequest).
	Request Request
	// Ports are spec.ports (protocol and port).
	Ports []Port
	// TrafficPolicy is spec.externalTrafficPolicy.
	TrafficPolicy TrafficPolicy
	// Selector is spec.selector.
	Selector map[string]string
}

// demand is what a Service asks for, validated.
type demand struct {
	policy   FamilyPolicy
	families []Family     // 1 or 2, in the Service's order
	want     []Family     // families to allocate now: requested ones if any
	ips      []netip.Addr // requested, ordered as want (empty if none)
}

// demandOf validates svc and works out what it asks for.
func demandOf(svc *Service) (demand, error) {
	if svc.Key == "" {
		return demand{}, &InvalidRequestError{Field: "key", Msg: "a Service key (namespace/name) is required"}
	}
	d := demand{policy: svc.FamilyPolicy}
	switch d.policy {
	case "":
		d.policy = SingleStack
	case SingleStack, PreferDualStack, RequireDualStack:
	default:
		return demand{}, &InvalidRequestError{Field: "spec.ipFamilyPolicy", Value: string(svc.FamilyPolicy),
			Msg: "valid values are SingleStack, PreferDualStack and RequireDualStack"}
	}
	if e := checkRequestedIPs(svc.Request.IPs); e != nil {
		return demand{}, e
	}
	fams, err := familiesOf(svc, d.policy)
	if err != nil {
		return demand{}, err
	}
	d.families = fams
	d.want = fams
	if d.policy == SingleStack {
		d.want = fams[:1]
	}
	if len(svc.Request.IPs) == 0 {
		return d, nil
	}

	// Requested addresses decide the families; they must fit the policy.
	for _, a := range svc.Request.IPs {
		if f := FamilyOf(a); !slices.Contains(fams, f) {
			return demand{}, &InvalidRequestError{Field: "loadBalancerIPs", Value: a.String(),
				Msg: fmt.Sprintf("the address is %s but the Service's ipFamilies are %s", f, familyList(fams))}
		}
	}
	d.want = nil
	for _, f := range fams {
		for _, a := range svc.Request.IPs {
			if FamilyOf(a) == f {
				d.want = append(d.want, f)
				d.ips = append(d.ips, a)
			}
		}
	}
	switch {
	case d.policy == SingleStack && len(d.ips) > 1:
		return demand{}, &InvalidRequestError{Field: "loadBalancerIPs", Value: addrList(d.ips),
			Msg: "a SingleStack Service takes one address; request one, or set ipFamilyPolicy to RequireDualStack or PreferDualStack"}
	case d.policy == SingleStack && d.want[0] != fams[0]:
		return demand{}, &InvalidRequestError{Field: "loadBalancerIPs", Value: addrList(d.ips),
			Msg: fmt.Sprintf("the Service is SingleStack %s; request an %s address", fams[0], fams[0])}
	case d.policy == RequireDualStack && len(d.ips) != 2:
		return demand{}, &InvalidRequestError{Field: "loadBalancerIPs", Value: addrList(d.ips),
			Msg: "a RequireDualStack Service needs one IPv4 and one IPv6 address; request both or none"}
	}
	return d, nil
}

// familiesOf returns the Service's families in order, completed per
// policy. The result may alias svc.Families; it is never modified.
func familiesOf(svc *Service, policy FamilyPolicy) ([]Family, error) {
	fams := svc.Families
	for i, f := range fams {
		if !f.valid() {
			return nil, &InvalidRequestError{Field: "spec.ipFamilies", Value: string(f), Msg: "valid values are IPv4 and IPv6"}
		}
		if slices.Contains(fams[:i], f) {
			return nil, &InvalidRequestError{Field: "spec.ipFamilies", Value: familyList(fams), Msg: "a family is listed twice"}
		}
	}
	if len(fams) == 0 {
		fams = []Family{IPv4}
		switch ips := svc.Request.IPs; {
		case len(ips) == 1:
			fams[0] = FamilyOf(ips[0])
		case len(ips) == 2:
			fams = []Family{IPv4, IPv6}
		case policy != SingleStack:
			fams = []Family{IPv4, IPv6}
		}
	}
	if policy == RequireDualStack && len(fams) == 1 {
		fams = []Family{fams[0], fams[0].other()}
	}
	return fams, nil
}

func familyList(fs []Family) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f)
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func addrList(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

// trafficPolicy returns the policy with the default applied.
func (s *Service) trafficPolicy() TrafficPolicy {
	if s.TrafficPolicy == "" {
		return TrafficCluster
	}
	return s.TrafficPolicy
}

// sameBackends reports whether two Services' selectors are identical and
// non-empty (selector-less Services have unrelated, hand-made endpoints).
func sameBackends(a, b *Service) bool {
	return len(a.Selector) > 0 && maps.Equal(a.Selector, b.Selector)
}

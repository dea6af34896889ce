package speaker

import (
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/ironlb/ironlb/internal/speaker/decide"
)

// announced reports whether the speaker announces svc at all: a
// LoadBalancer Service of the handled class (the controller's rule).
func announced(svc *corev1.Service, class string) bool {
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return false
	}
	if class == "" {
		return svc.Spec.LoadBalancerClass == nil
	}
	return svc.Spec.LoadBalancerClass != nil && *svc.Spec.LoadBalancerClass == class
}

// ingressIPs returns the addresses in the Service's status, unmapped,
// without repeats; hostnames and unparsable entries are skipped.
func ingressIPs(svc *corev1.Service) []netip.Addr {
	var out []netip.Addr
	for _, in := range svc.Status.LoadBalancer.Ingress {
		a, err := netip.ParseAddr(in.IP)
		if err != nil || a.Zone() != "" {
			continue
		}
		a = a.Unmap()
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// serviceKey is the key of a Service in decide.Service.Key.
func serviceKey(namespace, name string) string { return namespace + "/" + name }

// toServices converts the Services the speaker announces (of the class,
// with addresses) into decide's form; endpoints maps a Service key to the
// nodes with a ready endpoint. It also returns the Services by key.
func toServices(svcs []corev1.Service, class string, endpoints map[string][]string) ([]decide.Service, map[string]*corev1.Service) {
	out := make([]decide.Service, 0, len(svcs))
	byKey := make(map[string]*corev1.Service, len(svcs))
	for i := range svcs {
		s := &svcs[i]
		if !announced(s, class) {
			continue
		}
		ips := ingressIPs(s)
		if len(ips) == 0 {
			continue
		}
		key := serviceKey(s.Namespace, s.Name)
		d := decide.Service{Key: key, Labels: s.Labels, IPs: ips}
		if s.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
			d.Local = true
			d.EndpointNodes = endpoints[key]
		}
		out = append(out, d)
		byKey[key] = s
	}
	return out, byKey
}

// readyEndpointNodes maps each Service key (of the slices' service-name
// label) to the nodes holding a ready endpoint of it, sorted. An endpoint
// whose ready condition is unset counts as ready, as the API defines.
func readyEndpointNodes(list []discoveryv1.EndpointSlice) map[string][]string {
	sets := map[string]map[string]bool{}
	for i := range list {
		es := &list[i]
		name := es.Labels[discoveryv1.LabelServiceName]
		if name == "" {
			continue
		}
		key := serviceKey(es.Namespace, name)
		for _, n := range readyNodesOf(es) {
			if sets[key] == nil {
				sets[key] = map[string]bool{}
			}
			sets[key][n] = true
		}
	}
	out := make(map[string][]string, len(sets))
	for key, set := range sets {
		nodes := make([]string, 0, len(set))
		for n := range set {
			nodes = append(nodes, n)
		}
		slices.Sort(nodes)
		out[key] = nodes
	}
	return out
}

// readyNodesOf lists the nodes of the ready endpoints of one slice, sorted
// and without repeats.
func readyNodesOf(es *discoveryv1.EndpointSlice) []string {
	var out []string
	for _, ep := range es.Endpoints {
		if ep.NodeName == nil || *ep.NodeName == "" {
			continue
		}
		if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
			continue
		}
		out = append(out, *ep.NodeName)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// nodeCondition returns the status of a node condition, "" when absent.
func nodeCondition(n *corev1.Node, t corev1.NodeConditionType) corev1.ConditionStatus {
	for _, c := range n.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

// toNode converts a Node into decide's form. A subnets annotation that
// does not parse counts as absent; err says why.
func toNode(n *corev1.Node) (d decide.Node, err error) {
	d = decide.Node{
		Name:               n.Name,
		Labels:             n.Labels,
		NetworkUnavailable: nodeCondition(n, corev1.NodeNetworkUnavailable) == corev1.ConditionTrue,
	}
	if v, ok := n.Annotations[AnnotationL2Subnets]; ok {
		d.Interfaces, err = DecodeL2Subnets(v)
	}
	return d, err
}

// internalIP returns the node's first IPv4 InternalIP, else its first
// IPv6 one; invalid when it has none.
func internalIP(n *corev1.Node) netip.Addr {
	var v6 netip.Addr
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		ip, err := netip.ParseAddr(a.Address)
		if err != nil {
			continue
		}
		ip = ip.Unmap()
		if ip.Is4() {
			return ip
		}
		if !v6.IsValid() {
			v6 = ip
		}
	}
	return v6
}

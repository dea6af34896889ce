package decide

import (
	"time"

	"net/netip"

	"github.com/ironlb/ironlb/internal/config"
)

// LabelExcludeFromLoadBalancers excludes a node from announcing any
// Service address when present, whatever its value (the well-known
// Kubernetes label of the same meaning).
const LabelExcludeFromLoadBalancers = "node.kubernetes.io/exclude-from-external-load-balancers"

// Input is everything Decide reads. Decide never modifies it.
type Input struct {
	// Config is the configuration in use; nil announces nothing.
	Config *config.Snapshot
	// Nodes are all nodes of the cluster. Names are unique.
	Nodes []Node
	// Members are the names of the live speakers (membership). A node that
	// is not a member is never chosen.
	Members []string
	// Services are the Services to announce, with their addresses.
	Services []Service
	// Self is the name of the node running the decision: Result gives
	// interfaces only for addresses this node wins.
	Self string
}

// Node is what the decision needs of one node.
type Node struct {
	Name   string
	Labels map[string]string
	// NetworkUnavailable is true when the node's NetworkUnavailable
	// condition is True.
	NetworkUnavailable bool
	// Interfaces are the interfaces the node's speaker published, with
	// their subnets. Nil (never published) makes the node ineligible.
	Interfaces []Interface
}

// Interface is one network interface of a node and the subnets configured
// on it (masked prefixes, such as 10.0.0.0/24).
type Interface struct {
	Name     string
	Prefixes []netip.Prefix
}

// Service is one Service to announce.
type Service struct {
	// Key names the Service, conventionally "namespace/name"; it is only
	// copied to the Result.
	Key string
	// Labels are the Service's labels, for advertisements'
	// serviceSelectors.
	Labels map[string]string
	// IPs are the Service's load-balancer addresses (valid, unmapped).
	IPs []netip.Addr
	// Local is true for externalTrafficPolicy: Local.
	Local bool
	// EndpointNodes are the nodes with a ready endpoint of the Service;
	// read only when Local.
	EndpointNodes []string
}

// Result is the decision: one entry per distinct Service address.
type Result struct {
	// Self is Input.Self.
	Self string
	// IPs are sorted by address.
	IPs []IP
}

// IP is the decision for one address.
type IP struct {
	Addr netip.Addr
	// Pool is the IPAddressPool holding the address; empty when none does.
	Pool string
	// Services are the keys of the Services holding the address, sorted.
	Services []string
	// Node is the node answering for the address; empty when none may.
	Node string
	// Interfaces are the interfaces Self answers on, sorted; set only when
	// Node is Self.
	Interfaces []string
	// Reason says why no node answers, when Node is empty.
	Reason string
	// LeaseDuration, set only when Node is Self, is the longest
	// leaseFencing duration of the L2Advertisements under which Self
	// answers; when positive Self must hold the address's Lease before it
	// answers. Zero: no fencing.
	LeaseDuration time.Duration
}

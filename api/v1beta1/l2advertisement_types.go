/*
Copyright The ironlb Authors.

Licensed under the Apache License, Version 2.0.
*/

package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// L2AdvertisementSpec is the desired state of an L2Advertisement.
//
// Pools are selected by ipAddressPools and ipAddressPoolSelectors together: a
// pool is selected if it is named or matches any selector; when both are
// empty every pool is selected.
type L2AdvertisementSpec struct {
	// ipAddressPools names the IPAddressPools (in the advertisement's
	// namespace) whose addresses this advertisement announces.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=128
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	IPAddressPools []string `json:"ipAddressPools,omitempty"`

	// ipAddressPoolSelectors selects, by label, more IPAddressPools whose
	// addresses this advertisement announces.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	IPAddressPoolSelectors []metav1.LabelSelector `json:"ipAddressPoolSelectors,omitempty"`

	// nodeSelectors limits the nodes that may answer for the addresses: a
	// node is eligible if any selector selects it. When empty, every node
	// running the ironlb speaker is eligible. For each address one eligible
	// node answers at a time.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	NodeSelectors []metav1.LabelSelector `json:"nodeSelectors,omitempty"`

	// preferredNodeSelectors orders the eligible nodes: for each address,
	// among the nodes that may answer, those with the highest sum of the
	// weights of the preferences that select them win the election (the
	// weights of every L2Advertisement of the address's pool that selects
	// the node add up); equal sums fall back to the usual per-address hash.
	// A preference never makes a node eligible: nodeSelectors stay a hard
	// filter. When no eligible node matches any preference the election is
	// the plain hash one.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	PreferredNodeSelectors []PreferredNodeSelector `json:"preferredNodeSelectors,omitempty"`

	// serviceSelectors limits the Services whose addresses this
	// advertisement announces: a Service is announced if any selector
	// selects its labels. When empty, every Service with an address of a
	// selected pool is announced. An address several Services share is
	// announced if the advertisement selects any of them. Relabelling a
	// Service takes effect at once.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	ServiceSelectors []metav1.LabelSelector `json:"serviceSelectors,omitempty"`

	// spread chooses how the addresses of the selected pools are shared
	// out among the nodes that may announce them. Hash (the default, and
	// MetalLB's behaviour): each address goes to its own winner of the
	// per-address hash, so many addresses end up roughly even, but one
	// node may hold noticeably more than another. Even: no node announces
	// more than ceil(addresses / nodes) of a pool's addresses while other
	// eligible nodes have room (preferredNodeSelectors still order the
	// nodes, up to that share); when a node fails only its addresses move,
	// to the least loaded of the others, and they come back when it
	// returns. A pool is spread evenly when any L2Advertisement that
	// selects it says Even.
	// +optional
	// +kubebuilder:validation:Enum=Hash;Even
	Spread L2Spread `json:"spread,omitempty"`

	// interfaces limits the network interfaces (by name, such as eth0 or
	// bond0.100) on which the chosen node answers ARP and NDP requests for
	// the addresses. When empty, the node answers on all its interfaces
	// (the speaker may skip well-known virtual ones, such as container
	// veths).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=15
	Interfaces []string `json:"interfaces,omitempty"`

	// leaseFencing, when set, lets a node answer for an address of this
	// advertisement only while it holds a Lease (coordination.k8s.io) for
	// the address, named ironlb-l2-<address> in ironlb's namespace. Two
	// nodes that disagree about who answers (memberlist partitioned, a node
	// starved) then cannot both answer: at most one holds the Lease. The
	// price: after a node fails, the next one answers only once the failed
	// node's Lease has expired (up to leaseDuration later), and the
	// holders renew every Lease a quarter of leaseDuration apart (4 API
	// server writes per address per leaseDuration). A node cut off from
	// the API server stops answering half a leaseDuration after its
	// renewals start failing. ironlb only: MetalLB has no such field.
	// +optional
	LeaseFencing *LeaseFencing `json:"leaseFencing,omitempty"`
}

// LeaseFencing makes the announcing node hold a Lease per address.
type LeaseFencing struct {
	// leaseDuration is how long a Lease stays valid without renewal: the
	// longest a failover waits for it, 2s to 60s. Defaults to 6s.
	// +optional
	// +kubebuilder:default="6s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",messageExpression="'spec.leaseFencing.leaseDuration ' + self + ' is not a duration such as 6s or 1m'"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) >= duration('2s') && duration(self) <= duration('60s'))",messageExpression="'spec.leaseFencing.leaseDuration ' + self + ' must be from 2s to 60s'"
	LeaseDuration *metav1.Duration `json:"leaseDuration,omitempty"`
}

// L2Spread is how a pool's addresses are shared out among the nodes that
// may announce them.
type L2Spread string

// The values of L2AdvertisementSpec.Spread.
const (
	// L2SpreadHash elects each address's node by the per-address hash
	// alone (the default).
	L2SpreadHash L2Spread = "Hash"
	// L2SpreadEven caps each node's share of a pool's addresses at
	// ceil(addresses / nodes).
	L2SpreadEven L2Spread = "Even"
)

// PreferredNodeSelector is a weighted preference for the nodes a label
// selector selects, in the manner of a Pod's preferred node affinity.
type PreferredNodeSelector struct {
	// weight is added to the score of every node preference selects
	// (1-100).
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	Weight int32 `json:"weight"`

	// preference selects the nodes that get weight; an empty selector
	// selects every node.
	// +required
	Preference metav1.LabelSelector `json:"preference"`
}

// L2AdvertisementStatus is the observed state of an L2Advertisement.
type L2AdvertisementStatus struct {
	// conditions reports whether the advertisement is valid and in use
	// (Valid).
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// L2Advertisement announces the addresses of the selected IPAddressPools on
// the local network with ARP (IPv4) and NDP (IPv6): one node answers for each
// address, and another takes over when it fails.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:scope=Namespaced,shortName=l2adv,categories=ironlb
// +kubebuilder:printcolumn:name="IPAddressPools",type=string,JSONPath=`.spec.ipAddressPools`
// +kubebuilder:printcolumn:name="IPAddressPool Selectors",type=string,JSONPath=`.spec.ipAddressPoolSelectors`
// +kubebuilder:printcolumn:name="Interfaces",type=string,JSONPath=`.spec.interfaces`
// +kubebuilder:printcolumn:name="Node Selectors",type=string,JSONPath=`.spec.nodeSelectors`,priority=1
// +kubebuilder:printcolumn:name="Valid",type=string,JSONPath=`.status.conditions[?(@.type=="Valid")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type L2Advertisement struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the advertisement's configuration. An empty spec announces
	// every pool from every node on every interface.
	// +optional
	Spec L2AdvertisementSpec `json:"spec,omitempty"`

	// status is the advertisement's observed state.
	// +optional
	Status L2AdvertisementStatus `json:"status,omitempty"`
}

// L2AdvertisementList is a list of L2Advertisements.
//
// +kubebuilder:object:root=true
type L2AdvertisementList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []L2Advertisement `json:"items"`
}

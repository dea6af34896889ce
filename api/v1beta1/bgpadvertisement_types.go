/*
Copyright The ironlb Authors.

Licensed under the Apache License, Version 2.0.
*/

package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BGPAdvertisementSpec is the desired state of a BGPAdvertisement.
//
// Pools are selected as for L2Advertisement: named in ipAddressPools or
// matching any of ipAddressPoolSelectors; both empty selects every pool.
// Whether aggregationLength fits the selected pools' CIDRs, whether
// communities name existing aliases, and whether peers exist are checked by
// internal/config, since they need other objects.
type BGPAdvertisementSpec struct {
	// aggregationLength is the prefix length of the IPv4 routes announced:
	// 32 announces each Service address as its own /32 route; a shorter
	// length announces the covering prefix instead (24 announces
	// 192.168.10.0/24 for 192.168.10.7), which routers see as one route for
	// all Services in it. Must not be shorter than the prefix of any IPv4
	// CIDR of the selected pools. Defaults to 32.
	// +optional
	// +kubebuilder:default=32
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=32
	AggregationLength *int32 `json:"aggregationLength,omitempty"`

	// aggregationLengthV6 is aggregationLength for IPv6 routes. Defaults to
	// 128.
	// +optional
	// +kubebuilder:default=128
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=128
	AggregationLengthV6 *int32 `json:"aggregationLengthV6,omitempty"`

	// localPref is the BGP LOCAL_PREF attribute sent with the routes; routers
	// prefer the path with the higher value. It is sent to iBGP peers only
	// (peers in the same AS), as BGP requires. When unset or 0, no
	// LOCAL_PREF is set by ironlb and the peer applies its default.
	// +optional
	// +kubebuilder:validation:Format=int64
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=4294967295
	LocalPref uint32 `json:"localPref,omitempty"`

	// asPathPrepend lengthens the AS_PATH of the routes by prepending the
	// local AS number (the session's: myASN, or localASN when the BGPPeer
	// sets it) this many times more, so routers prefer other paths to the
	// same prefix. Towards an eBGP peer the path then holds the local AS
	// asPathPrepend + 1 times. When unset, nothing is prepended.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	AsPathPrepend int32 `json:"asPathPrepend,omitempty"`

	// communities lists BGP communities attached to the routes. Each entry is
	// a standard community AA:NN (two numbers 0-65535, such as 64512:100), a
	// large community large:AA:BB:CC (three numbers 0-4294967295, such as
	// large:64512:1:2), or the name of an alias defined in a Community
	// object in the same namespace. Alias names contain no colon.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:XValidation:rule=`!self.contains(':') || (self.matches('^[0-9]{1,5}:[0-9]{1,5}$') && self.split(':').all(n, int(n) <= 65535)) || (self.matches('^large:[0-9]{1,10}:[0-9]{1,10}:[0-9]{1,10}$') && self.split(':').all(n, n == 'large' || int(n) <= 4294967295))`,messageExpression=`'"' + self + '" is not a community: write AA:NN with numbers 0-65535 (64512:100), large:AA:BB:CC with numbers 0-4294967295 (large:64512:1:2), or the name of a Community alias (no colon)'`
	// +kubebuilder:validation:items:XValidation:rule=`!self.matches('\\s')`,messageExpression=`'"' + self + '" contains white space; communities and alias names may not'`
	Communities []string `json:"communities,omitempty"`

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

	// nodeSelectors limits the nodes that announce the routes (and so
	// receive the traffic, as next hops): a node announces if any selector
	// selects it. When empty, every node with a session to the peer
	// announces.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	NodeSelectors []metav1.LabelSelector `json:"nodeSelectors,omitempty"`

	// serviceSelectors limits the Services whose addresses this
	// advertisement announces: a Service is announced if any selector
	// selects its labels. When empty, every Service with an address of a
	// selected pool is announced. Relabelling a Service takes effect at
	// once.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	ServiceSelectors []metav1.LabelSelector `json:"serviceSelectors,omitempty"`

	// peers names the BGPPeers (in the advertisement's namespace) the routes
	// are announced to. When empty, they are announced to every peer.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=128
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	Peers []string `json:"peers,omitempty"`
}

// BGPAdvertisementStatus is the observed state of a BGPAdvertisement.
type BGPAdvertisementStatus struct {
	// conditions reports whether the advertisement is valid and in use
	// (Valid).
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// BGPAdvertisement announces the addresses of the selected IPAddressPools as
// routes to BGP peers, with the given aggregation, LOCAL_PREF and
// communities.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:scope=Namespaced,shortName=bgpadv,categories=ironlb
// +kubebuilder:printcolumn:name="IPAddressPools",type=string,JSONPath=`.spec.ipAddressPools`
// +kubebuilder:printcolumn:name="IPAddressPool Selectors",type=string,JSONPath=`.spec.ipAddressPoolSelectors`
// +kubebuilder:printcolumn:name="Peers",type=string,JSONPath=`.spec.peers`
// +kubebuilder:printcolumn:name="Node Selectors",type=string,JSONPath=`.spec.nodeSelectors`,priority=1
// +kubebuilder:printcolumn:name="Valid",type=string,JSONPath=`.status.conditions[?(@.type=="Valid")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type BGPAdvertisement struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the advertisement's configuration. An empty spec announces
	// every pool to every peer from every node, one route per address.
	// +optional
	Spec BGPAdvertisementSpec `json:"spec,omitempty"`

	// status is the advertisement's observed state.
	// +optional
	Status BGPAdvertisementStatus `json:"status,omitempty"`
}

// BGPAdvertisementList is a list of BGPAdvertisements.
//
// +kubebuilder:object:root=true
type BGPAdvertisementList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BGPAdvertisement `json:"items"`
}

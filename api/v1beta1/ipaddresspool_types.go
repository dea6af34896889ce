/*
Copyright The ironlb Authors.

Licensed under the Apache License, Version 2.0.
*/

package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IPAddressPoolSpec is the desired state of an IPAddressPool.
//
// The CEL rules on addresses check each entry's syntax, family and, for IPv4
// ranges, order. CEL has no ordering on IPv6 addresses, so internal/config
// checks that an IPv6 range's first address is not above its last, and that
// entries do not overlap each other or other pools.
type IPAddressPoolSpec struct {
	// addresses lists the addresses the pool hands out to LoadBalancer
	// Services. Each entry is either a CIDR (192.168.10.0/24,
	// 2001:db8:1::/120) or an inclusive range of two addresses of the same
	// family written first-last (192.168.10.10-192.168.10.20; spaces around
	// the dash are allowed). IPv4 and IPv6 entries may be mixed in one pool.
	// A CIDR must have no bits set after its prefix length
	// (192.168.10.0/24, not 192.168.10.1/24); a single address is written as
	// a /32 or /128 CIDR. Entries must not repeat and must not overlap.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=100
	// +kubebuilder:validation:items:XValidation:rule=`self.contains('/') ? isCIDR(self) : (self.split('-').size() == 2 && isIP(self.split('-')[0].trim()) && isIP(self.split('-')[1].trim()))`,messageExpression=`'"' + self + '" is neither a CIDR (192.168.10.0/24, 2001:db8::/64) nor a range of two addresses (192.168.10.10-192.168.10.20)'`
	// +kubebuilder:validation:items:XValidation:rule=`!self.contains('/') || !isCIDR(self) || cidr(self) == cidr(self).masked()`,messageExpression=`'"' + self + '" has bits set after its prefix length; write its network address (192.168.10.0/24, not 192.168.10.1/24)'`
	// +kubebuilder:validation:items:XValidation:rule=`self.contains('/') || self.split('-').size() != 2 || !isIP(self.split('-')[0].trim()) || !isIP(self.split('-')[1].trim()) || ip(self.split('-')[0].trim()).family() == ip(self.split('-')[1].trim()).family()`,messageExpression=`'range "' + self + '" mixes an IPv4 and an IPv6 address; both ends must be of the same family'`
	// +kubebuilder:validation:items:XValidation:rule=`self.contains('/') || self.split('-').size() != 2 || !isIP(self.split('-')[0].trim()) || !isIP(self.split('-')[1].trim()) || ip(self.split('-')[0].trim()).family() != 4 || ip(self.split('-')[1].trim()).family() != 4 || int(self.split('-')[0].trim().split('.')[0]) * 16777216 + int(self.split('-')[0].trim().split('.')[1]) * 65536 + int(self.split('-')[0].trim().split('.')[2]) * 256 + int(self.split('-')[0].trim().split('.')[3]) <= int(self.split('-')[1].trim().split('.')[0]) * 16777216 + int(self.split('-')[1].trim().split('.')[1]) * 65536 + int(self.split('-')[1].trim().split('.')[2]) * 256 + int(self.split('-')[1].trim().split('.')[3])`,messageExpression=`'range "' + self + '" starts above where it ends; write the lower address first'`
	Addresses []string `json:"addresses"`

	// autoAssign, when false, keeps the pool out of automatic assignment:
	// a Service gets an address from it only by asking for the pool by name
	// (annotation ironlb.io/address-pool) or for one of its addresses
	// (spec.loadBalancerIP or annotation ironlb.io/loadBalancerIPs).
	// Defaults to true.
	// +optional
	// +kubebuilder:default=true
	AutoAssign *bool `json:"autoAssign,omitempty"`

	// avoidBuggyIPs, when true, never hands out IPv4 addresses ending in .0
	// or .255, which some old clients and routers treat as network or
	// broadcast addresses whatever the prefix length. IPv6 addresses are
	// not affected. Defaults to false.
	// +optional
	// +kubebuilder:default=false
	AvoidBuggyIPs bool `json:"avoidBuggyIPs,omitempty"`

	// allowCrossNamespaceSharing lets Services of different namespaces
	// share one of the pool's addresses (annotation ironlb.io/allow-shared-ip
	// with the same key on each). When false, the default, an address is
	// shared only among Services of one namespace: a Service cannot join an
	// address a Service of another namespace holds, whatever key it shows,
	// and gets an AllocationFailed Event saying so. Shares that already
	// exist when the pool stops allowing them (or that the controller finds
	// in the Services' status when it starts) are kept; only new ones are
	// refused. Defaults to false.
	// +optional
	// +kubebuilder:default=false
	AllowCrossNamespaceSharing bool `json:"allowCrossNamespaceSharing,omitempty"`

	// serviceAllocation restricts the pool to some namespaces and Services
	// and orders it among other pools. When absent, any Service may get an
	// address from the pool.
	// +optional
	ServiceAllocation *ServiceAllocation `json:"serviceAllocation,omitempty"`
}

// ServiceAllocation restricts which Services an IPAddressPool serves and with
// which priority. A Service matches when its namespace is listed in
// namespaces or selected by one of namespaceSelectors (either list empty
// means any namespace, both empty means any), and its labels are selected by
// one of serviceSelectors (empty means any Service).
type ServiceAllocation struct {
	// priority orders the pools a Service matches: a lower number is tried
	// first. Pools that set no priority (0) are tried after every pool that
	// sets one. Among pools of equal priority the choice is not specified.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Priority int `json:"priority,omitempty"`

	// namespaces lists, by name, the namespaces whose Services may get an
	// address from the pool.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=63
	Namespaces []string `json:"namespaces,omitempty"`

	// namespaceSelectors selects, by label, the namespaces whose Services may
	// get an address from the pool; a namespace matches if any selector
	// selects it. An alternative or complement to namespaces.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	NamespaceSelectors []metav1.LabelSelector `json:"namespaceSelectors,omitempty"`

	// serviceSelectors selects, by label, the Services that may get an
	// address from the pool; a Service matches if any selector selects it.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	ServiceSelectors []metav1.LabelSelector `json:"serviceSelectors,omitempty"`
}

// IPAddressPoolStatus is the observed state of an IPAddressPool, written by
// the ironlb controller.
type IPAddressPoolStatus struct {
	// assignedIPv4 is the number of the pool's IPv4 addresses assigned to
	// Services.
	// +optional
	AssignedIPv4 int64 `json:"assignedIPv4"`

	// assignedIPv6 is the number of the pool's IPv6 addresses assigned to
	// Services.
	// +optional
	AssignedIPv6 int64 `json:"assignedIPv6"`

	// availableIPv4 is the number of the pool's IPv4 addresses still free
	// (excluding those avoidBuggyIPs skips).
	// +optional
	AvailableIPv4 int64 `json:"availableIPv4"`

	// availableIPv6 is the number of the pool's IPv6 addresses still free,
	// capped at the largest int64 for very large IPv6 pools.
	// +optional
	AvailableIPv6 int64 `json:"availableIPv6"`

	// conditions reports whether the pool is valid and in use (Valid) and
	// whether it ran out of addresses (Exhausted).
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// IPAddressPool is a set of addresses ironlb may assign to Services of type
// LoadBalancer. Announcing them is the job of L2Advertisements and
// BGPAdvertisements that select the pool.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:scope=Namespaced,shortName=ipp,categories=ironlb
// +kubebuilder:printcolumn:name="Addresses",type=string,JSONPath=`.spec.addresses`
// +kubebuilder:printcolumn:name="Auto Assign",type=boolean,JSONPath=`.spec.autoAssign`
// +kubebuilder:printcolumn:name="Assigned IPv4",type=integer,JSONPath=`.status.assignedIPv4`
// +kubebuilder:printcolumn:name="Assigned IPv6",type=integer,JSONPath=`.status.assignedIPv6`
// +kubebuilder:printcolumn:name="Available IPv4",type=integer,JSONPath=`.status.availableIPv4`
// +kubebuilder:printcolumn:name="Available IPv6",type=integer,JSONPath=`.status.availableIPv6`
// +kubebuilder:printcolumn:name="Avoid Buggy IPs",type=boolean,JSONPath=`.spec.avoidBuggyIPs`,priority=1
// +kubebuilder:printcolumn:name="Valid",type=string,JSONPath=`.status.conditions[?(@.type=="Valid")].status`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type IPAddressPool struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the pool's configuration.
	// +required
	Spec IPAddressPoolSpec `json:"spec"`

	// status is the pool's observed state.
	// +optional
	Status IPAddressPoolStatus `json:"status,omitempty"`
}

// IPAddressPoolList is a list of IPAddressPools.
//
// +kubebuilder:object:root=true
type IPAddressPoolList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []IPAddressPool `json:"items"`
}

/*
Copyright The ironlb Authors.

Licensed under the Apache License, Version 2.0.
*/

package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DynamicASNMode says which kind of AS number a BGPPeer accepts from the peer
// when peerASN is not set.
// +kubebuilder:validation:Enum=internal;external
type DynamicASNMode string

const (
	// DynamicASNInternal accepts only a peer in the local AS (iBGP): the
	// session is refused when the peer's AS differs from myASN.
	DynamicASNInternal DynamicASNMode = "internal"
	// DynamicASNExternal accepts only a peer in another AS (eBGP): the
	// session is refused when the peer's AS equals myASN.
	DynamicASNExternal DynamicASNMode = "external"
)

// SecretReference names a Secret holding a BGP password.
type SecretReference struct {
	// name is the name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// namespace is the namespace of the Secret. ironlb reads Secrets only in
	// the namespace it is installed in; when set, namespace must be that
	// one. When empty, that namespace is used.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
}

// BGPPeerSpec is the desired state of a BGPPeer: one BGP session per selected
// node to one router.
//
// The fields mirror MetalLB's metallb.io/v1beta2 BGPPeer. Durations are
// written as Go durations (90s, 1m30s) and must be whole seconds.
//
// +kubebuilder:validation:XValidation:rule="has(self.peerASN) != has(self.dynamicASN)",message="exactly one of spec.peerASN and spec.dynamicASN must be set"
// +kubebuilder:validation:XValidation:rule="has(self.peerAddress) != has(self.interface)",message="exactly one of spec.peerAddress and spec.interface must be set"
// +kubebuilder:validation:XValidation:rule="!has(self.password) || !has(self.passwordSecret)",message="spec.password and spec.passwordSecret are mutually exclusive; keep the password in the Secret"
// +kubebuilder:validation:XValidation:rule="!has(self.peerAddress) || !has(self.sourceAddress) || !isIP(self.peerAddress) || !isIP(self.sourceAddress) || ip(self.peerAddress).family() == ip(self.sourceAddress).family()",messageExpression="'spec.sourceAddress ' + self.sourceAddress + ' and spec.peerAddress ' + self.peerAddress + ' must be of the same address family'"
// +kubebuilder:validation:XValidation:rule="!has(self.holdTime) || !has(self.keepaliveTime) || !self.holdTime.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || !self.keepaliveTime.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || duration(self.holdTime) == duration('0s') || duration(self.keepaliveTime) <= duration(self.holdTime)",messageExpression="'spec.keepaliveTime ' + self.keepaliveTime + ' must not exceed spec.holdTime ' + self.holdTime + ' (a third of it is usual)'"
type BGPPeerSpec struct {
	// myASN is the AS number ironlb uses on its end of the session
	// (1-4294967295).
	// +required
	// +kubebuilder:validation:Format=int64
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4294967295
	MyASN uint32 `json:"myASN"`

	// peerASN is the AS number expected from the peer (1-4294967295).
	// Exactly one of peerASN and dynamicASN must be set.
	// +optional
	// +kubebuilder:validation:Format=int64
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4294967295
	PeerASN uint32 `json:"peerASN,omitempty"`

	// localASN is the AS number the peer sees on this session instead of
	// myASN, in the manner of a router's "local-as ASN no-prepend
	// replace-as": the OPEN message carries it and the AS_PATH of the
	// routes holds it alone, never myASN. The session is iBGP when it
	// equals peerASN. When unset, myASN is used.
	// +optional
	// +kubebuilder:validation:Format=int64
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4294967295
	LocalASN uint32 `json:"localASN,omitempty"`

	// dynamicASN accepts whatever AS number the peer announces, within a
	// kind: internal (must equal myASN, or localASN when set: iBGP) or
	// external (must differ from it, eBGP). Exactly one of peerASN and
	// dynamicASN must be set. external is not supported yet: such a peer
	// is not used (reason NotSupported on its Valid condition).
	// +optional
	DynamicASN DynamicASNMode `json:"dynamicASN,omitempty"`

	// peerAddress is the IPv4 or IPv6 address of the peer to connect to.
	// Exactly one of peerAddress and interface must be set.
	// +optional
	// +kubebuilder:validation:MaxLength=45
	// +kubebuilder:validation:XValidation:rule="isIP(self)",messageExpression="'spec.peerAddress ' + self + ' is not an IP address (such as 192.168.1.1 or 2001:db8::1)'"
	PeerAddress string `json:"peerAddress,omitempty"`

	// interface is the name of a node interface over which to peer with BGP
	// unnumbered: the peer is found by IPv6 link-local discovery on that
	// interface, so no peer address is configured. Exactly one of
	// peerAddress and interface must be set. Not supported yet: such a peer
	// is not used (reason NotSupported on its Valid condition).
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=15
	Interface string `json:"interface,omitempty"`

	// sourceAddress is the local address the session is opened from. It must
	// be an address of the node and of the same family as peerAddress. When
	// empty, the node's routing picks it.
	// +optional
	// +kubebuilder:validation:MaxLength=45
	// +kubebuilder:validation:XValidation:rule="isIP(self)",messageExpression="'spec.sourceAddress ' + self + ' is not an IP address (such as 192.168.1.10 or 2001:db8::10)'"
	SourceAddress string `json:"sourceAddress,omitempty"`

	// peerPort is the TCP port to connect to on the peer (1-65535).
	// Defaults to 179.
	// +optional
	// +kubebuilder:default=179
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	PeerPort uint16 `json:"peerPort,omitempty"`

	// holdTime is the BGP hold time proposed to the peer (RFC 4271): the
	// session drops when nothing is heard for that long. 0s disables it;
	// otherwise 3s to 65535s, whole seconds. When unset, 90s is proposed.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",messageExpression="'spec.holdTime ' + self + ' is not a duration such as 90s or 3m'"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || duration(self) == duration('0s') || (duration(self) >= duration('3s') && duration(self) <= duration('65535s') && duration(self).getMilliseconds() % 1000 == 0)",messageExpression="'spec.holdTime ' + self + ' must be 0s or whole seconds from 3s to 65535s'"
	HoldTime *metav1.Duration `json:"holdTime,omitempty"`

	// keepaliveTime is the interval between BGP keepalive messages, 0s to
	// 65535s in whole seconds, and not more than holdTime. When unset, a
	// third of the hold time is used.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",messageExpression="'spec.keepaliveTime ' + self + ' is not a duration such as 30s or 1m'"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) <= duration('65535s') && duration(self).getMilliseconds() % 1000 == 0)",messageExpression="'spec.keepaliveTime ' + self + ' must be whole seconds from 0s to 65535s'"
	KeepaliveTime *metav1.Duration `json:"keepaliveTime,omitempty"`

	// connectTime is how long to wait between attempts to connect to the
	// peer, 1s to 65535s in whole seconds; 5s when unset. After an
	// established session ends, the first attempt comes 1-2s later.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",messageExpression="'spec.connectTime ' + self + ' is not a duration such as 10s or 2m'"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) >= duration('1s') && duration(self) <= duration('65535s') && duration(self).getMilliseconds() % 1000 == 0)",messageExpression="'spec.connectTime ' + self + ' must be whole seconds from 1s to 65535s'"
	ConnectTime *metav1.Duration `json:"connectTime,omitempty"`

	// routerID is the BGP identifier sent to the peer, written as an IPv4
	// address. When empty, each node uses its IPv4 InternalIP, or on a node
	// with IPv6 InternalIPs alone the low 32 bits of its first one.
	// +optional
	// +kubebuilder:validation:MaxLength=15
	// +kubebuilder:validation:XValidation:rule="isIP(self) && ip(self).family() == 4",messageExpression="'spec.routerID ' + self + ' is not an IPv4 address; a BGP router ID is written like 10.0.0.1'"
	RouterID string `json:"routerID,omitempty"`

	// nodeSelectors limits the nodes that open a session to this peer: a node
	// does if any selector selects it. When empty, every node running the
	// ironlb speaker does.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	NodeSelectors []metav1.LabelSelector `json:"nodeSelectors,omitempty"`

	// password is the TCP MD5 password (RFC 2385) for routers that require
	// one, at most 80 characters. It is stored in the object in clear text;
	// prefer passwordSecret. Mutually exclusive with passwordSecret.
	// +optional
	// +kubebuilder:validation:MaxLength=80
	Password string `json:"password,omitempty"`

	// passwordSecret names a Secret of type kubernetes.io/basic-auth whose
	// key "password" holds the TCP MD5 password. Mutually exclusive with
	// password.
	// +optional
	PasswordSecret *SecretReference `json:"passwordSecret,omitempty"`

	// bfdProfile names a BFDProfile (in the peer's namespace); when set, a
	// BFD session with those settings runs alongside the BGP session and
	// brings it down as soon as the path fails. When empty, no BFD.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	BFDProfile string `json:"bfdProfile,omitempty"`

	// enableGracefulRestart advertises the BGP graceful restart capability
	// (RFC 4724), so the peer keeps forwarding to ironlb's routes while the
	// speaker restarts. Changing it on an established session makes the
	// session restart.
	// +optional
	EnableGracefulRestart bool `json:"enableGracefulRestart,omitempty"`

	// ebgpMultiHop allows an eBGP peer that is more than one hop away (its
	// address is not on a directly connected network).
	// +optional
	EBGPMultiHop bool `json:"ebgpMultiHop,omitempty"`

	// vrf is the name of a Linux VRF on the nodes; the session is opened
	// from an interface enslaved to it. When empty, the default VRF is used.
	// +optional
	// +kubebuilder:validation:MaxLength=15
	VRF string `json:"vrf,omitempty"`

	// disableMP, when true, carries IPv4 and IPv6 routes in separate
	// sessions: the session with an IPv4 peer carries only IPv4 routes and
	// the one with an IPv6 peer only IPv6. Deprecated: kept for MetalLB
	// manifests; leave it false and use dualStackAddressFamily instead.
	// +optional
	// +kubebuilder:default=false
	DisableMP bool `json:"disableMP,omitempty"`

	// dualStackAddressFamily, when true, carries routes of both families on
	// this session (IPv4 routes over an IPv6 session and the other way
	// round). When false, the session carries only routes of its own
	// family.
	// +optional
	// +kubebuilder:default=false
	DualStackAddressFamily bool `json:"dualStackAddressFamily,omitempty"`
}

// BGPPeerStatus is the observed state of a BGPPeer.
type BGPPeerStatus struct {
	// conditions reports whether the peer is valid and in use (Valid).
	// Per-node session state is reported by the speakers' metrics.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// BGPPeer is a BGP router that ironlb's speakers open sessions to and
// announce Service routes to.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:scope=Namespaced,shortName=bgpp,categories=ironlb
// +kubebuilder:printcolumn:name="Address",type=string,JSONPath=`.spec.peerAddress`
// +kubebuilder:printcolumn:name="Interface",type=string,JSONPath=`.spec.interface`,priority=1
// +kubebuilder:printcolumn:name="ASN",type=integer,JSONPath=`.spec.peerASN`
// +kubebuilder:printcolumn:name="Dynamic ASN",type=string,JSONPath=`.spec.dynamicASN`,priority=1
// +kubebuilder:printcolumn:name="My ASN",type=integer,JSONPath=`.spec.myASN`,priority=1
// +kubebuilder:printcolumn:name="BFD Profile",type=string,JSONPath=`.spec.bfdProfile`
// +kubebuilder:printcolumn:name="Multi Hops",type=boolean,JSONPath=`.spec.ebgpMultiHop`
// +kubebuilder:printcolumn:name="VRF",type=string,JSONPath=`.spec.vrf`,priority=1
// +kubebuilder:printcolumn:name="Valid",type=string,JSONPath=`.status.conditions[?(@.type=="Valid")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type BGPPeer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the peer's configuration.
	// +required
	Spec BGPPeerSpec `json:"spec"`

	// status is the peer's observed state.
	// +optional
	Status BGPPeerStatus `json:"status,omitempty"`
}

// BGPPeerList is a list of BGPPeers.
//
// +kubebuilder:object:root=true
type BGPPeerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BGPPeer `json:"items"`
}

/*
Copyright The ironlb Authors.

Licensed under the Apache License, Version 2.0.
*/

package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BFDProfileSpec is the desired state of a BFDProfile: the parameters of the
// BFD sessions (RFC 5880) run alongside the BGP sessions of the BGPPeers
// that name it. Intervals are in milliseconds.
type BFDProfileSpec struct {
	// receiveInterval is the shortest interval, in milliseconds, at which
	// this system can receive BFD control packets (10-60000). Defaults to
	// 300.
	// +optional
	// +kubebuilder:default=300
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=60000
	ReceiveInterval *uint32 `json:"receiveInterval,omitempty"`

	// transmitInterval is the shortest interval, in milliseconds, at which
	// this system wants to send BFD control packets, before jitter
	// (10-60000). Defaults to 300.
	// +optional
	// +kubebuilder:default=300
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=60000
	TransmitInterval *uint32 `json:"transmitInterval,omitempty"`

	// detectMultiplier is sent to the router as this system's Detect
	// Mult: the router declares the session down when no control packet
	// from this system arrived for this many of this system's transmit
	// intervals (as negotiated; RFC 5880 §6.8.4). How fast this system
	// notices the router failing follows the router's own multiplier
	// (2-255). Defaults to 3.
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=2
	// +kubebuilder:validation:Maximum=255
	DetectMultiplier *uint32 `json:"detectMultiplier,omitempty"`

	// echoInterval is the shortest interval, in milliseconds, at which this
	// system can handle echo packets (10-60000), used when echoMode is on.
	// Defaults to 50.
	// +optional
	// +kubebuilder:default=50
	// +kubebuilder:validation:Minimum=10
	// +kubebuilder:validation:Maximum=60000
	EchoInterval *uint32 `json:"echoInterval,omitempty"`

	// echoMode turns on the BFD echo function (single-hop sessions only): the
	// node sends echo packets the peer loops back, testing the forwarding
	// path itself, and loops the peer's back (its IPv4 ones by the node's
	// IP forwarding). A BGPPeer with ebgpMultiHop naming such a profile is
	// refused. Defaults to false.
	// +optional
	// +kubebuilder:default=false
	EchoMode *bool `json:"echoMode,omitempty"`

	// passiveMode makes the session passive: it never starts sending control
	// packets and waits for the peer's first. Defaults to false.
	// +optional
	// +kubebuilder:default=false
	PassiveMode *bool `json:"passiveMode,omitempty"`

	// minimumTtl is, for multi-hop sessions only, the lowest TTL accepted on
	// incoming control packets (1-254); packets that crossed more routers
	// are dropped. Defaults to 254.
	// +optional
	// +kubebuilder:default=254
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=254
	MinimumTTL *uint32 `json:"minimumTtl,omitempty"`
}

// BFDProfileStatus is the observed state of a BFDProfile.
type BFDProfileStatus struct {
	// conditions reports whether the profile is valid and in use (Valid).
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// BFDProfile is a named set of BFD parameters. A BGPPeer that names it in
// spec.bfdProfile runs a BFD session with them, so a failed path brings the
// BGP session down in well under a second instead of after the hold time.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:scope=Namespaced,shortName=bfdp,categories=ironlb
// +kubebuilder:printcolumn:name="Receive Interval",type=integer,JSONPath=`.spec.receiveInterval`
// +kubebuilder:printcolumn:name="Transmit Interval",type=integer,JSONPath=`.spec.transmitInterval`
// +kubebuilder:printcolumn:name="Multiplier",type=integer,JSONPath=`.spec.detectMultiplier`
// +kubebuilder:printcolumn:name="Echo Mode",type=boolean,JSONPath=`.spec.echoMode`,priority=1
// +kubebuilder:printcolumn:name="Passive Mode",type=boolean,JSONPath=`.spec.passiveMode`,priority=1
// +kubebuilder:printcolumn:name="Valid",type=string,JSONPath=`.status.conditions[?(@.type=="Valid")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type BFDProfile struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the profile's configuration. An empty spec takes every
	// default.
	// +optional
	Spec BFDProfileSpec `json:"spec,omitempty"`

	// status is the profile's observed state.
	// +optional
	Status BFDProfileStatus `json:"status,omitempty"`
}

// BFDProfileList is a list of BFDProfiles.
//
// +kubebuilder:object:root=true
type BFDProfileList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BFDProfile `json:"items"`
}

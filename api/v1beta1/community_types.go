/*
Copyright The ironlb Authors.

Licensed under the Apache License, Version 2.0.
*/

package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CommunityAlias gives a BGP community value a name that BGPAdvertisements can
// use in spec.communities.
type CommunityAlias struct {
	// name is the alias, used in place of the value in a BGPAdvertisement's
	// communities (for example no-advertise). It must not contain a colon
	// or white space, so it can never be mistaken for a community value.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule=`!self.contains(':') && !self.matches('\\s')`,messageExpression=`'alias name "' + self + '" must not contain a colon or white space'`
	Name string `json:"name"`

	// value is the community the alias stands for: a standard community
	// AA:NN (two numbers 0-65535, such as 65535:65282) or a large community
	// large:AA:BB:CC (three numbers 0-4294967295, such as large:64512:1:2).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=38
	// +kubebuilder:validation:XValidation:rule=`(self.matches('^[0-9]{1,5}:[0-9]{1,5}$') && self.split(':').all(n, int(n) <= 65535)) || (self.matches('^large:[0-9]{1,10}:[0-9]{1,10}:[0-9]{1,10}$') && self.split(':').all(n, n == 'large' || int(n) <= 4294967295))`,messageExpression=`'community value "' + self + '" is neither AA:NN with numbers 0-65535 (65535:65282) nor large:AA:BB:CC with numbers 0-4294967295 (large:64512:1:2)'`
	Value string `json:"value"`
}

// CommunitySpec is the desired state of a Community.
type CommunitySpec struct {
	// communities lists the aliases. Names must be unique within the
	// object; internal/config also reports a name defined by two Community
	// objects.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=256
	Communities []CommunityAlias `json:"communities,omitempty"`
}

// CommunityStatus is the observed state of a Community.
type CommunityStatus struct {
	// conditions reports whether the aliases are valid and in use (Valid).
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Community defines named aliases for BGP community values, so
// BGPAdvertisements can say no-advertise instead of 65535:65282.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:scope=Namespaced,shortName=bgpcomm,categories=ironlb
// +kubebuilder:printcolumn:name="Aliases",type=string,JSONPath=`.spec.communities[*].name`
// +kubebuilder:printcolumn:name="Valid",type=string,JSONPath=`.status.conditions[?(@.type=="Valid")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Community struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec lists the aliases.
	// +optional
	Spec CommunitySpec `json:"spec,omitempty"`

	// status is the object's observed state.
	// +optional
	Status CommunityStatus `json:"status,omitempty"`
}

// CommunityList is a list of Communities.
//
// +kubebuilder:object:root=true
type CommunityList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Community `json:"items"`
}

/*
Copyright The ironlb Authors.

Licensed under the Apache License, Version 2.0.
*/

package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Group is the API group of every ironlb resource.
const Group = "ironlb.io"

// Version is the version of the API in this package.
const Version = "v1beta1"

// GroupVersion is ironlb.io/v1beta1, the group and version of every kind in
// this package.
var GroupVersion = schema.GroupVersion{Group: Group, Version: Version}

// SchemeBuilder collects the functions that register this package's kinds.
// It holds exactly addKnownTypes and is never appended to, so using it from
// several goroutines is safe.
var SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

// AddToScheme registers every kind of ironlb.io/v1beta1 (and its List kind)
// with a scheme. Call it once per scheme, before building clients or caches.
var AddToScheme = SchemeBuilder.AddToScheme

// Resource returns the GroupResource of a resource (plural, lower case) of
// this group, as used in API errors: Resource("ipaddresspools").
func Resource(resource string) schema.GroupResource {
	return GroupVersion.WithResource(resource).GroupResource()
}

// Kind returns the GroupKind of a kind of this group: Kind("IPAddressPool").
func Kind(kind string) schema.GroupKind {
	return GroupVersion.WithKind(kind).GroupKind()
}

// addKnownTypes registers every root kind of this package. Registering in one
// place (instead of per-file init functions) keeps the package free of
// init-time mutation.
func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion,
		&IPAddressPool{}, &IPAddressPoolList{},
		&L2Advertisement{}, &L2AdvertisementList{},
		&BGPAdvertisement{}, &BGPAdvertisementList{},
		&BGPPeer{}, &BGPPeerList{},
		&BFDProfile{}, &BFDProfileList{},
		&Community{}, &CommunityList{},
		&ServiceL2Status{}, &ServiceL2StatusList{},
		&ServiceBGPStatus{}, &ServiceBGPStatusList{},
	)
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}

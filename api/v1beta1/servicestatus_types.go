/*
Copyright The ironlb Authors.

Licensed under the Apache License, Version 2.0.
*/

package v1beta1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Labels the speaker puts on every ServiceL2Status and ServiceBGPStatus it
// writes, so one node's or one Service's objects can be listed with a label
// selector. The values equal the status fields of the same meaning.
const (
	// LabelStatusNode holds the name of the node announcing the Service.
	LabelStatusNode = "ironlb.io/node"
	// LabelStatusServiceName holds the name of the announced Service.
	LabelStatusServiceName = "ironlb.io/service-name"
	// LabelStatusServiceNamespace holds the namespace of the announced
	// Service.
	LabelStatusServiceNamespace = "ironlb.io/service-namespace"
)

// ServiceL2StatusSpec is empty: a ServiceL2Status is written, not
// configured. It exists so the object has the usual spec/status shape.
type ServiceL2StatusSpec struct{}

// InterfaceInfo names a network interface.
type InterfaceInfo struct {
	// name is the interface name on the node, such as eth0.
	// +optional
	// +kubebuilder:validation:MaxLength=15
	Name string `json:"name,omitempty"`
}

// L2AnnouncementStatus says which node answers ARP/NDP for a Service's
// addresses and on which interfaces. node, serviceName and serviceNamespace
// are immutable: when the answering node changes, the speaker deletes the
// object and the new node writes its own.
type L2AnnouncementStatus struct {
	// node is the name of the node answering for the Service's addresses,
	// and so receiving its traffic.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="status.node is immutable; delete the object and create another"
	Node string `json:"node,omitempty"`

	// serviceName is the name of the Service announced.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="status.serviceName is immutable; delete the object and create another"
	ServiceName string `json:"serviceName,omitempty"`

	// serviceNamespace is the namespace of the Service announced.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="status.serviceNamespace is immutable; delete the object and create another"
	ServiceNamespace string `json:"serviceNamespace,omitempty"`

	// interfaces lists the interfaces on which the node answers for the
	// Service's addresses.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=1024
	Interfaces []InterfaceInfo `json:"interfaces,omitempty"`
}

// ServiceL2Status reports, for one Service announced in layer 2 mode, the
// node answering for its addresses. The speaker on that node writes it in the
// Service's namespace; operators read it.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:scope=Namespaced,shortName=sl2s,categories=ironlb
// +kubebuilder:printcolumn:name="Allocated Node",type=string,JSONPath=`.status.node`
// +kubebuilder:printcolumn:name="Service Name",type=string,JSONPath=`.status.serviceName`
// +kubebuilder:printcolumn:name="Service Namespace",type=string,JSONPath=`.status.serviceNamespace`
// +kubebuilder:printcolumn:name="Interfaces",type=string,JSONPath=`.status.interfaces[*].name`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ServiceL2Status struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is empty.
	// +optional
	Spec ServiceL2StatusSpec `json:"spec,omitempty"`

	// status is the announcement's state.
	// +optional
	Status L2AnnouncementStatus `json:"status,omitempty"`
}

// ServiceL2StatusList is a list of ServiceL2Statuses.
//
// +kubebuilder:object:root=true
type ServiceL2StatusList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ServiceL2Status `json:"items"`
}

// ServiceBGPStatusSpec is empty: a ServiceBGPStatus is written, not
// configured. It exists so the object has the usual spec/status shape.
type ServiceBGPStatusSpec struct{}

// BGPAnnouncementStatus says to which BGP peers one node announces a
// Service's addresses. node, serviceName and serviceNamespace are immutable.
type BGPAnnouncementStatus struct {
	// node is the name of the node announcing the Service's addresses.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="status.node is immutable; delete the object and create another"
	Node string `json:"node,omitempty"`

	// serviceName is the name of the Service announced.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="status.serviceName is immutable; delete the object and create another"
	ServiceName string `json:"serviceName,omitempty"`

	// serviceNamespace is the namespace of the Service announced.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="status.serviceNamespace is immutable; delete the object and create another"
	ServiceNamespace string `json:"serviceNamespace,omitempty"`

	// peers names the BGPPeers the node is configured to announce the
	// Service's addresses to. Whether a route is actually sent depends on
	// the session being established, which this list does not say.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=1024
	// +kubebuilder:validation:items:MaxLength=253
	Peers []string `json:"peers,omitempty"`
}

// ServiceBGPStatus reports, for one Service and one node announcing it over
// BGP, the peers the routes go to. The speaker on that node writes it in the
// Service's namespace; operators read it.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:storageversion
// +kubebuilder:resource:scope=Namespaced,shortName=sbgps,categories=ironlb
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=`.status.node`
// +kubebuilder:printcolumn:name="Service Name",type=string,JSONPath=`.status.serviceName`
// +kubebuilder:printcolumn:name="Service Namespace",type=string,JSONPath=`.status.serviceNamespace`
// +kubebuilder:printcolumn:name="Peers",type=string,JSONPath=`.status.peers`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ServiceBGPStatus struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is empty.
	// +optional
	Spec ServiceBGPStatusSpec `json:"spec,omitempty"`

	// status is the announcement's state.
	// +optional
	Status BGPAnnouncementStatus `json:"status,omitempty"`
}

// ServiceBGPStatusList is a list of ServiceBGPStatuses.
//
// +kubebuilder:object:root=true
type ServiceBGPStatusList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ServiceBGPStatus `json:"items"`
}

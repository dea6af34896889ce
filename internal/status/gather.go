package status

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// Gather reads the Objects from the cluster: the pools and status objects
// in namespace (ironlb's), the Services and the Nodes' Events everywhere.
// It needs list on those kinds and nothing else.
func Gather(ctx context.Context, c client.Reader, namespace string) (*Objects, error) {
	objs := &Objects{}
	var pools v1beta1.IPAddressPoolList
	if err := c.List(ctx, &pools, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("listing IPAddressPools in %s: %w", namespace, err)
	}
	objs.Pools = pools.Items
	var svcs corev1.ServiceList
	if err := c.List(ctx, &svcs); err != nil {
		return nil, fmt.Errorf("listing Services: %w", err)
	}
	for _, s := range svcs.Items {
		if s.Spec.Type == corev1.ServiceTypeLoadBalancer {
			objs.Services = append(objs.Services, s)
		}
	}
	var l2 v1beta1.ServiceL2StatusList
	if err := c.List(ctx, &l2); err != nil {
		return nil, fmt.Errorf("listing ServiceL2Statuses: %w", err)
	}
	objs.L2Statuses = l2.Items
	var bgp v1beta1.ServiceBGPStatusList
	if err := c.List(ctx, &bgp); err != nil {
		return nil, fmt.Errorf("listing ServiceBGPStatuses: %w", err)
	}
	objs.BGPStatuses = bgp.Items
	var events corev1.EventList
	if err := c.List(ctx, &events, client.MatchingFields{"involvedObject.kind": "Node"}); err != nil {
		return nil, fmt.Errorf("listing the Nodes' Events: %w", err)
	}
	objs.Events = events.Items
	return objs, nil
}

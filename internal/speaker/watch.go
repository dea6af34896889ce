package speaker

import (
	"context"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/configread"
)

// watch registers the event handlers that wake the loops. Changes that
// cannot affect the decision (a Node's heartbeat, an EndpointSlice update
// that keeps the same ready nodes) are filtered out; everything else wakes
// one recomputation, however many events arrive meanwhile.
func (s *Speaker) watch(ctx context.Context) error {
	recompute := func(any) { kick(s.trigger) }
	configChanged := func(any) {
		s.configDirty.Store(true)
		kick(s.trigger)
	}
	handlers := []struct {
		obj client.Object
		h   toolscache.ResourceEventHandlerFuncs
	}{
		{&corev1.Node{}, toolscache.ResourceEventHandlerFuncs{
			AddFunc: func(any) { kick(s.trigger); kick(s.joinTrigger) },
			UpdateFunc: func(o, n any) {
				if nodeChanged(o, n) {
					kick(s.trigger)
					kick(s.joinTrigger)
				}
			},
			DeleteFunc: recompute,
		}},
		{&corev1.Service{}, toolscache.ResourceEventHandlerFuncs{
			AddFunc:    recompute,
			UpdateFunc: func(_, _ any) { kick(s.trigger) },
			DeleteFunc: recompute,
		}},
		{&discoveryv1.EndpointSlice{}, toolscache.ResourceEventHandlerFuncs{
			AddFunc: recompute,
			UpdateFunc: func(o, n any) {
				if endpointsChanged(o, n) {
					kick(s.trigger)
				}
			},
			DeleteFunc: recompute,
		}},
		{&v1beta1.ServiceL2Status{}, toolscache.ResourceEventHandlerFuncs{
			DeleteFunc: func(o any) {
				if st, ok := unwrap(o).(*v1beta1.ServiceL2Status); ok && st.Labels[v1beta1.LabelStatusNode] == s.opts.NodeName {
					s.status.forget(st.Namespace, st.Name)
					kick(s.statusTrigger)
				}
			},
		}},
		{&v1beta1.ServiceBGPStatus{}, toolscache.ResourceEventHandlerFuncs{
			DeleteFunc: func(o any) {
				if st, ok := unwrap(o).(*v1beta1.ServiceBGPStatus); ok && st.Labels[v1beta1.LabelStatusNode] == s.opts.NodeName {
					s.bgpStatus.forget(st.Namespace, st.Name)
					kick(s.bgpStatusTrigger)
				}
			},
		}},
	}
	cfg := toolscache.ResourceEventHandlerFuncs{
		AddFunc:    configChanged,
		UpdateFunc: func(_, n any) { configChanged(n) },
		DeleteFunc: configChanged,
	}
	handlers = append(handlers, struct {
		obj client.Object
		h   toolscache.ResourceEventHandlerFuncs
	}{&corev1.Secret{}, toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(o any) {
			if s.isMemberlistSecret(o) {
				kick(s.keyTrigger)
			}
		},
		UpdateFunc: func(_, n any) {
			if s.isMemberlistSecret(n) {
				kick(s.keyTrigger)
			}
		},
		DeleteFunc: func(o any) {
			if s.isMemberlistSecret(o) {
				kick(s.keyTrigger)
			}
		},
	}})
	for _, o := range append(configread.Objects(), &corev1.Secret{}, &corev1.ConfigMap{}) {
		handlers = append(handlers, struct {
			obj client.Object
			h   toolscache.ResourceEventHandlerFuncs
		}{o, cfg})
	}
	for _, h := range handlers {
		inf, err := s.cache.GetInformer(ctx, h.obj)
		if err != nil {
			return fmt.Errorf("watching %T: %w", h.obj, err)
		}
		if _, err := inf.AddEventHandler(h.h); err != nil {
			return fmt.Errorf("watching %T: %w", h.obj, err)
		}
	}
	return nil
}

// unwrap returns the object of a delete event, which may be a tombstone.
func unwrap(o any) any {
	if t, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
		return t.Obj
	}
	return o
}

// nodeChanged reports whether a Node update changes anything the speaker
// reads: labels, the subnets annotation, the Ready and NetworkUnavailable
// conditions, the addresses.
func nodeChanged(o, n any) bool {
	a, ok1 := o.(*corev1.Node)
	b, ok2 := n.(*corev1.Node)
	if !ok1 || !ok2 {
		return true
	}
	return !maps.Equal(a.Labels, b.Labels) ||
		a.Annotations[AnnotationL2Subnets] != b.Annotations[AnnotationL2Subnets] ||
		nodeCondition(a, corev1.NodeReady) != nodeCondition(b, corev1.NodeReady) ||
		nodeCondition(a, corev1.NodeNetworkUnavailable) != nodeCondition(b, corev1.NodeNetworkUnavailable) ||
		!slices.Equal(a.Status.Addresses, b.Status.Addresses)
}

// endpointsChanged reports whether an EndpointSlice update changes its
// Service or the nodes of its ready endpoints.
func endpointsChanged(o, n any) bool {
	a, ok1 := o.(*discoveryv1.EndpointSlice)
	b, ok2 := n.(*discoveryv1.EndpointSlice)
	if !ok1 || !ok2 {
		return true
	}
	return a.Labels[discoveryv1.LabelServiceName] != b.Labels[discoveryv1.LabelServiceName] ||
		!slices.Equal(readyNodesOf(a), readyNodesOf(b))
}

package speaker

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/speaker/decide"
)

// bgpKind writes ServiceBGPStatuses: one per Service and node announcing
// it over BGP, listing the peers the routes go to.
var bgpKind = &statusKind{
	name: "ServiceBGPStatus", prefix: "bgp-",
	list: func(ctx context.Context, r client.Reader, opts ...client.ListOption) ([]client.Object, error) {
		return listObjects(ctx, r, &v1beta1.ServiceBGPStatusList{}, opts...)
	},
	newObject: func() client.Object { return &v1beta1.ServiceBGPStatus{} },
	details:   func(o client.Object) []string { return o.(*v1beta1.ServiceBGPStatus).Status.Peers },
	setStatus: func(o client.Object, node string, s wantStatus) {
		o.(*v1beta1.ServiceBGPStatus).Status = v1beta1.BGPAnnouncementStatus{
			Node: node, ServiceName: s.name, ServiceNamespace: s.namespace, Peers: s.details,
		}
	},
}

// bgpStatusTargetOf turns the BGP decision into the ServiceBGPStatuses to
// keep: one per Service this node announces to some peer.
func bgpStatusTargetOf(res *decide.BGPResult, byKey map[string]*corev1.Service) *statusTarget {
	t := &statusTarget{services: map[string]wantStatus{}}
	for key, peers := range res.Services {
		svc := byKey[key]
		if svc == nil {
			continue
		}
		t.services[key] = wantStatus{
			namespace: svc.Namespace, name: svc.Name, uid: svc.UID,
			ips: ingressIPs(svc), details: peers,
		}
	}
	return t
}

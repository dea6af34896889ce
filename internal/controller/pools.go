package controller

import (
	"fmt"
	"reflect"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/ipam"
)

// ipamPools converts the Snapshot's pools into the allocator's. Selectors
// were checked by config.Build, so a conversion error means a broken
// Snapshot.
func ipamPools(snap *config.Snapshot) ([]ipam.Pool, error) {
	if snap == nil {
		return nil, nil
	}
	out := make([]ipam.Pool, 0, len(snap.Pools))
	for i := range snap.Pools {
		p := &snap.Pools[i]
		ip := ipam.Pool{Name: p.Name, AutoAssign: p.AutoAssign, AvoidBuggyIPs: p.AvoidBuggyIPs,
			AllowCrossNamespaceSharing: p.AllowCrossNamespaceSharing}
		ip.Ranges = make([]ipam.Range, len(p.Ranges))
		for j, r := range p.Ranges {
			ip.Ranges[j] = ipam.Range{First: r.From, Last: r.To}
		}
		if sa := p.ServiceAllocation; sa != nil {
			a := &ipam.ServiceAllocation{Priority: sa.Priority, Namespaces: sa.Namespaces}
			var err error
			if a.NamespaceSelectors, err = selectors(sa.NamespaceSelectors); err != nil {
				return nil, fmt.Errorf("pool %q spec.serviceAllocation.namespaceSelectors: %w", p.Name, err)
			}
			if a.ServiceSelectors, err = selectors(sa.ServiceSelectors); err != nil {
				return nil, fmt.Errorf("pool %q spec.serviceAllocation.serviceSelectors: %w", p.Name, err)
			}
			ip.Allocation = a
		}
		out = append(out, ip)
	}
	return out, nil
}

// selectors converts label selectors into the allocator's matchers.
func selectors(in []metav1.LabelSelector) ([]ipam.Selector, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]ipam.Selector, len(in))
	for i := range in {
		sel, err := metav1.LabelSelectorAsSelector(&in[i])
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out[i] = func(l map[string]string) bool { return sel.Matches(labels.Set(l)) }
	}
	return out, nil
}

// samePools reports whether two Snapshots give the allocator the same
// pools. Origin (bookkeeping) and Labels (used only by advertisements) do
// not matter.
func samePools(a, b *config.Snapshot) bool {
	if a == nil || b == nil {
		return a == b
	}
	if len(a.Pools) != len(b.Pools) {
		return false
	}
	for i := range a.Pools {
		pa, pb := a.Pools[i], b.Pools[i]
		pa.Origin, pb.Origin = config.Origin{}, config.Origin{}
		pa.Labels, pb.Labels = nil, nil
		if !reflect.DeepEqual(pa, pb) {
			return false
		}
	}
	return true
}

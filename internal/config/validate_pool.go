package config

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/ironlb/ironlb/api/v1beta1"
)

func (b *builder) buildPools(cands []candidate[v1beta1.IPAddressPool]) *kindRun[v1beta1.IPAddressPool, Pool] {
	r := newKindRun(b, KindIPAddressPool, cands, b.prev.Pool)
	r.validate(validatePool)
	r.resolveConflicts(
		func(a, b *Pool) bool { return slices.Equal(a.Ranges, b.Ranges) },
		poolsOverlap,
	)
	return r
}

// validatePool checks one IPAddressPool on its own.
func validatePool(c *candidate[v1beta1.IPAddressPool], p *problems) Pool {
	spec := &c.obj.Spec
	pool := Pool{Name: c.name, Labels: maps.Clone(c.obj.Labels), AutoAssign: true, AvoidBuggyIPs: spec.AvoidBuggyIPs,
		AllowCrossNamespaceSharing: spec.AllowCrossNamespaceSharing}
	if c.name == "" {
		p.add(v1beta1.ReasonInvalidSpec, "metadata.name", "", "missing; every pool needs a name")
	}
	if spec.AutoAssign != nil {
		pool.AutoAssign = *spec.AutoAssign
	}
	if len(spec.Addresses) == 0 {
		p.add(v1beta1.ReasonInvalidSpec, "spec.addresses", "", "no addresses; list at least one CIDR (such as 192.168.1.240/28) or range (such as 192.168.1.240-192.168.1.250)")
	}
	var index []int // index[k] is the spec.addresses index of pool.Ranges[k]
	for i, s := range spec.Addresses {
		field := fmt.Sprintf("spec.addresses[%d]", i)
		r, err := ParseAddressRange(s)
		if err != nil {
			p.add(v1beta1.ReasonInvalidSpec, field, s, "%v", err)
			continue
		}
		if !c.origin.Legacy && strings.Contains(s, "/") {
			if pf, err := netip.ParsePrefix(strings.TrimSpace(s)); err == nil && pf != pf.Masked() {
				p.add(v1beta1.ReasonInvalidSpec, field, s, "has bits set after its prefix length; write %s", pf.Masked())
			}
		}
		for k, o := range pool.Ranges {
			if r.Overlaps(o) {
				p.add(v1beta1.ReasonInvalidSpec, field, s, "overlaps spec.addresses[%d] (%s) of the same pool; list each address once", index[k], o)
				break
			}
		}
		pool.Ranges = append(pool.Ranges, r)
		index = append(index, i)
	}
	if sa := spec.ServiceAllocation; sa != nil {
		if sa.Priority < 0 {
			p.add(v1beta1.ReasonInvalidSpec, "spec.serviceAllocation.priority", fmt.Sprint(sa.Priority), "must be 0 (no priority) or more; lower numbers are tried first")
		}
		for i, ns := range sa.Namespaces {
			if ns == "" {
				p.add(v1beta1.ReasonInvalidSpec, fmt.Sprintf("spec.serviceAllocation.namespaces[%d]", i), "", "empty namespace name")
			}
		}
		checkSelectors(p, "spec.serviceAllocation.namespaceSelectors", sa.NamespaceSelectors)
		checkSelectors(p, "spec.serviceAllocation.serviceSelectors", sa.ServiceSelectors)
		pool.ServiceAllocation = &ServiceAllocation{
			Priority:           sa.Priority,
			Namespaces:         slices.Clone(sa.Namespaces),
			NamespaceSelectors: cloneSelectors(sa.NamespaceSelectors),
			ServiceSelectors:   cloneSelectors(sa.ServiceSelectors),
		}
	}
	return pool
}

// poolsOverlap reports, on p, the first range of v that overlaps a range
// of other.
func poolsOverlap(v, other *Pool, otherName string, p *problems) bool {
	for i, r := range v.Ranges {
		for _, o := range other.Ranges {
			if r.Overlaps(o) {
				p.add(v1beta1.ReasonOverlap, fmt.Sprintf("spec.addresses[%d]", i), r.String(),
					"overlaps %s of IPAddressPool %q, which keeps those addresses (it was in use first, or is older); make the pools disjoint", o, otherName)
				return true
			}
		}
	}
	return false
}

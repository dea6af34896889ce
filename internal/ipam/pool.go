package ipam

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
)

// Pool is an address pool as configured (an IPAddressPool, or a pool of the
// legacy ConfigMap).
type Pool struct {
	// Name identifies the pool; unique and non-empty.
	Name string
	// Ranges are the pool's addresses, IPv4 and IPv6 mixed freely.
	// Overlapping or touching ranges of one pool are merged; ranges of
	// different pools must not overlap.
	Ranges []Range
	// AutoAssign lets Services that name neither an address nor a pool get
	// an address from this pool. Explicit requests ignore it.
	AutoAssign bool
	// AvoidBuggyIPs excludes IPv4 addresses ending in .0 or .255.
	AvoidBuggyIPs bool
	// AllowCrossNamespaceSharing lets Services of different namespaces
	// share an address of the pool (with one sharing key); otherwise only
	// Services of one namespace can.
	AllowCrossNamespaceSharing bool
	// Allocation restricts which Services may use the pool and orders the
	// pools for automatic assignment; nil means every Service may use it.
	Allocation *ServiceAllocation
}

// ServiceAllocation is a pool's serviceAllocation: which Services may use it
// and its priority among pools.
type ServiceAllocation struct {
	// Priority orders pools for automatic assignment: a lower positive
	// number is tried first; 0 (or negative) means unset and comes after
	// every positive priority (MetalLB's rule). Pools without
	// ServiceAllocation come after all pools with one.
	Priority int
	// Namespaces and NamespaceSelectors: when either is non-empty, the
	// Service's namespace must be listed or its labels must match one
	// selector.
	Namespaces         []string
	NamespaceSelectors []Selector
	// ServiceSelectors: when non-empty, the Service's labels must match one.
	ServiceSelectors []Selector
}

// Selector matches a label set. The config package builds these from
// metav1.LabelSelector. A nil Selector matches nothing.
type Selector func(labels map[string]string) bool

// MatchLabels returns a Selector requiring every key of want to be present
// with the same value; an empty want matches every label set.
func MatchLabels(want map[string]string) Selector {
	return func(labels map[string]string) bool {
		for k, v := range want {
			if got, ok := labels[k]; !ok || got != v {
				return false
			}
		}
		return true
	}
}

func anyMatch(sels []Selector, labels map[string]string) bool {
	for _, s := range sels {
		if s != nil && s(labels) {
			return true
		}
	}
	return false
}

// poolState is a pool with its allocation state.
type poolState struct {
	cfg Pool
	// spans per family index (0 IPv4, 1 IPv6), ascending and disjoint.
	spans [2][]*span
	// hint per family: every span before it is full.
	hint [2]int
	// members lists the Services holding addresses of this pool (an
	// intrusive list through holding.prev/next: no hashing per allocation).
	members *holding
}

func newPoolState(p Pool) (*poolState, error) {
	if p.Name == "" {
		return nil, fmt.Errorf("pool with ranges %v: name must not be empty", p.Ranges)
	}
	for _, r := range p.Ranges {
		if err := r.validate(); err != nil {
			return nil, fmt.Errorf("pool %q: %w", p.Name, err)
		}
	}
	ps := &poolState{cfg: p}
	ps.cfg.Ranges = normalizeRanges(p.Ranges)
	for _, r := range ps.cfg.Ranges {
		i := r.Family().index()
		ps.spans[i] = append(ps.spans[i], newSpan(r, ps, p.AvoidBuggyIPs))
	}
	return ps, nil
}

// link adds h to the pool's members.
func (p *poolState) link(h *holding) {
	h.prev, h.next = nil, p.members
	if p.members != nil {
		p.members.prev = h
	}
	p.members = h
}

// unlink removes h from the pool's members.
func (p *poolState) unlink(h *holding) {
	if h.prev != nil {
		h.prev.next = h.next
	} else {
		p.members = h.next
	}
	if h.next != nil {
		h.next.prev = h.prev
	}
	h.prev, h.next = nil, nil
}

// name returns the pool's name.
func (p *poolState) name() string { return p.cfg.Name }

// offers reports whether the pool has at least one usable address of f.
func (p *poolState) offers(f Family) bool {
	for _, s := range p.spans[f.index()] {
		if !s.empty {
			return true
		}
	}
	return false
}

// lowestFree returns the lowest free address of family f and its span.
// Spans before the hint are full, so filling a pool of many ranges costs
// amortized O(1) per range on top of the O(log n) tree lookup.
func (p *poolState) lowestFree(f Family) (netip.Addr, *span, bool) {
	i := f.index()
	for ; p.hint[i] < len(p.spans[i]); p.hint[i]++ {
		s := p.spans[i][p.hint[i]]
		if a, ok := s.lowestFree(); ok {
			return a, s, true
		}
	}
	return netip.Addr{}, nil, false
}

// freed tells the pool that an address of s became free.
func (p *poolState) freed(s *span) {
	i := s.Family().index()
	if j, ok := slices.BinarySearchFunc(p.spans[i], s.First, func(x *span, a netip.Addr) int {
		return x.First.Compare(a)
	}); ok && j < p.hint[i] {
		p.hint[i] = j
	}
}

// permits reports whether svc may use the pool under its serviceAllocation.
func (p *poolState) permits(svc *Service) bool {
	sa := p.cfg.Allocation
	if sa == nil {
		return true
	}
	if len(sa.Namespaces) > 0 || len(sa.NamespaceSelectors) > 0 {
		if !slices.Contains(sa.Namespaces, svc.Namespace) && !anyMatch(sa.NamespaceSelectors, svc.NamespaceLabels) {
			return false
		}
	}
	if len(sa.ServiceSelectors) > 0 && !anyMatch(sa.ServiceSelectors, svc.Labels) {
		return false
	}
	return true
}

// comparePools orders pools for automatic assignment: pools with a
// serviceAllocation first, by positive priority ascending, then priority 0;
// then pools without serviceAllocation; ties by name.
func comparePools(a, b *poolState) int {
	rank := func(p *poolState) (int, int) {
		switch sa := p.cfg.Allocation; {
		case sa == nil:
			return 2, 0
		case sa.Priority > 0:
			return 0, sa.Priority
		default:
			return 1, 0
		}
	}
	ca, pa := rank(a)
	cb, pb := rank(b)
	return cmp.Or(cmp.Compare(ca, cb), cmp.Compare(pa, pb), cmp.Compare(a.name(), b.name()))
}

package ipam

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
)

// Allocation is the addresses a Service holds and the pool they come from.
type Allocation struct {
	// IPs has one address per allocated family, in the order of the
	// Service's Families.
	IPs  []netip.Addr
	Pool string
}

// Allocator tracks pools and the addresses Services hold. The zero value is
// not usable; call New. Not safe for concurrent use (see the package doc).
type Allocator struct {
	pools   map[string]*poolState
	ordered []*poolState // for automatic assignment (comparePools)
	index   [2][]*span   // every span per family, ascending and disjoint

	services map[string]*holding
	ips      map[netip.Addr]*ipUse
	// shared maps a sharing key to the addresses held under it.
	shared map[string]map[netip.Addr]struct{}

	// candidates is scratch space for candidatePools, reused between calls.
	candidates []*poolState
}

// holding is what one Service holds.
type holding struct {
	svc Service
	choice
	prev, next *holding // in choice.pool's members list
}

func (h *holding) allocation() Allocation {
	return Allocation{IPs: slices.Clone(h.ips()), Pool: h.pool.name()}
}

// ipUse is one address in use. Its holders all have the same non-empty
// sharing key, or there is exactly one holder.
type ipUse struct {
	span    *span
	holders []*holding  // sorted by key
	first   [1]*holding // backing array for the usual single holder
}

// New returns an Allocator with no pools.
func New() *Allocator {
	return &Allocator{
		pools:    map[string]*poolState{},
		services: map[string]*holding{},
		ips:      map[netip.Addr]*ipUse{},
		shared:   map[string]map[netip.Addr]struct{}{},
	}
}

// SetPools replaces the pool set. It returns an error, and changes nothing,
// when a pool is invalid (empty or duplicate name, malformed range) or two
// pools overlap; the config package rejects those first.
//
// Every address a Service holds stays with it while it is a usable address
// of a pool the Service may use (serviceAllocation, its address-pool
// annotation, its requested addresses; autoAssign does not matter). The
// others are released, and the keys of the Services that lost an address
// are returned, sorted: the controller should Allocate them again (a
// dual-stack Service may keep its other address) and emit an Event.
func (a *Allocator) SetPools(pools []Pool) ([]string, error) {
	next := map[string]*poolState{}
	var index [2][]*span
	for _, p := range pools {
		if _, dup := next[p.Name]; dup {
			return nil, fmt.Errorf("set pools: pool %q is defined twice", p.Name)
		}
		ps, err := newPoolState(p)
		if err != nil {
			return nil, fmt.Errorf("set pools: %w", err)
		}
		next[p.Name] = ps
		for i := range index {
			index[i] = append(index[i], ps.spans[i]...)
		}
	}
	for i := range index {
		slices.SortFunc(index[i], func(x, y *span) int { return x.First.Compare(y.First) })
		for j := 1; j < len(index[i]); j++ {
			prev, cur := index[i][j-1], index[i][j]
			if !prev.Last.Less(cur.First) {
				return nil, fmt.Errorf("set pools: pool %q range %s overlaps pool %q range %s; an address belongs to one pool only",
					prev.pool.name(), prev.Range, cur.pool.name(), cur.Range)
			}
		}
	}

	old := a.services
	a.pools, a.index = next, index
	a.ordered = slices.SortedFunc(maps.Values(next), comparePools)
	a.services = make(map[string]*holding, len(old))
	a.ips = make(map[netip.Addr]*ipUse, len(a.ips))
	a.shared = map[string]map[netip.Addr]struct{}{}

	var changed []string
	for _, key := range slices.Sorted(maps.Keys(old)) {
		h := old[key]
		kept := choice{}
		if d, err := demandOf(&h.svc); err == nil {
			kept = a.validHeld(&h.svc, d, h.ips())
		}
		if kept.n != h.n {
			changed = append(changed, key)
		}
		if kept.n > 0 {
			a.attach(h.svc, kept)
		}
	}
	return changed, nil
}

// spanFor returns the span containing ip (usable or not), or nil.
func (a *Allocator) spanFor(ip netip.Addr) *span {
	spans := a.index[FamilyOf(ip).index()]
	j, found := slices.BinarySearchFunc(spans, ip, func(s *span, x netip.Addr) int { return s.First.Compare(x) })
	if found {
		return spans[j]
	}
	if j == 0 {
		return nil
	}
	if s := spans[j-1]; s.Contains(ip) {
		return s
	}
	return nil
}

// attach records that svc holds c.
func (a *Allocator) attach(svc Service, c choice) *holding {
	h := &holding{svc: svc, choice: c}
	key := svc.Request.SharingKey
	for i, ip := range h.ips() {
		use := a.ips[ip]
		if use == nil {
			use = &ipUse{span: h.spans[i]}
			use.holders = use.first[:0]
			a.ips[ip] = use
			use.span.mark(ip)
		}
		j, _ := slices.BinarySearchFunc(use.holders, svc.Key, func(x *holding, k string) int { return strings.Compare(x.svc.Key, k) })
		use.holders = slices.Insert(use.holders, j, h)
		if key != "" {
			set := a.shared[key]
			if set == nil {
				set = map[netip.Addr]struct{}{}
				a.shared[key] = set
			}
			set[ip] = struct{}{}
		}
	}
	h.pool.link(h)
	a.services[svc.Key] = h
	return h
}

// detach forgets what h holds, freeing addresses nobody else holds.
func (a *Allocator) detach(h *holding) {
	key := h.svc.Request.SharingKey
	for i, ip := range h.ips() {
		use := a.ips[ip]
		use.holders = slices.DeleteFunc(use.holders, func(x *holding) bool { return x == h })
		if len(use.holders) > 0 {
			continue
		}
		delete(a.ips, ip)
		h.spans[i].unmark(ip)
		h.pool.freed(h.spans[i])
		if key != "" {
			delete(a.shared[key], ip)
			if len(a.shared[key]) == 0 {
				delete(a.shared, key)
			}
		}
	}
	h.pool.unlink(h)
	delete(a.services, h.svc.Key)
}

// Release frees what the Service with key holds; addresses no other Service
// shares become free for reuse. It reports whether the Service held any.
func (a *Allocator) Release(key string) bool {
	h := a.services[key]
	if h == nil {
		return false
	}
	a.detach(h)
	return true
}

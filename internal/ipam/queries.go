package ipam

import (
	"maps"
	"net/netip"
	"slices"
)

// Allocation returns what the Service with key holds.
func (a *Allocator) Allocation(key string) (Allocation, bool) {
	h := a.services[key]
	if h == nil {
		return Allocation{}, false
	}
	return h.allocation(), true
}

// Lookup returns the keys of the Services holding ip, sorted; nil if none.
func (a *Allocator) Lookup(ip netip.Addr) []string {
	use := a.ips[ip]
	if use == nil {
		return nil
	}
	keys := make([]string, len(use.holders))
	for i, h := range use.holders {
		keys[i] = h.svc.Key
	}
	return keys
}

// PoolFor returns the pool of which ip is a usable address.
func (a *Allocator) PoolFor(ip netip.Addr) (string, bool) {
	s := a.spanFor(ip)
	if s == nil {
		return "", false
	}
	if _, ok := s.ordinal(ip); !ok {
		return "", false
	}
	return s.pool.name(), true
}

// ServicesInPool returns the keys of the Services holding addresses of the
// pool, sorted; nil if none or no such pool.
func (a *Allocator) ServicesInPool(pool string) []string {
	p := a.pools[pool]
	if p == nil || p.members == nil {
		return nil
	}
	var keys []string
	for h := p.members; h != nil; h = h.next {
		keys = append(keys, h.svc.Key)
	}
	slices.Sort(keys)
	return keys
}

// Pools returns the names of the pools, sorted.
func (a *Allocator) Pools() []string { return slices.Sorted(maps.Keys(a.pools)) }

// PoolUsage counts the addresses of a pool per family.
type PoolUsage struct {
	IPv4, IPv6 FamilyUsage
}

// FamilyUsage counts addresses of one family. An address shared by several
// Services counts once. Available excludes addresses avoidBuggyIPs removes
// and saturates at math.MaxInt64 (an IPv6 /64 has 2^64 addresses): treat
// math.MaxInt64 as "practically unlimited".
type FamilyUsage struct {
	Assigned  int64
	Available int64
}

// Usage returns the address counts of a pool, and false if no such pool.
func (a *Allocator) Usage(pool string) (PoolUsage, bool) {
	p := a.pools[pool]
	if p == nil {
		return PoolUsage{}, false
	}
	count := func(spans []*span) FamilyUsage {
		var u FamilyUsage
		for _, s := range spans {
			u.Assigned += int64(s.used.len())
			u.Available = addSat(u.Available, s.available())
		}
		return u
	}
	return PoolUsage{IPv4: count(p.spans[0]), IPv6: count(p.spans[1])}, true
}

// addSat adds two non-negative int64s, saturating at math.MaxInt64.
func addSat(x, y int64) int64 {
	if s := x + y; s >= x {
		return s
	}
	return int64(^uint64(0) >> 1)
}

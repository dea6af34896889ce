package ipam

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
)

// Range is an inclusive interval of addresses of one family, First <= Last.
// A CIDR is the range from its network address to its last address (every
// address is usable, as in MetalLB; use AvoidBuggyIPs to drop .0 and .255).
type Range struct {
	First, Last netip.Addr
}

// PrefixRange returns the range of every address in p (p is masked first).
// An invalid prefix gives the zero Range, which SetPools rejects.
func PrefixRange(p netip.Prefix) Range {
	if !p.IsValid() {
		return Range{}
	}
	p = p.Masked()
	first := p.Addr()
	bitsLeft := first.BitLen() - p.Bits()
	last := fromU128(toU128(first).add(lowMask(bitsLeft)), FamilyOf(first))
	return Range{First: first, Last: last}
}

// lowMask returns an integer with the low n bits set (0 <= n <= 128).
func lowMask(n int) u128 {
	switch {
	case n <= 0:
		return u128{}
	case n >= 128:
		return maxU128
	case n >= 64:
		return u128{hi: 1<<(n-64) - 1, lo: ^uint64(0)}
	default:
		return u64(1<<n - 1)
	}
}

// Family returns the family of the range.
func (r Range) Family() Family { return FamilyOf(r.First) }

// Contains reports whether a is in r.
func (r Range) Contains(a netip.Addr) bool {
	return a.BitLen() == r.First.BitLen() && r.First.Compare(a) <= 0 && a.Compare(r.Last) <= 0
}

// String renders the range as "first-last".
func (r Range) String() string { return r.First.String() + "-" + r.Last.String() }

// validate checks that r is usable: valid addresses without zone, one
// family, not IPv4-mapped, First <= Last.
func (r Range) validate() error {
	switch {
	case !r.First.IsValid() || !r.Last.IsValid():
		return fmt.Errorf("range %s: both ends must be valid addresses", r)
	case r.First.Zone() != "" || r.Last.Zone() != "":
		return fmt.Errorf("range %s: addresses must not have a zone", r)
	case r.First.Is4In6() || r.Last.Is4In6():
		return fmt.Errorf("range %s: IPv4-mapped IPv6 addresses are not allowed; write the IPv4 address", r)
	case r.First.BitLen() != r.Last.BitLen():
		return fmt.Errorf("range %s: both ends must be of one family", r)
	case r.Last.Less(r.First):
		return fmt.Errorf("range %s: first address is after the last", r)
	}
	return nil
}

// normalizeRanges sorts ranges by family (IPv4 first) and start, and merges
// those that overlap or touch, so no address belongs to two ranges.
func normalizeRanges(in []Range) []Range {
	rs := slices.Clone(in)
	slices.SortFunc(rs, func(a, b Range) int {
		return cmp.Or(a.First.BitLen()-b.First.BitLen(), a.First.Compare(b.First))
	})
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 {
			prev := &out[n-1]
			if prev.First.BitLen() == r.First.BitLen() && touches(prev.Last, r.First) {
				if prev.Last.Less(r.Last) {
					prev.Last = r.Last
				}
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

// touches reports whether b <= a+1 (a and b of one family).
func touches(a, b netip.Addr) bool {
	next := a.Next()
	return !next.IsValid() || b.Compare(next) <= 0
}

// span is one range of a pool with its allocation state.
type span struct {
	Range
	pool  *poolState
	num   numbering
	lo    u128 // ordinal of the first usable address
	hi    u128 // ordinal of the last usable address
	empty bool // no usable address at all
	used  usedSet
}

func newSpan(r Range, p *poolState, avoidBuggy bool) *span {
	s := &span{Range: r, pool: p, num: newNumbering(r.Family(), avoidBuggy)}
	lo, hi, ok := s.num.bounds(r.First, r.Last)
	s.lo, s.hi, s.empty = lo, hi, !ok
	return s
}

// ordinal returns a's ordinal if a is a usable address of s.
func (s *span) ordinal(a netip.Addr) (u128, bool) {
	if s.empty || !s.Contains(a) {
		return u128{}, false
	}
	return s.num.ordinal(a)
}

// full reports whether every usable address is in use.
func (s *span) full() bool {
	if s.empty {
		return true
	}
	d := s.hi.sub(s.lo) // size - 1
	return d.hi == 0 && d.lo != ^uint64(0) && s.used.len() == d.lo+1
}

// available returns the number of usable addresses not in use, saturated
// at math.MaxInt64.
func (s *span) available() int64 {
	if s.empty {
		return 0
	}
	d := s.hi.sub(s.lo)
	if d == maxU128 {
		return maxU128.sub(u64(s.used.len())).int64Sat() // 2^128 - n, saturated anyway
	}
	return d.add1().sub(u64(s.used.len())).int64Sat()
}

// lowestFree returns the lowest usable address not in use.
func (s *span) lowestFree() (netip.Addr, bool) {
	if s.full() {
		return netip.Addr{}, false
	}
	o, ok := s.used.nextFree(s.lo)
	if !ok || s.hi.less(o) {
		return netip.Addr{}, false // unreachable: the intervals are maximal
	}
	return s.num.addr(o), true
}

// mark records a as in use; a must be a usable address of s.
func (s *span) mark(a netip.Addr) {
	if o, ok := s.ordinal(a); ok {
		s.used.add(o)
	}
}

// unmark records a as free.
func (s *span) unmark(a netip.Addr) {
	if o, ok := s.ordinal(a); ok {
		s.used.remove(o)
	}
}

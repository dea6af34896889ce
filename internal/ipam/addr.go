package ipam

import (
	"encoding/binary"
	"net/netip"
)

// Family is an IP address family. Its values are spelled as Kubernetes
// spells spec.ipFamilies, so the controller converts with Family(f).
type Family string

// The address families.
const (
	IPv4 Family = "IPv4"
	IPv6 Family = "IPv6"
)

// valid reports whether f is IPv4 or IPv6.
func (f Family) valid() bool { return f == IPv4 || f == IPv6 }

// other returns the other family.
func (f Family) other() Family {
	if f == IPv6 {
		return IPv4
	}
	return IPv6
}

// index is 0 for IPv4 and 1 for IPv6, for per-family arrays.
func (f Family) index() int {
	if f == IPv6 {
		return 1
	}
	return 0
}

// FamilyOf returns the family of a valid address. IPv4-mapped IPv6
// addresses (::ffff:a.b.c.d) are IPv6: ipam never unmaps silently.
func FamilyOf(a netip.Addr) Family {
	if a.Is4() {
		return IPv4
	}
	return IPv6
}

// toU128 returns a as an integer: IPv4 in the low 32 bits.
func toU128(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u64(uint64(binary.BigEndian.Uint32(b[:])))
	}
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// fromU128 is the inverse of toU128 for the given family.
func fromU128(x u128, f Family) netip.Addr {
	if f == IPv4 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(x.lo))
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], x.hi)
	binary.BigEndian.PutUint64(b[8:], x.lo)
	return netip.AddrFrom16(b)
}

// isBuggy reports whether a is an IPv4 address ending in .0 or .255, which
// some consumer routers drop (smurf protection) and avoidBuggyIPs excludes.
func isBuggy(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	last := a.As4()[3]
	return last == 0 || last == 255
}

// numbering maps the usable addresses of one family to dense ordinals, so a
// range's free addresses form one contiguous integer interval even when
// avoidBuggyIPs removes every .0 and .255. Without that option the ordinal of
// an address is the address itself.
//
// With it (IPv4 only), each /24 block b contributes the 254 ordinals
// b*254 .. b*254+253 for the addresses b.1 .. b.254.
type numbering struct {
	family Family
	skip   bool // avoidBuggyIPs applies
}

func newNumbering(f Family, avoidBuggy bool) numbering {
	return numbering{family: f, skip: avoidBuggy && f == IPv4}
}

// ordinal returns the ordinal of a, and false when a is excluded.
func (n numbering) ordinal(a netip.Addr) (u128, bool) {
	x := toU128(a)
	if !n.skip {
		return x, true
	}
	block, octet := x.lo>>8, x.lo&0xff
	if octet == 0 || octet == 255 {
		return u128{}, false
	}
	return u64(block*254 + octet - 1), true
}

// addr returns the address with ordinal o.
func (n numbering) addr(o u128) netip.Addr {
	if !n.skip {
		return fromU128(o, n.family)
	}
	block, off := o.lo/254, o.lo%254
	return fromU128(u64(block<<8|(off+1)), IPv4)
}

// bounds returns the ordinals of the first and last usable addresses in
// [first, last] (same family, first <= last), and false when none is usable.
func (n numbering) bounds(first, last netip.Addr) (lo, hi u128, ok bool) {
	if !n.skip {
		return toU128(first), toU128(last), true
	}
	f, l := toU128(first).lo, toU128(last).lo
	switch f & 0xff {
	case 0:
		f++
	case 255:
		f += 2 // x.255 -> x+1.1; may pass 255.255.255.255, caught below
	}
	switch l & 0xff {
	case 255:
		l--
	case 0:
		if l < 256 {
			return u128{}, u128{}, false
		}
		l -= 2 // x.0 -> x-1.254
	}
	if f > l {
		return u128{}, u128{}, false
	}
	lo, _ = n.ordinal(fromU128(u64(f), IPv4))
	hi, _ = n.ordinal(fromU128(u64(l), IPv4))
	return lo, hi, true
}

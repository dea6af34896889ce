package config

import (
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"strings"
)

// AddressRange is an inclusive range of IP addresses of one family: every
// address a with From <= a <= To. From and To are valid, of the same family
// (both IPv4, or both IPv6 and not IPv4-mapped), carry no zone, and
// From <= To. ParseAddressRange is the only constructor that checks this;
// the zero AddressRange is invalid.
type AddressRange struct {
	From netip.Addr
	To   netip.Addr
}

// ParseAddressRange parses one entry of an address list, in either form
// ironlb (and MetalLB before it) accepts:
//
//   - a CIDR prefix, "192.168.1.240/28" or "fd00:200::/120". Bits below the
//     prefix length are ignored, as MetalLB does: "10.0.0.5/24" is 10.0.0.0/24.
//   - a range "first-last" of two addresses of the same family with
//     first <= last, spaces around the dash allowed:
//     "192.168.1.240-192.168.1.250", "fd00::10 - fd00::20".
//
// A bare address without a prefix length is refused, as MetalLB refuses it;
// the message says to write it as /32 or /128. Zones ("fe80::1%eth0") and
// IPv4-mapped IPv6 addresses ("::ffff:10.0.0.1") are refused too, because
// they name no routable load-balancer address unambiguously.
//
// Errors are plain sentences about the value (no field name); callers wrap
// them into a FieldError.
func ParseAddressRange(s string) (AddressRange, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return AddressRange{}, errors.New("empty address; write a CIDR such as 192.168.1.240/28 or a range such as 192.168.1.240-192.168.1.250")
	}
	if from, to, ok := strings.Cut(s, "-"); ok {
		return parseDashRange(from, to)
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		if a, aerr := netip.ParseAddr(s); aerr == nil {
			if zerr := checkAddr(a); zerr != nil {
				return AddressRange{}, zerr
			}
			return AddressRange{}, fmt.Errorf("a single address needs a prefix length: write %s/%d", a, a.BitLen())
		}
		return AddressRange{}, errors.New("not a CIDR (such as 192.168.1.240/28) or a range (such as 192.168.1.240-192.168.1.250)")
	}
	if err := checkAddr(p.Addr()); err != nil {
		return AddressRange{}, err
	}
	return PrefixRange(p), nil
}

func parseDashRange(fromText, toText string) (AddressRange, error) {
	from, err := parseRangeEnd(fromText, "first")
	if err != nil {
		return AddressRange{}, err
	}
	to, err := parseRangeEnd(toText, "last")
	if err != nil {
		return AddressRange{}, err
	}
	if from.Is4() != to.Is4() {
		return AddressRange{}, fmt.Errorf("first address %s and last address %s are of different families; a range is all IPv4 or all IPv6", from, to)
	}
	if to.Less(from) {
		return AddressRange{}, fmt.Errorf("first address %s is above last address %s; write the lower address first (%s-%s)", from, to, to, from)
	}
	return AddressRange{From: from, To: to}, nil
}

func parseRangeEnd(s, which string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%s address %q of the range is not an IP address; write a range as 192.168.1.240-192.168.1.250", which, s)
	}
	return a, checkAddr(a)
}

func checkAddr(a netip.Addr) error {
	switch {
	case a.Zone() != "":
		return fmt.Errorf("address %s has a zone; load-balancer addresses take no zone", a)
	case a.Is4In6():
		return fmt.Errorf("address %s is an IPv4-mapped IPv6 address; write it as IPv4 (%s)", a, a.Unmap())
	}
	return nil
}

// PrefixRange returns the range covering exactly the prefix p (masked
// first). p must be valid.
func PrefixRange(p netip.Prefix) AddressRange {
	p = p.Masked()
	return AddressRange{From: p.Addr(), To: lastAddr(p)}
}

// String returns the canonical text of r: the CIDR form when r is exactly
// one prefix, otherwise "first-last". ParseAddressRange(r.String()) == r.
func (r AddressRange) String() string {
	if !r.From.IsValid() {
		return "invalid range"
	}
	if ps := r.Prefixes(); len(ps) == 1 {
		return ps[0].String()
	}
	return r.From.String() + "-" + r.To.String()
}

// Is4 reports whether r is an IPv4 range.
func (r AddressRange) Is4() bool { return r.From.Is4() }

// Contains reports whether a is inside r.
func (r AddressRange) Contains(a netip.Addr) bool {
	return a.Is4() == r.Is4() && !a.Less(r.From) && !r.To.Less(a)
}

// Overlaps reports whether r and o share at least one address. Ranges of
// different families never overlap.
func (r AddressRange) Overlaps(o AddressRange) bool {
	return r.Is4() == o.Is4() && !r.To.Less(o.From) && !o.To.Less(r.From)
}

// Count returns the number of addresses in r. It is a big.Int because an
// IPv6 range can hold up to 2^128 addresses, more than a uint64 holds; the
// caller owns the result.
func (r AddressRange) Count() *big.Int {
	n := new(big.Int).Sub(addrInt(r.To), addrInt(r.From))
	return n.Add(n, big.NewInt(1))
}

// Prefixes returns the shortest list of CIDR prefixes that covers exactly
// r, in address order. A CIDR entry gives one prefix; a range gives up to
// 2*bits-2 of them.
func (r AddressRange) Prefixes() []netip.Prefix {
	var out []netip.Prefix
	from := r.From
	for {
		p := largestPrefixAt(from, r.To)
		out = append(out, p)
		last := lastAddr(p)
		if !last.Less(r.To) {
			return out
		}
		from = last.Next()
	}
}

// ShortestPrefixLen returns the smallest prefix length among r.Prefixes():
// the length of the largest CIDR the range covers. An aggregation length
// shorter than this would announce addresses outside the range.
func (r AddressRange) ShortestPrefixLen() int {
	bits := r.From.BitLen()
	for _, p := range r.Prefixes() {
		bits = min(bits, p.Bits())
	}
	return bits
}

// largestPrefixAt returns the largest prefix that starts at from and ends
// at or before to (from <= to, same family).
func largestPrefixAt(from, to netip.Addr) netip.Prefix {
	for bits := 0; bits < from.BitLen(); bits++ {
		p := netip.PrefixFrom(from, bits)
		if p.Masked().Addr() == from && !to.Less(lastAddr(p)) {
			return p
		}
	}
	return netip.PrefixFrom(from, from.BitLen())
}

// lastAddr returns the highest address inside prefix p.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr()
	b := a.As16()
	first := 0
	if a.Is4() {
		first = 12
	}
	for i := first + p.Bits()/8; i < 16; i++ {
		switch {
		case (i-first)*8 >= p.Bits():
			b[i] = 0xff
		default:
			b[i] |= 0xff >> (p.Bits() % 8)
		}
	}
	if a.Is4() {
		return netip.AddrFrom4([4]byte(b[12:]))
	}
	return netip.AddrFrom16(b)
}

func addrInt(a netip.Addr) *big.Int {
	return new(big.Int).SetBytes(a.AsSlice())
}

// countAddresses sums the addresses of the ranges of one family: IPv4 when
// want4 is true, IPv6 otherwise.
func countAddresses(ranges []AddressRange, want4 bool) *big.Int {
	n := new(big.Int)
	for _, r := range ranges {
		if r.Is4() == want4 {
			n.Add(n, r.Count())
		}
	}
	return n
}

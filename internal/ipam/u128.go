package ipam

import (
	"math"
	"math/bits"
)

// u128 is an unsigned 128-bit integer: an IPv6 address, an IPv4 address
// (in lo), or an ordinal in a range's address space. Arithmetic wraps.
type u128 struct{ hi, lo uint64 }

var maxU128 = u128{math.MaxUint64, math.MaxUint64}

func u64(x uint64) u128 { return u128{lo: x} }

func (a u128) cmp(b u128) int {
	switch {
	case a.hi < b.hi:
		return -1
	case a.hi > b.hi:
		return 1
	case a.lo < b.lo:
		return -1
	case a.lo > b.lo:
		return 1
	}
	return 0
}

func (a u128) less(b u128) bool { return a.cmp(b) < 0 }

func (a u128) add(b u128) u128 {
	lo, c := bits.Add64(a.lo, b.lo, 0)
	hi, _ := bits.Add64(a.hi, b.hi, c)
	return u128{hi, lo}
}

func (a u128) sub(b u128) u128 {
	lo, c := bits.Sub64(a.lo, b.lo, 0)
	hi, _ := bits.Sub64(a.hi, b.hi, c)
	return u128{hi, lo}
}

func (a u128) add1() u128 { return a.add(u64(1)) }

func (a u128) sub1() u128 { return a.sub(u64(1)) }

// int64Sat returns a as an int64, saturated at math.MaxInt64.
func (a u128) int64Sat() int64 {
	if a.hi != 0 || a.lo > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(a.lo)
}

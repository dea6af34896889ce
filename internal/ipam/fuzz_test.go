package ipam

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// FuzzParseServiceRequest checks that ParseServiceRequest never panics,
// fails only with *InvalidRequestError, returns only acceptable addresses,
// and round-trips: rendering the result as annotations parses back to it.
func FuzzParseServiceRequest(f *testing.F) {
	f.Add("192.0.2.1,2001:db8::1", "", "blue", "", "k", "")
	f.Add("", "192.0.2.1", "", "", "", "")
	f.Add("192.0.2.1", "2001:db8::1", "a", "b", "", "")
	f.Add(" 2001:db8::1 , 192.0.2.1", "", "", "", "", "2001:db8::1,192.0.2.1")
	f.Add("fe80::1%eth0", "", "", "", "", "")
	f.Add("::ffff:1.2.3.4", "", "", "", "", "")
	f.Add("1.2.3.4,,", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, ipsA, lbIP, poolA, poolB, key, ipsB string) {
		ann := map[string]string{
			"ironlb.io/loadBalancerIPs":           ipsA,
			"metallb.io/loadBalancerIPs":          ipsB,
			"ironlb.io/address-pool":              poolA,
			"metallb.universe.tf/address-pool":    poolB,
			"metallb.universe.tf/allow-shared-ip": key,
		}
		r, err := ParseServiceRequest(ann, lbIP)
		if err != nil {
			var ire *InvalidRequestError
			if !errors.As(err, &ire) || ire.Field == "" || ire.Msg == "" {
				t.Fatalf("error %#v is not a complete *InvalidRequestError", err)
			}
			return
		}
		if len(r.IPs) > 2 || (len(r.IPs) == 2 && FamilyOf(r.IPs[0]) == FamilyOf(r.IPs[1])) {
			t.Fatalf("bad address list %v", r.IPs)
		}
		for _, a := range r.IPs {
			if !a.IsValid() || a.Zone() != "" || a.Is4In6() {
				t.Fatalf("unacceptable address %v", a)
			}
		}
		if r.Pool != strings.TrimSpace(r.Pool) || r.SharingKey != strings.TrimSpace(r.SharingKey) {
			t.Fatalf("untrimmed values %+v", r)
		}
		back, err := ParseServiceRequest(map[string]string{
			"metallb.io/loadBalancerIPs":   addrList(r.IPs),
			"metallb.io/address-pool":      r.Pool,
			"metallb.io/allow-shared-ip":   r.SharingKey,
			"unrelated.example/annotation": "x",
		}, "")
		if err != nil || addrList(back.IPs) != addrList(r.IPs) || back.Pool != r.Pool || back.SharingKey != r.SharingKey {
			t.Fatalf("round trip of %+v gave %+v, %v", r, back, err)
		}
	})
}

// FuzzUsedSet applies a byte-coded sequence of add/remove operations near
// the edges of the 128-bit space and compares with a map.
func FuzzUsedSet(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 0x81, 4, 2, 0x82})
	f.Add([]byte{0xff, 0xfe, 0xfd, 0x7f, 0x7e})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var s usedSet
		model := map[u128]bool{}
		for _, op := range ops {
			// Low 6 bits pick an ordinal in one of two windows: the
			// bottom and the top of the space.
			x := u64(uint64(op & 0x1f))
			if op&0x20 != 0 {
				x = maxU128.sub(x)
			}
			if op&0x80 == 0 {
				if s.add(x) == model[x] {
					t.Fatalf("add(%v) disagrees with model", x)
				}
				model[x] = true
			} else {
				if s.remove(x) != model[x] {
					t.Fatalf("remove(%v) disagrees with model", x)
				}
				delete(model, x)
			}
		}
		checkUsedSet(t, &s, model)
		for _, from := range []u128{{}, maxU128.sub(u64(31))} {
			want, wantOK := from, true
			for model[want] {
				if want == maxU128 {
					wantOK = false
					break
				}
				want = want.add1()
			}
			if got, ok := s.nextFree(from); ok != wantOK || (ok && got != want) {
				t.Fatalf("nextFree(%v) = %v,%v want %v,%v", from, got, ok, want, wantOK)
			}
		}
	})
}

// FuzzNumbering checks that avoidBuggyIPs renumbering is a bijection onto
// the usable addresses and that range bounds land on usable addresses.
func FuzzNumbering(f *testing.F) {
	f.Add(uint32(0x0a0000ff), uint32(0x0a000200))
	f.Add(uint32(0), uint32(0xffffffff))
	f.Fuzz(func(t *testing.T, first, last uint32) {
		if first > last {
			first, last = last, first
		}
		n := newNumbering(IPv4, true)
		fa, la := fromU128(u64(uint64(first)), IPv4), fromU128(u64(uint64(last)), IPv4)
		for _, a := range []netip.Addr{fa, la} {
			o, ok := n.ordinal(a)
			if ok == isBuggy(a) {
				t.Fatalf("ordinal(%s) ok=%v", a, ok)
			}
			if ok && n.addr(o) != a {
				t.Fatalf("addr(ordinal(%s)) = %s", a, n.addr(o))
			}
		}
		lo, hi, ok := n.bounds(fa, la)
		if !ok {
			// No usable address: the range is at most .255 then .0.
			if last-first > 1 || (!isBuggy(fa) || !isBuggy(la)) {
				t.Fatalf("bounds(%s, %s) empty", fa, la)
			}
			return
		}
		l, h := n.addr(lo), n.addr(hi)
		if isBuggy(l) || isBuggy(h) || l.Less(fa) || la.Less(h) || h.Less(l) {
			t.Fatalf("bounds(%s, %s) = %s..%s", fa, la, l, h)
		}
		if p := l.Prev(); p.IsValid() && !p.Less(fa) && !isBuggy(p) {
			t.Fatalf("bounds(%s, %s) skipped usable %s", fa, la, p)
		}
		if nx := h.Next(); nx.IsValid() && !la.Less(nx) && !isBuggy(nx) {
			t.Fatalf("bounds(%s, %s) skipped usable %s", fa, la, nx)
		}
	})
}

package ipam

import (
	"math"
	"net/netip"
	"testing"
)

func TestPrefixRange(t *testing.T) {
	tests := []struct{ in, first, last string }{
		{"10.0.0.0/24", "10.0.0.0", "10.0.0.255"},
		{"10.0.0.7/24", "10.0.0.0", "10.0.0.255"},
		{"10.0.0.1/32", "10.0.0.1", "10.0.0.1"},
		{"0.0.0.0/0", "0.0.0.0", "255.255.255.255"},
		{"2001:db8::/64", "2001:db8::", "2001:db8::ffff:ffff:ffff:ffff"},
		{"2001:db8::/63", "2001:db8::", "2001:db8:0:1:ffff:ffff:ffff:ffff"},
		{"2001:db8::/120", "2001:db8::", "2001:db8::ff"},
		{"::/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
		{"2001:db8::1/128", "2001:db8::1", "2001:db8::1"},
	}
	for _, tt := range tests {
		got := PrefixRange(netip.MustParsePrefix(tt.in))
		if got.First.String() != tt.first || got.Last.String() != tt.last {
			t.Errorf("PrefixRange(%s) = %s, want %s-%s", tt.in, got, tt.first, tt.last)
		}
	}
}

func TestNumbering(t *testing.T) {
	tests := []struct {
		name        string
		first, last string
		avoid       bool
		wantEmpty   bool
		lo, hi      string // first and last usable address
		size        int64
	}{
		{"plain /24", "10.0.0.0", "10.0.0.255", false, false, "10.0.0.0", "10.0.0.255", 256},
		{"buggy /24", "10.0.0.0", "10.0.0.255", true, false, "10.0.0.1", "10.0.0.254", 254},
		{"buggy /23", "10.0.0.0", "10.0.1.255", true, false, "10.0.0.1", "10.0.1.254", 508},
		{"buggy starts at .255", "10.0.0.255", "10.0.2.0", true, false, "10.0.1.1", "10.0.1.254", 254},
		{"buggy only .255 and .0", "10.0.0.255", "10.0.1.0", true, true, "", "", 0},
		{"buggy single .0", "10.0.0.0", "10.0.0.0", true, true, "", "", 0},
		{"buggy 0.0.0.0", "0.0.0.0", "0.0.0.0", true, true, "", "", 0},
		{"buggy top", "255.255.255.255", "255.255.255.255", true, true, "", "", 0},
		{"buggy whole space", "0.0.0.0", "255.255.255.255", true, false, "0.0.0.1", "255.255.255.254", 254 << 24},
		{"buggy ignored for v6", "2001:db8::", "2001:db8::ff", true, false, "2001:db8::", "2001:db8::ff", 256},
		{"v6 /64", "2001:db8::", "2001:db8::ffff:ffff:ffff:ffff", false, false, "2001:db8::", "2001:db8::ffff:ffff:ffff:ffff", math.MaxInt64},
		{"v6 whole space", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false, false, "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Range{First: netip.MustParseAddr(tt.first), Last: netip.MustParseAddr(tt.last)}
			s := newSpan(r, nil, tt.avoid)
			if s.empty != tt.wantEmpty {
				t.Fatalf("empty = %v, want %v", s.empty, tt.wantEmpty)
			}
			if got := s.available(); got != tt.size {
				t.Errorf("available = %d, want %d", got, tt.size)
			}
			if tt.wantEmpty {
				if !s.full() {
					t.Errorf("empty span is not full")
				}
				return
			}
			if got := s.num.addr(s.lo).String(); got != tt.lo {
				t.Errorf("first usable = %s, want %s", got, tt.lo)
			}
			if got := s.num.addr(s.hi).String(); got != tt.hi {
				t.Errorf("last usable = %s, want %s", got, tt.hi)
			}
		})
	}
}

func TestNumberingRoundTrip(t *testing.T) {
	n := newNumbering(IPv4, true)
	for _, s := range []string{"10.0.0.1", "10.0.0.254", "10.0.1.1", "0.0.0.1", "255.255.255.254"} {
		a := netip.MustParseAddr(s)
		o, ok := n.ordinal(a)
		if !ok {
			t.Fatalf("ordinal(%s) excluded", a)
		}
		if back := n.addr(o); back != a {
			t.Errorf("addr(ordinal(%s)) = %s", a, back)
		}
		if next := n.addr(o.add1()); isBuggy(next) {
			t.Errorf("successor of %s is %s, excluded", a, next)
		}
	}
	for _, s := range []string{"10.0.0.0", "10.0.0.255"} {
		if _, ok := n.ordinal(netip.MustParseAddr(s)); ok {
			t.Errorf("ordinal(%s) not excluded", s)
		}
	}
}

func TestNormalizeRanges(t *testing.T) {
	got := normalizeRanges([]Range{
		rng(t, "2001:db8::10-2001:db8::20"),
		rng(t, "10.0.0.10-10.0.0.20"),
		rng(t, "10.0.0.21-10.0.0.30"), // touches
		rng(t, "10.0.0.0-10.0.0.12"),  // overlaps
		rng(t, "10.0.1.0/24"),
		rng(t, "2001:db8::1-2001:db8::5"),
		rng(t, "255.255.255.0-255.255.255.255"),
		rng(t, "255.255.255.255-255.255.255.255"),
	})
	want := "[10.0.0.0-10.0.0.30 10.0.1.0-10.0.1.255 255.255.255.0-255.255.255.255 2001:db8::1-2001:db8::5 2001:db8::10-2001:db8::20]"
	if s := fmtRanges(got); s != want {
		t.Errorf("normalizeRanges = %s\nwant %s", s, want)
	}
}

func fmtRanges(rs []Range) string {
	s := "["
	for i, r := range rs {
		if i > 0 {
			s += " "
		}
		s += r.String()
	}
	return s + "]"
}

func TestRangeValidate(t *testing.T) {
	bad := []Range{
		{},
		{First: netip.MustParseAddr("10.0.0.2"), Last: netip.MustParseAddr("10.0.0.1")},
		{First: netip.MustParseAddr("10.0.0.1"), Last: netip.MustParseAddr("2001:db8::1")},
		{First: netip.MustParseAddr("::ffff:10.0.0.1"), Last: netip.MustParseAddr("::ffff:10.0.0.2")},
		{First: netip.MustParseAddr("fe80::1%eth0"), Last: netip.MustParseAddr("fe80::2")},
	}
	for _, r := range bad {
		if err := r.validate(); err == nil {
			t.Errorf("validate(%s) = nil, want error", r)
		}
	}
	if err := rng(t, "10.0.0.1-10.0.0.1").validate(); err != nil {
		t.Errorf("single-address range: %v", err)
	}
}

func TestPrefixRangeInvalid(t *testing.T) {
	if r := PrefixRange(netip.Prefix{}); r != (Range{}) {
		t.Errorf("PrefixRange(invalid) = %v", r)
	}
	if _, err := New().SetPools([]Pool{{Name: "p", Ranges: []Range{PrefixRange(netip.Prefix{})}}}); err == nil {
		t.Errorf("SetPools accepted an invalid range")
	}
}

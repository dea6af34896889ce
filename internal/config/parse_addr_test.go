package config

import (
	"math/big"
	"net/netip"
	"strings"
	"testing"
)

func TestParseAddressRange(t *testing.T) {
	tests := []struct {
		in         string
		want       string // canonical String(); "" when an error is expected
		count      string
		shortest   int
		prefixes   int
		errContain string
	}{
		{in: "192.168.1.240/28", want: "192.168.1.240/28", count: "16", shortest: 28, prefixes: 1},
		{in: "192.168.1.240-192.168.1.250", want: "192.168.1.240-192.168.1.250", count: "11", shortest: 29, prefixes: 3},
		{in: " 192.168.1.240 - 192.168.1.255 ", want: "192.168.1.240/28", count: "16", shortest: 28, prefixes: 1},
		{in: "10.0.0.5/24", want: "10.0.0.0/24", count: "256", shortest: 24, prefixes: 1},
		{in: "10.0.0.7-10.0.0.7", want: "10.0.0.7/32", count: "1", shortest: 32, prefixes: 1},
		{in: "10.0.0.1-10.0.0.6", want: "10.0.0.1-10.0.0.6", count: "6", shortest: 31, prefixes: 4},
		{in: "0.0.0.0/0", want: "0.0.0.0/0", count: "4294967296", shortest: 0, prefixes: 1},
		{in: "fd00:200::240-fd00:200::250", want: "fd00:200::240-fd00:200::250", count: "17", shortest: 124, prefixes: 2},
		{in: "fd00::/64", want: "fd00::/64", count: "18446744073709551616", shortest: 64, prefixes: 1},
		{in: "::/0", want: "::/0", count: "340282366920938463463374607431768211456", shortest: 0, prefixes: 1},
		{in: "10.0.0.1", errContain: "write 10.0.0.1/32"},
		{in: "fd00::1", errContain: "write fd00::1/128"},
		{in: "", errContain: "empty address"},
		{in: "10.0.0.9-10.0.0.1", errContain: "write the lower address first (10.0.0.1-10.0.0.9)"},
		{in: "10.0.0.1-fd00::1", errContain: "different families"},
		{in: "10.0.0.1-", errContain: "last address"},
		{in: "x-10.0.0.1", errContain: "first address \"x\""},
		{in: "10.0.0.1-10.0.0.2-10.0.0.3", errContain: "last address"},
		{in: "10.0.0.0/33", errContain: "not a CIDR"},
		{in: "fe80::1%eth0/64", errContain: "zone"},
		{in: "fe80::1%eth0-fe80::2%eth0", errContain: "zone"},
		{in: "::ffff:10.0.0.1/128", errContain: "write it as IPv4 (10.0.0.1)"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseAddressRange(tt.in)
			if tt.errContain != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errContain) {
					t.Fatalf("ParseAddressRange(%q) = %v, %v; want error containing %q", tt.in, r, err, tt.errContain)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAddressRange(%q): %v", tt.in, err)
			}
			if got := r.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if got := r.Count().String(); got != tt.count {
				t.Errorf("Count() = %s, want %s", got, tt.count)
			}
			if got := r.ShortestPrefixLen(); got != tt.shortest {
				t.Errorf("ShortestPrefixLen() = %d, want %d", got, tt.shortest)
			}
			if got := len(r.Prefixes()); got != tt.prefixes {
				t.Errorf("Prefixes() = %v, want %d of them", r.Prefixes(), tt.prefixes)
			}
		})
	}
}

func TestAddressRangeOverlapsContains(t *testing.T) {
	mustRange := func(s string) AddressRange {
		t.Helper()
		r, err := ParseAddressRange(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		a, b string
		want bool
	}{
		{"10.0.0.0/24", "10.0.0.255-10.0.1.5", true},
		{"10.0.0.0/24", "10.0.1.0-10.0.1.5", false},
		{"10.0.0.0/8", "10.20.0.0/16", true},
		{"10.0.0.0/24", "fd00::/8", false},
		{"::/0", "0.0.0.0/0", false},
		{"fd00::1-fd00::5", "fd00::5/128", true},
	}
	for _, tt := range tests {
		a, b := mustRange(tt.a), mustRange(tt.b)
		if got := a.Overlaps(b); got != tt.want {
			t.Errorf("%s overlaps %s = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := b.Overlaps(a); got != tt.want {
			t.Errorf("%s overlaps %s = %v, want %v", tt.b, tt.a, got, tt.want)
		}
	}
	r := mustRange("10.0.0.1-10.0.0.6")
	for addr, want := range map[string]bool{"10.0.0.0": false, "10.0.0.1": true, "10.0.0.6": true, "10.0.0.7": false, "::a00:1": false} {
		if got := r.Contains(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Contains(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestPrefixesCoverRangeExactly(t *testing.T) {
	for _, s := range []string{"10.0.0.1-10.0.0.6", "10.0.0.0-10.255.255.254", "fd00::3-fd00::1:0", "0.0.0.1-255.255.255.255"} {
		r, err := ParseAddressRange(s)
		if err != nil {
			t.Fatal(err)
		}
		sum := new(big.Int)
		next := r.From
		for _, p := range r.Prefixes() {
			if p.Addr() != next {
				t.Fatalf("%s: prefix %s does not start at %s", s, p, next)
			}
			sum.Add(sum, PrefixRange(p).Count())
			next = lastAddr(p).Next()
		}
		if sum.Cmp(r.Count()) != 0 {
			t.Errorf("%s: prefixes cover %s addresses, range has %s", s, sum, r.Count())
		}
	}
}

func FuzzParseAddressRange(f *testing.F) {
	for _, s := range []string{
		"192.168.1.240/28", "192.168.1.240-192.168.1.250", "fd00:200::240-fd00:200::250",
		"10.0.0.5/24", "::/0", "10.0.0.1", "1.2.3.4 - 1.2.3.4", "::ffff:1.2.3.4/128", "fe80::1%x-fe80::2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseAddressRange(s)
		if err != nil {
			return
		}
		text := r.String()
		again, err := ParseAddressRange(text)
		if err != nil {
			t.Fatalf("ParseAddressRange(%q) = %v; its String %q does not parse: %v", s, r, text, err)
		}
		if again != r {
			t.Fatalf("round trip %q -> %q -> %v, want %v", s, text, again, r)
		}
		if r.To.Less(r.From) || r.From.Is4() != r.To.Is4() {
			t.Fatalf("ParseAddressRange(%q) = %v breaks the range invariants", s, r)
		}
		if r.Count().Sign() <= 0 {
			t.Fatalf("ParseAddressRange(%q) has count %s", s, r.Count())
		}
	})
}

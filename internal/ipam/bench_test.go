package ipam

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// benchServices builds n SingleStack Services of family f with no request.
func benchServices(n int, f Family) []Service {
	out := make([]Service, n)
	for i := range out {
		out[i] = Service{
			Key:          fmt.Sprintf("bench/svc-%d", i),
			Namespace:    "bench",
			FamilyPolicy: SingleStack,
			Families:     []Family{f},
			Ports:        []Port{{Protocol: "TCP", Port: 80}},
		}
	}
	return out
}

func benchPool(b *testing.B, prefix string) *Allocator {
	b.Helper()
	a := New()
	if _, err := a.SetPools([]Pool{{Name: "bench", AutoAssign: true, Ranges: []Range{PrefixRange(netip.MustParsePrefix(prefix))}}}); err != nil {
		b.Fatal(err)
	}
	return a
}

// cpuMeter sums the process CPU time of the timed sections of a benchmark.
type cpuMeter struct {
	total time.Duration
	start time.Duration
	ok    bool
}

func (m *cpuMeter) begin() { m.start, m.ok = processCPU() }

func (m *cpuMeter) end() {
	if now, ok := processCPU(); ok && m.ok {
		m.total += now - m.start
	}
}

// report adds ns/alloc (wall) and cpu-ns/alloc (process CPU time, which a
// loaded machine does not inflate) for n allocations.
func (m *cpuMeter) report(b *testing.B, n int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/alloc")
	if m.ok {
		b.ReportMetric(float64(m.total.Nanoseconds())/float64(n), "cpu-ns/alloc")
	}
}

// benchFill allocates every Service into a fresh allocator per iteration
// and reports the mean cost of one allocation as ns/alloc. Building the
// Services and the allocator is not timed.
func benchFill(b *testing.B, prefix string, svcs []Service) {
	b.ReportAllocs()
	b.StopTimer()
	var m cpuMeter
	for range b.N {
		a := benchPool(b, prefix)
		b.StartTimer()
		m.begin()
		for _, s := range svcs {
			if _, err := a.Allocate(s); err != nil {
				b.Fatal(err)
			}
		}
		m.end()
		b.StopTimer()
	}
	m.report(b, b.N*len(svcs))
}

// BenchmarkAllocateFill fills a /16 with 65,534 SingleStack IPv4 Services.
func BenchmarkAllocateFill(b *testing.B) {
	benchFill(b, "10.0.0.0/16", benchServices(65534, IPv4))
}

// BenchmarkAllocateFillIPv6 fills the start of a /64 with 65,534 IPv6 Services.
func BenchmarkAllocateFillIPv6(b *testing.B) {
	benchFill(b, "2001:db8::/64", benchServices(65534, IPv6))
}

// BenchmarkAllocateAtOccupancy measures one Allocate plus one Release
// (ns/alloc is per pair) with n addresses already in use, contiguous or fragmented (every other
// address free, so the used set has n intervals).
func BenchmarkAllocateAtOccupancy(b *testing.B) {
	cases := []struct {
		name       string
		prefix     string
		family     Family
		n          int
		fragmented bool
	}{
		{"v4-/16-0", "10.0.0.0/16", IPv4, 0, false},
		{"v4-/16-10k", "10.0.0.0/16", IPv4, 10000, false},
		{"v4-/16-10k-fragmented", "10.0.0.0/16", IPv4, 10000, true},
		{"v4-/16-65k", "10.0.0.0/16", IPv4, 65000, false},
		{"v6-/64-10k", "2001:db8::/64", IPv6, 10000, false},
		{"v6-/64-10k-fragmented", "2001:db8::/64", IPv6, 10000, true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			a := benchPool(b, c.prefix)
			fill := c.n
			if c.fragmented {
				fill = 2 * c.n
			}
			svcs := benchServices(fill+1, c.family)
			for _, s := range svcs[:fill] {
				if _, err := a.Allocate(s); err != nil {
					b.Fatal(err)
				}
			}
			if c.fragmented {
				for i := 0; i < fill; i += 2 {
					a.Release(svcs[i].Key)
				}
			}
			probe := svcs[fill]
			b.ReportAllocs()
			var m cpuMeter
			b.ResetTimer()
			m.begin()
			for range b.N {
				if _, err := a.Allocate(probe); err != nil {
					b.Fatal(err)
				}
				a.Release(probe.Key)
			}
			m.end()
			m.report(b, b.N)
		})
	}
}

// BenchmarkAllocateDualStack measures filling a dual-stack pool with
// RequireDualStack Services (two addresses each).
func BenchmarkAllocateDualStack(b *testing.B) {
	const n = 10000
	svcs := benchServices(n, IPv4)
	for i := range svcs {
		svcs[i].FamilyPolicy, svcs[i].Families = RequireDualStack, []Family{IPv4, IPv6}
	}
	b.ReportAllocs()
	b.StopTimer()
	var m cpuMeter
	for range b.N {
		a := New()
		if _, err := a.SetPools([]Pool{{Name: "d", AutoAssign: true, Ranges: []Range{
			PrefixRange(netip.MustParsePrefix("10.0.0.0/16")), PrefixRange(netip.MustParsePrefix("2001:db8::/64")),
		}}}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		m.begin()
		for _, s := range svcs {
			if _, err := a.Allocate(s); err != nil {
				b.Fatal(err)
			}
		}
		m.end()
		b.StopTimer()
	}
	m.report(b, b.N*n)
}

// BenchmarkSetPools measures a pool change with 10,000 Services holding
// addresses (every allocation is re-validated and re-recorded).
func BenchmarkSetPools(b *testing.B) {
	a := benchPool(b, "10.0.0.0/16")
	for _, s := range benchServices(10000, IPv4) {
		if _, err := a.Allocate(s); err != nil {
			b.Fatal(err)
		}
	}
	pools := []Pool{{Name: "bench", AutoAssign: true, Ranges: []Range{PrefixRange(netip.MustParsePrefix("10.0.0.0/15"))}}}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := a.SetPools(pools); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLinearScanAtOccupancy is the baseline ipam avoids: the reference
// model of the property tests, which scans the pool from its first address
// for every allocation (as MetalLB does), at 10,000 addresses in use.
func BenchmarkLinearScanAtOccupancy(b *testing.B) {
	p := Pool{Name: "bench", AutoAssign: true, Ranges: []Range{PrefixRange(netip.MustParsePrefix("10.0.0.0/16"))}}
	n := newNaive([]Pool{p})
	for i := range 10000 {
		if _, ok := n.allocate(fmt.Sprintf("bench/svc-%d", i), []Family{IPv4}); !ok {
			b.Fatal("fill failed")
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, ok := n.allocate("bench/probe", []Family{IPv4}); !ok {
			b.Fatal("allocate failed")
		}
		n.release("bench/probe")
	}
}

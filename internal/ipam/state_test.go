package ipam

import (
	"math"
	"net/netip"
	"slices"
	"testing"
)

func TestIdempotence(t *testing.T) {
	p := pool(t, "p", "10.0.0.0/29", "2001:db8::/125")
	runSteps(t, newAlloc(t, p), []step{
		alloc(mk("ns/a"), "10.0.0.0@p"),
		alloc(mk("ns/b"), "10.0.0.1@p"),
		alloc(mk("ns/b"), "10.0.0.1@p"),
		release("ns/a", "true"),
		alloc(mk("ns/b"), "10.0.0.1@p"), // a lower address is free: b still keeps its own
		alloc(mk("ns/b", inPool("p")), "10.0.0.1@p"),
		alloc(mk("ns/b", req("10.0.0.1")), "10.0.0.1@p"),
		alloc(mk("ns/d", fams(RequireDualStack, IPv4, IPv6)), "10.0.0.0,2001:db8::@p"),
		alloc(mk("ns/d", fams(RequireDualStack, IPv4, IPv6)), "10.0.0.0,2001:db8::@p"),
	})
}

func TestFamilyPolicyChanges(t *testing.T) {
	dual := pool(t, "dual", "10.0.0.0/29", "2001:db8::/125")
	v4 := withSA(pool(t, "v4", "10.1.0.0/29"), ServiceAllocation{Priority: 1})
	runSteps(t, newAlloc(t, v4, dual), []step{
		// SingleStack to RequireDualStack keeps the IPv4 address when the
		// pool can add IPv6...
		alloc(mk("ns/a", fams(SingleStack, IPv4), inPool("dual")), "10.0.0.0@dual"),
		alloc(mk("ns/a", fams(RequireDualStack, IPv4, IPv6), inPool("dual")), "10.0.0.0,2001:db8::@dual"),
		// ...and back keeps the first family.
		alloc(mk("ns/a", fams(SingleStack, IPv4), inPool("dual")), "10.0.0.0@dual"),
		// When its pool cannot, the Service moves to a pool that can.
		alloc(mk("ns/b"), "10.1.0.0@v4"),
		alloc(mk("ns/b", fams(RequireDualStack, IPv4, IPv6)), "10.0.0.1,2001:db8::@dual"),
		// PreferDualStack keeps a single address when the pool has no other family.
		alloc(mk("ns/c"), "10.1.0.0@v4"),
		alloc(mk("ns/c", fams(PreferDualStack, IPv4, IPv6)), "10.1.0.0@v4"),
		// Reordering families reorders the answer, not the addresses.
		alloc(mk("ns/b", fams(RequireDualStack, IPv6, IPv4)), "2001:db8::,10.0.0.1@dual"),
	})
}

func TestPreferDualStackGainsFamilyWhenPoolGrows(t *testing.T) {
	a := newAlloc(t, pool(t, "p", "10.0.0.0/30"))
	s := mk("ns/a", fams(PreferDualStack, IPv4, IPv6))
	runSteps(t, a, []step{
		alloc(s, "10.0.0.0@p"),
		setPools("", pool(t, "p", "10.0.0.0/30", "2001:db8::/126")),
		alloc(s, "10.0.0.0,2001:db8::@p"),
	})
}

func TestAssignAtRestart(t *testing.T) {
	p := pool(t, "p", "10.0.0.0/29", "2001:db8::/125")
	m := manual(pool(t, "m", "10.0.1.0/29"))
	k := shareKey("k")
	runSteps(t, newAlloc(t, p, m), []step{
		assign(mk("ns/a"), "10.0.0.5", "10.0.0.5@p"),
		assign(mk("ns/b"), "10.0.1.5", "10.0.1.5@m"), // autoAssign=false pools are fine
		assign(mk("ns/c"), "10.0.0.5", "!IPAlreadyInUse"),
		assign(mk("ns/d"), "192.0.2.1", "!IPNotInPool"),
		assign(mk("ns/e", req("10.0.0.6")), "10.0.0.7", "!InvalidRequest"),
		assign(mk("ns/f", req("10.0.0.6")), "10.0.0.6", "10.0.0.6@p"),
		assign(mk("ns/g"), "2001:db8::1", "!InvalidRequest"), // IPv6 for a SingleStack IPv4 Service
		assign(mk("ns/h", inPool("m")), "10.0.0.1", "!IPNotInPool"),
		assign(mk("ns/i", fams(RequireDualStack, IPv6, IPv4)), "10.0.0.1,2001:db8::1", "2001:db8::1,10.0.0.1@p"),
		// One family of a RequireDualStack Service: what Allocate keeps
		// when no pool can give both (IncompleteError).
		assign(mk("ns/j", fams(RequireDualStack, IPv4, IPv6)), "10.0.0.2", "10.0.0.2@p"),
		release("ns/j", "true"),
		assign(mk("ns/k", fams(PreferDualStack, IPv4, IPv6)), "10.0.0.2", "10.0.0.2@p"),
		assign(mk("ns/l", k, ports("TCP/1")), "10.0.0.3", "10.0.0.3@p"),
		assign(mk("ns/m", k, ports("TCP/2")), "10.0.0.3", "10.0.0.3@p"),
		assign(mk("ns/n", k, ports("TCP/2")), "10.0.0.3", "!SharingConflict"),
		assign(mk("ns/o"), "", "!InvalidRequest"),
		assign(mk("ns/p"), "10.0.0.4,10.0.0.3", "!InvalidRequest"),
		// Re-assigning what a Service holds is a no-op; a bad one releases it.
		assign(mk("ns/a"), "10.0.0.5", "10.0.0.5@p"),
		assign(mk("ns/a"), "192.0.2.1", "!IPNotInPool"),
		alloc(mk("ns/q"), "10.0.0.0@p"),
		assign(mk("ns/r"), "10.0.0.5", "10.0.0.5@p"),
		alloc(mk("ns/q2"), "10.0.0.4@p"),
		alloc(mk("ns/q3"), "10.0.0.7@p"), // 10.0.0.6 is ns/f's
		// After restart, Allocate keeps what Assign recorded.
		alloc(mk("ns/b"), "10.0.1.5@m"), // kept although m is not automatic
		alloc(mk("ns/s"), "!PoolExhausted"),
		alloc(mk("ns/r"), "10.0.0.5@p"),
	})
}

func TestAssignThenAllocateKeepsManualPool(t *testing.T) {
	// An address of an autoAssign=false pool recorded at restart stays even
	// though Allocate would not choose that pool by itself.
	a := newAlloc(t, pool(t, "p", "10.0.0.0/30"), manual(pool(t, "m", "10.0.1.0/30")))
	runSteps(t, a, []step{
		assign(mk("ns/a"), "10.0.1.1", "10.0.1.1@m"),
		alloc(mk("ns/a"), "10.0.1.1@m"),
	})
}

func TestSetPools(t *testing.T) {
	p := func(rs ...string) Pool { return pool(t, "p", rs...) }
	tests := []struct {
		name  string
		steps []step
	}{
		{"grow keeps everything", []step{
			setPools("", p("10.0.0.0/30")),
			alloc(mk("ns/a"), "10.0.0.0@p"),
			alloc(mk("ns/b"), "10.0.0.1@p"),
			setPools("", p("10.0.0.0/24", "2001:db8::/64")),
			alloc(mk("ns/a"), "10.0.0.0@p"),
			alloc(mk("ns/c"), "10.0.0.2@p"),
		}},
		{"shrink releases what falls out", []step{
			setPools("", p("10.0.0.0/29")),
			alloc(mk("ns/a"), "10.0.0.0@p"),
			alloc(mk("ns/b"), "10.0.0.1@p"),
			alloc(mk("ns/c"), "10.0.0.2@p"),
			setPools("ns/b ns/c", p("10.0.0.0/32", "10.0.0.4/30")),
			alloc(mk("ns/b"), "10.0.0.4@p"),
			alloc(mk("ns/a"), "10.0.0.0@p"),
		}},
		{"dual-stack Service keeps its remaining family", []step{
			setPools("", p("10.0.0.0/30", "2001:db8::/126")),
			alloc(mk("ns/a", fams(PreferDualStack, IPv4, IPv6)), "10.0.0.0,2001:db8::@p"),
			alloc(mk("ns/b", fams(RequireDualStack, IPv4, IPv6)), "10.0.0.1,2001:db8::1@p"),
			setPools("ns/a ns/b", p("10.0.0.0/30")),
			alloc(mk("ns/a", fams(PreferDualStack, IPv4, IPv6)), "10.0.0.0@p"),
			// RequireDualStack keeps its IPv4 address too (no other pool
			// can give both families), with an IncompleteError.
			alloc(mk("ns/b", fams(RequireDualStack, IPv4, IPv6)), "10.0.0.1@p!IPFamilyUnavailable"),
		}},
		{"renaming a pool keeps addresses of Services that do not name it", []step{
			setPools("", p("10.0.0.0/30")),
			alloc(mk("ns/a"), "10.0.0.0@p"),
			alloc(mk("ns/b", inPool("p")), "10.0.0.1@p"),
			setPools("ns/b", pool(t, "q", "10.0.0.0/30")),
			alloc(mk("ns/a"), "10.0.0.0@q"),
			alloc(mk("ns/b", inPool("p")), "!UnknownPool"),
		}},
		{"a serviceAllocation change evicts Services it now excludes", []step{
			setPools("", p("10.0.0.0/30")),
			alloc(mk("dev/a"), "10.0.0.0@p"),
			alloc(mk("prod/a"), "10.0.0.1@p"),
			setPools("dev/a", withSA(p("10.0.0.0/30"), ServiceAllocation{Namespaces: []string{"prod"}})),
			alloc(mk("prod/b"), "10.0.0.0@p"),
		}},
		{"avoidBuggyIPs turned on evicts .0 and .255", []step{
			setPools("", p("10.0.0.0/24")),
			alloc(mk("ns/a"), "10.0.0.0@p"),
			alloc(mk("ns/b"), "10.0.0.1@p"),
			alloc(mk("ns/c", req("10.0.0.255")), "10.0.0.255@p"),
			setPools("ns/a ns/c", buggy(p("10.0.0.0/24"))),
			alloc(mk("ns/a"), "10.0.0.2@p"),
		}},
		{"autoAssign turned off keeps addresses", []step{
			setPools("", p("10.0.0.0/30")),
			alloc(mk("ns/a"), "10.0.0.0@p"),
			setPools("", manual(p("10.0.0.0/30"))),
			alloc(mk("ns/a"), "10.0.0.0@p"),
			alloc(mk("ns/b"), "!NoPoolAvailable"),
		}},
		{"shared addresses survive", []step{
			setPools("", p("10.0.0.0/30")),
			alloc(mk("ns/a", shareKey("k"), ports("TCP/1")), "10.0.0.0@p"),
			alloc(mk("ns/b", shareKey("k"), ports("TCP/2")), "10.0.0.0@p"),
			setPools("", p("10.0.0.0/29")),
			alloc(mk("ns/c", shareKey("k"), ports("TCP/3")), "10.0.0.0@p"),
		}},
		{"invalid pool sets change nothing", []step{
			setPools("", p("10.0.0.0/30")),
			alloc(mk("ns/a"), "10.0.0.0@p"),
			setPools("!error", p("10.0.0.0/30"), pool(t, "q", "10.0.0.3-10.0.0.9")),
			setPools("!error", p("10.0.0.0/30"), p("10.1.0.0/30")),
			setPools("!error", pool(t, "", "10.1.0.0/30")),
			setPools("!error", pool(t, "r", "10.0.0.9-10.0.0.1")),
			alloc(mk("ns/b"), "10.0.0.1@p"),
		}},
		{"pools may be emptied", []step{
			setPools("", p("10.0.0.0/30")),
			alloc(mk("ns/a"), "10.0.0.0@p"),
			setPools("ns/a"),
			alloc(mk("ns/a"), "!NoPoolAvailable"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runSteps(t, New(), tt.steps)
		})
	}
}

func TestExhaustionThenFree(t *testing.T) {
	a := newAlloc(t, pool(t, "p", "10.0.0.0/28"))
	for i := range 16 {
		mustAllocate(t, a, mk("ns/s"+string(rune('a'+i))))
	}
	if got := allocString(a.Allocate(mk("ns/late"))); got != "!PoolExhausted" {
		t.Fatalf("full pool: %s", got)
	}
	if got := allocString(a.Allocate(mk("ns/late"))); got != "!PoolExhausted" {
		t.Fatalf("full pool again: %s", got)
	}
	a.Release("ns/sh") // 10.0.0.7
	a.Release("ns/sc") // 10.0.0.2
	if got := allocString(a.Allocate(mk("ns/late"))); got != "10.0.0.2@p" {
		t.Fatalf("after release: %s", got)
	}
	if got := allocString(a.Allocate(mk("ns/later"))); got != "10.0.0.7@p" {
		t.Fatalf("after release: %s", got)
	}
	if a.Release("ns/nobody") {
		t.Fatal("Release of an unknown key reported true")
	}
	auditState(t, a)
}

func TestQueries(t *testing.T) {
	a := newAlloc(t,
		buggy(pool(t, "p", "10.0.0.0/24", "2001:db8::/64")),
		pool(t, "huge", "4000::/2"),
		pool(t, "empty"),
	)
	mustAllocate(t, a, mk("ns/a", shareKey("k"), ports("TCP/1"), fams(RequireDualStack, IPv4, IPv6)))
	mustAllocate(t, a, mk("ns/b", shareKey("k"), ports("TCP/2")))
	mustAllocate(t, a, mk("ns/c"))
	mustAllocate(t, a, mk("ns/d", fams(SingleStack, IPv6), inPool("huge")))

	u, ok := a.Usage("p")
	want := PoolUsage{IPv4: FamilyUsage{Assigned: 2, Available: 252}, IPv6: FamilyUsage{Assigned: 1, Available: math.MaxInt64}}
	if !ok || u != want {
		t.Errorf("Usage(p) = %+v, want %+v", u, want)
	}
	u, _ = a.Usage("huge")
	if want := (PoolUsage{IPv6: FamilyUsage{Assigned: 1, Available: math.MaxInt64}}); u != want {
		t.Errorf("Usage(huge) = %+v, want %+v", u, want)
	}
	if u, ok := a.Usage("empty"); !ok || u != (PoolUsage{}) {
		t.Errorf("Usage(empty) = %+v, %v", u, ok)
	}
	if _, ok := a.Usage("nope"); ok {
		t.Errorf("Usage(nope) found")
	}

	if got := a.Lookup(netip.MustParseAddr("10.0.0.1")); !slices.Equal(got, []string{"ns/a", "ns/b"}) {
		t.Errorf("Lookup(10.0.0.1) = %v", got)
	}
	if got := a.Lookup(netip.MustParseAddr("10.0.0.9")); got != nil {
		t.Errorf("Lookup(free) = %v", got)
	}
	if got := a.ServicesInPool("p"); !slices.Equal(got, []string{"ns/a", "ns/b", "ns/c"}) {
		t.Errorf("ServicesInPool(p) = %v", got)
	}
	if got := a.ServicesInPool("empty"); got != nil {
		t.Errorf("ServicesInPool(empty) = %v", got)
	}
	for ip, want := range map[string]string{"10.0.0.1": "p", "10.0.0.0": "", "2001:db8::5": "p", "4001::": "huge", "2001:db9::": "", "192.0.2.1": ""} {
		got, _ := a.PoolFor(netip.MustParseAddr(ip))
		if got != want {
			t.Errorf("PoolFor(%s) = %q, want %q", ip, got, want)
		}
	}
	if al, ok := a.Allocation("ns/a"); !ok || addrList(al.IPs) != "10.0.0.1,2001:db8::" || al.Pool != "p" {
		t.Errorf("Allocation(ns/a) = %+v, %v", al, ok)
	}
	if _, ok := a.Allocation("ns/zz"); ok {
		t.Errorf("Allocation(unknown) found")
	}
	if got := a.Pools(); !slices.Equal(got, []string{"empty", "huge", "p"}) {
		t.Errorf("Pools() = %v", got)
	}
}

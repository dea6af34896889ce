package ipam

import "testing"

func withSA(p Pool, sa ServiceAllocation) Pool { p.Allocation = &sa; return p }
func manual(p Pool) Pool                       { p.AutoAssign = false; return p }
func buggy(p Pool) Pool                        { p.AvoidBuggyIPs = true; return p }

func TestPoolChoice(t *testing.T) {
	tests := []struct {
		name  string
		pools []Pool
		steps []step
	}{
		{
			name:  "lowest free address first, across ranges in address order",
			pools: []Pool{pool(t, "p", "10.0.1.0-10.0.1.1", "10.0.0.254-10.0.0.255")},
			steps: []step{
				alloc(mk("ns/a"), "10.0.0.254@p"),
				alloc(mk("ns/b"), "10.0.0.255@p"),
				alloc(mk("ns/c"), "10.0.1.0@p"),
				release("ns/a", "true"),
				alloc(mk("ns/d"), "10.0.0.254@p"),
				alloc(mk("ns/e"), "10.0.1.1@p"),
				alloc(mk("ns/f"), "!PoolExhausted"),
			},
		},
		{
			name: "priority: positive ascending, then unset, then no serviceAllocation; ties by name",
			pools: []Pool{
				pool(t, "a-plain", "10.0.0.1/32"),
				pool(t, "b-plain", "10.0.0.2/32"),
				withSA(pool(t, "c-unset", "10.0.0.3/32"), ServiceAllocation{}),
				withSA(pool(t, "d-prio2", "10.0.0.4/32"), ServiceAllocation{Priority: 2}),
				withSA(pool(t, "e-prio1", "10.0.0.5/32"), ServiceAllocation{Priority: 1}),
				withSA(pool(t, "f-prio1", "10.0.0.6/32"), ServiceAllocation{Priority: 1}),
			},
			steps: []step{
				alloc(mk("ns/1"), "10.0.0.5@e-prio1"),
				alloc(mk("ns/2"), "10.0.0.6@f-prio1"),
				alloc(mk("ns/3"), "10.0.0.4@d-prio2"),
				alloc(mk("ns/4"), "10.0.0.3@c-unset"),
				alloc(mk("ns/5"), "10.0.0.1@a-plain"),
				alloc(mk("ns/6"), "10.0.0.2@b-plain"),
				alloc(mk("ns/7"), "!PoolExhausted"),
			},
		},
		{
			name: "namespaces",
			pools: []Pool{
				withSA(pool(t, "prod", "10.0.0.1/32"), ServiceAllocation{Priority: 1, Namespaces: []string{"prod"}}),
				pool(t, "any", "10.0.1.0/24"),
			},
			steps: []step{
				alloc(mk("dev/a"), "10.0.1.0@any"),
				alloc(mk("prod/a"), "10.0.0.1@prod"),
				alloc(mk("prod/b"), "10.0.1.1@any"), // prod is full: falls through
				alloc(mk("dev/b", inPool("prod")), "!PoolNotPermitted"),
				alloc(mk("dev/c", req("10.0.0.1")), "!PoolNotPermitted"),
			},
		},
		{
			name: "namespace selectors or namespaces",
			pools: []Pool{
				withSA(pool(t, "team", "10.0.0.0/30"), ServiceAllocation{
					Namespaces:         []string{"listed"},
					NamespaceSelectors: []Selector{MatchLabels(map[string]string{"team": "x"}), nil},
				}),
				pool(t, "any", "10.0.1.0/24"),
			},
			steps: []step{
				alloc(mk("ns/a", nsLabels("team", "x")), "10.0.0.0@team"),
				alloc(mk("ns/b", nsLabels("team", "y")), "10.0.1.0@any"),
				alloc(mk("listed/c"), "10.0.0.1@team"),
				alloc(mk("other/d"), "10.0.1.1@any"),
			},
		},
		{
			name: "service selectors",
			pools: []Pool{
				withSA(pool(t, "premium", "10.0.0.0/30"), ServiceAllocation{
					ServiceSelectors: []Selector{MatchLabels(map[string]string{"tier": "premium"})},
				}),
				pool(t, "any", "10.0.1.0/24"),
			},
			steps: []step{
				alloc(mk("ns/a", labels("tier", "premium", "app", "x")), "10.0.0.0@premium"),
				alloc(mk("ns/b", labels("tier", "basic")), "10.0.1.0@any"),
				alloc(mk("ns/c"), "10.0.1.1@any"),
			},
		},
		{
			name: "namespace and service selectors must both hold",
			pools: []Pool{
				withSA(pool(t, "both", "10.0.0.0/30"), ServiceAllocation{
					Namespaces:       []string{"prod"},
					ServiceSelectors: []Selector{MatchLabels(map[string]string{"tier": "premium"})},
				}),
			},
			steps: []step{
				alloc(mk("prod/a", labels("tier", "premium")), "10.0.0.0@both"),
				alloc(mk("prod/b"), "!NoPoolAvailable"),
				alloc(mk("dev/c", labels("tier", "premium")), "!NoPoolAvailable"),
			},
		},
		{
			name: "autoAssign false is used only when asked for",
			pools: []Pool{
				manual(pool(t, "expensive", "192.0.2.0/30")),
				pool(t, "cheap", "10.0.0.0/31"),
			},
			steps: []step{
				alloc(mk("ns/a"), "10.0.0.0@cheap"),
				alloc(mk("ns/b", inPool("expensive")), "192.0.2.0@expensive"),
				alloc(mk("ns/c", req("192.0.2.3")), "192.0.2.3@expensive"),
				alloc(mk("ns/d"), "10.0.0.1@cheap"),
				alloc(mk("ns/e"), "!PoolExhausted"),
			},
		},
		{
			name:  "no pool for automatic assignment",
			pools: []Pool{manual(pool(t, "m", "10.0.0.0/30"))},
			steps: []step{
				alloc(mk("ns/a"), "!NoPoolAvailable"),
				alloc(mk("ns/b", inPool("nope")), "!UnknownPool"),
				alloc(mk("ns/c", inPool("m")), "10.0.0.0@m"),
			},
		},
		{
			name:  "no pools at all",
			pools: nil,
			steps: []step{
				alloc(mk("ns/a"), "!NoPoolAvailable"),
				alloc(mk("ns/b", req("10.0.0.1")), "!IPNotInPool"),
				alloc(mk("ns/c", inPool("x")), "!UnknownPool"),
			},
		},
		{
			name:  "avoidBuggyIPs skips .0 and .255 without scanning",
			pools: []Pool{buggy(pool(t, "p", "10.0.0.254-10.0.2.0"))},
			steps: []step{
				alloc(mk("ns/a"), "10.0.0.254@p"),
				alloc(mk("ns/b"), "10.0.1.1@p"),
				alloc(mk("ns/c", req("10.0.1.255")), "!IPNotInPool"),
				alloc(mk("ns/d", req("10.0.2.0")), "!IPNotInPool"),
				alloc(mk("ns/e", req("10.0.1.254")), "10.0.1.254@p"),
				release("ns/b", "true"),
				alloc(mk("ns/f"), "10.0.1.1@p"),
			},
		},
		{
			name:  "avoidBuggyIPs exhaustion counts only usable addresses",
			pools: []Pool{buggy(pool(t, "p", "10.0.0.253-10.0.1.1"))},
			steps: []step{
				alloc(mk("ns/a"), "10.0.0.253@p"),
				alloc(mk("ns/b"), "10.0.0.254@p"),
				alloc(mk("ns/c"), "10.0.1.1@p"),
				alloc(mk("ns/d"), "!PoolExhausted"),
			},
		},
		{
			name:  "avoidBuggyIPs does not touch IPv6",
			pools: []Pool{buggy(pool(t, "p", "2001:db8::ff-2001:db8::100"))},
			steps: []step{
				alloc(mk("ns/a", fams(SingleStack, IPv6)), "2001:db8::ff@p"),
				alloc(mk("ns/b", fams(SingleStack, IPv6)), "2001:db8::100@p"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runSteps(t, newAlloc(t, tt.pools...), tt.steps)
		})
	}
}

func TestFamilies(t *testing.T) {
	v4 := func(name, r string) Pool { return pool(t, name, r) }
	dual := pool(t, "dual", "10.0.0.0/30", "2001:db8::/126")
	tests := []struct {
		name  string
		pools []Pool
		steps []step
	}{
		{
			name:  "SingleStack takes its first family",
			pools: []Pool{dual},
			steps: []step{
				alloc(mk("ns/a", fams(SingleStack, IPv6)), "2001:db8::@dual"),
				alloc(mk("ns/b", fams(SingleStack, IPv4)), "10.0.0.0@dual"),
				alloc(mk("ns/c", fams("", IPv4)), "10.0.0.1@dual"),
				alloc(mk("ns/d", fams(SingleStack)), "10.0.0.2@dual"),
			},
		},
		{
			name:  "SingleStack family missing",
			pools: []Pool{v4("v4", "10.0.0.0/30")},
			steps: []step{alloc(mk("ns/a", fams(SingleStack, IPv6)), "!IPFamilyUnavailable")},
		},
		{
			name:  "RequireDualStack in family order",
			pools: []Pool{dual},
			steps: []step{
				alloc(mk("ns/a", fams(RequireDualStack, IPv4, IPv6)), "10.0.0.0,2001:db8::@dual"),
				alloc(mk("ns/b", fams(RequireDualStack, IPv6, IPv4)), "2001:db8::1,10.0.0.1@dual"),
				alloc(mk("ns/c", fams(RequireDualStack, IPv6)), "2001:db8::2,10.0.0.2@dual"),
			},
		},
		{
			name:  "RequireDualStack skips single-family pools",
			pools: []Pool{withSA(v4("first", "10.1.0.0/30"), ServiceAllocation{Priority: 1}), dual},
			steps: []step{alloc(mk("ns/a", fams(RequireDualStack, IPv4, IPv6)), "10.0.0.0,2001:db8::@dual")},
		},
		{
			name:  "RequireDualStack without any dual pool",
			pools: []Pool{v4("v4", "10.0.0.0/30"), pool(t, "v6", "2001:db8::/126")},
			steps: []step{
				alloc(mk("ns/a", fams(RequireDualStack, IPv4, IPv6)), "!IPFamilyUnavailable"),
				alloc(mk("ns/b", fams(RequireDualStack, IPv4, IPv6), inPool("v4")), "!IPFamilyUnavailable"),
			},
		},
		{
			// A dual-stack pool losing a family: a RequireDualStack Service
			// moves to another pool offering both; when none does it keeps
			// its address of the remaining family (IncompleteError) and is
			// completed from its pool once the family is back. A
			// PreferDualStack Service keeps what remains.
			name:  "RequireDualStack when its pool loses a family",
			pools: []Pool{pool(t, "dual", "10.0.0.0/30", "2001:db8::/126")},
			steps: []step{
				alloc(mk("ns/r", fams(RequireDualStack, IPv4, IPv6)), "10.0.0.0,2001:db8::@dual"),
				alloc(mk("ns/p", fams(PreferDualStack, IPv4, IPv6)), "10.0.0.1,2001:db8::1@dual"),
				setPools("ns/p ns/r", pool(t, "dual", "10.0.0.0/30"), pool(t, "other", "10.0.1.0/30", "2001:db8:1::/126")),
				alloc(mk("ns/r", fams(RequireDualStack, IPv4, IPv6)), "10.0.1.0,2001:db8:1::@other"),
				alloc(mk("ns/p", fams(PreferDualStack, IPv4, IPv6)), "10.0.0.1@dual"),
				setPools("ns/r", pool(t, "dual", "10.0.0.0/30", "2001:db8::/126"), pool(t, "other", "10.0.1.0/30")),
				alloc(mk("ns/r", fams(RequireDualStack, IPv4, IPv6)), "10.0.0.0,2001:db8::@dual"),
				setPools("ns/r", pool(t, "dual", "10.0.0.0/30")),
				alloc(mk("ns/r", fams(RequireDualStack, IPv4, IPv6)), "10.0.0.0@dual!IPFamilyUnavailable"),
				alloc(mk("ns/r", fams(RequireDualStack, IPv4, IPv6)), "10.0.0.0@dual!IPFamilyUnavailable"),
				alloc(mk("ns/x", fams(SingleStack, IPv4)), "10.0.0.2@dual"), // 10.0.0.0 stays taken
				// A controller restarting reads the kept address back.
				release("ns/r", "true"),
				assign(mk("ns/r", fams(RequireDualStack, IPv4, IPv6)), "10.0.0.0", "10.0.0.0@dual"),
				alloc(mk("ns/r", fams(RequireDualStack, IPv4, IPv6)), "10.0.0.0@dual!IPFamilyUnavailable"),
				setPools("", pool(t, "dual", "10.0.0.0/30", "2001:db8::/126")),
				alloc(mk("ns/r", fams(RequireDualStack, IPv4, IPv6)), "10.0.0.0,2001:db8::@dual"),
			},
		},
		{
			name:  "RequireDualStack with one family exhausted",
			pools: []Pool{pool(t, "dual", "10.0.0.0/32", "2001:db8::/126")},
			steps: []step{
				alloc(mk("ns/a", fams(RequireDualStack, IPv4, IPv6)), "10.0.0.0,2001:db8::@dual"),
				alloc(mk("ns/b", fams(RequireDualStack, IPv4, IPv6)), "!PoolExhausted"),
				alloc(mk("ns/c", fams(SingleStack, IPv6)), "2001:db8::1@dual"), // b freed nothing it held
			},
		},
		{
			name:  "PreferDualStack gets both when a pool has both",
			pools: []Pool{dual},
			steps: []step{alloc(mk("ns/a", fams(PreferDualStack, IPv6, IPv4)), "2001:db8::,10.0.0.0@dual")},
		},
		{
			name:  "PreferDualStack prefers a dual pool over priority",
			pools: []Pool{withSA(v4("first", "10.1.0.0/30"), ServiceAllocation{Priority: 1}), dual},
			steps: []step{
				alloc(mk("ns/a", fams(PreferDualStack, IPv4, IPv6)), "10.0.0.0,2001:db8::@dual"),
				alloc(mk("ns/b", fams(SingleStack, IPv4)), "10.1.0.0@first"),
			},
		},
		{
			name:  "PreferDualStack falls back to its first family, then its second",
			pools: []Pool{v4("v4", "10.0.0.0/32"), pool(t, "v6", "2001:db8::/127")},
			steps: []step{
				alloc(mk("ns/a", fams(PreferDualStack, IPv6, IPv4)), "2001:db8::@v6"),
				alloc(mk("ns/b", fams(PreferDualStack, IPv4, IPv6)), "10.0.0.0@v4"),
				alloc(mk("ns/c", fams(PreferDualStack, IPv4, IPv6)), "2001:db8::1@v6"),
				alloc(mk("ns/d", fams(PreferDualStack, IPv4, IPv6)), "!PoolExhausted"),
			},
		},
		{
			name:  "PreferDualStack on a single-stack cluster lists one family",
			pools: []Pool{dual},
			steps: []step{alloc(mk("ns/a", fams(PreferDualStack, IPv4)), "10.0.0.0@dual")},
		},
		{
			name:  "PreferDualStack with no family offered",
			pools: []Pool{v4("v4", "10.0.0.0/30")},
			steps: []step{alloc(mk("ns/a", fams(PreferDualStack, IPv6)), "!IPFamilyUnavailable")},
		},
		{
			name:  "invalid families and policy",
			pools: []Pool{dual},
			steps: []step{
				alloc(mk("ns/a", fams(SingleStack, "IPv5")), "!InvalidRequest"),
				alloc(mk("ns/b", fams(RequireDualStack, IPv4, IPv4)), "!InvalidRequest"),
				alloc(mk("ns/c", fams("DualStackPlease", IPv4)), "!InvalidRequest"),
				alloc(Service{Namespace: "ns"}, "!InvalidRequest"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runSteps(t, newAlloc(t, tt.pools...), tt.steps)
		})
	}
}

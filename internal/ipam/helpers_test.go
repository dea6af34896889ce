package ipam

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// rng parses "a-b" or a CIDR into a Range (tests only).
func rng(t testing.TB, s string) Range {
	t.Helper()
	if first, last, ok := strings.Cut(s, "-"); ok {
		return Range{First: netip.MustParseAddr(first), Last: netip.MustParseAddr(last)}
	}
	return PrefixRange(netip.MustParsePrefix(s))
}

func pool(t testing.TB, name string, ranges ...string) Pool {
	t.Helper()
	p := Pool{Name: name, AutoAssign: true}
	for _, r := range ranges {
		p.Ranges = append(p.Ranges, rng(t, r))
	}
	return p
}

func ips(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

// svc returns a SingleStack IPv4 Service "ns/name" with TCP port 80.
func svc(key string) Service {
	ns, _, _ := strings.Cut(key, "/")
	return Service{
		Key:          key,
		Namespace:    ns,
		FamilyPolicy: SingleStack,
		Families:     []Family{IPv4},
		Ports:        []Port{{Protocol: "TCP", Port: 80}},
	}
}

func newAlloc(t testing.TB, pools ...Pool) *Allocator {
	t.Helper()
	a := New()
	if _, err := a.SetPools(pools); err != nil {
		t.Fatalf("SetPools: %v", err)
	}
	return a
}

func mustAllocate(t testing.TB, a *Allocator, s Service) Allocation {
	t.Helper()
	got, err := a.Allocate(s)
	if err != nil {
		t.Fatalf("Allocate(%s): %v", s.Key, err)
	}
	return got
}

func addrsString(as []netip.Addr) string { return addrList(as) }

// reasonOf returns the Reason of err, or "" for nil, or "untyped".
func reasonOf(err error) string {
	if err == nil {
		return ""
	}
	var e Error
	if errors.As(err, &e) {
		return e.Reason()
	}
	return "untyped: " + err.Error()
}

// Service modifiers for table tests.
type mod func(*Service)

func mk(key string, mods ...mod) Service {
	s := svc(key)
	for _, m := range mods {
		m(&s)
	}
	return s
}

func req(addrs ...string) mod { return func(s *Service) { s.Request.IPs = ips(addrs...) } }
func inPool(p string) mod     { return func(s *Service) { s.Request.Pool = p } }
func shareKey(k string) mod   { return func(s *Service) { s.Request.SharingKey = k } }
func labels(kv ...string) mod { return func(s *Service) { s.Labels = kvMap(kv) } }
func nsLabels(kv ...string) mod {
	return func(s *Service) { s.NamespaceLabels = kvMap(kv) }
}

func fams(p FamilyPolicy, fs ...Family) mod {
	return func(s *Service) { s.FamilyPolicy, s.Families = p, fs }
}

// ports sets the ports: "TCP/80", "UDP/53".
func ports(ps ...string) mod {
	return func(s *Service) {
		s.Ports = nil
		for _, p := range ps {
			proto, num, _ := strings.Cut(p, "/")
			n := 0
			for _, c := range num {
				n = n*10 + int(c-'0')
			}
			s.Ports = append(s.Ports, Port{Protocol: proto, Port: int32(n)})
		}
	}
}

// local sets externalTrafficPolicy Local and the selector.
func local(kv ...string) mod {
	return func(s *Service) { s.TrafficPolicy, s.Selector = TrafficLocal, kvMap(kv) }
}

// selector sets the selector (traffic policy unchanged).
func selector(kv ...string) mod { return func(s *Service) { s.Selector = kvMap(kv) } }

func kvMap(kv []string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// step is one operation of a scenario and what it should produce.
//
//	alloc / assign: want "ip[,ip]@pool" or "!Reason"
//	release:        want "true" / "false"
//	pools:          want the changed keys joined by " ", or "!error"
type step struct {
	do    string
	svc   Service
	addrs string // for assign
	key   string // for release
	pools []Pool // for pools
	want  string
}

func alloc(s Service, want string) step { return step{do: "alloc", svc: s, want: want} }
func assign(s Service, addrs, want string) step {
	return step{do: "assign", svc: s, addrs: addrs, want: want}
}
func release(key, want string) step { return step{do: "release", key: key, want: want} }
func setPools(want string, ps ...Pool) step {
	return step{do: "pools", pools: ps, want: want}
}

func allocString(al Allocation, err error) string {
	if ie := (*IncompleteError)(nil); errors.As(err, &ie) {
		return addrList(al.IPs) + "@" + al.Pool + "!" + reasonOf(err)
	}
	if err != nil {
		return "!" + reasonOf(err)
	}
	return addrList(al.IPs) + "@" + al.Pool
}

func runSteps(t *testing.T, a *Allocator, steps []step) {
	t.Helper()
	for i, st := range steps {
		var got string
		switch st.do {
		case "alloc":
			got = allocString(a.Allocate(st.svc))
		case "assign":
			var as []netip.Addr
			if st.addrs != "" {
				as = ips(strings.Split(st.addrs, ",")...)
			}
			got = allocString(a.Assign(st.svc, as))
		case "release":
			got = strconv.FormatBool(a.Release(st.key))
		case "pools":
			changed, err := a.SetPools(st.pools)
			got = strings.Join(changed, " ")
			if err != nil {
				got = "!error"
			}
		}
		if got != st.want {
			t.Errorf("step %d (%s %s%s): got %q, want %q", i, st.do, st.svc.Key, st.key, got, st.want)
		}
		auditState(t, a)
	}
}

// auditState checks the allocator's internal invariants.
func auditState(t *testing.T, a *Allocator) {
	t.Helper()
	held := map[netip.Addr][]string{}
	for key, h := range a.services {
		if h.n == 0 {
			t.Fatalf("%s holds an empty allocation", key)
		}
		for i, ip := range h.ips() {
			if h.spans[i].pool != h.pool || a.spanFor(ip) != h.spans[i] {
				t.Fatalf("%s: %s recorded in the wrong span", key, ip)
			}
			if _, ok := h.spans[i].ordinal(ip); !ok {
				t.Fatalf("%s: %s is not usable in pool %s", key, ip, h.pool.name())
			}
			held[ip] = append(held[ip], key)
		}
		found := false
		for m := h.pool.members; m != nil; m = m.next {
			found = found || m == h
			if m.next != nil && m.next.prev != m {
				t.Fatalf("pool %s: broken members list", h.pool.name())
			}
		}
		if !found {
			t.Fatalf("%s missing from pool members", key)
		}
	}
	for _, p := range a.pools {
		for m := p.members; m != nil; m = m.next {
			if a.services[m.svc.Key] != m {
				t.Fatalf("pool %s lists released %s", p.name(), m.svc.Key)
			}
		}
	}
	if len(held) != len(a.ips) {
		t.Fatalf("ips map has %d entries, holdings use %d addresses", len(a.ips), len(held))
	}
	var used uint64
	for _, p := range a.pools {
		for _, fs := range p.spans {
			for _, s := range fs {
				used += s.used.len()
			}
		}
	}
	if used != uint64(len(held)) {
		t.Fatalf("used sets count %d addresses, %d held", used, len(held))
	}
	for ip, keys := range held {
		use := a.ips[ip]
		if use == nil || len(use.holders) != len(keys) {
			t.Fatalf("%s: holders mismatch", ip)
		}
		if o, _ := use.span.ordinal(ip); !use.span.used.contains(o) {
			t.Fatalf("%s held but free in its span", ip)
		}
		for i, x := range use.holders {
			for _, y := range use.holders[i+1:] {
				if x.svc.Request.SharingKey == "" || x.svc.Request.SharingKey != y.svc.Request.SharingKey {
					t.Fatalf("%s shared by %s and %s without a common key", ip, x.svc.Key, y.svc.Key)
				}
				if _, clash := portClash(x.svc.Ports, y.svc.Ports); clash {
					t.Fatalf("%s shared by %s and %s with clashing ports", ip, x.svc.Key, y.svc.Key)
				}
				if !backendsCompatible(&x.svc, &y.svc) {
					t.Fatalf("%s shared by %s and %s with incompatible backends", ip, x.svc.Key, y.svc.Key)
				}
			}
		}
	}
}

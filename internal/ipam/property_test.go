package ipam

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// naive is a reference allocator for Services without requests or sharing:
// it scans each pool from its first address, as the simplest correct
// allocator would.
type naive struct {
	pools []Pool // in automatic-assignment order
	held  map[netip.Addr]string
	svcs  map[string][]netip.Addr
}

func newNaive(pools []Pool) *naive {
	ps := slices.Clone(pools)
	rank := func(p Pool) (int, int) {
		switch {
		case p.Allocation == nil:
			return 2, 0
		case p.Allocation.Priority > 0:
			return 0, p.Allocation.Priority
		}
		return 1, 0
	}
	slices.SortFunc(ps, func(a, b Pool) int {
		ca, pa := rank(a)
		cb, pb := rank(b)
		return cmp.Or(cmp.Compare(ca, cb), cmp.Compare(pa, pb), cmp.Compare(a.Name, b.Name))
	})
	return &naive{pools: ps, held: map[netip.Addr]string{}, svcs: map[string][]netip.Addr{}}
}

func (n *naive) free(p Pool, f Family) (netip.Addr, bool) {
	rs := slices.Clone(p.Ranges)
	slices.SortFunc(rs, func(a, b Range) int { return a.First.Compare(b.First) })
	for _, r := range rs {
		if r.Family() != f {
			continue
		}
		for a := r.First; a.IsValid() && a.Compare(r.Last) <= 0; a = a.Next() {
			if _, taken := n.held[a]; !taken && (!p.AvoidBuggyIPs || !isBuggy(a)) {
				return a, true
			}
		}
	}
	return netip.Addr{}, false
}

func (n *naive) allocate(key string, fs []Family) ([]netip.Addr, bool) {
	if got, ok := n.svcs[key]; ok {
		return got, true
	}
	for _, p := range n.pools {
		var out []netip.Addr
		for _, f := range fs {
			a, ok := n.free(p, f)
			if !ok {
				break
			}
			out = append(out, a)
		}
		if len(out) == len(fs) {
			for _, a := range out {
				n.held[a] = key
			}
			n.svcs[key] = out
			return out, true
		}
	}
	return nil, false
}

func (n *naive) release(key string) {
	for _, a := range n.svcs[key] {
		delete(n.held, a)
	}
	delete(n.svcs, key)
}

// randomPools returns up to three disjoint pools of small ranges that cross
// .255/.0 boundaries, some with avoidBuggyIPs and priorities.
func randomPools(r *rand.Rand) []Pool {
	var out []Pool
	for i := range 1 + r.IntN(3) {
		p := Pool{Name: fmt.Sprintf("p%d", i), AutoAssign: true, AvoidBuggyIPs: r.IntN(2) == 0}
		if r.IntN(2) == 0 {
			p.Allocation = &ServiceAllocation{Priority: r.IntN(3)}
		}
		for j := range 1 + r.IntN(3) {
			if r.IntN(3) > 0 {
				start := netip.AddrFrom4([4]byte{10, byte(i), byte(2 * j), byte(250 + r.IntN(6))})
				p.Ranges = append(p.Ranges, Range{First: start, Last: addN(start, r.IntN(12))})
			} else {
				start := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, byte(i), 0, byte(j), 15: byte(r.IntN(200))})
				p.Ranges = append(p.Ranges, Range{First: start, Last: addN(start, r.IntN(8))})
			}
		}
		out = append(out, p)
	}
	return out
}

func addN(a netip.Addr, n int) netip.Addr {
	for range n {
		a = a.Next()
	}
	return a
}

// TestAgainstNaiveModel drives random Allocate/Release sequences through the
// allocator and a linear-scan reference and requires identical answers.
func TestAgainstNaiveModel(t *testing.T) {
	policies := []struct {
		policy FamilyPolicy
		fams   []Family
	}{
		{SingleStack, []Family{IPv4}},
		{SingleStack, []Family{IPv6}},
		{RequireDualStack, []Family{IPv4, IPv6}},
		{RequireDualStack, []Family{IPv6, IPv4}},
	}
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 42))
		pools := randomPools(r)
		a := newAlloc(t, pools...)
		model := newNaive(pools)
		specs := map[string]Service{}
		var live []string
		for i := range 300 {
			switch op := r.IntN(10); {
			case op < 6 || len(live) == 0:
				pol := policies[r.IntN(len(policies))]
				s := mk(fmt.Sprintf("ns/s%d", i), fams(pol.policy, pol.fams...))
				want, ok := model.allocate(s.Key, pol.fams)
				got, err := a.Allocate(s)
				if ok != (err == nil) || (ok && !slices.Equal(got.IPs, want)) {
					t.Fatalf("seed %d op %d: Allocate(%s %v) = %v, %v; model %v, %v\npools %+v",
						seed, i, s.Key, pol.fams, got.IPs, err, want, ok, pools)
				}
				if ok {
					live = append(live, s.Key)
					specs[s.Key] = s
				}
			case op < 9:
				j := r.IntN(len(live))
				key := live[j]
				live = slices.Delete(live, j, j+1)
				model.release(key)
				if !a.Release(key) {
					t.Fatalf("seed %d: Release(%s) = false", seed, key)
				}
			default:
				key := live[r.IntN(len(live))]
				got, err := a.Allocate(specs[key])
				if err != nil || !slices.Equal(got.IPs, model.svcs[key]) {
					t.Fatalf("seed %d: re-Allocate(%s) = %v, %v; want %v", seed, key, got.IPs, err, model.svcs[key])
				}
			}
		}
		auditState(t, a)
	}
}

// TestRandomInvariants throws everything at the allocator (sharing keys,
// ports, traffic policies, requests, Assign, pool changes) and checks after
// every call that no address is held by two Services that may not share it,
// that every address is a usable address of its pool, and that Allocate is
// idempotent.
func TestRandomInvariants(t *testing.T) {
	for seed := range uint64(150) {
		r := rand.New(rand.NewPCG(seed, 7))
		configs := [][]Pool{randomPools(r), randomPools(r)}
		cfg := configs[0]
		a := newAlloc(t, cfg...)
		specs := map[string]Service{}
		randomAddr := func() netip.Addr {
			p := cfg[r.IntN(len(cfg))]
			rg := p.Ranges[r.IntN(len(p.Ranges))]
			return addN(rg.First, r.IntN(14))
		}
		randomSvc := func(key string) Service {
			s := mk(key)
			s.Request.SharingKey = []string{"", "a", "b"}[r.IntN(3)]
			s.Ports = []Port{{Protocol: []string{"TCP", "UDP"}[r.IntN(2)], Port: int32(r.IntN(3))}}
			if r.IntN(3) == 0 {
				s.TrafficPolicy = TrafficLocal
			}
			s.Selector = []map[string]string{nil, {"app": "x"}, {"app": "y"}}[r.IntN(3)]
			switch r.IntN(4) {
			case 0:
				s.FamilyPolicy, s.Families = SingleStack, []Family{IPv6}
			case 1:
				s.FamilyPolicy, s.Families = PreferDualStack, []Family{IPv4, IPv6}
			case 2:
				s.FamilyPolicy, s.Families = RequireDualStack, []Family{IPv6, IPv4}
			}
			if r.IntN(4) == 0 {
				s.Request.IPs = []netip.Addr{randomAddr()}
			}
			if r.IntN(6) == 0 {
				s.Request.Pool = cfg[r.IntN(len(cfg))].Name
			}
			return s
		}
		for i := range 250 {
			key := fmt.Sprintf("ns/s%d", r.IntN(40))
			switch op := r.IntN(20); {
			case op < 12:
				s := randomSvc(key)
				specs[key] = s
				got, err := a.Allocate(s)
				ie := (*IncompleteError)(nil)
				switch {
				case err == nil || errors.As(err, &ie):
					again, err2 := a.Allocate(s)
					if (err2 == nil) != (err == nil) || !slices.Equal(again.IPs, got.IPs) || again.Pool != got.Pool {
						t.Fatalf("seed %d op %d: Allocate(%s) not idempotent: %v, %v then %v, %v", seed, i, key, got, err, again, err2)
					}
					if ie != nil {
						held, ok := a.Allocation(key)
						if !ok || !slices.Equal(held.IPs, ie.Kept) || held.Pool != ie.Pool || len(ie.Kept) != 1 || s.FamilyPolicy != RequireDualStack {
							t.Fatalf("seed %d op %d: Allocate(%s) kept %v (%v), holds %v", seed, i, key, ie.Kept, err, held)
						}
					}
				default:
					if _, held := a.Allocation(key); held {
						t.Fatalf("seed %d op %d: failed Allocate(%s) left an allocation: %v", seed, i, key, err)
					}
				}
			case op < 16:
				a.Release(key)
			case op < 19:
				s := randomSvc(key)
				specs[key] = s
				_, _ = a.Assign(s, []netip.Addr{randomAddr()})
			default:
				cfg = configs[r.IntN(2)]
				if _, err := a.SetPools(cfg); err != nil {
					t.Fatalf("SetPools: %v", err)
				}
			}
			checkPublicInvariants(t, a, cfg, specs)
			auditState(t, a)
		}
	}
}

func checkPublicInvariants(t *testing.T, a *Allocator, cfg []Pool, specs map[string]Service) {
	t.Helper()
	byName := map[string]Pool{}
	for _, p := range cfg {
		byName[p.Name] = p
	}
	holders := map[netip.Addr][]string{}
	for key := range specs {
		al, ok := a.Allocation(key)
		if !ok {
			continue
		}
		p, ok := byName[al.Pool]
		if !ok {
			t.Fatalf("%s holds %v of unknown pool %q", key, al.IPs, al.Pool)
		}
		for _, ip := range al.IPs {
			in := false
			for _, rg := range p.Ranges {
				in = in || rg.Contains(ip)
			}
			if !in || (p.AvoidBuggyIPs && isBuggy(ip)) {
				t.Fatalf("%s holds %s, not a usable address of pool %s %v", key, ip, p.Name, p.Ranges)
			}
			holders[ip] = append(holders[ip], key)
		}
	}
	for ip, keys := range holders {
		for i, x := range keys {
			for _, y := range keys[i+1:] {
				sx, sy := specs[x], specs[y]
				k := sx.Request.SharingKey
				_, clash := portClash(sx.Ports, sy.Ports)
				if k == "" || k != sy.Request.SharingKey || clash || !backendsCompatible(&sx, &sy) {
					t.Fatalf("%s held by %s and %s, which may not share it", ip, x, y)
				}
			}
		}
	}
}

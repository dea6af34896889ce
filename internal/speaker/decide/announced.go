package decide

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Coverage says whether some node announces every address of one Service,
// in layer 2 or over BGP, and why not.
type Coverage struct {
	// Pooled is false when no address of the Service lies in an
	// IPAddressPool: ironlb announces none of them and says nothing about
	// the Service.
	Pooled bool
	// Missing are the addresses of the Service in a pool that no node
	// announces, sorted by address; empty when every one is announced.
	Missing []Missing
}

// Missing is one address of a Service that no node announces.
type Missing struct {
	Addr netip.Addr
	// Pool is the IPAddressPool holding the address.
	Pool string
	// L2 says why no node answers ARP/NDP for it (IP.Reason).
	L2 string
	// BGP says why no node announces it over BGP; empty when BGP is not
	// in use (no BGPAdvertisement selects the pool and there is no
	// BGPPeer).
	BGP string
}

// Announced reports whether every pooled address of the Service is
// announced.
func (c Coverage) Announced() bool { return len(c.Missing) == 0 }

// Message describes the missing addresses, one sentence group per
// address: "10.0.0.5 is not announced. Layer 2: <L2>. BGP: <BGP>." It is
// empty when every address is announced.
func (c Coverage) Message() string {
	parts := make([]string, 0, len(c.Missing))
	for _, m := range c.Missing {
		s := m.Addr.String() + " is not announced. Layer 2: " + m.L2 + "."
		if m.BGP != "" {
			s += " BGP: " + m.BGP + "."
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// Cover computes the Coverage of the Services of in whose keys are in keys
// (every Service when keys is nil), from res, the Result of Decide(in).
// An address counts as announced when Decide elected a node for it, or
// else when the routes DecideBGP gives some live member (in.Members) for
// the Service cover it; it says nothing about BGP sessions being up.
//
// It is pure and deterministic, like Decide. Cost: a lookup per address;
// DecideBGP runs only when some address has no layer 2 announcer and its
// pool has BGPAdvertisements, once per live node, on the Services holding
// such addresses alone.
func Cover(in *Input, res Result, keys map[string]bool) map[string]Coverage {
	byAddr := make(map[netip.Addr]*IP, len(res.IPs))
	for i := range res.IPs {
		byAddr[res.IPs[i].Addr] = &res.IPs[i]
	}
	out := map[string]Coverage{}
	// Addresses without a layer 2 announcer in a pool with
	// BGPAdvertisements, per Service.
	var bgpSvcs []BGPService
	for i := range in.Services {
		s := &in.Services[i]
		if keys != nil && !keys[s.Key] {
			continue
		}
		var c Coverage
		bgp := false
		for _, raw := range s.IPs {
			ip := byAddr[raw.Unmap()]
			if ip == nil || ip.Pool == "" {
				continue
			}
			c.Pooled = true
			if ip.Node != "" {
				continue
			}
			m := Missing{Addr: ip.Addr, Pool: ip.Pool, L2: ip.Reason}
			switch {
			case hasBGPAdvertisement(in, ip.Pool):
				bgp = true
			case in.Config != nil && len(in.Config.Peers) > 0:
				m.BGP = "no BGPAdvertisement selects IPAddressPool " + quote(ip.Pool)
			}
			c.Missing = append(c.Missing, m)
		}
		slices.SortFunc(c.Missing, func(a, b Missing) int { return a.Addr.Compare(b.Addr) })
		c.Missing = slices.CompactFunc(c.Missing, func(a, b Missing) bool { return a.Addr == b.Addr })
		out[s.Key] = c
		if bgp {
			bgpSvcs = append(bgpSvcs, BGPService{Service: *s})
		}
	}
	if len(bgpSvcs) > 0 {
		coverBGP(in, bgpSvcs, out)
	}
	return out
}

// hasBGPAdvertisement reports whether some BGPAdvertisement selects pool.
func hasBGPAdvertisement(in *Input, pool string) bool {
	if in.Config == nil {
		return false
	}
	for i := range in.Config.BGPAdvertisements {
		if slices.Contains(in.Config.BGPAdvertisements[i].Pools, pool) {
			return true
		}
	}
	return false
}

// bgpMiss is one missing address of one Service and, per reason, the
// nodes that do not announce it over BGP, each counted under the first
// reason it fails, in the order of the fields; other holds the reasons
// DecideBGP gives that have no field.
type bgpMiss struct {
	addr netip.Addr
	// covered is true once some node announces it.
	covered bool

	dead, excluded, noPeer, unavailable, noEndpoint, noAdvertisement int
	other                                                            map[string]int
}

// coverBGP drops from out the missing addresses of svcs that some live
// node announces over BGP, and explains the others in their BGP field.
func coverBGP(in *Input, svcs []BGPService, out map[string]Coverage) {
	misses := map[string][]*bgpMiss{} // by Service key
	for _, s := range svcs {
		for _, m := range out[s.Key].Missing {
			if hasBGPAdvertisement(in, m.Pool) {
				misses[s.Key] = append(misses[s.Key], &bgpMiss{addr: m.Addr})
			}
		}
	}
	members := make(map[string]bool, len(in.Members))
	for _, m := range in.Members {
		members[m] = true
	}
	for i := range in.Nodes {
		n := &in.Nodes[i]
		if !members[n.Name] {
			for _, bs := range misses {
				for _, b := range bs {
					b.dead++
				}
			}
			continue
		}
		r := DecideBGP(&BGPInput{Config: in.Config, Self: n, Services: svcs})
		covered := map[*bgpMiss]bool{}
		for _, rt := range r.Routes {
			for _, sk := range rt.Services {
				for _, b := range misses[sk] {
					if rt.Prefix.Contains(b.addr) {
						covered[b] = true
					}
				}
			}
		}
		for _, s := range svcs {
			for _, b := range misses[s.Key] {
				switch {
				case covered[b]:
					b.covered = true
				case excluded(n):
					b.excluded++
				case len(r.Peers) == 0:
					b.noPeer++
				case n.NetworkUnavailable:
					b.unavailable++
				case r.Reason != "":
					if b.other == nil {
						b.other = map[string]int{}
					}
					b.other[r.Reason]++
				case s.Local && !slices.Contains(s.EndpointNodes, n.Name):
					b.noEndpoint++
				default:
					b.noAdvertisement++
				}
			}
		}
	}
	for sk, bs := range misses {
		c := out[sk]
		kept := c.Missing[:0]
		for _, m := range c.Missing {
			i := slices.IndexFunc(bs, func(b *bgpMiss) bool { return b.addr == m.Addr })
			switch {
			case i < 0:
				kept = append(kept, m)
			case !bs[i].covered:
				m.BGP = bs[i].why(len(in.Nodes), m.Pool)
				kept = append(kept, m)
			}
		}
		c.Missing = nil
		if len(kept) > 0 {
			c.Missing = kept
		}
		out[sk] = c
	}
}

// why says, with counts, why none of total nodes announces the address
// over BGP.
func (b *bgpMiss) why(total int, pool string) string {
	if total == 0 {
		return "no node is known"
	}
	var parts []string
	add := func(k int, what string) {
		if k > 0 {
			parts = append(parts, strconv.Itoa(k)+" "+what)
		}
	}
	add(b.dead, "not running a live speaker")
	add(b.excluded, "labelled "+LabelExcludeFromLoadBalancers)
	add(b.noPeer, "selected by no BGPPeer")
	add(b.unavailable, "with NetworkUnavailable=True")
	others := make([]string, 0, len(b.other))
	for r := range b.other {
		others = append(others, r)
	}
	slices.Sort(others)
	for _, r := range others {
		add(b.other[r], "where "+r)
	}
	add(b.noEndpoint, "without a ready endpoint (externalTrafficPolicy: Local)")
	add(b.noAdvertisement, "not selected, with the Service and one of its BGPPeers, by a BGPAdvertisement of IPAddressPool "+quote(pool))
	return fmt.Sprintf("no node announces it: of %d nodes, %s", total, strings.Join(parts, ", "))
}

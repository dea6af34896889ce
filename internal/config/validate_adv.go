package config

import (
	"time"

	"fmt"
	"reflect"
	"slices"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// adRefs is what advertisements refer to, already decided.
type adRefs struct {
	pools    *kindRun[v1beta1.IPAddressPool, Pool]
	poolList []Pool // the Snapshot's pools, sorted by name
	peers    *kindRun[v1beta1.BGPPeer, Peer]
	comm     *kindRun[v1beta1.Community, Community]
}

// selectPools resolves a pool selection to the names of the Snapshot's
// pools it picks, sorted. Named pools that do not exist are errors; named
// pools that exist but are not in use are warnings. explicit tells, per
// returned pool, whether it was named (rather than selected by label).
func (a *adRefs) selectPools(sel PoolSelection, p *problems) (names []string, explicit map[string]bool) {
	explicit = map[string]bool{}
	inSnapshot := func(n string) bool {
		_, ok := find(a.poolList, n, poolName)
		return ok
	}
	for i, n := range sel.Names {
		field := fmt.Sprintf("spec.ipAddressPools[%d]", i)
		switch {
		case inSnapshot(n):
			explicit[n] = true
			names = append(names, n)
		case a.pools.defined[n]:
			p.warn(v1beta1.ReasonMissingReference, field, n, "IPAddressPool %q is not in use (see its own status); this advertisement skips it until it is fixed", n)
		default:
			p.add(v1beta1.ReasonMissingReference, field, n, "no IPAddressPool named %q exists; create it or remove it from this list", n)
		}
	}
	for _, pool := range a.poolList {
		if len(sel.Names) == 0 && len(sel.Selectors) == 0 || selectsAny(sel.Selectors, pool.Labels) {
			names = append(names, pool.Name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), explicit
}

// The Lease durations of an L2Advertisement's leaseFencing.
const (
	DefaultLeaseDuration = 6 * time.Second
	MinLeaseDuration     = 2 * time.Second
	MaxLeaseDuration     = 60 * time.Second
)

func (b *builder) buildL2Advertisements(cands []candidate[v1beta1.L2Advertisement], refs *adRefs) *kindRun[v1beta1.L2Advertisement, L2Advertisement] {
	r := newKindRun(b, KindL2Advertisement, cands, b.prev.L2Advertisement)
	r.validate(func(c *candidate[v1beta1.L2Advertisement], p *problems) L2Advertisement {
		s := &c.obj.Spec
		ad := L2Advertisement{
			Name:             c.name,
			PoolSelection:    PoolSelection{Names: slices.Clone(s.IPAddressPools), Selectors: cloneSelectors(s.IPAddressPoolSelectors)},
			NodeSelectors:    cloneSelectors(s.NodeSelectors),
			ServiceSelectors: cloneSelectors(s.ServiceSelectors),
			Interfaces:       slices.Clone(s.Interfaces),
			Even:             s.Spread == v1beta1.L2SpreadEven,
		}
		if s.Spread != "" && s.Spread != v1beta1.L2SpreadHash && s.Spread != v1beta1.L2SpreadEven {
			p.add(v1beta1.ReasonInvalidSpec, "spec.spread", string(s.Spread), "must be Hash or Even")
		}
		if c.name == "" {
			p.add(v1beta1.ReasonInvalidSpec, "metadata.name", "", "missing; every advertisement needs a name")
		}
		checkSelectors(p, "spec.ipAddressPoolSelectors", s.IPAddressPoolSelectors)
		checkSelectors(p, "spec.nodeSelectors", s.NodeSelectors)
		checkSelectors(p, "spec.serviceSelectors", s.ServiceSelectors)
		for i, pref := range s.PreferredNodeSelectors {
			field := fmt.Sprintf("spec.preferredNodeSelectors[%d]", i)
			if pref.Weight < 1 || pref.Weight > 100 {
				p.add(v1beta1.ReasonInvalidSpec, field+".weight", strconv.Itoa(int(pref.Weight)), "must be 1 to 100")
			}
			if _, err := metav1.LabelSelectorAsSelector(&pref.Preference); err != nil {
				p.add(v1beta1.ReasonInvalidSpec, field+".preference", "", "not a valid label selector: %v", err)
			}
			ad.PreferredNodes = append(ad.PreferredNodes, PreferredNodes{Weight: int(pref.Weight), Selector: *pref.Preference.DeepCopy()})
		}
		for i, n := range s.Interfaces {
			if n == "" {
				p.add(v1beta1.ReasonInvalidSpec, fmt.Sprintf("spec.interfaces[%d]", i), "", "empty interface name")
			}
		}
		if f := s.LeaseFencing; f != nil {
			ad.LeaseDuration = DefaultLeaseDuration
			if f.LeaseDuration != nil {
				ad.LeaseDuration = f.LeaseDuration.Duration
			}
			if ad.LeaseDuration < MinLeaseDuration || ad.LeaseDuration > MaxLeaseDuration {
				p.add(v1beta1.ReasonInvalidSpec, "spec.leaseFencing.leaseDuration", ad.LeaseDuration.String(), "must be from %s to %s", MinLeaseDuration, MaxLeaseDuration)
			}
		}
		ad.Pools, _ = refs.selectPools(ad.PoolSelection, p)
		return ad
	})
	r.refresh(func(v *L2Advertisement) L2Advertisement {
		ad := *v
		ad.Pools, _ = refs.selectPools(ad.PoolSelection, &problems{})
		return ad
	})
	return r
}

func (b *builder) buildBGPAdvertisements(cands []candidate[v1beta1.BGPAdvertisement], refs *adRefs) *kindRun[v1beta1.BGPAdvertisement, BGPAdvertisement] {
	r := newKindRun(b, KindBGPAdvertisement, cands, b.prev.BGPAdvertisement)
	r.validate(func(c *candidate[v1beta1.BGPAdvertisement], p *problems) BGPAdvertisement {
		return refs.validateBGPAdvertisement(c, p)
	})
	r.refresh(func(v *BGPAdvertisement) BGPAdvertisement {
		ad := *v
		dummy := &problems{}
		ad.Pools = refs.fitPools(&ad, dummy)
		ad.Peers = refs.resolvePeers(ad.PeerNames, dummy)
		return ad
	})
	r.resolveConflicts(func(a, b *BGPAdvertisement) bool {
		return a.LocalPref == b.LocalPref && a.ASPathPrepend == b.ASPathPrepend && slices.Equal(a.Pools, b.Pools) && slices.Equal(a.Peers, b.Peers) &&
			a.AggregationLength == b.AggregationLength && a.AggregationLengthV6 == b.AggregationLengthV6 &&
			reflect.DeepEqual(a.NodeSelectors, b.NodeSelectors) && reflect.DeepEqual(a.ServiceSelectors, b.ServiceSelectors)
	}, refs.attributeClash)
	return r
}

func (a *adRefs) validateBGPAdvertisement(c *candidate[v1beta1.BGPAdvertisement], p *problems) BGPAdvertisement {
	s := &c.obj.Spec
	ad := BGPAdvertisement{
		Name:                c.name,
		PoolSelection:       PoolSelection{Names: slices.Clone(s.IPAddressPools), Selectors: cloneSelectors(s.IPAddressPoolSelectors)},
		AggregationLength:   32,
		AggregationLengthV6: 128,
		LocalPref:           s.LocalPref,
		ASPathPrepend:       int(s.AsPathPrepend),
		PeerNames:           slices.Clone(s.Peers),
		NodeSelectors:       cloneSelectors(s.NodeSelectors),
		ServiceSelectors:    cloneSelectors(s.ServiceSelectors),
	}
	if c.name == "" {
		p.add(v1beta1.ReasonInvalidSpec, "metadata.name", "", "missing; every advertisement needs a name")
	}
	if v := s.AsPathPrepend; v < 0 || v > 10 {
		p.add(v1beta1.ReasonInvalidSpec, "spec.asPathPrepend", strconv.Itoa(int(v)), "must be 1 to 10 (or unset)")
		ad.ASPathPrepend = 0
	}
	if v := s.AggregationLength; v != nil {
		ad.AggregationLength = int(*v)
		if *v < 0 || *v > 32 {
			p.add(v1beta1.ReasonInvalidSpec, "spec.aggregationLength", strconv.Itoa(int(*v)), "must be 0 to 32 (an IPv4 prefix length)")
		}
	}
	if v := s.AggregationLengthV6; v != nil {
		ad.AggregationLengthV6 = int(*v)
		if *v < 0 || *v > 128 {
			p.add(v1beta1.ReasonInvalidSpec, "spec.aggregationLengthV6", strconv.Itoa(int(*v)), "must be 0 to 128 (an IPv6 prefix length)")
		}
	}
	checkSelectors(p, "spec.ipAddressPoolSelectors", s.IPAddressPoolSelectors)
	checkSelectors(p, "spec.nodeSelectors", s.NodeSelectors)
	checkSelectors(p, "spec.serviceSelectors", s.ServiceSelectors)
	ad.Communities = a.resolveCommunities(s.Communities, p)
	ad.Peers = a.resolvePeers(s.Peers, p)
	ad.Pools = a.fitPools(&ad, p)
	return ad
}

// fitPools selects the advertisement's pools and keeps those its
// aggregation lengths fit. An aggregation length shorter than the largest
// CIDR of a pool's range would announce addresses outside the pool: an
// error for a pool named in spec.ipAddressPools, a warning (and the pool
// is skipped) for a pool picked by label.
func (a *adRefs) fitPools(ad *BGPAdvertisement, p *problems) []string {
	names, explicit := a.selectPools(ad.PoolSelection, p)
	out := names[:0:0]
	for _, n := range names {
		pool, _ := find(a.poolList, n, poolName)
		if a.aggregationFits(ad, pool, explicit[n], p) {
			out = append(out, n)
		}
	}
	return out
}

func (a *adRefs) aggregationFits(ad *BGPAdvertisement, pool *Pool, explicit bool, p *problems) bool {
	for _, r := range pool.Ranges {
		field, agg := "spec.aggregationLength", ad.AggregationLength
		if !r.Is4() {
			field, agg = "spec.aggregationLengthV6", ad.AggregationLengthV6
		}
		if shortest := r.ShortestPrefixLen(); agg < shortest {
			report := p.add
			what := "use %d or more"
			if !explicit {
				report = p.warn
				what = "the pool is skipped; use %d or more, or keep the pool out of ipAddressPoolSelectors"
			}
			report(v1beta1.ReasonInvalidSpec, field, strconv.Itoa(agg),
				"is shorter than the /%d that %s of IPAddressPool %q spans, so routes would cover addresses outside the pool; "+what,
				shortest, r, pool.Name, shortest)
			return false
		}
	}
	return true
}

// resolveCommunities turns community values and aliases into values,
// sorted and without repeats.
func (a *adRefs) resolveCommunities(in []string, p *problems) []BGPCommunity {
	var out []BGPCommunity
	for i, s := range in {
		field := fmt.Sprintf("spec.communities[%d]", i)
		if !isAliasName(s) {
			v, err := ParseCommunity(s)
			if err != nil {
				p.add(v1beta1.ReasonInvalidSpec, field, s, "%v", err)
				continue
			}
			out = append(out, v)
			continue
		}
		v, inUse, defined := a.alias(s)
		switch {
		case inUse:
			out = append(out, v)
		case defined:
			p.warn(v1beta1.ReasonMissingReference, field, s, "the Community defining alias %q is not in use (see its own status); the routes go out without this community until it is fixed", s)
		default:
			p.add(v1beta1.ReasonMissingReference, field, s, "no Community defines the alias %q; define it (in a Community object or the legacy bgp-communities), or write the value as AA:NN", s)
		}
	}
	slices.SortFunc(out, compareCommunity)
	return slices.Compact(out)
}

// alias looks an alias up among the Communities in use, and says whether
// any Community defines it at all.
func (a *adRefs) alias(name string) (v BGPCommunity, inUse, defined bool) {
	for _, e := range a.comm.entries {
		if e.use != nil {
			for _, al := range e.use.Aliases {
				if al.Name == name {
					return al.Value, true, true
				}
			}
		}
		if e.c.obj != nil && slices.ContainsFunc(e.c.obj.Spec.Communities, func(al v1beta1.CommunityAlias) bool { return al.Name == name }) {
			defined = true
		}
	}
	for _, e := range a.comm.losers {
		if e.c.obj != nil && slices.ContainsFunc(e.c.obj.Spec.Communities, func(al v1beta1.CommunityAlias) bool { return al.Name == name }) {
			defined = true
		}
	}
	return BGPCommunity{}, false, defined
}

// resolvePeers keeps the named peers that are in use, sorted.
func (a *adRefs) resolvePeers(names []string, p *problems) []string {
	var out []string
	for i, n := range names {
		field := fmt.Sprintf("spec.peers[%d]", i)
		switch _, ok := a.peers.inUse(n); {
		case ok:
			out = append(out, n)
		case a.peers.defined[n]:
			p.warn(v1beta1.ReasonMissingReference, field, n, "BGPPeer %q is not in use (see its own status); the routes are not announced to it until it is fixed", n)
		default:
			p.add(v1beta1.ReasonMissingReference, field, n, "no BGPPeer named %q exists; create it or remove it from this list", n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// attributeClash reports two advertisements that would send the same
// route to the same peer from the same node with different LOCAL_PREF
// values or AS_PATH prepends: a route carries one of each, so only one of
// them could win. An unset value (0) clashes with nothing: the route takes
// the other's.
func (a *adRefs) attributeClash(v, other *BGPAdvertisement, otherName string, p *problems) bool {
	lp := v.LocalPref != 0 && other.LocalPref != 0 && v.LocalPref != other.LocalPref
	pp := v.ASPathPrepend != 0 && other.ASPathPrepend != 0 && v.ASPathPrepend != other.ASPathPrepend
	if !lp && !pp {
		return false
	}
	if !v.AllPeers() && !other.AllPeers() && !slices.ContainsFunc(v.Peers, func(n string) bool { return slices.Contains(other.Peers, n) }) {
		return false
	}
	if !selectorsMayOverlap(v.NodeSelectors, other.NodeSelectors) || !selectorsMayOverlap(v.ServiceSelectors, other.ServiceSelectors) {
		return false
	}
	for _, n := range v.Pools {
		if !slices.Contains(other.Pools, n) {
			continue
		}
		pool, _ := find(a.poolList, n, poolName)
		for _, r := range pool.Ranges {
			if r.Is4() && v.AggregationLength == other.AggregationLength || !r.Is4() && v.AggregationLengthV6 == other.AggregationLengthV6 {
				if lp {
					p.add(v1beta1.ReasonDuplicate, "spec.localPref", strconv.FormatUint(uint64(v.LocalPref), 10),
						"BGPAdvertisement %q already announces the routes of IPAddressPool %q to the same peers with localPref %d; a route carries one LOCAL_PREF, so use the same value, or announce to different peers or from different nodes",
						otherName, n, other.LocalPref)
				}
				if pp {
					p.add(v1beta1.ReasonDuplicate, "spec.asPathPrepend", strconv.Itoa(v.ASPathPrepend),
						"BGPAdvertisement %q already announces the routes of IPAddressPool %q to the same peers with asPathPrepend %d; a route carries one AS_PATH, so use the same value, or announce to different peers or from different nodes",
						otherName, n, other.ASPathPrepend)
				}
				return true
			}
		}
	}
	return false
}

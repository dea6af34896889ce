package decide

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/ironlb/ironlb/internal/config"
)

// AnnotationBGPCommunities is the Service annotation adding BGP communities
// to the routes of the Service's addresses: a comma-separated list of
// standard communities (64512:100), large communities (large:64512:1:2)
// and alias names of Community objects.
const AnnotationBGPCommunities = "ironlb.io/bgp-communities"

// BGPInput is everything DecideBGP reads. DecideBGP never modifies it.
type BGPInput struct {
	// Config is the configuration in use; nil announces nothing.
	Config *config.Snapshot
	// Self is the node running the decision; nil (its Node is not known
	// yet) opens no session and announces nothing.
	Self *Node
	// Services are the Services to announce, with their addresses.
	Services []BGPService
}

// BGPService is one Service to announce over BGP.
type BGPService struct {
	Service
	// Communities is the value of the Service's AnnotationBGPCommunities
	// annotation; empty when absent.
	Communities string
}

// BGPResult is what one node does over BGP.
type BGPResult struct {
	// Peers are the BGPPeers this node opens sessions to, sorted by name.
	// They point into Input.Config: read-only.
	Peers []*config.Peer
	// Routes are the routes to announce, sorted by prefix, then by their
	// first peer. A prefix appears once per peer.
	Routes []BGPRoute
	// Services gives, per Service key, the peers this node announces
	// some address of the Service to, sorted. Services this node does not
	// announce are absent.
	Services map[string][]string
	// InvalidCommunities gives, per key of a Service this node announces,
	// the entries of its AnnotationBGPCommunities annotation that were
	// ignored, each with the reason.
	InvalidCommunities map[string][]string
	// Reason says why the node announces nothing at all, when that is
	// the case because of the node itself; empty otherwise.
	Reason string
}

// BGPRoute is one route to announce to some peers.
type BGPRoute struct {
	// Prefix is masked: a /32 or /128, or the advertisement's aggregation
	// length.
	Prefix netip.Prefix
	// Peers are the names of the peers to announce to, sorted, never
	// empty.
	Peers []string
	// Communities are standard and large communities, sorted, without
	// repeats.
	Communities []config.BGPCommunity
	// LocalPref is the LOCAL_PREF (iBGP peers only); 0 means none.
	LocalPref uint32
	// ASPathPrepend is how many more times the session's AS is prepended
	// to the AS_PATH; 0 means none.
	ASPathPrepend int
	// Services are the keys of the Services whose addresses the route
	// covers, sorted.
	Services []string
}

// DecideBGP computes the BGP sessions and routes of the node in.Self. It is
// pure and deterministic; see the package documentation for the rules.
//
// Cost: O(addresses × advertisements of their pool × peers).
func DecideBGP(in *BGPInput) BGPResult {
	res := BGPResult{Services: map[string][]string{}, InvalidCommunities: map[string][]string{}}
	cfg, self := in.Config, in.Self
	switch {
	case cfg == nil:
		res.Reason = "no configuration has been read yet"
		return res
	case self == nil:
		res.Reason = "this node's Node object is not known yet"
		return res
	case excluded(self):
		res.Reason = "the node is labelled " + LabelExcludeFromLoadBalancers
		return res
	}
	byName := map[string]*config.Peer{}
	for i := range cfg.Peers {
		p := &cfg.Peers[i]
		if matchesAny(compile(p.NodeSelectors), self.Labels) {
			res.Peers = append(res.Peers, p)
			byName[p.Name] = p
		}
	}
	if len(res.Peers) == 0 {
		res.Reason = "no BGPPeer selects this node"
		return res
	}
	if self.NetworkUnavailable {
		res.Reason = "the node's NetworkUnavailable condition is True"
		return res
	}

	// The advertisements selecting this node, by pool, with the peers of
	// this node each goes to.
	type advPeers struct {
		adv   *config.BGPAdvertisement
		peers []*config.Peer
		// services are the compiled serviceSelectors (nil: every Service).
		services []labels.Selector
	}
	byPool := map[string][]advPeers{}
	for i := range cfg.BGPAdvertisements {
		a := &cfg.BGPAdvertisements[i]
		if !matchesAny(compile(a.NodeSelectors), self.Labels) {
			continue
		}
		ap := advPeers{adv: a, services: compile(a.ServiceSelectors)}
		if a.AllPeers() {
			ap.peers = res.Peers
		} else {
			for _, name := range a.Peers {
				if p, ok := byName[name]; ok {
					ap.peers = append(ap.peers, p)
				}
			}
		}
		if len(ap.peers) == 0 {
			continue
		}
		for _, pool := range a.Pools {
			byPool[pool] = append(byPool[pool], ap)
		}
	}

	routes := map[netip.Prefix]map[string]*routeAttrs{}
	for i := range in.Services {
		s := &in.Services[i]
		if s.Local && !slices.Contains(s.EndpointNodes, self.Name) {
			continue
		}
		extra, invalid := ParseBGPCommunities(s.Communities, cfg)
		svcPeers := map[string]bool{}
		for _, raw := range s.IPs {
			ip := raw.Unmap()
			if !ip.IsValid() {
				continue
			}
			pool, ok := cfg.PoolFor(ip)
			if !ok {
				continue
			}
			for _, ap := range byPool[pool.Name] {
				if !matchesAny(ap.services, s.Labels) {
					continue
				}
				bits := ap.adv.AggregationLength
				if ip.Is6() {
					bits = ap.adv.AggregationLengthV6
				}
				prefix, err := ip.Prefix(bits)
				if err != nil {
					continue // config.Build refuses such lengths
				}
				perPeer := routes[prefix]
				if perPeer == nil {
					perPeer = map[string]*routeAttrs{}
					routes[prefix] = perPeer
				}
				for _, p := range ap.peers {
					ra := perPeer[p.Name]
					if ra == nil {
						ra = &routeAttrs{communities: map[config.BGPCommunity]bool{}, services: map[string]bool{}}
						perPeer[p.Name] = ra
					}
					ra.services[s.Key] = true
					for _, c := range ap.adv.Communities {
						ra.communities[c] = true
					}
					for _, c := range extra {
						ra.communities[c] = true
					}
					if ibgp(p) {
						ra.localPref = max(ra.localPref, ap.adv.LocalPref)
					}
					ra.prepend = max(ra.prepend, ap.adv.ASPathPrepend)
					svcPeers[p.Name] = true
				}
			}
		}
		if len(svcPeers) == 0 {
			continue
		}
		res.Services[s.Key] = sortedKeys(svcPeers)
		if len(invalid) > 0 {
			res.InvalidCommunities[s.Key] = invalid
		}
	}
	res.Routes = groupRoutes(routes)
	return res
}

// routeAttrs are the merged attributes of one prefix towards one peer.
type routeAttrs struct {
	communities map[config.BGPCommunity]bool
	localPref   uint32
	prepend     int
	services    map[string]bool
}

// groupRoutes turns the attributes per prefix and peer into routes: the
// peers of a prefix that get the same attributes share one route.
func groupRoutes(routes map[netip.Prefix]map[string]*routeAttrs) []BGPRoute {
	var out []BGPRoute
	for prefix, perPeer := range routes {
		groups := map[string]*BGPRoute{}
		for _, peer := range sortedKeys(perPeer) {
			ra := perPeer[peer]
			comms := make([]config.BGPCommunity, 0, len(ra.communities))
			for c := range ra.communities {
				comms = append(comms, c)
			}
			slices.SortFunc(comms, compareCommunity)
			key := fmt.Sprint(comms, ra.localPref, ra.prepend)
			g := groups[key]
			if g == nil {
				g = &BGPRoute{Prefix: prefix, Communities: comms, LocalPref: ra.localPref, ASPathPrepend: ra.prepend}
				groups[key] = g
			}
			g.Peers = append(g.Peers, peer) // sorted: peers are visited in order
			for svc := range ra.services {
				if !slices.Contains(g.Services, svc) {
					g.Services = append(g.Services, svc)
				}
			}
		}
		for _, g := range groups {
			slices.Sort(g.Services)
			out = append(out, *g)
		}
	}
	slices.SortFunc(out, func(a, b BGPRoute) int {
		return cmp.Or(a.Prefix.Addr().Compare(b.Prefix.Addr()), cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits()),
			strings.Compare(a.Peers[0], b.Peers[0]))
	})
	return out
}

// ibgp reports whether the session to p is internal BGP.
func ibgp(p *config.Peer) bool {
	if p.DynamicASN != "" {
		return p.DynamicASN == "internal"
	}
	return p.PeerASN == p.SessionASN()
}

// ParseBGPCommunities parses the value of AnnotationBGPCommunities:
// comma-separated entries, each a standard community (AA:NN), a large
// community (large:AA:BB:CC) or the alias name of a Community object of
// cfg. Blank entries are skipped. It returns the values, sorted without
// repeats, and the entries it could not use, each quoted with the reason.
func ParseBGPCommunities(value string, cfg *config.Snapshot) (vals []config.BGPCommunity, invalid []string) {
	for _, raw := range strings.Split(value, ",") {
		entry := strings.TrimSpace(raw)
		if entry == "" {
			continue
		}
		if !strings.Contains(entry, ":") {
			v, ok := communityAlias(cfg, entry)
			if !ok {
				invalid = append(invalid, fmt.Sprintf("%q: no Community object defines an alias of that name, and it is no community value (AA:NN or large:AA:BB:CC)", entry))
				continue
			}
			vals = append(vals, v)
			continue
		}
		v, err := config.ParseCommunity(entry)
		if err != nil {
			invalid = append(invalid, fmt.Sprintf("%q: %v", entry, err))
			continue
		}
		vals = append(vals, v)
	}
	slices.SortFunc(vals, compareCommunity)
	return slices.Compact(vals), invalid
}

// communityAlias looks an alias name up in the Community objects of cfg.
func communityAlias(cfg *config.Snapshot, name string) (config.BGPCommunity, bool) {
	if cfg == nil {
		return config.BGPCommunity{}, false
	}
	for i := range cfg.Communities {
		for _, a := range cfg.Communities[i].Aliases {
			if a.Name == name {
				return a.Value, true
			}
		}
	}
	return config.BGPCommunity{}, false
}

// compareCommunity orders standard communities before large ones, then by
// value.
func compareCommunity(a, b config.BGPCommunity) int {
	if a.Large != b.Large {
		if a.Large {
			return 1
		}
		return -1
	}
	return cmp.Or(cmp.Compare(a.Global, b.Global), cmp.Compare(a.Local1, b.Local1), cmp.Compare(a.Local2, b.Local2))
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

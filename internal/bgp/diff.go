package bgp

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/ironlb/ironlb/internal/bfd"
)

// routesFor returns the routes of routes meant for the named peer, by prefix
// (masked). Two routes with the same prefix for the same peer are an error.
func routesFor(peer string, routes []Route) (map[netip.Prefix]Route, error) {
	out := make(map[netip.Prefix]Route)
	for _, r := range routes {
		if len(r.Peers) > 0 && !slices.Contains(r.Peers, peer) {
			continue
		}
		p := r.Prefix.Masked()
		if _, dup := out[p]; dup {
			return nil, fmt.Errorf("routes: prefix %s is given twice for peer %q; give each prefix once per peer", p, peer)
		}
		r.Prefix = p
		out[p] = r
	}
	return out, nil
}

// routeEqual reports whether a and b announce the same path (Peers aside).
func routeEqual(a, b Route) bool {
	return a.Prefix == b.Prefix &&
		slices.Equal(a.Communities, b.Communities) &&
		slices.Equal(a.LargeCommunities, b.LargeCommunities) &&
		(a.LocalPref == nil) == (b.LocalPref == nil) &&
		(a.LocalPref == nil || *a.LocalPref == *b.LocalPref) &&
		a.ASPathPrepend == b.ASPathPrepend &&
		a.NextHopIPv4 == b.NextHopIPv4 && a.NextHopIPv6 == b.NextHopIPv6
}

// diffRoutes returns the routes of want that are new or changed compared to
// have (to announce), and the routes of have that want lacks (to withdraw),
// each sorted by prefix.
func diffRoutes(have, want map[netip.Prefix]Route) (announce, withdraw []Route) {
	for p, w := range want {
		if h, ok := have[p]; !ok || !routeEqual(h, w) {
			announce = append(announce, w)
		}
	}
	for p, h := range have {
		if _, ok := want[p]; !ok {
			withdraw = append(withdraw, h)
		}
	}
	byPrefix := func(a, b Route) int {
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits())
	}
	slices.SortFunc(announce, byPrefix)
	slices.SortFunc(withdraw, byPrefix)
	return announce, withdraw
}

// diffPeers returns the peers of want to create (new or changed) and the
// names of the peers of have to delete (gone or changed), each sorted by
// name. A changed peer appears in both: it is deleted, then created again
// — unless only its BFDProfile changed, BFD on before and after: then it
// is in rebfd alone (its BFD session is replaced, its BGP session kept).
func diffPeers(have map[string]Peer, want []Peer) (create []Peer, remove []string, rebfd []Peer, err error) {
	seen := make(map[string]bool, len(want))
	for _, p := range want {
		if p.Name == "" {
			return nil, nil, nil, fmt.Errorf("peer %s: Name is empty; give every peer a unique name", p.Address)
		}
		if seen[p.Name] {
			return nil, nil, nil, fmt.Errorf("peer %q: given twice; peer names must be unique", p.Name)
		}
		seen[p.Name] = true
		h, ok := have[p.Name]
		if ok && h == p {
			continue
		}
		if ok && h.BFD && p.BFD {
			hb, pb := h, p
			hb.BFDProfile, pb.BFDProfile = bfd.Profile{}, bfd.Profile{}
			if hb == pb {
				rebfd = append(rebfd, p)
				continue
			}
		}
		if ok {
			remove = append(remove, p.Name)
		}
		create = append(create, p)
	}
	for name := range have {
		if !seen[name] {
			remove = append(remove, name)
		}
	}
	slices.SortFunc(create, func(a, b Peer) int { return strings.Compare(a.Name, b.Name) })
	slices.Sort(remove)
	slices.SortFunc(rebfd, func(a, b Peer) int { return strings.Compare(a.Name, b.Name) })
	return create, remove, rebfd, nil
}

package bgp

import (
	"fmt"
	"net/netip"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

var (
	familyIPv4 = &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	familyIPv6 = &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}
)

// maxASPathPrepend bounds Route.ASPathPrepend (the API allows 1-10).
const maxASPathPrepend = 10

// nextHop picks the next hop of r towards p: the route's own for its family,
// else the peer's, else — for the family of the session itself — the
// unspecified address, which GoBGP replaces with the session's local address.
func nextHop(p Peer, r Route) (netip.Addr, error) {
	v4 := r.Prefix.Addr().Is4()
	own, peers := r.NextHopIPv6, p.NextHopIPv6
	if v4 {
		own, peers = r.NextHopIPv4, p.NextHopIPv4
	}
	switch {
	case own.IsValid():
		return own, nil
	case peers.IsValid():
		return peers, nil
	case v4 == p.Address.Is4():
		if v4 {
			return netip.IPv4Unspecified(), nil
		}
		return netip.IPv6Unspecified(), nil
	}
	return netip.Addr{}, fmt.Errorf("route %s to peer %q: no next hop for this family on a session to %s; set the peer's NextHopIPv4/NextHopIPv6 or the route's",
		r.Prefix, p.Name, p.Address)
}

// pathAttributes builds the BGP path attributes announcing r to p.
func pathAttributes(p Peer, r Route) (bgp.AddrPrefixInterface, []bgp.PathAttributeInterface, error) {
	nh, err := nextHop(p, r)
	if err != nil {
		return nil, nil, err
	}
	pfx := r.Prefix.Masked()
	bits := uint8(pfx.Bits()) //nolint:gosec // a prefix length is at most 128
	attrs := []bgp.PathAttributeInterface{bgp.NewPathAttributeOrigin(bgp.BGP_ORIGIN_ATTR_TYPE_IGP)}
	var nlri bgp.AddrPrefixInterface
	if pfx.Addr().Is4() {
		nlri = bgp.NewIPAddrPrefix(bits, pfx.Addr().String())
		if nh.Is4() {
			attrs = append(attrs, bgp.NewPathAttributeNextHop(nh.String()))
		} else {
			attrs = append(attrs, bgp.NewPathAttributeMpReachNLRI(nh.String(), []bgp.AddrPrefixInterface{nlri}))
		}
	} else {
		nlri = bgp.NewIPv6AddrPrefix(bits, pfx.Addr().String())
		attrs = append(attrs, bgp.NewPathAttributeMpReachNLRI(nh.String(), []bgp.AddrPrefixInterface{nlri}))
	}
	if r.LocalPref != nil {
		attrs = append(attrs, bgp.NewPathAttributeLocalPref(*r.LocalPref))
	}
	if n := r.ASPathPrepend; n > 0 {
		if n > maxASPathPrepend {
			return nil, nil, fmt.Errorf("route %s: ASPathPrepend %d: at most %d", r.Prefix, n, maxASPathPrepend)
		}
		asns := make([]uint32, n)
		for i := range asns {
			asns[i] = p.MyASN
		}
		attrs = append(attrs, bgp.NewPathAttributeAsPath([]bgp.AsPathParamInterface{
			bgp.NewAs4PathParam(bgp.BGP_ASPATH_ATTR_TYPE_SEQ, asns),
		}))
	}
	if len(r.Communities) > 0 {
		cs := make([]uint32, len(r.Communities))
		for i, c := range r.Communities {
			cs[i] = uint32(c)
		}
		attrs = append(attrs, bgp.NewPathAttributeCommunities(cs))
	}
	if len(r.LargeCommunities) > 0 {
		ls := make([]*bgp.LargeCommunity, len(r.LargeCommunities))
		for i, c := range r.LargeCommunities {
			ls[i] = bgp.NewLargeCommunity(c.Global, c.Local1, c.Local2)
		}
		attrs = append(attrs, bgp.NewPathAttributeLargeCommunities(ls))
	}
	return nlri, attrs, nil
}

// apiPath builds the GoBGP API path announcing r to p.
func apiPath(p Peer, r Route) (*api.Path, error) {
	nlri, attrs, err := pathAttributes(p, r)
	if err != nil {
		return nil, err
	}
	anyNLRI, err := apiutil.MarshalNLRI(nlri)
	if err != nil {
		return nil, fmt.Errorf("route %s: marshal NLRI: %w", r.Prefix, err)
	}
	anyAttrs, err := apiutil.MarshalPathAttributes(attrs)
	if err != nil {
		return nil, fmt.Errorf("route %s: marshal attributes: %w", r.Prefix, err)
	}
	family := familyIPv4
	if r.Prefix.Addr().Is6() {
		family = familyIPv6
	}
	return &api.Path{Family: family, Nlri: anyNLRI, Pattrs: anyAttrs}, nil
}

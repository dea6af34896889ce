package bgp

import (
	"net/netip"
	"testing"

	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

func TestNextHop(t *testing.T) {
	v4Peer := Peer{Name: "r", Address: netip.MustParseAddr("10.0.0.1")}
	v4PeerNH6 := v4Peer
	v4PeerNH6.NextHopIPv6 = netip.MustParseAddr("fd00::2")
	v6Peer := Peer{Name: "r6", Address: netip.MustParseAddr("fd00::1")}
	r4 := Route{Prefix: netip.MustParsePrefix("10.96.0.1/32")}
	r6 := Route{Prefix: netip.MustParsePrefix("fd00:96::1/128")}
	r6Own := r6
	r6Own.NextHopIPv6 = netip.MustParseAddr("fd00::9")
	tests := []struct {
		name    string
		peer    Peer
		route   Route
		want    string
		wantErr bool
	}{
		{name: "v4 on v4 session: session address", peer: v4Peer, route: r4, want: "0.0.0.0"},
		{name: "v6 on v4 session: peer's v6 next hop", peer: v4PeerNH6, route: r6, want: "fd00::2"},
		{name: "route's own next hop wins", peer: v4PeerNH6, route: r6Own, want: "fd00::9"},
		{name: "v6 on v4 session without next hop", peer: v4Peer, route: r6, wantErr: true},
		{name: "v6 on v6 session: session address", peer: v6Peer, route: r6, want: "::"},
		{name: "v4 on v6 session without next hop", peer: v6Peer, route: r4, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := nextHop(tt.peer, tt.route)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && got.String() != tt.want {
				t.Errorf("next hop = %v, want %s", got, tt.want)
			}
		})
	}
}

func TestPathAttributes(t *testing.T) {
	peer := Peer{Name: "r", Address: netip.MustParseAddr("10.0.0.1"), NextHopIPv6: netip.MustParseAddr("fd00::2")}
	route := Route{
		Prefix:           netip.MustParsePrefix("fd00:96::1/128"),
		Communities:      []Community{64513<<16 | 100, 0xffffff01},
		LargeCommunities: []LargeCommunity{{64513, 1, 2}},
		LocalPref:        ptr(uint32(250)),
	}
	nlri, attrs, err := pathAttributes(peer, route)
	if err != nil {
		t.Fatal(err)
	}
	if got := nlri.String(); got != "fd00:96::1/128" {
		t.Errorf("NLRI = %s", got)
	}
	seen := map[bgp.BGPAttrType]bool{}
	for _, a := range attrs {
		seen[a.GetType()] = true
		switch a := a.(type) {
		case *bgp.PathAttributeMpReachNLRI:
			if a.Nexthop.String() != "fd00::2" || len(a.Value) != 1 || a.Value[0].String() != "fd00:96::1/128" {
				t.Errorf("MP_REACH next hop %v NLRI %v, want fd00::2 and the route", a.Nexthop, a.Value)
			}
		case *bgp.PathAttributeCommunities:
			if len(a.Value) != 2 || a.Value[0] != 64513<<16|100 || a.Value[1] != 0xffffff01 {
				t.Errorf("communities = %v", a.Value)
			}
		case *bgp.PathAttributeLargeCommunities:
			if len(a.Values) != 1 || a.Values[0].String() != "64513:1:2" {
				t.Errorf("large communities = %v", a.Values)
			}
		case *bgp.PathAttributeLocalPref:
			if a.Value != 250 {
				t.Errorf("LOCAL_PREF = %d", a.Value)
			}
		case *bgp.PathAttributeNextHop:
			t.Errorf("an IPv6 route carries a NEXT_HOP attribute %v", a.Value)
		}
	}
	for _, want := range []bgp.BGPAttrType{bgp.BGP_ATTR_TYPE_ORIGIN, bgp.BGP_ATTR_TYPE_MP_REACH_NLRI, bgp.BGP_ATTR_TYPE_COMMUNITIES, bgp.BGP_ATTR_TYPE_LARGE_COMMUNITY, bgp.BGP_ATTR_TYPE_LOCAL_PREF} {
		if !seen[want] {
			t.Errorf("attribute %v missing", want)
		}
	}

	plain := Route{Prefix: netip.MustParsePrefix("10.96.0.1/32")}
	_, attrs, err = pathAttributes(peer, plain)
	if err != nil {
		t.Fatal(err)
	}
	if len(attrs) != 2 || attrs[1].GetType() != bgp.BGP_ATTR_TYPE_NEXT_HOP {
		t.Errorf("plain IPv4 route: attributes %v, want ORIGIN and NEXT_HOP only", attrs)
	}
	if p, err := apiPath(peer, route); err != nil || p.GetFamily().GetAfi() != familyIPv6.GetAfi() || len(p.GetPattrs()) != 5 {
		t.Errorf("apiPath = %v, %v; want an IPv6 path with 5 attributes", p, err)
	}
}

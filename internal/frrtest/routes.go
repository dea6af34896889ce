package frrtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/ironlb/ironlb/internal/netnstest"
)

// Path is one path of a prefix in FRR's BGP table.
type Path struct {
	// Peer is the address of the neighbour the path came from.
	Peer string
	// NextHops are the path's next hop addresses.
	NextHops []string
	// Communities and LargeCommunities are FRR's texts, space-separated
	// ("64513:100 65000:7"); empty when absent.
	Communities, LargeCommunities string
	// LocalPref is the LOCAL_PREF; nil when the path has none.
	LocalPref *uint32
	// Stale is true while graceful restart keeps the path of a peer
	// whose session went down.
	Stale bool
	// Best is true for the best path.
	Best bool
}

// frrPaths is the part of `show bgp <afi> unicast <prefix> json` read.
type frrPaths struct {
	Paths []struct {
		Community      struct{ String string } `json:"community"`
		LargeCommunity struct{ String string } `json:"largeCommunity"`
		LocPrf         *uint32                 `json:"locPrf"`
		Stale          bool                    `json:"stale"`
		Bestpath       *struct {
			Overall bool `json:"overall"`
		} `json:"bestpath"`
		Nexthops []struct {
			IP string `json:"ip"`
		} `json:"nexthops"`
		Peer struct {
			PeerID string `json:"peerId"`
		} `json:"peer"`
	} `json:"paths"`
}

// Paths returns the paths of prefix in the router's BGP table (none when
// it has no such prefix) and the raw JSON, for messages.
func (r *Router) Paths(prefix netip.Prefix) ([]Path, string, error) {
	afi := "ipv4"
	if prefix.Addr().Is6() {
		afi = "ipv6"
	}
	raw, err := r.TryVtysh(fmt.Sprintf("show bgp %s unicast %s json", afi, prefix))
	if err != nil {
		return nil, raw, err
	}
	out, err := ParsePaths(raw)
	return out, raw, err
}

// ParsePaths reads the output of FRR's `show bgp <afi> unicast <prefix>
// json`: the prefix's paths, none for empty output or a prefix not in the
// table.
func ParsePaths(raw string) ([]Path, error) {
	var fp frrPaths
	if strings.TrimSpace(raw) != "" {
		if err := json.Unmarshal([]byte(raw), &fp); err != nil {
			return nil, fmt.Errorf("frrtest: parsing %q: %w", raw, err)
		}
	}
	out := make([]Path, 0, len(fp.Paths))
	for _, p := range fp.Paths {
		q := Path{Peer: p.Peer.PeerID, Communities: p.Community.String, LargeCommunities: p.LargeCommunity.String,
			LocalPref: p.LocPrf, Stale: p.Stale, Best: p.Bestpath != nil && p.Bestpath.Overall}
		for _, nh := range p.Nexthops {
			q.NextHops = append(q.NextHops, nh.IP)
		}
		out = append(out, q)
	}
	return out, nil
}

// KernelRoute returns `ip route show <prefix>` in host: the route the
// router's zebra installed, "" when there is none.
func KernelRoute(host *netnstest.Host, prefix netip.Prefix) (string, error) {
	fam := "-4"
	if prefix.Addr().Is6() {
		fam = "-6"
	}
	out, err := host.Output(context.Background(), "ip", fam, "route", "show", prefix.String())
	return strings.TrimSpace(out), err
}

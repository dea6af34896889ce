package bgp

import (
	"context"
	"net/netip"
	"time"

	"github.com/ironlb/ironlb/internal/bfd"
)

// Speaker keeps BGP sessions to a set of peers and announces a set of routes
// to them. See the package documentation for the contract.
type Speaker interface {
	// SetPeers makes the configured peers exactly peers.
	SetPeers(ctx context.Context, peers []Peer) error
	// Advertise makes the announced routes exactly routes.
	Advertise(ctx context.Context, routes []Route) error
	// Events streams session state changes until Close.
	Events() <-chan PeerEvent
	// Close withdraws everything, closes all sessions and the Events channel.
	Close() error
}

// Peer is one BGP neighbour. Name identifies it across SetPeers calls.
type Peer struct {
	Name    string     // unique among peers; Route.Peers refers to it
	Address netip.Addr // the neighbour's address
	Port    uint16     // the neighbour's TCP port; 0 means 179
	MyASN   uint32     // our AS number on this session
	PeerASN uint32     // the neighbour's AS number; equal to MyASN for iBGP
	// SourceAddress is the local address sessions are opened from; invalid
	// (zero) lets the kernel choose.
	SourceAddress netip.Addr
	RouterID      netip.Addr    // our BGP identifier (an IPv4 address); required
	HoldTime      time.Duration // 0 means 90 s
	KeepaliveTime time.Duration // 0 means a third of HoldTime
	ConnectTime   time.Duration // connect retry interval; 0 means 5 s
	Password      string        // TCP MD5 signature key; empty means none
	EBGPMultiHop  bool          // allow the neighbour to be more than one hop away
	// GracefulRestart advertises the graceful restart capability.
	GracefulRestart bool
	VRF             string // the VRF device sessions bind to; empty means none
	// NextHopIPv4 and NextHopIPv6 are the next hops of routes of each
	// family, unless the route names its own. Invalid (zero) NextHopIPv4
	// lets GoBGP use the session's local address for IPv4 routes on an IPv4
	// session (and likewise for IPv6); the other family needs one.
	NextHopIPv4, NextHopIPv6 netip.Addr
	// BFD runs a BFD session to Address from SourceAddress (then
	// required; IPv4 or IPv6, the family of Address) with BFDProfile (zero
	// fields take bfd's defaults): multi-hop (RFC 5883, port 4784,
	// received TTL at least BFDProfile.MinimumTTL) when EBGPMultiHop is
	// set, else single-hop (RFC 5881, port 3784, TTL 255 only). When it
	// goes Down from Up the BGP session is reset (see the package
	// documentation) and reconnects after ConnectTime.
	BFD        bool
	BFDProfile bfd.Profile
}

// Route is one prefix to announce.
type Route struct {
	Prefix netip.Prefix
	// Peers names the peers to announce to; empty means all.
	Peers            []string
	Communities      []Community
	LargeCommunities []LargeCommunity
	// LocalPref is sent on iBGP sessions only (eBGP drops it); nil means
	// the default (100).
	LocalPref *uint32
	// ASPathPrepend is how many times the peer's MyASN starts the
	// AS_PATH as originated (0-10); towards an eBGP peer GoBGP prepends
	// MyASN once more, as for every route.
	ASPathPrepend int
	// NextHopIPv4 / NextHopIPv6 override the peer's next hop for a route
	// of that family; zero means use the peer's.
	NextHopIPv4, NextHopIPv6 netip.Addr
}

// SessionState is the BGP finite state machine state of a session.
type SessionState string

// The session states reported in PeerEvent.
const (
	StateIdle        SessionState = "Idle"
	StateConnect     SessionState = "Connect"
	StateActive      SessionState = "Active"
	StateOpenSent    SessionState = "OpenSent"
	StateOpenConfirm SessionState = "OpenConfirm"
	StateEstablished SessionState = "Established"
	StateUnknown     SessionState = "Unknown"
)

// PeerEvent reports that a peer's session changed state.
type PeerEvent struct {
	Peer  string       // Peer.Name
	State SessionState // the new state
	At    time.Time    // when the speaker learnt of it
}

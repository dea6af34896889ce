package config

import (
	"cmp"
	"math/big"
	"net/netip"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Kinds of the configuration objects, as used in FieldError.Kind,
// ObjectKey.Kind and ObjectStatus.Kind.
const (
	KindIPAddressPool    = "IPAddressPool"
	KindL2Advertisement  = "L2Advertisement"
	KindBGPAdvertisement = "BGPAdvertisement"
	KindBGPPeer          = "BGPPeer"
	KindBFDProfile       = "BFDProfile"
	KindCommunity        = "Community"
	KindConfigMap        = "ConfigMap"
)

// Snapshot is one validated configuration: everything the controller and
// the speakers act on, resolved and defaulted, in plain types.
//
// A Snapshot is immutable: Build returns a new one each time and nothing
// modifies it afterwards. Callers must treat it and everything reachable
// from it (slices, maps, pointers) as read-only; that is what lets several
// goroutines read it without locks and lets Build reuse parts of the
// previous Snapshot. Every slice is sorted by Name, and names are unique
// within a slice.
type Snapshot struct {
	Pools             []Pool
	L2Advertisements  []L2Advertisement
	BGPAdvertisements []BGPAdvertisement
	Peers             []Peer
	BFDProfiles       []BFDProfile
	Communities       []Community
}

// Origin says where an object of the Snapshot comes from and whether it is
// the current version. It is bookkeeping: two objects that differ only in
// Origin behave the same.
type Origin struct {
	// Source is SourceCR or the legacy entry the object was converted
	// from ("ConfigMap ironlb-system/config address-pools[2]").
	Source string
	// Legacy is true for objects converted from the legacy ConfigMap.
	Legacy bool
	// CreationTimestamp and Generation are the CR's; zero for legacy
	// objects.
	CreationTimestamp time.Time
	Generation        int64
	// Stale is true when the current version of the object is invalid and
	// this is the last valid version, kept so that what worked keeps
	// working. Problems says what is wrong with the current version.
	Stale    bool
	Problems []FieldError
}

// Pool is an IPAddressPool: addresses the controller hands out.
type Pool struct {
	Name   string
	Labels map[string]string
	// Ranges are the pool's addresses in the order written. They never
	// overlap each other or any other Pool of the Snapshot.
	Ranges []AddressRange
	// AutoAssign false means the pool serves only Services that ask for it
	// (by pool name or address).
	AutoAssign bool
	// AvoidBuggyIPs means IPv4 addresses ending in .0 or .255 are never
	// handed out.
	AvoidBuggyIPs bool
	// AllowCrossNamespaceSharing lets Services of different namespaces
	// share an address of the pool.
	AllowCrossNamespaceSharing bool
	// ServiceAllocation restricts which Services the pool serves; nil means
	// any Service.
	ServiceAllocation *ServiceAllocation
	Origin            Origin
}

// ServiceAllocation is IPAddressPool.spec.serviceAllocation; its selectors
// have been checked to convert with metav1.LabelSelectorAsSelector.
type ServiceAllocation struct {
	Priority           int
	Namespaces         []string
	NamespaceSelectors []metav1.LabelSelector
	ServiceSelectors   []metav1.LabelSelector
}

// IPv4Count returns how many IPv4 addresses the pool has (before
// AvoidBuggyIPs). The caller owns the result.
func (p *Pool) IPv4Count() *big.Int { return countAddresses(p.Ranges, true) }

// IPv6Count returns how many IPv6 addresses the pool has; it may exceed
// what a uint64 holds. The caller owns the result.
func (p *Pool) IPv6Count() *big.Int { return countAddresses(p.Ranges, false) }

// Contains reports whether a is one of the pool's addresses.
func (p *Pool) Contains(a netip.Addr) bool {
	return slices.ContainsFunc(p.Ranges, func(r AddressRange) bool { return r.Contains(a) })
}

// PoolSelection is how an advertisement picks pools, as written: pools
// named in Names or matching any of Selectors; both empty means every
// pool.
type PoolSelection struct {
	Names     []string
	Selectors []metav1.LabelSelector
}

// L2Advertisement says which pools' addresses are announced with ARP/NDP,
// from which nodes and on which interfaces.
type L2Advertisement struct {
	Name string
	// Pools are the names of the Snapshot's pools this advertisement
	// announces, sorted: the resolution of PoolSelection.
	Pools         []string
	PoolSelection PoolSelection
	// NodeSelectors limits the nodes that may answer; empty means all.
	NodeSelectors []metav1.LabelSelector
	// ServiceSelectors limits the Services announced; empty means all.
	ServiceSelectors []metav1.LabelSelector
	// PreferredNodes order the eligible nodes in the election.
	PreferredNodes []PreferredNodes
	// Interfaces limits the interfaces answered on; empty means all.
	Interfaces []string
	// Even asks for the even spread of the pools' addresses over the
	// nodes (spec.spread: Even).
	Even bool
	// LeaseDuration, when positive, fences the addresses with a Lease of
	// that duration each (spec.leaseFencing).
	LeaseDuration time.Duration
	Origin        Origin
}

// PreferredNodes is one preferredNodeSelectors entry: nodes Selector selects
// score Weight (1-100) more in the layer 2 election.
type PreferredNodes struct {
	Weight   int
	Selector metav1.LabelSelector
}

// BGPAdvertisement says which pools' addresses are announced over BGP, how,
// to which peers and from which nodes.
type BGPAdvertisement struct {
	Name string
	// Pools are the names of the Snapshot's pools this advertisement
	// announces, sorted: the resolution of PoolSelection, minus pools the
	// aggregation lengths do not fit.
	Pools         []string
	PoolSelection PoolSelection
	// AggregationLength (0-32) and AggregationLengthV6 (0-128) are the
	// prefix lengths of announced routes, defaulted to 32 and 128.
	AggregationLength   int
	AggregationLengthV6 int
	// LocalPref is the LOCAL_PREF sent to iBGP peers; 0 means none.
	LocalPref uint32
	// ASPathPrepend is how many more times the local AS is prepended to
	// the AS_PATH (1-10); 0 means none.
	ASPathPrepend int
	// Communities are the resolved community values (aliases replaced),
	// sorted and without repeats.
	Communities []BGPCommunity
	// PeerNames are the peers named in spec.peers; empty means every peer.
	// Peers are those of them present in the Snapshot, sorted. When
	// PeerNames is empty, Peers is empty too and every peer is meant.
	PeerNames []string
	Peers     []string
	// NodeSelectors limits the nodes that announce; empty means all.
	NodeSelectors []metav1.LabelSelector
	// ServiceSelectors limits the Services announced; empty means all.
	ServiceSelectors []metav1.LabelSelector
	Origin           Origin
}

// AllPeers reports whether the advertisement goes to every peer.
func (a *BGPAdvertisement) AllPeers() bool { return len(a.PeerNames) == 0 }

// Peer is a BGPPeer with defaults applied and references resolved.
type Peer struct {
	Name  string
	MyASN uint32
	// LocalASN is the AS the peer sees instead of MyASN (spec.localASN);
	// 0 means MyASN. See SessionASN.
	LocalASN uint32
	// PeerASN is 0 when DynamicASN ("internal" or "external") is set.
	PeerASN    uint32
	DynamicASN string
	// Address is the peer's address; invalid when Interface is set (BGP
	// unnumbered).
	Address   netip.Addr
	Interface string
	// Port defaults to 179.
	Port uint16
	// SourceAddress and RouterID are invalid (zero) when unset.
	SourceAddress netip.Addr
	RouterID      netip.Addr
	// HoldTime defaults to 90s; KeepaliveTime to a third of HoldTime.
	// ConnectTime 0 means the BGP implementation's default.
	HoldTime      time.Duration
	KeepaliveTime time.Duration
	ConnectTime   time.Duration
	// NodeSelectors limits the nodes that open the session; empty means
	// all.
	NodeSelectors []metav1.LabelSelector
	// Password is the TCP MD5 password, from spec.password or resolved
	// from spec.passwordSecret; empty means none.
	Password Password
	// BFD is the resolved BFD profile; nil means no BFD.
	BFD                    *BFDProfile
	EBGPMultiHop           bool
	EnableGracefulRestart  bool
	VRF                    string
	DisableMP              bool
	DualStackAddressFamily bool
	Origin                 Origin
}

// SessionASN is the AS number of ironlb's end of the session: LocalASN
// when set, else MyASN.
func (p *Peer) SessionASN() uint32 {
	if p.LocalASN != 0 {
		return p.LocalASN
	}
	return p.MyASN
}

// Password is a BGP password. It prints as "<redacted>" so a Snapshot can
// be logged; convert it with string() to use it.
type Password string

// String hides the password.
func (p Password) String() string {
	if p == "" {
		return ""
	}
	return "<redacted>"
}

// GoString hides the password from %#v too.
func (p Password) GoString() string { return `"` + p.String() + `"` }

// BFDProfile is a BFDProfile with defaults applied. Intervals are in
// milliseconds.
type BFDProfile struct {
	Name             string
	ReceiveInterval  uint32
	TransmitInterval uint32
	DetectMultiplier uint32
	EchoInterval     uint32
	EchoMode         bool
	PassiveMode      bool
	MinimumTTL       uint32
	Origin           Origin
}

// Community is a Community object: named community values.
type Community struct {
	Name string
	// Aliases are sorted by name; alias names are unique across all
	// Communities of a Snapshot.
	Aliases []CommunityAlias
	Origin  Origin
}

// CommunityAlias is one alias of a Community.
type CommunityAlias struct {
	Name  string
	Value BGPCommunity
}

// Pool returns the pool with that name.
func (s *Snapshot) Pool(name string) (*Pool, bool) { return find(s.Pools, name, poolName) }

// Peer returns the peer with that name.
func (s *Snapshot) Peer(name string) (*Peer, bool) { return find(s.Peers, name, peerName) }

// BFDProfile returns the BFD profile with that name.
func (s *Snapshot) BFDProfile(name string) (*BFDProfile, bool) {
	return find(s.BFDProfiles, name, func(b *BFDProfile) string { return b.Name })
}

// L2Advertisement returns the L2 advertisement with that name.
func (s *Snapshot) L2Advertisement(name string) (*L2Advertisement, bool) {
	return find(s.L2Advertisements, name, func(a *L2Advertisement) string { return a.Name })
}

// BGPAdvertisement returns the BGP advertisement with that name.
func (s *Snapshot) BGPAdvertisement(name string) (*BGPAdvertisement, bool) {
	return find(s.BGPAdvertisements, name, func(a *BGPAdvertisement) string { return a.Name })
}

// Community returns the Community object with that name.
func (s *Snapshot) Community(name string) (*Community, bool) {
	return find(s.Communities, name, func(c *Community) string { return c.Name })
}

// PoolFor returns the pool holding address a.
func (s *Snapshot) PoolFor(a netip.Addr) (*Pool, bool) {
	for i := range s.Pools {
		if s.Pools[i].Contains(a) {
			return &s.Pools[i], true
		}
	}
	return nil, false
}

func poolName(p *Pool) string { return p.Name }
func peerName(p *Peer) string { return p.Name }

// find looks name up in a slice sorted by name. The pointer points into
// the Snapshot: read-only.
func find[T any](s []T, name string, key func(*T) string) (*T, bool) {
	if s == nil {
		return nil, false
	}
	i, ok := slices.BinarySearchFunc(s, name, func(e T, n string) int { return cmp.Compare(key(&e), n) })
	if !ok {
		return nil, false
	}
	return &s[i], true
}

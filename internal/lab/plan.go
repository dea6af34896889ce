package lab

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// IPFamily selects the address families of the Kubernetes cluster in the
// lab: Service CIDRs, Node addresses and Pod IPs. The lab's network is
// dual-stack whatever the family.
type IPFamily string

// The families a lab can run.
const (
	DualStack IPFamily = "dual"
	IPv4Only  IPFamily = "ipv4"
	IPv6Only  IPFamily = "ipv6"
)

// ParseIPFamily accepts dual, ipv4 or ipv6.
func ParseIPFamily(s string) (IPFamily, error) {
	switch f := IPFamily(s); f {
	case DualStack, IPv4Only, IPv6Only:
		return f, nil
	}
	return "", fmt.Errorf("--ip-family %q: want dual, ipv4 or ipv6", s)
}

// HasV4 reports whether the cluster uses IPv4.
func (f IPFamily) HasV4() bool { return f != IPv6Only }

// HasV6 reports whether the cluster uses IPv6.
func (f IPFamily) HasV6() bool { return f != IPv4Only }

// Role is what a host is for.
type Role string

// Host roles.
const (
	RoleNode   Role = "node"
	RoleClient Role = "client"
	RoleRouter Role = "router"
)

// Fixed parts of the address plan. Everything lives in private ranges and
// only inside the lab's own network namespaces.
var (
	lanV4         = netip.MustParsePrefix("10.200.0.0/24")
	lanV6         = netip.MustParsePrefix("fd00:200::/64")
	clusterCIDRV4 = netip.MustParsePrefix("10.244.0.0/16")
	clusterCIDRV6 = netip.MustParsePrefix("fd00:10:244::/56")
	serviceCIDRV4 = netip.MustParsePrefix("10.96.0.0/16")
	serviceCIDRV6 = netip.MustParsePrefix("fd00:10:96::/112")
)

// secondV4 and secondV6 are a second subnet on the same bridge that node1
// is not in: the router, the client and nodes 2..N have an address in it
// on eth0 besides their LAN one. A pool in it shows that an address is
// announced only from nodes attached to its subnet.
var (
	secondV4 = netip.MustParsePrefix("10.201.0.0/24")
	secondV6 = netip.MustParsePrefix("fd00:201::/64")
)

// nic2V4 and nic2V6 are the subnet of the second network card: every node
// and the client have an eth1 on a second bridge (br1) with an address in
// it and a MAC of its own; the router does not. A pool in it is reachable
// from the client through eth1 only, and an L2Advertisement's interfaces
// list can pick eth0 or eth1 and be told apart by the answering MAC.
var (
	nic2V4 = netip.MustParsePrefix("10.204.0.0/24")
	nic2V6 = netip.MustParsePrefix("fd00:204::/64")
)

// OfferedV4 and OfferedV6 are the prefixes the router originates towards
// every node, as routers offer their own routes to a peer: nothing lives
// there, and ironlb's speakers must never install them (they announce,
// they do not learn).
var (
	OfferedV4 = netip.MustParsePrefix("10.205.0.0/24")
	OfferedV6 = netip.MustParsePrefix("fd00:205::/64")
)

const (
	// RouterASN is the FRR router's autonomous system.
	RouterASN = 64512
	// NodeASN is the autonomous system the nodes are expected to peer as.
	NodeASN = 64513
	// MaxNodes bounds --nodes: node addresses (.11 upwards) stay clear of
	// the quick start's pool (.240-.250).
	MaxNodes = 50
	// DefaultPrefix prefixes every namespace name of the default lab.
	DefaultPrefix = "ironlb-"
	// lanNamespace is the short name of the namespace holding the bridge.
	lanNamespace = "lan"
	// hostInterface is every host's link to the bridge.
	hostInterface = "eth0"
	// nic2Interface is the second card of the nodes and the client, their
	// link to the second bridge.
	nic2Interface = "eth1"
)

// Host is one network namespace of the lab playing a machine. Its LAN
// addresses are always dual-stack.
type Host struct {
	// Name is the short name the CLI uses: node1..nodeN, client, router.
	Name string
	Role Role
	// Octet is the last IPv4 octet of the host's LAN address; it also
	// spells the IPv6 address and the MAC.
	Octet int
	MAC   string
	IPv4  netip.Addr
	IPv6  netip.Addr
	// SecondIPv4 and SecondIPv6 are the host's addresses in the second
	// subnet (10.201.0.<octet>, fd00:201::<octet>), on the same eth0; both
	// are invalid on node1, which has no address there.
	SecondIPv4 netip.Addr
	SecondIPv6 netip.Addr
	// NIC2MAC, NIC2IPv4 and NIC2IPv6 are the host's second card, eth1 on
	// the second bridge: 02:00:00:00:01:<octet in hex>, 10.204.0.<octet>,
	// fd00:204::<octet>. Set on the nodes and the client; empty and
	// invalid on the router, which has no second card.
	NIC2MAC  string
	NIC2IPv4 netip.Addr
	NIC2IPv6 netip.Addr
	// PodCIDRV4 and PodCIDRV6 are set for nodes only.
	PodCIDRV4 netip.Prefix
	PodCIDRV6 netip.Prefix
}

// Plan is the complete address plan of a lab: a pure function of the
// namespace prefix, the node count and the IP family.
type Plan struct {
	Prefix   string
	IPFamily IPFamily
	Router   Host
	Client   Host
	Nodes    []Host
}

var prefixRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,19}$`)

// NewPlan validates its arguments and lays out the lab.
func NewPlan(prefix string, nodes int, family IPFamily) (Plan, error) {
	if !prefixRE.MatchString(prefix) {
		return Plan{}, fmt.Errorf("namespace prefix %q: want 1-20 characters of a-z, 0-9 and '-', starting with a letter", prefix)
	}
	if nodes < 1 || nodes > MaxNodes {
		return Plan{}, fmt.Errorf("--nodes %d: want 1 to %d", nodes, MaxNodes)
	}
	if _, err := ParseIPFamily(string(family)); err != nil {
		return Plan{}, err
	}
	p := Plan{
		Prefix:   prefix,
		IPFamily: family,
		Router:   newHost("router", RoleRouter, 1),
		Client:   withNIC2(newHost("client", RoleClient, 2)),
	}
	for i := 1; i <= nodes; i++ {
		h := withNIC2(newHost("node"+strconv.Itoa(i), RoleNode, 10+i))
		h.PodCIDRV4 = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 244, byte(i), 0}), 24)
		h.PodCIDRV6 = netip.MustParsePrefix(fmt.Sprintf("fd00:10:244:%d::/64", i))
		if i == 1 {
			h.SecondIPv4, h.SecondIPv6 = netip.Addr{}, netip.Addr{}
		}
		p.Nodes = append(p.Nodes, h)
	}
	return p, nil
}

// newHost gives host number octet its addresses: 10.200.0.<octet>,
// fd00:200::<octet> (the decimal digits read as hex, for the eye),
// 10.201.0.<octet> and fd00:201::<octet> in the second subnet, and
// 02:00:00:00:00:<octet in hex>.
func newHost(name string, role Role, octet int) Host {
	return Host{
		Name:       name,
		Role:       role,
		Octet:      octet,
		MAC:        fmt.Sprintf("02:00:00:00:00:%02x", octet),
		IPv4:       netip.AddrFrom4([4]byte{10, 200, 0, byte(octet)}),
		IPv6:       netip.MustParseAddr(fmt.Sprintf("fd00:200::%d", octet)),
		SecondIPv4: netip.AddrFrom4([4]byte{10, 201, 0, byte(octet)}),
		SecondIPv6: netip.MustParseAddr(fmt.Sprintf("fd00:201::%d", octet)),
	}
}

// withNIC2 gives h its second card: 02:00:00:00:01:<octet in hex>,
// 10.204.0.<octet>, fd00:204::<octet> (the decimal digits read as hex, as
// on eth0).
func withNIC2(h Host) Host {
	h.NIC2MAC = fmt.Sprintf("02:00:00:00:01:%02x", h.Octet)
	h.NIC2IPv4 = netip.AddrFrom4([4]byte{10, 204, 0, byte(h.Octet)})
	h.NIC2IPv6 = netip.MustParseAddr(fmt.Sprintf("fd00:204::%d", h.Octet))
	return h
}

// HasNIC2 reports whether the host has the second card eth1 (the nodes
// and the client).
func (h Host) HasNIC2() bool { return h.NIC2IPv4.IsValid() }

// InSecondSubnet reports whether the host has addresses in the second
// subnet (every host but node1).
func (h Host) InSecondSubnet() bool { return h.SecondIPv4.IsValid() }

// Hosts lists every host: router, client, then the nodes.
func (p Plan) Hosts() []Host {
	return append([]Host{p.Router, p.Client}, p.Nodes...)
}

// Host finds a host by its short name.
func (p Plan) Host(name string) (Host, bool) {
	for _, h := range p.Hosts() {
		if h.Name == name {
			return h, true
		}
	}
	return Host{}, false
}

// Namespace is the network namespace name of a short name (a host or "lan").
func (p Plan) Namespace(short string) string { return p.Prefix + short }

// Namespaces lists every namespace of the lab, the bridge's first.
func (p Plan) Namespaces() []string {
	out := []string{p.Namespace(lanNamespace)}
	for _, h := range p.Hosts() {
		out = append(out, p.Namespace(h.Name))
	}
	return out
}

// NamespacePattern matches every namespace name a lab with prefix could
// have made, whatever its node count: the sweep `up` and `down` use when
// the state file is gone.
func NamespacePattern(prefix string) *regexp.Regexp {
	return regexp.MustCompile("^" + regexp.QuoteMeta(prefix) + `(lan|router|client|node[0-9]+)$`)
}

// LANPrefixes are the lab network's prefixes (always both families).
func LANPrefixes() []netip.Prefix { return []netip.Prefix{lanV4, lanV6} }

// SecondSubnetPrefixes are the prefixes of the second subnet on the same
// bridge, which every host but node1 is attached to (always both
// families).
func SecondSubnetPrefixes() []netip.Prefix { return []netip.Prefix{secondV4, secondV6} }

// NIC2Prefixes are the prefixes of the second card's subnet, on its own
// bridge (always both families).
func NIC2Prefixes() []netip.Prefix { return []netip.Prefix{nic2V4, nic2V6} }

// LANBits are the prefix lengths of the LAN addresses.
func lanBits(a netip.Addr) int {
	if a.Is4() {
		return lanV4.Bits()
	}
	return lanV6.Bits()
}

// byFamily keeps v4 and/or v6 as the family says, v4 first (the primary
// family of a dual-stack cluster).
func byFamily[T any](f IPFamily, v4, v6 T) []T {
	var out []T
	if f.HasV4() {
		out = append(out, v4)
	}
	if f.HasV6() {
		out = append(out, v6)
	}
	return out
}

// NodeIPs are a node's addresses as the cluster sees them.
func (p Plan) NodeIPs(h Host) []netip.Addr { return byFamily(p.IPFamily, h.IPv4, h.IPv6) }

// PodCIDRs are a node's pod ranges in the cluster's families.
func (p Plan) PodCIDRs(h Host) []netip.Prefix {
	return byFamily(p.IPFamily, h.PodCIDRV4, h.PodCIDRV6)
}

// ServiceCIDRs are the cluster's Service ranges.
func (p Plan) ServiceCIDRs() []netip.Prefix {
	return byFamily(p.IPFamily, serviceCIDRV4, serviceCIDRV6)
}

// ClusterCIDRs are the ranges all pod CIDRs come from.
func (p Plan) ClusterCIDRs() []netip.Prefix {
	return byFamily(p.IPFamily, clusterCIDRV4, clusterCIDRV6)
}

// APIServerServiceIPs are the first address of each Service CIDR: the
// ClusterIP of the default/kubernetes Service, a SAN of the serving cert.
func (p Plan) APIServerServiceIPs() []netip.Addr {
	var out []netip.Addr
	for _, c := range p.ServiceCIDRs() {
		out = append(out, c.Addr().Next())
	}
	return out
}

// Gateways are the router's addresses, the default gateway of every other
// host.
func (p Plan) Gateways() []netip.Addr { return []netip.Addr{p.Router.IPv4, p.Router.IPv6} }

// joinPrefixes renders prefixes as a comma-separated flag value.
func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

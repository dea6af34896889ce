// Package decide is the pure core of the speaker. Decide is layer 2: given the
// configuration, the Services and their addresses, the Nodes, where each
// Service has ready endpoints and which speakers are alive, it says for
// every Service address which node answers ARP/NDP for it and, on the node
// that runs the decision, on which interfaces. It has no client, no clock
// and no socket: the same Input gives the same Result on every node, which
// is what lets every speaker elect the same node alone.
//
// # Who may announce an address
//
// An address is announced only if it lies in an IPAddressPool of the
// configuration and at least one L2Advertisement selects that pool
// (config.L2Advertisement.Pools, resolved from ipAddressPools and
// ipAddressPoolSelectors; both empty select every pool) and, by its
// serviceSelectors, one of the Services holding the address (empty selects
// every Service). Only those advertisements count below. A node is a
// candidate for the address when all of these hold:
//
//   - it is a live member (Input.Members);
//   - its NetworkUnavailable condition is not True and it does not carry the
//     label node.kubernetes.io/exclude-from-external-load-balancers (any
//     value);
//   - some L2Advertisement of the pool selects it (nodeSelectors; empty
//     selects every node) and gives it at least one interface to answer on:
//     with spec.interfaces, those of the listed interfaces the node has; without, the
//     node's interfaces whose subnet contains the address (subnet awareness:
//     a node never answers for an address outside the networks it is attached
//     to). The interfaces of every node come from Node.Interfaces, which each
//     speaker publishes for its own node; a node that published none is never
//     a candidate;
//   - for a Service with externalTrafficPolicy Local, the node has a ready
//     endpoint of the Service. When several Services share the address,
//     a node qualifies if it qualifies for any of them.
//
// # Election
//
// Among the candidates, only those with the highest preference score stay: the
// sum of the weights of the preferredNodeSelectors of the address's
// L2Advertisements that select the node, each advertisement counting only
// for the nodes it selects (0 for every node when there are none). Among
// them the node with the lowest Rank(node, address) wins;
// ties (never seen in practice) go to the smaller name. The rank is a fixed
// 64-bit hash computed once per candidate, so the choice is a linear scan:
// removing a node that does not win an address never moves that address,
// removing the winner moves only the addresses it won, and many addresses
// spread evenly over the candidates. The hash is part of the protocol between
// speakers of different versions: it must never change.
//
// # Even spread
//
// The addresses of a pool that some L2Advertisement selecting it spreads
// Even (spec.spread) are elected together instead (spread.go): the same
// order of score then rank, but no node takes more than ceil(addresses /
// nodes) of the pool's addresses while another candidate has room. The
// shares are computed over the candidates live or not, so liveness moves
// only the addresses of the nodes that fail.
//
// # Coverage
//
// Cover turns a Result, and DecideBGP run for the live nodes where layer 2
// elects nobody, into what the speakers report on each Service: whether
// some node announces every address of it that lies in a pool, and for
// each address nobody announces, why (the layer 2 reason and, when BGP is
// in use, the BGP one).
//
// # BGP
//
// DecideBGP is the BGP counterpart, for the node running it only (there is
// no election: every eligible node announces, and the router spreads the
// traffic over them). Layer 2 and BGP are decided independently: an
// address may be answered for by one node and routed to others.
//
//   - Sessions: the BGPPeers whose nodeSelectors select the node; none when
//     the node carries node.kubernetes.io/exclude-from-external-load-balancers.
//     A node whose NetworkUnavailable condition is True keeps its sessions
//     but announces nothing.
//   - Routes: for each Service address in an IPAddressPool, each
//     BGPAdvertisement of that pool whose nodeSelectors select the node and
//     whose serviceSelectors select the Service gives a route to its peers (spec.peers, or every peer of the node):
//     the address masked to aggregationLength (IPv4) or aggregationLengthV6,
//     with the advertisement's communities and, towards iBGP peers only, its
//     localPref. A Service with externalTrafficPolicy Local is announced only
//     by nodes with a ready endpoint of it.
//   - The Service annotation ironlb.io/bgp-communities adds communities to
//     the routes of the Service's addresses (standard, large:…, or alias
//     names of Community objects); entries that do not parse are skipped
//     and reported, the routes are announced without them.
//   - Routes of one prefix towards one peer merge: the union of the
//     communities and the highest localPref. Peers that end up with the same
//     attributes share one route.
package decide

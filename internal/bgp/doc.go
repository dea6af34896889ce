// Package bgp announces service addresses to routers over BGP, behind a small
// interface (Speaker) of ironlb's own. The implementation uses GoBGP v3 as a
// library and never listens on TCP port 179: every session is opened by the
// speaker towards the router.
//
// Contract:
//   - SetPeers and Advertise are declarative: each call states the whole
//     desired set and the speaker computes the difference from the previous
//     call. Peers are matched by Name; a peer whose settings changed is torn
//     down and re-created (its session resets). Routes are matched by prefix
//     per peer; a route whose attributes changed is re-announced in place.
//   - SetPeers and Advertise block until GoBGP has accepted the change (not
//     until the router has it); they never wait for a session to come up.
//     Routes given before a session is Established are sent when it is.
//   - Every method is safe for concurrent use; calls are serialised.
//   - Events delivers session state changes of every peer. The channel is
//     buffered; when the reader falls behind, the oldest undelivered events
//     are dropped rather than blocking BGP. It is closed by Close.
//   - Routes received from peers are rejected by an import policy: the
//     speaker only announces, it never learns.
//   - IPv6 prefixes ride IPv4 sessions (and vice versa) with MP-BGP; their
//     next hop is the route's own NextHop for that family, or else the peer's
//     NextHopIPv4/NextHopIPv6. A route of a family with no next hop known for
//     a peer is an error.
//   - A peer with BFD gets a BFD session (internal/bfd) of the session's
//     family from SourceAddress to Address: single-hop (RFC 5881, port
//     3784, TTL 255 only), or multi-hop (RFC 5883, port 4784, TTL at least
//     BFDProfile.MinimumTTL) when the peer has EBGPMultiHop. When it
//     goes Down from Up, the BGP session is reset (a Cease "administrative
//     reset" is sent, so the router drops its routes at once) and
//     reconnects as below, without waiting for BFD: routers that run BFD
//     only while the BGP session is up (FRR's dynamic neighbours) would
//     otherwise never bring it back.
//   - When an Established session ends, whatever ended it (the router
//     closing or resetting it, restarting, the hold timer, a BFD reset),
//     the speaker connects again within 1-2 s, then every ConnectTime:
//     the GoBGP neighbour is replaced by a fresh one, since GoBGP itself
//     idles a fixed 5 s first. Resets and re-arms run on a goroutine of
//     the speaker's that Close ends and waits for.
//   - Each peer runs in a GoBGP server of its own, so peers may differ in
//     ASN and router ID. GoBGP v3 cannot stop a server's main goroutine:
//     every removed or re-created peer leaves one idle goroutine behind.
//
// Sockets are created by GoBGP's goroutines on arbitrary OS threads, so the
// speaker must run in a process whose network namespace is the one the
// sessions belong to (in production: the node's; in tests: a child process
// started with `ip netns exec`).
package bgp

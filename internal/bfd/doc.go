// Package bfd implements Bidirectional Forwarding Detection in asynchronous
// mode for single-hop (RFC 5880, RFC 5881) and multi-hop (RFC 5883) IPv4
// and IPv6 sessions, so that BGP can drop a session within a second of its
// path failing.
//
// Layers, from the inside out:
//
//   - DecodeControl and AppendControl parse and build control packets and
//     apply the session-independent reception checks of RFC 5880 §6.8.6.
//     Authentication is not supported: packets with the A bit are dropped.
//   - Machine is the pure state machine of one session (states, Poll/Final
//     sequence, slow TX of 1 s until Up, jittered TX interval, detection
//     time). It never reads the clock; callers pass the time in and
//     serialise calls. Unlike a strict reading of §6.8.7 it sends a packet
//     at once on every state change, so sessions come Up and report Down
//     one interval sooner.
//   - Session runs one Machine in its own goroutine with real timers and
//     sockets. Its methods never block on the network.
//   - Manager owns the sessions and the sockets: one receive socket per
//     local address and kind — UDP port 3784 for single-hop sessions
//     (Manager.Add), accepting only packets with TTL / hop limit 255 (RFC
//     5881 §5); port 4784 for multi-hop sessions (Manager.AddMultihop),
//     accepting packets with at least the session's Profile.MinimumTTL
//     (RFC 5883 §5) — and one send socket per session from a port in
//     49152–65535, sending with TTL / hop limit 255 to the peer's 3784 or
//     4784.
//
// State changes reach the caller through Options.OnChange, called from the
// session's goroutine; Session.State gives the current state at any time.
// Counters are plain structs (Manager.Counters, Session.Counters) for the
// metrics code to export; the package keeps no global state.
//
// Sessions are matched to received packets by the peer's source address
// (one session per peer address, single-hop or multi-hop), and then by Your
// Discriminator when it is set.
//
// The echo function (Profile.EchoMode, single-hop sessions only) runs on
// UDP port 3785 (RFC 5881 §4): see echoEndpoint for how echo packets go
// out and come back in each family. Demand mode is not implemented: this
// system never sets the D bit and keeps sending periodically even when
// the peer does. The package builds on Linux only.
//
// Proven against FRR's bfdd (frr_netns_test.go, network namespaces): IPv4
// and IPv6 single-hop sessions Up and detecting loss both ways (IPv6 with
// global and with link-local addresses); each
// Profile field as FRR sees it (intervals and multiplier in `show bfd
// peers`, passive mode, the TTL checks); multi-hop sessions with a router
// one routed hop away; the echo function against bfdd's echo-mode, IPv4
// and IPv6 (frr_echo_netns_test.go).
package bfd

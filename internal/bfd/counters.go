package bfd

import "sync/atomic"

// Counters is a snapshot of packet and transition counts, for metrics. The
// Manager's counts cover every session it ever ran plus packets it dropped
// before finding a session; a Session's counts cover that session only.
type Counters struct {
	PacketsReceived  uint64 // valid control packets handed to a session
	PacketsSent      uint64 // control packets written to the socket
	SendErrors       uint64 // writes that failed
	MalformedDropped uint64 // packets failing DecodeControl (incl. A bit set)
	TTLDropped       uint64 // packets with too low a TTL / hop limit: not 255 on single-hop (only the Manager counts these: they are dropped before lookup), below the session's MinimumTTL on multi-hop
	UnknownDropped   uint64 // valid packets from an address with no session, or arriving while its queue is full
	StateTransitions uint64 // every state change
	Ups, Downs       uint64 // transitions into Up, and from Up to anything
	// Echo function (Profile.EchoMode): echo packets sent, this system's
	// own come back (TTL / hop limit 254), and the peer's looped back in
	// software (IPv6; the peer's IPv4 ones the kernel forwards). A looped
	// packet with another TTL counts in TTLDropped, one not of this
	// system's format in MalformedDropped, one of no session in
	// UnknownDropped.
	EchoSent, EchoReceived, EchoReflected uint64
}

// counters is the live, atomically updated form of Counters.
type counters struct {
	received, sent, sendErrors, malformed, ttl, unknown, transitions, ups, downs atomic.Uint64
	echoSent, echoReceived, echoReflected                                        atomic.Uint64
}

func (c *counters) snapshot() Counters {
	return Counters{
		PacketsReceived: c.received.Load(), PacketsSent: c.sent.Load(),
		SendErrors: c.sendErrors.Load(), MalformedDropped: c.malformed.Load(),
		TTLDropped: c.ttl.Load(), UnknownDropped: c.unknown.Load(),
		StateTransitions: c.transitions.Load(), Ups: c.ups.Load(), Downs: c.downs.Load(),
		EchoSent: c.echoSent.Load(), EchoReceived: c.echoReceived.Load(), EchoReflected: c.echoReflected.Load(),
	}
}

// pair updates a session's counters and its manager's together.
type pair struct{ s, m *counters }

func (p pair) add(f func(*counters) *atomic.Uint64) {
	f(p.s).Add(1)
	f(p.m).Add(1)
}

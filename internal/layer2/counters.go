package layer2

import "sync/atomic"

// Counters are the responders' event counts, per address family. Every
// field only grows and is safe for concurrent use. Pass the same *Counters
// in Options to successive Interfaces (one per interface, or a new one
// after a re-creation) and the counts survive them; the speaker binds them
// to Prometheus counters with CounterFuncs or a collector reading them at
// scrape time.
type Counters struct {
	ARP FamilyCounters // IPv4: ARP
	NDP FamilyCounters // IPv6: neighbor discovery
}

// FamilyCounters count one family's events.
type FamilyCounters struct {
	// RequestsReceived counts well-formed requests asking for one of the
	// addresses being announced: ARP requests (and RFC 5227 probes) for
	// ARP, neighbor solicitations (multicast, unicast NUD probes and
	// duplicate address detection) for NDP. Requests for other addresses
	// are not counted.
	RequestsReceived atomic.Uint64
	// ResponsesSent counts answers written: ARP replies, solicited
	// neighbor advertisements (and advertisements defending an address
	// against duplicate address detection).
	ResponsesSent atomic.Uint64
	// GratuitousSent counts unsolicited announcement frames written: each
	// gratuitous ARP request and reply, each unsolicited neighbor
	// advertisement to all nodes.
	GratuitousSent atomic.Uint64
	// MalformedDropped counts frames that reached the responder but failed
	// to parse or validate (bad lengths, hop limit, checksum, options...).
	MalformedDropped atomic.Uint64
	// ConflictsSeen counts frames from another MAC address claiming one of
	// the addresses being announced (a gratuitous ARP, an ARP packet with
	// it as sender, a neighbor advertisement for it): another node answers
	// too, e.g. during a takeover or in a split brain.
	ConflictsSeen atomic.Uint64
	// SendErrors counts frames that could not be written.
	SendErrors atomic.Uint64
	// ReceiveErrors counts failed socket reads other than the interface
	// going down.
	ReceiveErrors atomic.Uint64
}

// family selects one family's counters.
type family int

const (
	familyARP family = iota
	familyNDP
)

func (f family) String() string {
	if f == familyARP {
		return "arp"
	}
	return "ndp"
}

// of returns the family's counters within c.
func (c *Counters) of(f family) *FamilyCounters {
	if f == familyARP {
		return &c.ARP
	}
	return &c.NDP
}

// FamilyCounts is a plain copy of FamilyCounters at one moment.
type FamilyCounts struct {
	RequestsReceived, ResponsesSent, GratuitousSent, MalformedDropped,
	ConflictsSeen, SendErrors, ReceiveErrors uint64
}

// Load copies the counters (each one atomically; not all at one instant).
func (c *FamilyCounters) Load() FamilyCounts {
	return FamilyCounts{
		RequestsReceived: c.RequestsReceived.Load(),
		ResponsesSent:    c.ResponsesSent.Load(),
		GratuitousSent:   c.GratuitousSent.Load(),
		MalformedDropped: c.MalformedDropped.Load(),
		ConflictsSeen:    c.ConflictsSeen.Load(),
		SendErrors:       c.SendErrors.Load(),
		ReceiveErrors:    c.ReceiveErrors.Load(),
	}
}

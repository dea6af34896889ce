package layer2

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Counters are the responders' event counts: per address family, and per
// address being answered for on each interface. Its methods are safe for
// concurrent use, and the zero value is ready. Pass the same *Counters in
// Options to successive Interfaces (one per interface, or a new one after
// a re-creation) and the family counts survive them; the speaker reads
// them at scrape time with a collector.
type Counters struct {
	ARP FamilyCounters // IPv4: ARP; only grows
	NDP FamilyCounters // IPv6: neighbor discovery; only grows

	// mu guards addrs.
	mu sync.Mutex
	// addrs holds the counters of every (interface, address) some open
	// Interface answers for, and only those: an entry is made when an
	// Interface starts answering for the address and removed when the
	// last one stops (address removed, Interface closed), so the number
	// of entries is bounded by what is answered now and a scrape never
	// sees an address this node no longer announces. An address answered
	// for again later starts from zero.
	addrs map[addrKey]*addrRef
}

// addrKey names an address answered for on one interface.
type addrKey struct {
	iface string
	addr  netip.Addr
}

// addrRef is an address's counters and how many Interfaces hold them (more
// than one only while an Interface of the same name is being replaced).
type addrRef struct {
	refs int
	c    *AddressCounters
}

// AddressCounters count the events of one address on one interface; only
// grow; safe for concurrent use. The responders add to them without a lock.
type AddressCounters struct {
	// RequestsReceived counts what FamilyCounters.RequestsReceived
	// counts, for this address.
	RequestsReceived atomic.Uint64
	// ResponsesSent counts what FamilyCounters.ResponsesSent counts, for
	// this address.
	ResponsesSent atomic.Uint64
	// GratuitousSent counts what FamilyCounters.GratuitousSent counts,
	// for this address.
	GratuitousSent atomic.Uint64
	// Conflicts counts frames from another MAC address claiming this
	// address (see Conflict) once the conflict is confirmed: frames of a
	// hand-over (within ConflictGrace of taking the address, or from the
	// next owner while this node gives it up) are not counted.
	Conflicts atomic.Uint64
}

// AddressCount is a plain copy of one address's counters.
type AddressCount struct {
	Interface        string
	Addr             netip.Addr
	RequestsReceived uint64
	ResponsesSent    uint64
	GratuitousSent   uint64
	Conflicts        uint64
}

// acquire returns the counters of addr on iface, creating them when no
// Interface answers for it yet. Every acquire is paired with a release.
func (c *Counters) acquire(iface string, addr netip.Addr) *AddressCounters {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.addrs == nil {
		c.addrs = map[addrKey]*addrRef{}
	}
	k := addrKey{iface, addr}
	r := c.addrs[k]
	if r == nil {
		r = &addrRef{c: new(AddressCounters)}
		c.addrs[k] = r
	}
	r.refs++
	return r.c
}

// release drops one hold on the counters of addr on iface, and them with
// the last.
func (c *Counters) release(iface string, addr netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := addrKey{iface, addr}
	r := c.addrs[k]
	if r == nil {
		return
	}
	if r.refs--; r.refs <= 0 {
		delete(c.addrs, k)
	}
}

// Addresses returns the counters of every address answered for now,
// sorted by address, then interface. It holds a lock only to copy the
// pointers, never while the responders count.
func (c *Counters) Addresses() []AddressCount {
	c.mu.Lock()
	out := make([]AddressCount, 0, len(c.addrs))
	ptrs := make([]*AddressCounters, 0, len(c.addrs))
	for k, r := range c.addrs {
		out = append(out, AddressCount{Interface: k.iface, Addr: k.addr})
		ptrs = append(ptrs, r.c)
	}
	c.mu.Unlock()
	for i, p := range ptrs {
		out[i].RequestsReceived = p.RequestsReceived.Load()
		out[i].ResponsesSent = p.ResponsesSent.Load()
		out[i].GratuitousSent = p.GratuitousSent.Load()
		out[i].Conflicts = p.Conflicts.Load()
	}
	slices.SortFunc(out, func(a, b AddressCount) int {
		if n := a.Addr.Compare(b.Addr); n != 0 {
			return n
		}
		return strings.Compare(a.Interface, b.Interface)
	})
	return out
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
	// it as sender, a neighbor advertisement for it, an answer to a
	// probe): another node answers too, e.g. during a takeover or in a
	// split brain. Every such frame counts, hand-overs included;
	// AddressCounters.Conflicts counts only confirmed conflicts.
	ConflictsSeen atomic.Uint64
	// ProbesSent counts probes written to find another owner of an
	// address: ARP probes (sender 0.0.0.0) and neighbor solicitations
	// from the unspecified address.
	ProbesSent atomic.Uint64
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
	ConflictsSeen, ProbesSent, SendErrors, ReceiveErrors uint64
}

// Load copies the counters (each one atomically; not all at one instant).
func (c *FamilyCounters) Load() FamilyCounts {
	return FamilyCounts{
		RequestsReceived: c.RequestsReceived.Load(),
		ResponsesSent:    c.ResponsesSent.Load(),
		GratuitousSent:   c.GratuitousSent.Load(),
		MalformedDropped: c.MalformedDropped.Load(),
		ConflictsSeen:    c.ConflictsSeen.Load(),
		ProbesSent:       c.ProbesSent.Load(),
		SendErrors:       c.SendErrors.Load(),
		ReceiveErrors:    c.ReceiveErrors.Load(),
	}
}

package layer2

import (
	"net"
	"net/netip"
	"time"
)

// Conflict detection. Another MAC address claims an address this
// Interface answers for when, arriving on the interface:
//
//   - a gratuitous ARP (request or reply, sender = target = the address)
//     or a neighbor advertisement for the address comes from it
//     (SeenAnnouncement);
//   - it answers this Interface's own probe of the address — an ARP reply
//     from the address to our MAC, a neighbor advertisement within
//     probeReplyWindow of our solicitation (SeenProbeReply). Answers to
//     other hosts' requests are unicast to them and never reach us, hence
//     the probes;
//   - an ARP packet or neighbor solicitation uses the address as its
//     sender (SeenSender).
//
// A hand-over is not a conflict: frames are ignored for ConflictGrace
// after an address is added (the previous owner may still answer, or
// announce late), and a conflict is confirmed — counted in
// AddressCounters.Conflicts and reported — only if the address is still
// answered for, in the same generation, ConflictGrace after its first
// frame (the previous owner sees the new owner's announcements until it
// gives the address up). Frames from our own MAC are never looked at.

// Defaults of the conflict options.
const (
	// DefaultProbeInterval is Options.ProbeInterval's default.
	DefaultProbeInterval = 10 * time.Second
	// DefaultConflictGrace is Options.ConflictGrace's default: longer
	// than the announce schedule and than memberlist needs to converge
	// on a hand-over.
	DefaultConflictGrace = 3 * time.Second
)

const (
	// conflictTick is how often conflicts are confirmed and reported and
	// due probes are sent.
	conflictTick = 100 * time.Millisecond
	// maxProbesPerSecond bounds the probes of one Interface: with more
	// addresses than maxProbesPerSecond × ProbeInterval, each is probed
	// less often.
	maxProbesPerSecond = 200
	// probeReplyWindow: a neighbor advertisement this soon after our probe
	// of its target is taken as its answer.
	probeReplyWindow = time.Second
	// minReportInterval bounds how often one (address, MAC) is reported.
	minReportInterval = time.Second
	// maxConflicts bounds the (address, MAC) pairs tracked per Interface,
	// so a flood of forged MACs cannot grow memory; frames of further
	// pairs are counted in FamilyCounters.ConflictsSeen only.
	maxConflicts = 1024
	// conflictForgetAfter: a pair quiet for this many report intervals is
	// forgotten; seen again, it must be confirmed again.
	conflictForgetAfter = 3
)

// ConflictSource says how a conflict was seen.
type ConflictSource string

// How a conflict is seen.
const (
	// SeenAnnouncement: a gratuitous ARP or a neighbor advertisement not
	// answering our probe.
	SeenAnnouncement ConflictSource = "announcement"
	// SeenProbeReply: an answer to this Interface's probe of the address.
	SeenProbeReply ConflictSource = "probe reply"
	// SeenSender: an ARP packet or a neighbor solicitation sent from the
	// address.
	SeenSender ConflictSource = "sender address"
)

// Conflict is another MAC address claiming an address an Interface
// answers for.
type Conflict struct {
	Addr      netip.Addr
	Interface string
	// MAC is the other MAC address: the ARP sender hardware address, the
	// advertisement's target link-layer address (else the frame's source).
	MAC net.HardwareAddr
	// Source is how the last frame was seen.
	Source ConflictSource
	// Frames is the number of frames from MAC claiming Addr since the
	// previous report of the pair (at least 1).
	Frames uint64
	// First is when the first frame of the pair was seen since it was
	// last forgotten.
	First time.Time
}

// conflictKey names one (address, other MAC) pair.
type conflictKey struct {
	addr netip.Addr
	mac  [macLen]byte
}

// conflictState is what is known of one pair. Guarded by Interface.cmu.
type conflictState struct {
	gen       uint64           // generation of the address when first seen
	ctr       *AddressCounters // the address's counters in that generation
	first     time.Time        // first frame
	last      time.Time        // latest frame
	source    ConflictSource   // how the latest frame was seen
	confirmed bool             // lasted ConflictGrace with the address still ours
	pending   uint64           // frames not counted yet (before confirmation)
	unrep     uint64           // frames counted but not reported yet
	reported  time.Time        // last report; zero: never
}

// sawConflict records a frame from mac claiming a, which is answered for
// in state st. Callers hold mu for reading.
func (i *Interface) sawConflict(f family, a netip.Addr, st addrState, mac net.HardwareAddr, src ConflictSource) {
	i.counters.of(f).ConflictsSeen.Add(1)
	now := time.Now()
	if now.Sub(st.since) < i.grace {
		i.log.Debug("ignoring a claim on an address just taken over", "address", a, "mac", mac.String(), "seenAs", string(src))
		return
	}
	k := conflictKey{addr: a, mac: [macLen]byte(mac)}
	i.cmu.Lock()
	defer i.cmu.Unlock()
	if src == SeenAnnouncement && f == familyNDP && now.Sub(i.probed[a]) < probeReplyWindow {
		src = SeenProbeReply
	}
	c := i.conflicts[k]
	if c == nil || c.gen != st.gen {
		if c == nil && len(i.conflicts) >= maxConflicts {
			return
		}
		c = &conflictState{gen: st.gen, ctr: st.ctr, first: now}
		i.conflicts[k] = c
	}
	c.last, c.source = now, src
	if c.confirmed {
		c.ctr.Conflicts.Add(1)
		c.unrep++
	} else {
		c.pending++
	}
	i.log.Debug("another MAC claims an address we announce", "address", a, "mac", mac.String(), "seenAs", string(src))
}

// settleConflicts confirms the conflicts that lasted ConflictGrace with
// their address still answered for, forgets those whose address went (a
// hand-over: never counted) or that went quiet, and reports the pairs due
// — after releasing the locks.
func (i *Interface) settleConflicts(now time.Time) {
	var reports []Conflict
	i.mu.RLock()
	i.cmu.Lock()
	for k, c := range i.conflicts {
		st, ok := i.addrs[k.addr]
		if !ok || st.gen != c.gen {
			delete(i.conflicts, k)
			continue
		}
		if !c.confirmed {
			if now.Sub(c.first) < i.grace {
				continue
			}
			c.confirmed = true
			c.ctr.Conflicts.Add(c.pending)
			c.unrep, c.pending = c.unrep+c.pending, 0
		}
		if c.unrep > 0 && (c.reported.IsZero() || now.Sub(c.reported) >= i.reportEvery) {
			reports = append(reports, Conflict{
				Addr: k.addr, Interface: i.name, MAC: net.HardwareAddr(k.mac[:]),
				Source: c.source, Frames: c.unrep, First: c.first,
			})
			c.reported, c.unrep = now, 0
			continue
		}
		if now.Sub(c.last) > conflictForgetAfter*i.reportEvery {
			delete(i.conflicts, k)
		}
	}
	for a := range i.probed {
		if _, ok := i.addrs[a]; !ok {
			delete(i.probed, a)
		}
	}
	i.cmu.Unlock()
	i.mu.RUnlock()
	for _, r := range reports {
		i.log.Warn("another MAC address claims an address this node answers for",
			"address", r.Addr, "mac", r.MAC.String(), "seenAs", string(r.Source), "frames", r.Frames)
		if i.onConflict != nil {
			i.onConflict(r)
		}
	}
}

// watchConflicts settles conflicts and sends due probes until Close.
func (i *Interface) watchConflicts() {
	defer i.wg.Done()
	t := time.NewTicker(conflictTick)
	defer t.Stop()
	p := &prober{probes: map[netip.Addr]*probeState{}, ver: ^uint64(0)}
	for {
		select {
		case <-i.ctx.Done():
			return
		case now := <-t.C:
			i.settleConflicts(now)
			if i.probeEvery > 0 {
				i.probeDue(p, now)
			}
		}
	}
}

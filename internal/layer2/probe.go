package layer2

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

// Probes (RFC 5227 for IPv4, duplicate address detection's solicitation
// of RFC 4862 for IPv6) ask who else holds an address: an ARP request
// from sender 0.0.0.0, a neighbor solicitation from :: to the address's
// solicited-node group. Neither makes a neighbour cache an entry for us.
// A host holding the address answers to us — an ARP reply to our MAC, an
// advertisement to all nodes — and another ironlb node answering for it
// does the same (see handleARP and handleNDP), so both sides of a split
// brain see the other.

// prober is the probe schedule; owned by the watchConflicts goroutine.
type prober struct {
	probes map[netip.Addr]*probeState
	ver    uint64 // Interface.ver the schedule was last synced with
}

// probeState is when an address, in one generation, is probed next.
type probeState struct {
	gen  uint64
	next time.Time
}

// jittered returns d ± 10%.
func jittered(d time.Duration) time.Duration {
	return d - d/10 + rand.N(d/5+1)
}

// probeDue syncs the schedule with the address set when it changed, then
// probes the addresses that are due, at most maxProbesPerSecond. The first
// probe of an address goes out between ConflictGrace and ConflictGrace +
// ProbeInterval after it was added. Nothing is probed while the link is
// down.
func (i *Interface) probeDue(p *prober, now time.Time) {
	i.mu.RLock()
	if i.ver != p.ver {
		for a, st := range i.addrs {
			if ps := p.probes[a]; ps == nil || ps.gen != st.gen {
				p.probes[a] = &probeState{gen: st.gen, next: st.since.Add(i.grace + rand.N(i.probeEvery))}
			}
		}
		for a := range p.probes {
			if _, ok := i.addrs[a]; !ok {
				delete(p.probes, a)
			}
		}
		p.ver = i.ver
	}
	i.mu.RUnlock()
	if i.Ready() != nil {
		return
	}
	budget := max(1, int(maxProbesPerSecond*conflictTick/time.Second))
	for a, ps := range p.probes {
		if budget == 0 {
			return
		}
		if now.Before(ps.next) {
			continue
		}
		budget--
		ps.next = now.Add(jittered(i.probeEvery))
		if err := i.probeOne(a, ps.gen); err != nil {
			i.log.Debug("probing an address", "address", a, "error", err)
		}
	}
}

// probeOne sends the probe of a if it is still answered for in
// generation gen.
func (i *Interface) probeOne(a netip.Addr, gen uint64) error {
	i.mu.RLock()
	defer i.mu.RUnlock()
	if st, ok := i.addrs[a]; !ok || st.gen != gen {
		return nil
	}
	f, frame, dst, err := buildProbe(i.mac, a)
	if err != nil {
		return err
	}
	i.cmu.Lock()
	i.probed[a] = time.Now()
	i.cmu.Unlock()
	if err := i.write(f, frame, dst); err != nil {
		return err
	}
	i.counters.of(f).ProbesSent.Add(1)
	return nil
}

// buildProbe returns the probe of a from mac: its family, frame and
// Ethernet destination.
func buildProbe(mac net.HardwareAddr, a netip.Addr) (family, []byte, net.HardwareAddr, error) {
	if a.Is4() {
		b, err := buildARP(arp.OperationRequest, mac, netip.IPv4Unspecified(), make(net.HardwareAddr, macLen), a, ethernet.Broadcast)
		return familyARP, b, ethernet.Broadcast, err
	}
	b, dst, err := buildDADSolicitation(mac, a)
	return familyNDP, b, dst, err
}

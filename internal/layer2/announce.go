package layer2

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

// Reannounce announces every address currently answered for again, on
// the announce schedule, as if it had just been added: for a caller that
// knows neighbours may hold stale entries (e.g. after the node's uplink
// moved). The offset-0 round is written before it returns; ctx bounds
// only that round. The Interface does this by itself when its link comes
// back up.
func (i *Interface) Reannounce(ctx context.Context) error {
	i.mu.Lock()
	if i.closed {
		i.mu.Unlock()
		return ErrClosed
	}
	batch := make(map[netip.Addr]uint64, len(i.addrs))
	for a, st := range i.addrs {
		batch[a] = st.gen
	}
	if len(batch) == 0 {
		i.mu.Unlock()
		return nil
	}
	i.wg.Add(1) // under mu: Close cannot be waiting yet
	i.mu.Unlock()
	return i.announce(ctx, batch)
}

// announce writes the schedule's offset-0 round now and leaves the rest
// to a goroutine, for which the caller has done i.wg.Add(1). batch maps
// each address to the generation that added it: an address removed (or
// removed and added again) since is skipped.
func (i *Interface) announce(ctx context.Context, batch map[netip.Addr]uint64) error {
	start := time.Now()
	steps := i.schedule
	var err error
	if steps[0] == 0 {
		err = i.announceRound(ctx, batch)
		steps = steps[1:]
	}
	go i.announceLater(start, steps, batch)
	return err
}

// announceLater runs the remaining rounds until done, Close, or none of
// the batch is answered for any more.
func (i *Interface) announceLater(start time.Time, steps []time.Duration, batch map[netip.Addr]uint64) {
	defer i.wg.Done()
	for _, d := range steps {
		t := time.NewTimer(time.Until(start.Add(d)))
		select {
		case <-i.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if !i.anyCurrent(batch) || i.stopped() {
			return
		}
		if err := i.announceRound(i.ctx, batch); err != nil {
			i.log.Warn("announcing addresses", "after", d, "error", err)
		}
	}
}

// stopped reports whether the Interface is in a final state (closed,
// interface gone, socket lost): nothing can be sent any more.
func (i *Interface) stopped() bool {
	i.healthMu.Lock()
	defer i.healthMu.Unlock()
	return i.healthFinal
}

// anyCurrent reports whether some address of batch is still answered for
// in the generation that added it.
func (i *Interface) anyCurrent(batch map[netip.Addr]uint64) bool {
	i.mu.RLock()
	defer i.mu.RUnlock()
	for a, gen := range batch {
		if i.addrs[a].gen == gen {
			return true
		}
	}
	return false
}

// announceRound announces each current address of batch once. The error
// summarises failures: there may be thousands of addresses.
func (i *Interface) announceRound(ctx context.Context, batch map[netip.Addr]uint64) error {
	var first error
	failed := 0
	for a, gen := range batch {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("layer2: interface %q: announcing: %w", i.name, err)
		}
		if err := i.announceOne(a, gen); err != nil {
			failed++
			if first == nil {
				first = err
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("layer2: interface %q: %d of %d announcements failed, first: %w", i.name, failed, len(batch), first)
	}
	return nil
}

// announceOne writes the announcement of a if it is still answered for
// in generation gen: a gratuitous ARP request and reply (sender = target =
// a, to broadcast) for IPv4, an unsolicited neighbor advertisement with
// Override to all nodes for IPv6.
func (i *Interface) announceOne(a netip.Addr, gen uint64) error {
	i.mu.RLock()
	defer i.mu.RUnlock()
	st := i.addrs[a]
	if st.gen != gen {
		return nil
	}
	if a.Is4() {
		var errs []error
		zero := make(net.HardwareAddr, macLen)
		req, err := buildARP(arp.OperationRequest, i.mac, a, zero, a, ethernet.Broadcast)
		if err == nil {
			err = i.send(familyARP, req, ethernet.Broadcast, true, st.ctr)
		}
		errs = append(errs, err)
		rep, err := buildARP(arp.OperationReply, i.mac, a, ethernet.Broadcast, a, ethernet.Broadcast)
		if err == nil {
			err = i.send(familyARP, rep, ethernet.Broadcast, true, st.ctr)
		}
		return errors.Join(append(errs, err)...)
	}
	na, err := buildNA(i.mac, allNodesMAC, a, allNodes, false)
	if err != nil {
		return err
	}
	return i.send(familyNDP, na, allNodesMAC, true, st.ctr)
}

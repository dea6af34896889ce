package layer2

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/mdlayher/ndp"
)

// SetAddresses makes addrs the exact set of addresses this Interface
// answers for. Addresses no longer in the set are not answered from the
// moment SetAddresses returns (nothing is sent for them). Addresses new to
// the set are answered from the moment it returns and announced —
// gratuitous ARP request and reply for IPv4, an unsolicited neighbor
// advertisement with Override to all nodes for IPv6 — on the announce
// schedule; the offset-0 announcement is written before SetAddresses
// returns. For a new IPv6 address the solicited-node multicast group is
// joined, so multicast solicitations reach the interface.
//
// IPv4-mapped IPv6 addresses count as IPv4. Invalid addresses (multicast,
// loopback, link-local, unspecified, broadcast, zoned) are left out and
// reported in the returned error, together with failures to join a
// group or to send the first announcement; the rest of the set is applied
// regardless. ctx bounds only the first announcement round; later rounds
// run until they are done or the Interface is closed. SetAddresses blocks
// only for the system calls joining groups and writing frames. It returns
// ErrClosed after Close.
func (i *Interface) SetAddresses(ctx context.Context, addrs []netip.Addr) error {
	want := make(map[netip.Addr]bool, len(addrs))
	var errs []error
	for _, a := range addrs {
		n, err := normalize(a)
		if err != nil {
			errs = append(errs, fmt.Errorf("layer2: interface %q: %w", i.name, err))
			continue
		}
		want[n] = true
	}

	i.mu.Lock()
	if i.closed {
		i.mu.Unlock()
		return ErrClosed
	}
	var removed []netip.Addr
	now := time.Now()
	for a := range i.addrs {
		if !want[a] {
			delete(i.addrs, a)
			i.counters.release(i.name, a)
			removed = append(removed, a)
			if err := i.leaveGroupLocked(a); err != nil {
				errs = append(errs, err)
			}
		}
	}
	added := map[netip.Addr]uint64{}
	for a := range want {
		if _, ok := i.addrs[a]; ok {
			continue
		}
		i.gen++
		i.addrs[a] = addrState{gen: i.gen, ctr: i.counters.acquire(i.name, a), since: now}
		added[a] = i.gen
		if err := i.joinGroupLocked(a); err != nil {
			errs = append(errs, err)
		}
	}
	if len(added) > 0 || len(removed) > 0 {
		i.ver++
	}
	if len(added) > 0 {
		i.wg.Add(1) // under mu: Close cannot be waiting yet
	}
	i.mu.Unlock()

	if len(removed) > 0 || len(added) > 0 {
		i.log.Info("addresses changed", "added", len(added), "removed", len(removed), "total", len(want))
	}
	if len(added) > 0 {
		if err := i.announce(ctx, added); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// normalize returns the address to answer for, or why it cannot be one.
func normalize(a netip.Addr) (netip.Addr, error) {
	a = a.Unmap()
	var why string
	switch {
	case !a.IsValid():
		return a, fmt.Errorf("invalid (zero) address; want a unicast IPv4 or IPv6 address")
	case a.Zone() != "":
		why = "has a zone"
	case a.IsUnspecified():
		why = "is unspecified"
	case a.IsLoopback():
		why = "is a loopback address"
	case a.IsMulticast():
		why = "is multicast"
	case a.IsLinkLocalUnicast():
		why = "is link-local"
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		why = "is the broadcast address"
	default:
		return a, nil
	}
	return a, fmt.Errorf("address %s %s; want a global or private unicast IPv4 or IPv6 address", a, why)
}

// joinGroupLocked joins a's solicited-node group when a is the first
// address in it. Callers hold mu.
func (i *Interface) joinGroupLocked(a netip.Addr) error {
	if !a.Is6() {
		return nil
	}
	g, err := ndp.SolicitedNodeMulticast(a)
	if err != nil {
		return fmt.Errorf("layer2: interface %q: solicited-node group of %s: %w", i.name, a, err)
	}
	ref := i.groups[g]
	if ref == nil {
		ref = &groupRef{}
		i.groups[g] = ref
	}
	ref.addrs++
	if ref.joined {
		return nil
	}
	if err := i.socks.ctl.joinGroup(g); err != nil {
		// The address stays: unicast solicitations are still answered,
		// and the error tells the caller multicast ones may not arrive.
		// The next address in the group tries again.
		return fmt.Errorf("layer2: interface %q: joining %s for %s (multicast solicitations may not arrive): %w",
			i.name, g, a, err)
	}
	ref.joined = true
	return nil
}

// leaveGroupLocked leaves a's solicited-node group when a was the last
// address in it. Callers hold mu.
func (i *Interface) leaveGroupLocked(a netip.Addr) error {
	if !a.Is6() {
		return nil
	}
	g, err := ndp.SolicitedNodeMulticast(a)
	if err != nil {
		return nil // never joined
	}
	ref := i.groups[g]
	if ref == nil {
		return nil // never counted
	}
	ref.addrs--
	if ref.addrs > 0 {
		return nil
	}
	delete(i.groups, g)
	if !ref.joined {
		return nil
	}
	if err := i.socks.ctl.leaveGroup(g); err != nil {
		return fmt.Errorf("layer2: interface %q: leaving %s: %w", i.name, g, err)
	}
	return nil
}

// groupRef counts the addresses in one solicited-node group.
type groupRef struct {
	addrs  int  // addresses being answered for in the group
	joined bool // the group was joined successfully
}

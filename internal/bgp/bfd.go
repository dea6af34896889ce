package bgp

import (
	"context"
	"fmt"
	"net/netip"

	api "github.com/osrg/gobgp/v3/api"

	"github.com/ironlb/ironlb/internal/bfd"
)

// checkBFD validates the BFD settings of p.
func checkBFD(p Peer) error {
	if !p.BFD {
		return nil
	}
	if !p.SourceAddress.IsValid() {
		return fmt.Errorf("peer %q: BFD needs SourceAddress, the local address of the BFD session", p.Name)
	}
	if err := p.BFDProfile.WithDefaults().Validate(); err != nil {
		return fmt.Errorf("peer %q: BFDProfile: %w", p.Name, err)
	}
	return nil
}

// bfdManager returns the speaker's BFD manager, creating it on first use.
// Callers hold s.mu.
func (s *gobgpSpeaker) bfdManager() *bfd.Manager {
	if s.bfd == nil {
		s.bfd = bfd.NewManager(bfd.Options{OnChange: s.onBFDChange})
	}
	return s.bfd
}

// onBFDChange runs on a BFD session's goroutine, which must not block: the
// BGP side is handled on a goroutine of its own.
func (s *gobgpSpeaker) onBFDChange(ev bfd.Event) {
	switch {
	case ev.From == bfd.StateUp && ev.To != bfd.StateUp:
		go s.setAdminUp(ev.Peer, false)
	case ev.To == bfd.StateUp:
		go s.setAdminUp(ev.Peer, true)
	}
}

// setAdminUp disables (BFD went down) or enables (BFD came up) the BGP
// session to addr.
func (s *gobgpSpeaker) setAdminUp(addr netip.Addr, up bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	for _, ss := range s.sessions {
		if ss.peer.Address != addr || !ss.peer.BFD || ss.bfdDown == !up {
			continue
		}
		ctx := context.Background()
		var err error
		if up {
			err = ss.srv.EnablePeer(ctx, &api.EnablePeerRequest{Address: addr.String()})
		} else {
			err = ss.srv.DisablePeer(ctx, &api.DisablePeerRequest{Address: addr.String(), Communication: "BFD session down"})
		}
		if err != nil {
			s.log.Error("BFD: set BGP session admin state", "peer", ss.peer.Name, "up", up, "err", err)
			continue
		}
		ss.bfdDown = !up
		s.log.Info("BFD changed the BGP session's admin state", "peer", ss.peer.Name, "up", up)
	}
}

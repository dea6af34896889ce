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
	if ev.From == bfd.StateUp && ev.To != bfd.StateUp {
		go s.resetForBFD(ev.Peer)
	}
}

// resetForBFD ends the BGP session to addr because its BFD session went
// down (a Cease is sent; the routes it carried are gone on both sides),
// then lets it reconnect as usual, without waiting for BFD to come back:
// a router that runs BFD only while the BGP session exists (FRR's dynamic
// neighbours) would otherwise never bring BFD up again.
func (s *gobgpSpeaker) resetForBFD(addr netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	ctx := context.Background()
	for _, ss := range s.sessions {
		if ss.peer.Address != addr || !ss.peer.BFD {
			continue
		}
		if err := ss.srv.DisablePeer(ctx, &api.DisablePeerRequest{Address: addr.String(), Communication: "BFD session down"}); err != nil {
			s.log.Error("BFD: ending the BGP session", "peer", ss.peer.Name, "err", err)
			continue
		}
		if err := ss.srv.EnablePeer(ctx, &api.EnablePeerRequest{Address: addr.String()}); err != nil {
			s.log.Error("BFD: letting the BGP session reconnect", "peer", ss.peer.Name, "err", err)
			continue
		}
		s.log.Info("BFD session down: BGP session reset", "peer", ss.peer.Name)
	}
}

package bgp

import (
	"context"
	"fmt"
	"log/slog"
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
	if p.SourceAddress.Unmap().Is4() != p.Address.Unmap().Is4() {
		return fmt.Errorf("peer %q: BFD from SourceAddress %v to Address %v: the two must be of one family", p.Name, p.SourceAddress, p.Address)
	}
	if err := p.BFDProfile.WithDefaults().Validate(); err != nil {
		return fmt.Errorf("peer %q: BFDProfile: %w", p.Name, err)
	}
	return nil
}

// startBFD starts p's BFD session: multi-hop when the BGP session may be
// more than one hop away (EBGPMultiHop), else single-hop. Callers hold
// s.mu and have checked that the speaker is not closed.
func (s *gobgpSpeaker) startBFD(p Peer) error {
	m := s.bfdManager()
	add := m.Add
	if p.EBGPMultiHop {
		add = m.AddMultihop
	}
	_, err := add(p.Address, p.SourceAddress, p.BFDProfile.WithDefaults())
	return err
}

// bfdManager returns the speaker's BFD manager, creating it on first use.
// Callers hold s.mu and have checked that the speaker is not closed.
func (s *gobgpSpeaker) bfdManager() *bfd.Manager {
	if s.bfd == nil {
		s.bfd = bfd.NewManager(bfd.Options{OnChange: s.onBFDChange})
	}
	return s.bfd
}

// onBFDChange runs on a BFD session's goroutine, which must not block: it
// only queues the peer for resetLoop.
func (s *gobgpSpeaker) onBFDChange(ev bfd.Event) {
	level := slog.LevelDebug // the steps of coming up
	if ev.To == bfd.StateUp || ev.From == bfd.StateUp {
		level = slog.LevelInfo
	}
	s.log.Log(context.Background(), level, "BFD session "+ev.To.String(), "peer", ev.Peer, "from", ev.From,
		"diag", ev.Diag, "remoteState", ev.RemoteState, "remoteDiag", ev.RemoteDiag)
	if ev.From != bfd.StateUp || ev.To == bfd.StateUp {
		return
	}
	// AdminDown is not a failure (RFC 5882 §3.2): ours (the session
	// removed) or the router's (it said so) leaves the BGP session to its
	// own hold time.
	if ev.To == bfd.StateAdminDown || ev.RemoteState == bfd.StateAdminDown {
		return
	}
	s.resetMu.Lock()
	s.resetPending[ev.Peer] = struct{}{}
	s.resetMu.Unlock()
	s.kick()
}

// kick wakes resetLoop without blocking.
func (s *gobgpSpeaker) kick() {
	select {
	case s.resetKick <- struct{}{}:
	default: // a kick is pending already; it will see the news too
	}
}

// resetLoop resets the BGP sessions of the peers onBFDChange queued and
// re-arms the sessions sessionDropped queued, until Close cancels s.bgCtx.
func (s *gobgpSpeaker) resetLoop() {
	for {
		select {
		case <-s.bgCtx.Done():
			return
		case <-s.resetKick:
		}
		s.resetMu.Lock()
		pending, rearm := s.resetPending, s.rearmPending
		s.resetPending, s.rearmPending = map[netip.Addr]struct{}{}, map[*session]struct{}{}
		s.resetMu.Unlock()
		for addr := range pending {
			s.resetForBFD(s.bgCtx, addr)
		}
		for ss := range rearm {
			s.rearm(s.bgCtx, ss)
		}
	}
}

// resetForBFD ends the BGP session to addr because its BFD session went
// down (a Cease "administrative reset" is sent; the routes it carried are
// gone on both sides), then lets it reconnect after the connect time,
// without waiting for BFD to come back: a router that runs BFD only while
// the BGP session exists (FRR's dynamic neighbours) would otherwise never
// bring BFD up again.
//
// The sessions are looked up under s.mu, but GoBGP is called without it:
// a GoBGP call waits for the server's main loop, which may be busy, and
// must not hold up SetPeers, Advertise, Stats or Close meanwhile. A session
// that SetPeers or Close stops in between answers with an error, which is
// ignored as it no longer matters.
//
// One ResetPeer call, not DisablePeer followed by EnablePeer: GoBGP hands
// admin state changes to the session's FSM through a one-slot channel and
// drops a change that finds the slot still full ("previous setting admin
// state request is still remaining"), so an EnablePeer right after a
// DisablePeer is lost whenever the FSM goroutine has not run in between,
// leaving the peer administratively down for good.
func (s *gobgpSpeaker) resetForBFD(ctx context.Context, addr netip.Addr) {
	s.mu.Lock()
	var targets []*session
	if !s.closed {
		for _, ss := range s.sessions {
			if ss.peer.Address == addr && ss.peer.BFD {
				targets = append(targets, ss)
			}
		}
	}
	s.mu.Unlock()
	for _, ss := range targets {
		if ctx.Err() != nil {
			return
		}
		err := ss.srv.ResetPeer(ctx, &api.ResetPeerRequest{Address: addr.String(), Communication: "BFD session down"})
		if err != nil {
			if s.current(ss) {
				s.log.Error("BFD: resetting the BGP session", "peer", ss.peer.Name, "err", err)
			}
			continue
		}
		s.log.Info("BFD session down: BGP session reset", "peer", ss.peer.Name)
	}
}

// current reports whether ss is still one of the speaker's sessions.
func (s *gobgpSpeaker) current(ss *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closed && s.sessions[ss.peer.Name] == ss
}

package bgp

import (
	"context"

	api "github.com/osrg/gobgp/v3/api"
)

// sessionDropped runs on GoBGP's event goroutine when an Established
// session of ss ends, and must not block: it only queues ss for resetLoop.
func (s *gobgpSpeaker) sessionDropped(ss *session) {
	s.resetMu.Lock()
	s.rearmPending[ss] = struct{}{}
	s.resetMu.Unlock()
	s.kick()
}

// rearm replaces the GoBGP neighbour of ss, whose Established session
// ended (the router closed or reset it, restarted, or the hold timer ran
// out), with a fresh one, so it connects again within 1-2 s and then
// every ConnectTime. Left alone, GoBGP v3 idles a fixed 5 s after such a
// drop before its first attempt (its idle hold time; only ResetPeer sets
// another, for the drop it causes), so a router restart would cost 6-7 s
// of outage instead of 1-2 s. The routes stay in the session's own RIB
// and go to the new neighbour when it is Established.
//
// A neighbour that is Established again by then is left alone. As in
// resetForBFD, GoBGP is called without s.mu, and errors from a session
// SetPeers or Close stopped in between are ignored.
func (s *gobgpSpeaker) rearm(ctx context.Context, ss *session) {
	if ctx.Err() != nil || !s.current(ss) {
		return
	}
	addr := ss.peer.Address.String()
	established := false
	var sent, received uint64
	err := ss.srv.ListPeer(ctx, &api.ListPeerRequest{Address: addr}, func(p *api.Peer) {
		established = p.GetState().GetSessionState() == api.PeerState_ESTABLISHED
		m := p.GetState().GetMessages()
		sent, received = m.GetSent().GetUpdate(), m.GetReceived().GetUpdate()
	})
	if err == nil && established {
		return
	}
	if err == nil {
		err = ss.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: addr})
	}
	if err == nil {
		// The old neighbour's UPDATEs (none since it went down) live on
		// in the session's counters.
		ss.sentBefore.Add(sent)
		ss.receivedBefore.Add(received)
		err = ss.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: apiPeer(ss.peer)})
	}
	if err != nil {
		if s.current(ss) {
			s.log.Error("re-arming the BGP session to reconnect at once", "peer", ss.peer.Name, "err", err)
		}
		return
	}
	s.log.Info("BGP session ended: reconnecting at once", "peer", ss.peer.Name)
}

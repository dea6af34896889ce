package bgp

import (
	"context"
	"fmt"

	api "github.com/osrg/gobgp/v3/api"

	"github.com/ironlb/ironlb/internal/bfd"
)

// PeerStats are the counters of one peer, for metrics.
type PeerStats struct {
	// UpdatesSent and UpdatesReceived count BGP UPDATE messages since the
	// peer was configured, across its sessions (they restart from zero
	// when SetPeers re-creates the peer).
	UpdatesSent, UpdatesReceived uint64
	// BFD is nil when the peer runs no BFD session; else the session's
	// counters and whether it is Up.
	BFD *BFDStats
}

// BFDStats are the counters of one BFD session.
type BFDStats struct {
	Up bool
	bfd.Counters
}

// StatsReader is implemented by the Speaker New returns.
type StatsReader interface {
	// Stats returns the counters of every configured peer, by name. It
	// takes the speaker's lock: it waits for a SetPeers or Advertise in
	// progress.
	Stats(ctx context.Context) (map[string]PeerStats, error)
}

var _ StatsReader = (*gobgpSpeaker)(nil)

// Stats implements StatsReader.
func (s *gobgpSpeaker) Stats(ctx context.Context) (map[string]PeerStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]PeerStats, len(s.sessions))
	for name, ss := range s.sessions {
		var st PeerStats
		err := ss.srv.ListPeer(ctx, &api.ListPeerRequest{Address: ss.peer.Address.String()}, func(p *api.Peer) {
			m := p.GetState().GetMessages()
			st.UpdatesSent = m.GetSent().GetUpdate()
			st.UpdatesReceived = m.GetReceived().GetUpdate()
		})
		if err != nil {
			return nil, fmt.Errorf("bgp: Stats: peer %q: %w", name, err)
		}
		// Between rearm's removal of the old neighbour and its adding of
		// their counts, the sum dips: report the last value meanwhile.
		ss.reportedSent = max(ss.reportedSent, ss.sentBefore.Load()+st.UpdatesSent)
		ss.reportedReceived = max(ss.reportedReceived, ss.receivedBefore.Load()+st.UpdatesReceived)
		st.UpdatesSent, st.UpdatesReceived = ss.reportedSent, ss.reportedReceived
		if ss.peer.BFD && s.bfd != nil {
			if b, ok := s.bfd.Session(ss.peer.Address); ok {
				state, _ := b.State()
				st.BFD = &BFDStats{Up: state == bfd.StateUp, Counters: b.Counters()}
			}
		}
		out[name] = st
	}
	return out, nil
}

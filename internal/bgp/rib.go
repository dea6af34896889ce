package bgp

import (
	"context"
	"fmt"

	api "github.com/osrg/gobgp/v3/api"
)

// ribCounts tells how many paths of both families the peer sent us (before
// the import policy) and how many paths the global RIB holds beyond our own
// announcements (after it; zero while the policy works).
type ribCounts struct {
	Received, Learned int
}

// countPaths counts the paths in one GoBGP table over both families.
func (s *session) countPaths(ctx context.Context, table api.TableType, name string) (int, error) {
	n := 0
	for _, f := range []*api.Family{familyIPv4, familyIPv6} {
		err := s.srv.ListPath(ctx, &api.ListPathRequest{TableType: table, Name: name, Family: f}, func(d *api.Destination) {
			n += len(d.GetPaths())
		})
		if err != nil {
			return 0, fmt.Errorf("peer %q: list %v paths: %w", s.peer.Name, table, err)
		}
	}
	return n, nil
}

// ribCounts reports the session's received and learned path counts.
func (s *session) ribCounts(ctx context.Context) (ribCounts, error) {
	in, err := s.countPaths(ctx, api.TableType_ADJ_IN, s.peer.Address.String())
	if err != nil {
		return ribCounts{}, err
	}
	global, err := s.countPaths(ctx, api.TableType_GLOBAL, "")
	if err != nil {
		return ribCounts{}, err
	}
	return ribCounts{Received: in, Learned: global - len(s.routes)}, nil
}

// ribCounts returns the counts of the named peer (for tests and debugging).
func (s *gobgpSpeaker) ribCounts(ctx context.Context, peer string) (ribCounts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[peer]
	if !ok {
		return ribCounts{}, fmt.Errorf("bgp: no peer %q", peer)
	}
	return ss.ribCounts(ctx)
}

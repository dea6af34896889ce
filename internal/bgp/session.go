package bgp

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
)

// session is one peer served by its own GoBGP server, so every peer may have
// its own ASN, router ID and routes without export policies.
type session struct {
	peer   Peer
	srv    *server.BgpServer
	stop   context.CancelFunc         // ends the peer state watch
	routes map[netip.Prefix]Route     // announced now
	paths  map[netip.Prefix]*api.Path // the GoBGP path of each announced route

	// UPDATEs counted by the GoBGP neighbours rearm replaced; Stats adds
	// them to the current neighbour's.
	sentBefore, receivedBefore atomic.Uint64
	// What Stats last reported (under the speaker's mu), so the counters
	// never go back while rearm swaps the neighbour.
	reportedSent, reportedReceived uint64
}

// startSession starts a GoBGP server for p, rejecting every received route,
// and adds p as its only neighbour. emit receives p's state changes;
// dropped is called (on GoBGP's goroutine: it must not block) each time
// an Established session ends.
func startSession(ctx context.Context, p Peer, log *slog.Logger, emit func(PeerEvent), dropped func(*session)) (*session, error) {
	if !p.RouterID.Is4() {
		return nil, fmt.Errorf("peer %q: RouterID %v is not an IPv4 address; BGP identifiers are IPv4 addresses", p.Name, p.RouterID)
	}
	if !p.Address.IsValid() {
		return nil, fmt.Errorf("peer %q: Address is empty", p.Name)
	}
	if p.MyASN == 0 || p.PeerASN == 0 {
		return nil, fmt.Errorf("peer %q: MyASN %d / PeerASN %d: both must be in 1..4294967295", p.Name, p.MyASN, p.PeerASN)
	}
	srv := server.NewBgpServer(server.LoggerOption(slogLogger{log.With("peer", p.Name)}))
	go srv.Serve()
	s := &session{peer: p, srv: srv, routes: map[netip.Prefix]Route{}, paths: map[netip.Prefix]*api.Path{}}
	fail := func(step string, err error) (*session, error) {
		s.close()
		return nil, fmt.Errorf("peer %q: %s: %w", p.Name, step, err)
	}
	if err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn: p.MyASN, RouterId: p.RouterID.String(), ListenPort: -1,
	}}); err != nil {
		return fail("start BGP", err)
	}
	// GoBGP applies the global import policy to our own paths too, so it
	// accepts locally originated paths and rejects the rest by default.
	policy := &api.Policy{Name: "ironlb-own-routes-only", Statements: []*api.Statement{{
		Name:       "accept-local",
		Conditions: &api.Conditions{RouteType: api.Conditions_ROUTE_TYPE_LOCAL},
		Actions:    &api.Actions{RouteAction: api.RouteAction_ACCEPT},
	}}}
	if err := srv.AddPolicy(ctx, &api.AddPolicyRequest{Policy: policy}); err != nil {
		return fail("add import policy", err)
	}
	if err := srv.SetPolicyAssignment(ctx, &api.SetPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
		Name: "global", Direction: api.PolicyDirection_IMPORT,
		Policies: []*api.Policy{{Name: policy.Name}}, DefaultAction: api.RouteAction_REJECT,
	}}); err != nil {
		return fail("set import policy", err)
	}
	wctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	established := false // GoBGP calls the watcher from one goroutine
	err := srv.WatchEvent(wctx, &api.WatchEventRequest{Peer: &api.WatchEventRequest_Peer{}}, func(r *api.WatchEventResponse) {
		pe := r.GetPeer()
		if pe == nil || pe.GetType() != api.WatchEventResponse_PeerEvent_STATE || pe.GetPeer().GetState() == nil {
			return
		}
		state := sessionState(pe.GetPeer().GetState().GetSessionState())
		emit(PeerEvent{Peer: p.Name, State: state, At: time.Now()})
		if established && state != StateEstablished {
			dropped(s)
		}
		established = state == StateEstablished
	})
	if err != nil {
		return fail("watch peer state", err)
	}
	if err := srv.AddPeer(ctx, &api.AddPeerRequest{Peer: apiPeer(p)}); err != nil {
		return fail("add peer", err)
	}
	return s, nil
}

// apiPeer translates p into GoBGP's neighbour configuration.
func apiPeer(p Peer) *api.Peer {
	port := uint32(p.Port)
	if port == 0 {
		port = 179
	}
	hold := p.HoldTime
	if hold == 0 {
		hold = 90 * time.Second
	}
	keepalive := p.KeepaliveTime
	if keepalive == 0 {
		keepalive = hold / 3
	}
	connect := p.ConnectTime
	if connect == 0 {
		connect = 5 * time.Second
	}
	ap := &api.Peer{
		Conf: &api.PeerConf{
			NeighborAddress: p.Address.String(),
			PeerAsn:         p.PeerASN,
			LocalAsn:        p.MyASN,
			AuthPassword:    p.Password,
		},
		Timers: &api.Timers{Config: &api.TimersConfig{
			ConnectRetry:      uint64(connect / time.Second),
			HoldTime:          uint64(hold / time.Second),
			KeepaliveInterval: uint64(keepalive / time.Second),
			// After a reset (BFD down, resetForBFD) GoBGP idles this
			// long before reconnecting; its default is 30 s. Reconnect
			// as after any other failed attempt instead.
			IdleHoldTimeAfterReset: uint64(max(connect/time.Second, 1)),
		}},
		Transport: &api.Transport{RemotePort: port, BindInterface: p.VRF},
		AfiSafis: []*api.AfiSafi{
			{Config: &api.AfiSafiConfig{Family: familyIPv4, Enabled: true}},
			{Config: &api.AfiSafiConfig{Family: familyIPv6, Enabled: true}},
		},
	}
	if p.SourceAddress.IsValid() {
		ap.Transport.LocalAddress = p.SourceAddress.String()
	}
	if p.EBGPMultiHop {
		ap.EbgpMultihop = &api.EbgpMultihop{Enabled: true, MultihopTtl: 255}
	}
	if p.GracefulRestart {
		ap.GracefulRestart = &api.GracefulRestart{Enabled: true, RestartTime: 120}
		// Without a per-family flag the capability lists no family, and
		// routers keep none of our routes across a restart.
		for _, af := range ap.AfiSafis {
			af.MpGracefulRestart = &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{Enabled: true}}
		}
	}
	return ap
}

// sessionState maps GoBGP's FSM state to ours.
func sessionState(s api.PeerState_SessionState) SessionState {
	switch s {
	case api.PeerState_IDLE:
		return StateIdle
	case api.PeerState_CONNECT:
		return StateConnect
	case api.PeerState_ACTIVE:
		return StateActive
	case api.PeerState_OPENSENT:
		return StateOpenSent
	case api.PeerState_OPENCONFIRM:
		return StateOpenConfirm
	case api.PeerState_ESTABLISHED:
		return StateEstablished
	}
	return StateUnknown
}

// advertise makes the session's announced routes exactly want.
func (s *session) advertise(ctx context.Context, want map[netip.Prefix]Route) error {
	announce, withdraw := diffRoutes(s.routes, want)
	var errs []string
	for _, r := range withdraw {
		if err := s.srv.DeletePath(ctx, &api.DeletePathRequest{Path: s.paths[r.Prefix]}); err != nil {
			errs = append(errs, fmt.Sprintf("withdraw %s: %v", r.Prefix, err))
			continue
		}
		delete(s.routes, r.Prefix)
		delete(s.paths, r.Prefix)
	}
	for _, r := range announce {
		path, err := apiPath(s.peer, r)
		if err == nil {
			_, err = s.srv.AddPath(ctx, &api.AddPathRequest{Path: path})
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("announce %s: %v", r.Prefix, err))
			continue
		}
		s.routes[r.Prefix] = r
		s.paths[r.Prefix] = path
	}
	if len(errs) > 0 {
		return fmt.Errorf("peer %q: %s", s.peer.Name, strings.Join(errs, "; "))
	}
	return nil
}

// close tears the session down (the router withdraws our routes). GoBGP v3's
// Serve goroutine has no way to end and stays behind, idle.
func (s *session) close() {
	s.srv.Stop()
	if s.stop != nil {
		s.stop()
	}
}

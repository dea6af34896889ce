package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	"github.com/ironlb/ironlb/internal/bfd"
)

// eventBuffer is how many undelivered events Events holds before dropping.
const eventBuffer = 256

// gobgpSpeaker implements Speaker with one GoBGP server per peer.
type gobgpSpeaker struct {
	log *slog.Logger

	mu       sync.Mutex          // serialises every method; guards all following fields
	sessions map[string]*session // by Peer.Name
	// bfdProfiles holds, by Peer.Name, the BFD profile a session runs when
	// SetPeers changed it in place (diffPeers' rebfd): session.peer stays
	// as the session was created, since rearm reads it without mu.
	bfdProfiles map[string]bfd.Profile
	routes      []Route      // the last Advertise
	bfd         *bfd.Manager // nil until a peer asks for BFD
	closed      bool

	evMu   sync.Mutex // guards events against send-after-close
	events chan PeerEvent
	evDone bool

	// Background work: resetLoop, started with the first session
	// (startWorker). Close cancels bgCtx and waits for bg, after releasing
	// mu (the worker takes it).
	bgCtx    context.Context
	bgCancel context.CancelFunc
	bg       sync.WaitGroup
	working  bool // resetLoop started

	resetMu      sync.Mutex              // guards resetPending and rearmPending
	resetPending map[netip.Addr]struct{} // peers whose BFD session went down, for resetLoop
	rearmPending map[*session]struct{}   // sessions that ended, for resetLoop
	resetKick    chan struct{}           // one slot: resetPending or rearmPending has news
}

var _ Speaker = (*gobgpSpeaker)(nil)

// New returns a Speaker with no peers and no routes. log receives GoBGP's
// messages (its Info lines at Debug); nil discards them.
func New(log *slog.Logger) Speaker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &gobgpSpeaker{
		log: log, sessions: map[string]*session{}, events: make(chan PeerEvent, eventBuffer),
		bgCtx: ctx, bgCancel: cancel, resetPending: map[netip.Addr]struct{}{}, rearmPending: map[*session]struct{}{},
		resetKick: make(chan struct{}, 1),
	}
}

// startWorker starts resetLoop once. Callers hold s.mu and have checked
// that the speaker is not closed, so the worker is always added before
// Close waits for it.
func (s *gobgpSpeaker) startWorker() {
	if !s.working {
		s.working = true
		s.bg.Go(s.resetLoop)
	}
}

// emit delivers e without ever blocking: when the buffer is full the oldest
// event is dropped.
func (s *gobgpSpeaker) emit(e PeerEvent) {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	if s.evDone {
		return
	}
	for {
		select {
		case s.events <- e:
			return
		default:
		}
		select {
		case <-s.events:
		default:
		}
	}
}

// Events implements Speaker.
func (s *gobgpSpeaker) Events() <-chan PeerEvent { return s.events }

// SetPeers implements Speaker. Peers that fail to start are reported in the
// error; the others are applied.
func (s *gobgpSpeaker) SetPeers(ctx context.Context, peers []Peer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("bgp: SetPeers after Close")
	}
	have := make(map[string]Peer, len(s.sessions))
	for name, ss := range s.sessions {
		h := ss.peer
		if bp, ok := s.bfdProfiles[name]; ok {
			h.BFDProfile = bp
		}
		have[name] = h
	}
	create, remove, rebfd, err := diffPeers(have, peers)
	if err != nil {
		return fmt.Errorf("bgp: SetPeers: %w", err)
	}
	for _, name := range remove {
		s.stopSession(s.sessions[name])
		delete(s.sessions, name)
		delete(s.bfdProfiles, name)
	}
	var errs []error
	// A new BFD profile alone: the running BFD session takes it (a Poll
	// sequence tells the router; it stays Up), the BGP session stays. A
	// new BFD session instead would tell the router AdminDown first, and
	// FRR 8.4 resets BGP on that, RFC 5882 §3.2 notwithstanding.
	for _, p := range rebfd {
		if err := checkBFD(p); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := s.bfd.Update(p.Address, p.BFDProfile.WithDefaults()); err != nil {
			errs = append(errs, fmt.Errorf("peer %q: update BFD: %w", p.Name, err))
			continue
		}
		if s.bfdProfiles == nil {
			s.bfdProfiles = map[string]bfd.Profile{}
		}
		s.bfdProfiles[p.Name] = p.BFDProfile
	}
	for _, p := range create {
		if err := checkBFD(p); err != nil {
			errs = append(errs, err)
			continue
		}
		s.startWorker()
		ss, err := startSession(ctx, p, s.log, s.emit, s.sessionDropped)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.sessions[p.Name] = ss
		delete(s.bfdProfiles, p.Name)
		if p.BFD {
			if err := s.startBFD(p); err != nil {
				errs = append(errs, fmt.Errorf("peer %q: start BFD: %w", p.Name, err))
			}
		}
		if err := s.advertiseTo(ctx, ss); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bgp: SetPeers: %w", err)
	}
	return nil
}

// Advertise implements Speaker. The routes are remembered even when some
// peer fails to take them, and given to peers added later.
func (s *gobgpSpeaker) Advertise(ctx context.Context, routes []Route) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("bgp: Advertise after Close")
	}
	for name := range s.sessions {
		if _, err := routesFor(name, routes); err != nil {
			return fmt.Errorf("bgp: Advertise: %w", err)
		}
	}
	s.routes = cloneRoutes(routes)
	var errs []error
	for _, ss := range s.sessions {
		errs = append(errs, s.advertiseTo(ctx, ss))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bgp: Advertise: %w", err)
	}
	return nil
}

// advertiseTo brings one session's routes to the current set.
func (s *gobgpSpeaker) advertiseTo(ctx context.Context, ss *session) error {
	want, err := routesFor(ss.peer.Name, s.routes)
	if err != nil {
		return err
	}
	return ss.advertise(ctx, want)
}

// Close implements Speaker. It returns once every goroutine the speaker
// started has ended, except GoBGP's main loops (see the package
// documentation).
func (s *gobgpSpeaker) Close() error {
	err := s.close()
	s.bg.Wait() // without mu: resetLoop may be waiting for it
	return err
}

func (s *gobgpSpeaker) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.bgCancel()
	for name, ss := range s.sessions {
		s.stopSession(ss)
		delete(s.sessions, name)
		delete(s.bfdProfiles, name)
	}
	var err error
	if s.bfd != nil {
		err = s.bfd.Close()
	}
	s.evMu.Lock()
	s.evDone = true
	close(s.events)
	s.evMu.Unlock()
	if err != nil {
		return fmt.Errorf("bgp: Close: BFD: %w", err)
	}
	return nil
}

// stopSession closes ss and its BFD session. Callers hold s.mu.
func (s *gobgpSpeaker) stopSession(ss *session) {
	if ss.peer.BFD && s.bfd != nil {
		s.bfd.Remove(ss.peer.Address)
	}
	ss.close()
}

func cloneRoutes(routes []Route) []Route {
	out := make([]Route, len(routes))
	for i, r := range routes {
		r.Peers = append([]string(nil), r.Peers...)
		r.Communities = append([]Community(nil), r.Communities...)
		r.LargeCommunities = append([]LargeCommunity(nil), r.LargeCommunities...)
		if r.LocalPref != nil {
			lp := *r.LocalPref
			r.LocalPref = &lp
		}
		out[i] = r
	}
	return out
}

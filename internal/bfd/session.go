package bfd

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Event reports a state change of one session.
type Event struct {
	Peer     netip.Addr
	From, To State
	// Diag is the local diagnostic: why the session went Down
	// (ControlDetectionTimeExpired, NeighborSignaledSessionDown,
	// AdministrativelyDown), DiagNone when it came Up.
	Diag Diag
	// RemoteState and RemoteDiag are the state and diagnostic in the
	// peer's last packet (AdminDown when the peer was shut down).
	RemoteState State
	RemoteDiag  Diag
	At          time.Time
}

// Session is one running BFD session, single-hop or multi-hop. Its methods
// are safe for concurrent use and never block on the network.
type Session struct {
	peer, local netip.Addr
	multihop    bool
	send        func([]byte) error
	// sendEcho (nil without the echo function) belongs to the session's
	// goroutine once it runs (Update swaps it there); echoOn says whether
	// it is set, for everyone.
	sendEcho func([]byte) error
	echoOn   atomic.Bool
	onChange func(Event)
	cnt      pair
	own      counters

	rx      chan Control
	echo    chan struct{} // this session's echo packets come back
	updates chan update
	admin   chan bool
	stop    chan bool // true: say AdminDown before stopping
	done    chan struct{}

	mu      sync.Mutex // guards the fields below
	state   State
	diag    Diag
	profile Profile

	stopOnce sync.Once
}

func newSession(peer, local netip.Addr, multihop bool, p Profile, discr uint32, send, sendEcho func([]byte) error, onChange func(Event), mgr *counters) *Session {
	s := &Session{
		peer: peer, local: local, multihop: multihop, profile: p, send: send, sendEcho: sendEcho, onChange: onChange,
		rx: make(chan Control, 16), echo: make(chan struct{}, 16), updates: make(chan update), admin: make(chan bool), stop: make(chan bool, 1),
		done: make(chan struct{}), state: StateDown,
	}
	s.cnt = pair{&s.own, mgr}
	s.echoOn.Store(sendEcho != nil)
	m := NewMachine(s.config(p), discr, time.Now(), rand.Float64)
	go s.run(m, discr)
	return s
}

// Peer returns the peer's address.
func (s *Session) Peer() netip.Addr { return s.peer }

// Local returns the local address packets are sent from.
func (s *Session) Local() netip.Addr { return s.local }

// Multihop reports whether the session is multi-hop (RFC 5883, port 4784).
func (s *Session) Multihop() bool { return s.multihop }

// Profile returns the session's defaulted profile.
func (s *Session) Profile() Profile {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.profile
}

// config is the state machine's Config for profile p with the session's
// echo sender.
func (s *Session) config(p Profile) Config {
	cfg := p.config()
	cfg.Echo = cfg.Echo && !s.multihop && s.sendEcho != nil
	return cfg
}

// update is a profile change for the session's goroutine: the new
// (defaulted, valid) profile, and, unless keepEcho, the new echo sender
// (nil: none). done is closed once it is applied.
type update struct {
	p        Profile
	sendEcho func([]byte) error
	keepEcho bool
	done     chan struct{}
}

// apply hands u to the session's goroutine and waits until it took it, or
// the session stopped.
func (s *Session) apply(u update) {
	u.done = make(chan struct{})
	select {
	case s.updates <- u:
		<-u.done
	case <-s.done:
	}
}

// State returns the current local state and diagnostic.
func (s *Session) State() (State, Diag) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state, s.diag
}

// Counters returns the session's counters.
func (s *Session) Counters() Counters { return s.own.snapshot() }

// SetAdminDown takes the session administratively down (telling the peer)
// or brings it back to Down, from where it comes Up again. It returns once
// the session goroutine took the request, or at once if it has stopped.
func (s *Session) SetAdminDown(down bool) {
	select {
	case s.admin <- down:
	case <-s.done:
	}
}

// deliver hands a packet to the session without blocking; a full queue
// drops it (the detection time absorbs a lost packet).
func (s *Session) deliver(c Control) {
	select {
	case s.rx <- c:
	default:
		s.cnt.add(func(c *counters) *atomic.Uint64 { return &c.unknown })
	}
}

// deliverEcho tells the session one of its echo packets came back, without
// blocking; a full queue drops it (the next one restarts the detection
// time as well).
func (s *Session) deliverEcho() {
	select {
	case s.echo <- struct{}{}:
	default:
	}
}

// shutdown stops the goroutine and waits for it. With notify the peer is
// sent AdminDown packets first (RFC 5880 §6.8.16), best effort.
func (s *Session) shutdown(notify bool) {
	s.stopOnce.Do(func() { s.stop <- notify })
	<-s.done
}

func (s *Session) run(m *Machine, discr uint32) {
	defer close(s.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var buf, echoBuf []byte
	transmit := func(p *Control) {
		if p == nil {
			return
		}
		var err error
		if buf, err = AppendControl(buf[:0], *p); err == nil {
			err = s.send(buf)
		}
		if err != nil {
			s.cnt.add(func(c *counters) *atomic.Uint64 { return &c.sendErrors })
			return
		}
		s.cnt.add(func(c *counters) *atomic.Uint64 { return &c.sent })
	}
	var remote Control // the peer's last packet
	for {
		now := time.Now()
		p, ch := m.Advance(now)
		s.report(ch, remote, now)
		transmit(p)
		if p, _ = m.Advance(now); p != nil { // a Final and a periodic packet may both be due
			transmit(p)
		}
		if m.EchoDue(now) {
			echoBuf = appendEcho(echoBuf[:0], discr, now)
			if err := s.sendEcho(echoBuf); err != nil {
				s.cnt.add(func(c *counters) *atomic.Uint64 { return &c.sendErrors })
			} else {
				s.cnt.add(func(c *counters) *atomic.Uint64 { return &c.echoSent })
			}
		}
		if d := m.Deadline(); !d.IsZero() {
			timer.Reset(time.Until(d))
		} else {
			timer.Stop()
		}
		select {
		case notify := <-s.stop:
			if notify {
				now := time.Now()
				s.report(m.SetAdminDown(true, now), remote, now)
				for range 3 { // three packets, as the peer may lose one
					p, _ := m.Advance(now)
					if p == nil {
						q := m.packet()
						p = &q
					}
					transmit(p)
				}
			}
			return
		case u := <-s.updates:
			s.mu.Lock()
			s.profile = u.p
			s.mu.Unlock()
			if !u.keepEcho {
				s.sendEcho = u.sendEcho
				s.echoOn.Store(u.sendEcho != nil)
			}
			m.SetConfig(s.config(u.p), time.Now())
			close(u.done)
		case <-s.echo:
			s.cnt.add(func(c *counters) *atomic.Uint64 { return &c.echoReceived })
			m.EchoReceived(time.Now())
		case c := <-s.rx:
			now := time.Now()
			s.cnt.add(func(c *counters) *atomic.Uint64 { return &c.received })
			remote = c
			s.report(m.Receive(c, now), remote, now)
		case down := <-s.admin:
			now := time.Now()
			s.report(m.SetAdminDown(down, now), remote, now)
		case <-timer.C:
		}
	}
}

func (s *Session) report(ch *Change, remote Control, now time.Time) {
	if ch == nil {
		return
	}
	s.mu.Lock()
	s.state, s.diag = ch.To, ch.Diag
	s.mu.Unlock()
	s.cnt.add(func(c *counters) *atomic.Uint64 { return &c.transitions })
	if ch.To == StateUp {
		s.cnt.add(func(c *counters) *atomic.Uint64 { return &c.ups })
	} else if ch.From == StateUp {
		s.cnt.add(func(c *counters) *atomic.Uint64 { return &c.downs })
	}
	if s.onChange != nil {
		s.onChange(Event{Peer: s.peer, From: ch.From, To: ch.To, Diag: ch.Diag, RemoteState: remote.State, RemoteDiag: remote.Diag, At: now})
	}
}

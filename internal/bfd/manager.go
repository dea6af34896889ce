package bfd

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
)

// Options configure a Manager.
type Options struct {
	// OnChange, when set, is called for every state change of every
	// session, in order per session, from that session's goroutine. It must
	// not block for long (a slow callback delays the session's packets) and
	// must not call Remove or Close.
	OnChange func(Event)
	// Device, when set, binds every socket to this interface
	// (SO_BINDTODEVICE).
	Device string
}

// Manager runs single-hop and multi-hop BFD sessions, at most one per peer
// address. Its methods are safe for concurrent use.
type Manager struct {
	opts Options
	cnt  counters

	mu        sync.Mutex
	sessions  map[netip.Addr]*managed
	listeners map[listenKey]*listener
	echoes    map[netip.Addr]*echoEndpoint // by local address
	discrs    map[uint32]*Session          // nil until the session runs
	closed    bool

	// serving counts the listeners' serve goroutines; Close waits for
	// them. It is added to under mu while !closed, so never after Close
	// started waiting.
	serving sync.WaitGroup
}

type managed struct {
	s       *Session
	discr   uint32
	closeTx func() error
}

// ErrClosed is returned by Add after Close.
var ErrClosed = errors.New("bfd: manager closed")

// NewManager returns an empty Manager. It opens no socket until Add.
func NewManager(opts Options) *Manager {
	return &Manager{
		opts: opts, sessions: map[netip.Addr]*managed{},
		listeners: map[listenKey]*listener{}, echoes: map[netip.Addr]*echoEndpoint{},
		discrs: map[uint32]*Session{},
	}
}

// Add starts a single-hop session (RFC 5881) with peer, sending from
// local, and returns it. The sockets are created in the calling thread's
// network namespace: the receive socket on local port 3784 (shared by
// every single-hop session on local) and a send socket on a free port in
// 49152–65535. Received packets must carry TTL / hop limit 255; the
// profile's MinimumTTL is not used. Zero profile fields take their
// defaults; an invalid profile is refused with the reasons. With the
// profile's EchoMode it also opens the local address's echo socket (see
// echoEndpoint: a packet socket for IPv4, needing CAP_NET_RAW; UDP port
// 3785 for IPv6), shared by its sessions with echo. Add fails when a
// session with peer already exists. It does not block on the network.
//
// An IPv6 link-local peer needs a link-local local address with the
// interface as its zone (fe80::1%eth0); the session is known by the
// peer's address with that zone (Event.Peer, Session.Peer, the argument
// of Remove and Session).
func (m *Manager) Add(peer, local netip.Addr, p Profile) (*Session, error) {
	return m.add(peer, local, p, false)
}

// AddMultihop is Add for a multi-hop session (RFC 5883): it receives on
// local port 4784 (shared by every multi-hop session on local), sends to
// the peer's port 4784, and accepts packets whose TTL / hop limit is at
// least the profile's MinimumTTL (254 by default: the peer is at most one
// routed hop away). Packets are sent with TTL / hop limit 255.
func (m *Manager) AddMultihop(peer, local netip.Addr, p Profile) (*Session, error) {
	return m.add(peer, local, p, true)
}

func (m *Manager) add(peer, local netip.Addr, p Profile, multihop bool) (*Session, error) {
	peer, local = peer.Unmap(), local.Unmap()
	if !peer.IsValid() || !local.IsValid() || peer.Is4() != local.Is4() || peer.IsUnspecified() || local.IsUnspecified() {
		return nil, fmt.Errorf("bfd: add peer %v from %v: need two specified addresses of one family", peer, local)
	}
	if peer.IsLinkLocalUnicast() {
		// Known, and matched to received packets, by the local zone.
		if !local.IsLinkLocalUnicast() || local.Zone() == "" || (peer.Zone() != "" && peer.Zone() != local.Zone()) {
			return nil, fmt.Errorf("bfd: add link-local peer %v from %v: need a link-local local address with the interface as its zone (fe80::1%%eth0), and the peer's zone, if any, the same", peer, local)
		}
		peer = peer.WithZone(local.Zone())
	}
	p = p.WithDefaults()
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("bfd: add peer %v: invalid profile: %w", peer, err)
	}
	if multihop && p.EchoMode {
		return nil, fmt.Errorf("bfd: add multi-hop peer %v: echoMode: %w", peer, ErrEchoMultihop)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if _, ok := m.sessions[peer]; ok {
		return nil, fmt.Errorf("bfd: add peer %v: a session with it exists already", peer)
	}
	key := listenKey{local: local, multihop: multihop}
	l := m.listeners[key]
	if l == nil {
		var err error
		if l, err = listen(key, m.opts.Device); err != nil {
			return nil, fmt.Errorf("bfd: add peer %v: %w", peer, err)
		}
		m.listeners[key] = l
		m.serving.Go(func() { l.serve(m.lookup, &m.cnt) })
	}
	send, closeTx, err := dialSender(local, peer, key.port(), m.opts.Device)
	if err != nil {
		if l.refs == 0 {
			// Its goroutine ends with the socket; Close waits for it
			// (waiting here, under mu, could deadlock with lookup).
			_ = l.conn.Close()
			delete(m.listeners, key)
		}
		return nil, fmt.Errorf("bfd: add peer %v: %w", peer, err)
	}
	var sendEcho func([]byte) error
	if p.EchoMode {
		if sendEcho, err = m.echoSender(local, peer); err != nil {
			_ = closeTx()
			if l.refs == 0 {
				_ = l.conn.Close()
				delete(m.listeners, key)
			}
			return nil, fmt.Errorf("bfd: add peer %v: %w", peer, err)
		}
	}
	l.refs++
	discr := m.newDiscriminator()
	s := newSession(peer, local, multihop, p, discr, send, sendEcho, m.opts.OnChange, &m.cnt)
	m.discrs[discr] = s
	m.sessions[peer] = &managed{s: s, discr: discr, closeTx: closeTx}
	return s, nil
}

// echoSender returns the send function of local's echo endpoint for peer,
// opening the endpoint (and starting its goroutine) when it is the first
// session on local with echo; m.mu must be held.
func (m *Manager) echoSender(local, peer netip.Addr) (func([]byte) error, error) {
	e := m.echoes[local]
	if e == nil {
		var err error
		if e, err = listenEcho(local, m.opts.Device); err != nil {
			return nil, err
		}
		m.echoes[local] = e
		m.serving.Go(func() { e.serve(m.lookupDiscr, m.lookup, &m.cnt) })
	}
	e.refs++
	return func(b []byte) error { return e.send(peer, b) }, nil
}

// Update gives the running session with peer a new profile without ending
// it: while Up, the new intervals and multiplier reach the peer by a Poll
// sequence (RFC 5880 §6.8.3) and the session stays Up; the echo function
// starts or stops as the profile says (opening or releasing the local
// address's echo socket). The same checks as Add apply; a multi-hop
// session cannot take EchoMode. Update returns once the session runs
// with the new profile.
func (m *Manager) Update(peer netip.Addr, p Profile) error {
	peer = peer.Unmap()
	p = p.WithDefaults()
	if err := p.Validate(); err != nil {
		return fmt.Errorf("bfd: update peer %v: invalid profile: %w", peer, err)
	}
	m.mu.Lock()
	ms := m.sessions[peer]
	if ms == nil {
		m.mu.Unlock()
		return fmt.Errorf("bfd: update peer %v: no such session", peer)
	}
	if ms.s.multihop && p.EchoMode {
		m.mu.Unlock()
		return fmt.Errorf("bfd: update multi-hop peer %v: echoMode: %w", peer, ErrEchoMultihop)
	}
	u := update{p: p, keepEcho: p.EchoMode == ms.s.echoOn.Load()}
	release := !p.EchoMode && ms.s.echoOn.Load()
	if p.EchoMode && !u.keepEcho {
		send, err := m.echoSender(ms.s.local, ms.s.peer)
		if err != nil {
			m.mu.Unlock()
			return fmt.Errorf("bfd: update peer %v: %w", peer, err)
		}
		u.sendEcho = send
	}
	m.mu.Unlock()
	ms.s.apply(u)
	if release {
		m.mu.Lock()
		closed := m.releaseEcho(m.echoes[ms.s.local])
		m.mu.Unlock()
		if closed != nil {
			<-closed.done
		}
	}
	return nil
}

// Remove stops the session with peer after telling the peer it is going
// AdminDown, and closes its sockets. It blocks until the session goroutine
// and, when this was the last session on its local address, the
// listener's goroutine have exited (a few microseconds; never on the
// network). Removing an unknown peer is a no-op.
func (m *Manager) Remove(peer netip.Addr) {
	peer = peer.Unmap()
	m.mu.Lock()
	ms := m.sessions[peer]
	delete(m.sessions, peer)
	m.mu.Unlock()
	if ms == nil {
		return
	}
	ms.s.shutdown(true)
	_ = ms.closeTx()
	m.mu.Lock()
	delete(m.discrs, ms.discr)
	closed := m.releaseListener(m.listeners[listenKey{local: ms.s.local, multihop: ms.s.multihop}])
	var echoClosed *echoEndpoint
	if ms.s.echoOn.Load() { // the session has stopped: no Update swaps it now
		echoClosed = m.releaseEcho(m.echoes[ms.s.local])
	}
	m.mu.Unlock()
	if closed != nil {
		<-closed.done // without mu: serve may be waiting for it in lookup
	}
	if echoClosed != nil {
		<-echoClosed.done
	}
}

// Session returns the session with peer, if any.
func (m *Manager) Session(peer netip.Addr) (*Session, bool) {
	s := m.lookup(peer.Unmap())
	return s, s != nil
}

// Counters returns the manager-wide counters.
func (m *Manager) Counters() Counters { return m.cnt.snapshot() }

// Close stops every session without telling the peers (they detect the
// loss after their detection time; use Remove for a graceful end) and
// closes every socket. Add fails afterwards. Close blocks until every
// goroutine of the manager (sessions and listeners) has exited.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closed = true
	all := m.sessions
	m.sessions = map[netip.Addr]*managed{}
	m.mu.Unlock()
	var errs []error
	for _, ms := range all {
		ms.s.shutdown(false)
		if err := ms.closeTx(); err != nil {
			errs = append(errs, err)
		}
	}
	m.mu.Lock()
	for a, l := range m.listeners {
		if err := l.conn.Close(); err != nil {
			errs = append(errs, err)
		}
		delete(m.listeners, a)
	}
	for a, e := range m.echoes {
		if err := e.close(); err != nil {
			errs = append(errs, err)
		}
		delete(m.echoes, a)
	}
	m.mu.Unlock()
	m.serving.Wait() // without mu: serve may be waiting for it in lookup
	return errors.Join(errs...)
}

func (m *Manager) lookup(src netip.Addr) *Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ms := m.sessions[src]; ms != nil {
		return ms.s
	}
	return nil
}

// lookupDiscr returns the running session with local discriminator d, or
// nil.
func (m *Manager) lookupDiscr(d uint32) *Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.discrs[d]
}

// releaseEcho drops one reference to e and returns it when that closed
// it; m.mu must be held.
func (m *Manager) releaseEcho(e *echoEndpoint) *echoEndpoint {
	if e == nil {
		return nil
	}
	if e.refs > 0 {
		e.refs--
	}
	if e.refs > 0 {
		return nil
	}
	_ = e.close()
	delete(m.echoes, e.local)
	return e
}

// releaseListener drops one reference and returns the listener when that
// closed it, so the caller can wait for its goroutine after releasing m.mu,
// which must be held.
func (m *Manager) releaseListener(l *listener) *listener {
	if l == nil {
		return nil
	}
	if l.refs > 0 {
		l.refs--
	}
	if l.refs > 0 {
		return nil
	}
	_ = l.conn.Close()
	delete(m.listeners, l.key)
	return l
}

// newDiscriminator returns a random nonzero discriminator not in use; m.mu
// must be held.
func (m *Manager) newDiscriminator() uint32 {
	for {
		d := rand.Uint32()
		if _, used := m.discrs[d]; d != 0 && !used {
			m.discrs[d] = nil
			return d
		}
	}
}

package membership

import (
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// DefaultPort is the memberlist port (UDP and TCP) speakers use.
const DefaultPort = 7946

// Tuning are memberlist's failure-detection timers. A crashed member is
// declared dead after it is probed (every member probes one other each
// ProbeInterval, so a member is probed about once per ProbeInterval),
// misses the direct ack (ProbeTimeout) and the indirect and TCP probes (the
// rest of ProbeInterval), then stays suspect for
// SuspicionMult × max(1, log10(members)) × ProbeInterval in case it refutes.
// The dead verdict then spreads by gossip every GossipInterval.
type Tuning struct {
	ProbeInterval  time.Duration
	ProbeTimeout   time.Duration
	SuspicionMult  int
	GossipInterval time.Duration
	// TCPTimeout bounds joins and the TCP fallback probe's connection.
	TCPTimeout time.Duration
	// PushPullInterval is how often a member exchanges its full state with
	// another, healing anything gossip missed.
	PushPullInterval time.Duration
}

// DefaultTuning aims at noticing a crashed speaker within about 0.6 s
// (clusters up to 10 speakers; the suspicion time grows with log10 of the
// size beyond), so the failover of an address stays under a second, while
// probes on a LAN (sub-millisecond round trips) have a wide margin before a
// live member is suspected. A suspected member that is alive refutes within
// one gossip round and is never declared dead.
func DefaultTuning() Tuning {
	return Tuning{
		ProbeInterval:    150 * time.Millisecond,
		ProbeTimeout:     100 * time.Millisecond,
		SuspicionMult:    2,
		GossipInterval:   50 * time.Millisecond,
		TCPTimeout:       2 * time.Second,
		PushPullInterval: 15 * time.Second,
	}
}

// Config configures a Gossip member.
type Config struct {
	// Name is this member's name: the node name. Required.
	Name string
	// BindAddr is the address to listen on (UDP and TCP); the zero value
	// listens on every address. BindPort 0 picks a free port (tests);
	// speakers use DefaultPort.
	BindAddr netip.Addr
	BindPort int
	// AdvertiseAddr is the address other members reach this one at; the
	// zero value lets memberlist choose (BindAddr, or a private address of
	// the host when BindAddr is unspecified). Set it to the node's
	// InternalIP.
	AdvertiseAddr netip.Addr
	// SecretKey encrypts and authenticates all gossip: 16, 24 or 32 bytes
	// (SecretKey derives one). SetKey rotates it. Nil sends it in clear
	// text (tests only).
	SecretKey []byte
	// Tuning zero values mean DefaultTuning's.
	Tuning Tuning
	// Logger receives memberlist's messages; nil discards them.
	Logger *slog.Logger
}

// Gossip is a memberlist member. Its methods are safe for concurrent use.
type Gossip struct {
	ml      *memberlist.Memberlist
	name    string
	changes notifier
	events  *eventDelegate
	log     *slog.Logger

	// keyring is memberlist's (nil without encryption); keys holds its
	// keys by fingerprint and wanted the fingerprint of the key SetKey
	// asked for last. keysMu guards keys and wanted.
	keyring   *memberlist.Keyring
	keysMu    sync.Mutex
	keys      map[string][]byte
	wanted    string
	keyKick   chan struct{}
	wrongKeys atomic.Uint64
	done      chan struct{}

	stopOnce sync.Once
	stopErr  error
}

var _ Members = (*Gossip)(nil)

// Start creates the member and starts answering probes; it knows only
// itself until Join.
func Start(cfg Config) (*Gossip, error) {
	if cfg.Name == "" {
		return nil, errors.New("membership: Config.Name is empty; it must be the node name")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	g := &Gossip{name: cfg.Name, changes: newNotifier(), log: logger, keyKick: make(chan struct{}, 1), done: make(chan struct{})}

	c := memberlist.DefaultLANConfig()
	c.Name = cfg.Name
	c.BindAddr = "0.0.0.0"
	if cfg.BindAddr.IsValid() {
		c.BindAddr = cfg.BindAddr.String()
	}
	c.BindPort = cfg.BindPort
	c.AdvertisePort = cfg.BindPort
	if cfg.AdvertiseAddr.IsValid() {
		c.AdvertiseAddr = cfg.AdvertiseAddr.String()
	}
	if cfg.SecretKey != nil {
		kr, err := memberlist.NewKeyring(nil, cfg.SecretKey)
		if err != nil {
			return nil, fmt.Errorf("membership: the gossip key: %w", err)
		}
		fp := fingerprint(cfg.SecretKey)
		g.keyring, g.keys, g.wanted = kr, map[string][]byte{fp: cfg.SecretKey}, fp
		c.Keyring = kr
		c.Delegate = &keyDelegate{g: g}
	}
	tuning(c, cfg.Tuning)
	g.events = &eventDelegate{changes: g.changes, keyKick: g.keyKick, addrs: map[string]string{}, keys: map[string]keyState{}}
	c.Events = g.events
	c.Logger = log.New(&logWriter{log: logger, wrongKey: g.countWrongKey}, "", 0)

	ml, err := memberlist.Create(c)
	if err != nil {
		return nil, fmt.Errorf("starting memberlist on %s: %w",
			net.JoinHostPort(c.BindAddr, strconv.Itoa(cfg.BindPort)), err)
	}
	g.ml = ml
	if g.keyring != nil {
		go g.rotateLoop()
	}
	return g, nil
}

// tuning applies t (defaulted) to c.
func tuning(c *memberlist.Config, t Tuning) {
	d := DefaultTuning()
	pick := func(v, def time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return def
	}
	c.ProbeInterval = pick(t.ProbeInterval, d.ProbeInterval)
	c.ProbeTimeout = pick(t.ProbeTimeout, d.ProbeTimeout)
	c.GossipInterval = pick(t.GossipInterval, d.GossipInterval)
	c.TCPTimeout = pick(t.TCPTimeout, d.TCPTimeout)
	c.PushPullInterval = pick(t.PushPullInterval, d.PushPullInterval)
	c.SuspicionMult = d.SuspicionMult
	if t.SuspicionMult > 0 {
		c.SuspicionMult = t.SuspicionMult
	}
	// Dead members are gossiped to for a while so a falsely declared one
	// learns it and refutes; a few seconds is plenty at these intervals.
	c.GossipToTheDeadTime = 5 * time.Second
}

// Join contacts the members at addrs ("host:port") and merges their view;
// it returns how many answered, and an error only when none did. Joining
// members already known is harmless. It blocks for up to
// Tuning.TCPTimeout per address that does not answer.
func (g *Gossip) Join(addrs []string) (int, error) {
	if len(addrs) == 0 {
		return 0, nil
	}
	n, err := g.ml.Join(addrs)
	if err != nil {
		return n, fmt.Errorf("joining the speakers at %v: %w", addrs, err)
	}
	return n, nil
}

// Members returns the names of the members not known to be dead or gone
// (suspects included), this one among them.
func (g *Gossip) Members() []string {
	nodes := g.ml.Members()
	out := make([]string, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, n.Name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Addresses returns the "host:port" of every member but this one. They
// come from the event delegate's copies: memberlist's Nodes change under
// its own lock, which Members' callers cannot take.
func (g *Gossip) Addresses() map[string]string {
	g.events.mu.Lock()
	defer g.events.mu.Unlock()
	out := make(map[string]string, len(g.events.addrs))
	for name, addr := range g.events.addrs {
		if name != g.name {
			out[name] = addr
		}
	}
	return out
}

// Changes implements Members: it fires when a member joins, leaves, fails
// or changes.
func (g *Gossip) Changes() <-chan struct{} { return g.changes }

// LocalAddr returns the address and port other members reach this one at.
func (g *Gossip) LocalAddr() netip.AddrPort {
	n := g.ml.LocalNode()
	a, _ := netip.AddrFromSlice(n.Addr)
	return netip.AddrPortFrom(a.Unmap(), n.Port)
}

// Stop leaves gracefully: it tells the other members this one is going
// (waiting up to timeout for the message to go out), so they drop it at
// once instead of after failure detection, then shuts memberlist down.
// Stop is idempotent; later calls return the first call's error.
func (g *Gossip) Stop(timeout time.Duration) error {
	g.stopOnce.Do(func() {
		close(g.done)
		var errs []error
		if err := g.ml.Leave(timeout); err != nil {
			errs = append(errs, fmt.Errorf("leaving the speakers: %w", err))
		}
		if err := g.ml.Shutdown(); err != nil {
			errs = append(errs, fmt.Errorf("shutting memberlist down: %w", err))
		}
		g.stopErr = errors.Join(errs...)
	})
	return g.stopErr
}

// Abort shuts memberlist down without leaving, as a crash would: the
// others notice only through failure detection. Tests use it to stand in
// for a crash. Like Stop, it happens once.
func (g *Gossip) Abort() error {
	g.stopOnce.Do(func() {
		close(g.done)
		if err := g.ml.Shutdown(); err != nil {
			g.stopErr = fmt.Errorf("shutting memberlist down: %w", err)
		}
	})
	return g.stopErr
}

// eventDelegate turns memberlist's events into change notifications and
// keeps a copy of each live member's address and key state. It must not block:
// memberlist calls it with its state locked, which is also what makes
// reading the Node here safe.
type eventDelegate struct {
	changes notifier
	keyKick chan struct{}
	mu      sync.Mutex
	addrs   map[string]string   // by member name
	keys    map[string]keyState // by member name: what its metadata says
}

func (e *eventDelegate) set(n *memberlist.Node, live bool) {
	e.mu.Lock()
	if live {
		e.addrs[n.Name] = n.Address()
		e.keys[n.Name] = decodeKeyState(n.Meta)
	} else {
		delete(e.addrs, n.Name)
		delete(e.keys, n.Name)
	}
	e.mu.Unlock()
	e.changes.notify()
	notifier(e.keyKick).notify()
}

func (e *eventDelegate) NotifyJoin(n *memberlist.Node)   { e.set(n, true) }
func (e *eventDelegate) NotifyLeave(n *memberlist.Node)  { e.set(n, false) }
func (e *eventDelegate) NotifyUpdate(n *memberlist.Node) { e.set(n, true) }

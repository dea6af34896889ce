package layer2

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Errors callers can test for with errors.Is.
var (
	// ErrClosed is returned by calls on a closed Interface.
	ErrClosed = errors.New("layer2: interface closed")
	// errInterfaceGone: the interface was deleted, moved to another
	// namespace or replaced by one with the same name.
	errInterfaceGone = errors.New("interface deleted or replaced")
	// errNoIPv6: the kernel has no IPv6, so IPv6 addresses cannot be served.
	errNoIPv6 = errors.New("IPv6 is not available in this kernel")
	// errLinkDown: the link is administratively or operationally down.
	errLinkDown = errors.New("link down")
)

// Options tune an Interface. The zero value is usable.
type Options struct {
	// Logger receives events with the attribute interface=<name>. Frames
	// are logged at debug level only. Nil discards.
	Logger *slog.Logger
	// Counters receives the event counts; nil makes a fresh set (see
	// Interface.Counters). Share one across Interfaces to aggregate.
	Counters *Counters
	// AnnounceSchedule says when gratuitous ARP / unsolicited neighbor
	// advertisements are sent for a newly added address, as offsets from
	// the SetAddresses call; a 0 offset is sent before SetAddresses
	// returns. Offsets must be non-negative and ascending. Empty means
	// DefaultAnnounceSchedule.
	AnnounceSchedule []time.Duration
	// LinkPollInterval is how often the link state is read (one ioctl);
	// 0 means 250ms. It bounds how late Ready notices a link going down and
	// how late addresses are announced again when it comes back up.
	LinkPollInterval time.Duration

	// OnConflict, when set, receives a report each time another MAC
	// address is confirmed to claim an address being answered for (see
	// Conflict), at most once per (address, MAC) per ProbeInterval. It is
	// called on the Interface's own goroutine, never with a lock held, and
	// must not block: probes and later reports wait for it. Conflicts are
	// logged and counted whether it is set or not.
	OnConflict func(Conflict)
	// ProbeInterval is how often each address is probed for another
	// owner (an ARP probe, a neighbor solicitation from ::), jittered by
	// ±10%; 0 means DefaultProbeInterval, negative disables probing
	// (conflicts are then seen only from announcements other hosts make).
	ProbeInterval time.Duration
	// ConflictGrace is how long conflicting frames are ignored after an
	// address is added (the previous owner may still answer during a
	// hand-over), and how long a conflict must last before it is counted
	// and reported: frames seen for an address that is removed within
	// ConflictGrace of the first of them (this node handed it over) never
	// count. 0 means DefaultConflictGrace.
	ConflictGrace time.Duration
}

// DefaultAnnounceSchedule returns the offsets at which a new address is
// announced: at once, again after 100ms and 500ms in case a frame was
// lost, and after 2s for neighbours whose entry was being resolved or
// still answered by the previous owner during the takeover.
func DefaultAnnounceSchedule() []time.Duration {
	return []time.Duration{0, 100 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second}
}

// defaultLinkPollInterval is Options.LinkPollInterval's default.
const defaultLinkPollInterval = 250 * time.Millisecond

// frameConn is the part of a packet socket the responders use.
type frameConn interface {
	ReadFrom(b []byte) (int, net.Addr, error)
	WriteTo(b []byte, addr net.Addr) (int, error)
	SetWriteDeadline(t time.Time) error
	Close() error
}

// control joins multicast groups and reads the link state.
type control interface {
	joinGroup(group netip.Addr) error
	leaveGroup(group netip.Addr) error
	linkUp() (bool, error)
	Close() error
}

// sockets are what an Interface reads from and writes to.
type sockets struct {
	arp, ndp frameConn
	ctl      control
}

// Interface answers ARP and NDP for a set of addresses on one Ethernet
// interface and announces addresses as they are added. Its methods are
// safe for concurrent use.
type Interface struct {
	name     string
	mac      net.HardwareAddr // read only
	log      *slog.Logger
	counters *Counters
	schedule []time.Duration
	poll     time.Duration
	socks    sockets
	// onConflict, probeEvery (<0: no probes), grace and reportEvery are
	// Options' conflict settings, defaulted.
	onConflict  func(Conflict)
	probeEvery  time.Duration
	grace       time.Duration
	reportEvery time.Duration

	ctx    context.Context    // ends at Close
	cancel context.CancelFunc // ends ctx
	wg     sync.WaitGroup     // goroutines to wait for at Close

	// mu guards the fields below. Responders hold it for reading while
	// they decide on and write an answer or announcement, so once
	// SetAddresses returns nothing more is sent for a removed address.
	mu     sync.RWMutex
	addrs  map[netip.Addr]addrState // address -> its state
	gen    uint64                   // last generation handed out
	groups map[netip.Addr]*groupRef // solicited-node group -> its addresses
	ver    uint64                   // bumped on every change of addrs
	closed bool

	// cmu guards conflicts and probed; taken after mu when both are held.
	cmu sync.Mutex
	// conflicts are the (address, MAC) pairs seen claiming an address,
	// at most maxConflicts.
	conflicts map[conflictKey]*conflictState
	// probed is when each address was last probed, to tell answers to a
	// probe from announcements.
	probed map[netip.Addr]time.Time

	// healthMu guards health and healthFinal.
	healthMu    sync.Mutex
	health      error // nil when the link is up and the responders run
	healthFinal bool  // health never changes again
}

// addrState is what an Interface keeps of an address it answers for.
type addrState struct {
	// gen is the generation that added the address (never 0): an
	// announcement scheduled for an earlier one is not sent.
	gen uint64
	// ctr is the address's counters, held from Counters while answered.
	ctr *AddressCounters
	// since is when that generation added it: conflicts are ignored for
	// ConflictGrace after.
	since time.Time
}

// New opens the responders on the Ethernet interface ifaceName in the
// calling thread's network namespace and starts answering — for no
// address until SetAddresses. It needs CAP_NET_RAW; the interface needs no
// IP address. The interface's MAC address is read once, here.
func New(ifaceName string, opts Options) (*Interface, error) {
	ifi, err := net.InterfaceByName(ifaceName)
	if err != nil {
		return nil, fmt.Errorf("layer2: interface %q: %w", ifaceName, err)
	}
	if !unicastMAC(ifi.HardwareAddr) {
		return nil, fmt.Errorf("layer2: interface %q has link-layer address %q; "+
			"ARP and NDP answers need an Ethernet interface with a unicast MAC address", ifaceName, ifi.HardwareAddr)
	}
	if err := checkOptions(opts); err != nil {
		return nil, fmt.Errorf("layer2: interface %q: %w", ifaceName, err)
	}
	socks, err := openSockets(ifi)
	if err != nil {
		return nil, fmt.Errorf("layer2: interface %q: %w", ifaceName, err)
	}
	return newInterface(ifi.Name, ifi.HardwareAddr, socks, opts), nil
}

// checkOptions validates what New cannot repair.
func checkOptions(o Options) error {
	for i, d := range o.AnnounceSchedule {
		if d < 0 || (i > 0 && d < o.AnnounceSchedule[i-1]) {
			return fmt.Errorf("options: AnnounceSchedule %v: offset %d (%v) must be non-negative and not below the one before it",
				o.AnnounceSchedule, i, d)
		}
	}
	if o.ConflictGrace < 0 {
		return fmt.Errorf("options: ConflictGrace %v must be positive (or 0 for the default %v)",
			o.ConflictGrace, DefaultConflictGrace)
	}
	if o.LinkPollInterval < 0 {
		return fmt.Errorf("options: LinkPollInterval %v must be positive (or 0 for the default %v)",
			o.LinkPollInterval, defaultLinkPollInterval)
	}
	return nil
}

// newInterface starts an Interface over open sockets; tests pass fakes.
func newInterface(name string, mac net.HardwareAddr, socks sockets, opts Options) *Interface {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	i := &Interface{
		name:     name,
		mac:      slices.Clone(mac),
		log:      logger.With("interface", name),
		counters: opts.Counters,
		schedule: slices.Clone(opts.AnnounceSchedule),
		poll:     opts.LinkPollInterval,
		socks:    socks,
		addrs:    map[netip.Addr]addrState{},
		groups:   map[netip.Addr]*groupRef{},

		onConflict: opts.OnConflict,
		probeEvery: opts.ProbeInterval,
		grace:      opts.ConflictGrace,
		conflicts:  map[conflictKey]*conflictState{},
		probed:     map[netip.Addr]time.Time{},
	}
	if i.probeEvery == 0 {
		i.probeEvery = DefaultProbeInterval
	}
	if i.grace == 0 {
		i.grace = DefaultConflictGrace
	}
	i.reportEvery = max(i.probeEvery, minReportInterval)
	if i.probeEvery < 0 {
		i.reportEvery = DefaultProbeInterval
	}
	if i.counters == nil {
		i.counters = new(Counters)
	}
	if len(i.schedule) == 0 {
		i.schedule = DefaultAnnounceSchedule()
	}
	if i.poll == 0 {
		i.poll = defaultLinkPollInterval
	}
	i.ctx, i.cancel = context.WithCancel(context.Background())
	i.health = i.readLink()
	i.wg.Add(4)
	go i.serve(familyARP, socks.arp, i.handleARP)
	go i.serve(familyNDP, socks.ndp, i.handleNDP)
	go i.watchLink()
	go i.watchConflicts()
	return i
}

// Name returns the interface name given to New.
func (i *Interface) Name() string { return i.name }

// MAC returns the MAC address answers carry.
func (i *Interface) MAC() net.HardwareAddr { return slices.Clone(i.mac) }

// Counters returns the counters this Interface adds to (Options.Counters,
// or its own set).
func (i *Interface) Counters() *Counters { return i.counters }

// Ready returns nil while the responders are up: the Interface is open,
// its read loops run and the link is up (administratively and
// operationally). Otherwise it says why: closed, link down, or the
// interface was deleted or replaced — then the caller must Close this
// Interface and create a new one. It never blocks on the network.
func (i *Interface) Ready() error {
	i.healthMu.Lock()
	defer i.healthMu.Unlock()
	if i.health != nil {
		return fmt.Errorf("layer2: interface %q: %w", i.name, i.health)
	}
	return nil
}

// setHealth records the current health and returns the previous one;
// ok is false (and nothing changes) once a final state is recorded.
func (i *Interface) setHealth(err error) (prev error, ok bool) {
	return i.updateHealth(err, false)
}

// setFinalHealth records a state (interface gone, socket lost) that
// nothing but Close replaces.
func (i *Interface) setFinalHealth(err error) {
	_, _ = i.updateHealth(err, true)
}

func (i *Interface) updateHealth(err error, final bool) (prev error, ok bool) {
	i.healthMu.Lock()
	defer i.healthMu.Unlock()
	if i.healthFinal {
		return i.health, false
	}
	prev = i.health
	i.health, i.healthFinal = err, final
	return prev, true
}

// Addresses returns the addresses being answered for, sorted.
func (i *Interface) Addresses() []netip.Addr {
	i.mu.RLock()
	defer i.mu.RUnlock()
	out := make([]netip.Addr, 0, len(i.addrs))
	for a := range i.addrs {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return out
}

// Close stops the responders, closes the sockets (leaving every multicast
// group) and waits for every goroutine of the Interface to end. Pending
// announcements are dropped. Close is idempotent; it never sends anything.
func (i *Interface) Close() error {
	i.mu.Lock()
	if i.closed {
		i.mu.Unlock()
		return nil
	}
	i.closed = true
	for a := range i.addrs {
		i.counters.release(i.name, a)
	}
	i.addrs = map[netip.Addr]addrState{}
	i.ver++
	i.mu.Unlock()
	i.healthMu.Lock()
	i.health, i.healthFinal = ErrClosed, true
	i.healthMu.Unlock()
	i.cancel()
	errs := []error{i.socks.arp.Close(), i.socks.ndp.Close()}
	i.wg.Wait()
	errs = append(errs, i.socks.ctl.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("layer2: closing interface %q: %w", i.name, err)
	}
	return nil
}

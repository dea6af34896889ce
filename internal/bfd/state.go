package bfd

import "time"

// Config holds the local parameters of one session's state machine.
type Config struct {
	// DesiredMinTx is the TX interval the session asks for once Up.
	DesiredMinTx time.Duration
	// RequiredMinRx is the least RX interval this system supports.
	RequiredMinRx time.Duration
	// DetectMult is the local detect multiplier (>= 1).
	DetectMult uint8
	// Passive sessions send nothing until the peer's first packet arrives.
	Passive bool
	// Echo turns on the echo function (RFC 5880 §6.4, single-hop only):
	// the session advertises EchoInterval as its Required Min Echo RX
	// Interval, so the peer may send it echo packets to loop back, and,
	// while Up and the peer advertises a nonzero one, sends its own every
	// max(EchoInterval, the peer's) and goes Down with DiagEchoFailed when
	// none came back for DetectMult of those intervals.
	Echo         bool
	EchoInterval time.Duration
}

// Change is a session state transition.
type Change struct {
	From, To State
	// Diag is the local diagnostic after the change: why the session went
	// Down (DiagNone when it came Up).
	Diag Diag
}

// Machine is the pure state machine of one asynchronous-mode BFD session
// (RFC 5880 §6.8). It never reads the clock and holds no locks: callers pass
// the current time and serialise every call. Randomness for jitter comes
// from the rand function given to NewMachine.
type Machine struct {
	cfg  Config
	rand func() float64

	state       State
	diag        Diag
	localDiscr  uint32
	remoteDiscr uint32
	remoteState State

	desiredMinTx time.Duration // advertised: SlowTxInterval unless Up
	// txUsed paces our packets and rxDetect times the peer's: normally
	// desiredMinTx and cfg.RequiredMinRx, but while a Poll sequence
	// announces a longer TX or shorter RX interval the old value holds
	// until the Final (§6.8.3), so neither end's detection fires early.
	txUsed, rxDetect   time.Duration
	remoteMinRx        time.Duration
	remoteDesiredMinTx time.Duration
	remoteDetectMult   uint8

	pollActive bool // send P until a packet with F arrives
	heardPeer  bool // any valid packet received (passive role)

	nextTx     time.Time // zero: no periodic transmission scheduled
	detectAt   time.Time // zero: detection timer not running
	sendFinal  bool      // a Final is owed to the peer's Poll
	lastDetect time.Duration

	remoteMinEchoRx time.Duration
	echoActive      bool      // sending echo packets (see Config.Echo)
	nextEcho        time.Time // zero unless echoActive
	echoDetectAt    time.Time // zero unless echoActive
}

// NewMachine returns a session in state Down with local discriminator discr
// (nonzero, unique among this system's sessions). rand returns values in
// [0, 1) for TX jitter. The first packet is due at now unless cfg.Passive.
func NewMachine(cfg Config, discr uint32, now time.Time, rand func() float64) *Machine {
	if cfg.DetectMult == 0 {
		cfg.DetectMult = 1
	}
	m := &Machine{
		cfg: cfg, rand: rand, state: StateDown, localDiscr: discr,
		remoteState:  StateDown,
		desiredMinTx: max(cfg.DesiredMinTx, SlowTxInterval),
		remoteMinRx:  time.Microsecond, // §6.8.1 initial value
		rxDetect:     cfg.RequiredMinRx,
	}
	m.txUsed = m.desiredMinTx
	if !cfg.Passive {
		m.nextTx = now
	}
	return m
}

// State returns the local session state.
func (m *Machine) State() State { return m.state }

// Diag returns the local diagnostic.
func (m *Machine) Diag() Diag { return m.diag }

// RemoteState returns the last state the peer reported.
func (m *Machine) RemoteState() State { return m.remoteState }

// RemoteDiscriminator returns the peer's discriminator, 0 when unknown.
func (m *Machine) RemoteDiscriminator() uint32 { return m.remoteDiscr }

// DetectionTime returns the detection time in force (0 before the first
// packet from the peer).
func (m *Machine) DetectionTime() time.Duration { return m.lastDetect }

// PollActive reports whether a Poll sequence is in progress.
func (m *Machine) PollActive() bool { return m.pollActive }

// EchoActive reports whether the session sends echo packets.
func (m *Machine) EchoActive() bool { return m.echoActive }

// EchoInterval returns the interval between echo packets while EchoActive:
// the larger of the local EchoInterval and the peer's Required Min Echo RX
// Interval (§6.8.9).
func (m *Machine) EchoInterval() time.Duration {
	return max(m.cfg.EchoInterval, m.remoteMinEchoRx)
}

// echoDetection is how long the session waits for an echo packet to come
// back before it goes Down: DetectMult echo intervals.
func (m *Machine) echoDetection() time.Duration {
	return time.Duration(m.cfg.DetectMult) * m.EchoInterval()
}

// Deadline returns the earliest time Advance or EchoDue has work to do, or
// the zero time when nothing is scheduled.
func (m *Machine) Deadline() time.Time {
	d := m.nextTx
	for _, t := range []time.Time{m.detectAt, m.nextEcho, m.echoDetectAt} {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d
}

// EchoDue reports whether an echo packet is due at now, and if so plans
// the next one. Call it at Deadline, as Advance.
func (m *Machine) EchoDue(now time.Time) bool {
	if !m.echoActive || now.Before(m.nextEcho) {
		return false
	}
	m.nextEcho = now.Add(m.EchoInterval())
	return true
}

// EchoReceived restarts the echo detection time at now: one of this
// session's echo packets came back. Ignored while echo is not active.
func (m *Machine) EchoReceived(now time.Time) {
	if m.echoActive {
		m.echoDetectAt = now.Add(m.echoDetection())
	}
}

// updateEcho starts or stops the echo function as the state and the
// peer's Required Min Echo RX Interval allow (§6.8.9: never faster than
// the peer asks, none when it asks for none).
func (m *Machine) updateEcho(now time.Time) {
	want := m.cfg.Echo && m.state == StateUp && m.remoteMinEchoRx > 0
	switch {
	case want && !m.echoActive:
		m.echoActive = true
		m.nextEcho = now
		m.echoDetectAt = now.Add(m.echoDetection())
	case !want && m.echoActive:
		m.echoActive = false
		m.nextEcho, m.echoDetectAt = time.Time{}, time.Time{}
	}
}

// SetConfig changes the session's parameters in place at now. While Up,
// the new intervals and multiplier are announced by a Poll sequence
// (§6.8.3): a shorter TX interval and a longer RX interval apply at once;
// a longer TX or shorter RX interval once the peer's Final shows it took
// them in. Echo starts or stops as the new Config says. The session stays
// Up throughout. (Passive matters only before the first packet.)
func (m *Machine) SetConfig(cfg Config, now time.Time) {
	if cfg.DetectMult == 0 {
		cfg.DetectMult = 1
	}
	old := m.cfg
	m.cfg = cfg
	defer m.updateEcho(now)
	if m.state != StateUp {
		m.desiredMinTx = max(cfg.DesiredMinTx, SlowTxInterval)
		m.txUsed, m.rxDetect = m.desiredMinTx, cfg.RequiredMinRx
		return
	}
	if cfg.DesiredMinTx == old.DesiredMinTx && cfg.RequiredMinRx == old.RequiredMinRx &&
		cfg.DetectMult == old.DetectMult && m.requiredMinEchoRxOf(cfg) == m.requiredMinEchoRxOf(old) {
		return
	}
	m.desiredMinTx = cfg.DesiredMinTx
	if cfg.DesiredMinTx < m.txUsed {
		m.txUsed = cfg.DesiredMinTx
	}
	if cfg.RequiredMinRx > m.rxDetect {
		m.rxDetect = cfg.RequiredMinRx
	}
	m.pollActive = true
	m.nextTx = now
}

// SetAdminDown moves the session to AdminDown (down true, diag
// AdministrativelyDown) or from AdminDown back to Down. Packets keep flowing
// so the peer learns it.
func (m *Machine) SetAdminDown(down bool, now time.Time) *Change {
	switch {
	case down && m.state != StateAdminDown:
		return m.setState(StateAdminDown, DiagAdministrativelyDown, now)
	case !down && m.state == StateAdminDown:
		return m.setState(StateDown, DiagNone, now)
	}
	return nil
}

// Receive processes a decoded, valid packet from the peer at now (§6.8.6).
// It returns the state change it caused, if any. The caller has already
// matched the packet to this session (by address, and YourDiscriminator
// equal to ours when nonzero).
func (m *Machine) Receive(p Control, now time.Time) *Change {
	if p.YourDiscriminator != 0 && p.YourDiscriminator != m.localDiscr {
		return nil
	}
	defer m.updateEcho(now)
	m.heardPeer = true
	m.remoteDiscr = p.MyDiscriminator
	m.remoteState = p.State
	m.remoteMinRx = p.RequiredMinRx
	m.remoteDesiredMinTx = p.DesiredMinTx
	m.remoteDetectMult = p.DetectMult
	m.remoteMinEchoRx = p.RequiredMinEchoRx
	if p.Final && m.pollActive {
		m.pollActive = false
		m.txUsed, m.rxDetect = m.desiredMinTx, m.cfg.RequiredMinRx
	}
	if p.Poll {
		m.sendFinal = true
	}
	m.lastDetect = detectionTime(p.DetectMult, m.rxDetect, p.DesiredMinTx)
	m.detectAt = now.Add(m.lastDetect)
	m.reschedule(now)
	if m.state == StateAdminDown {
		return nil
	}
	if p.State == StateAdminDown {
		if m.state != StateDown {
			return m.setState(StateDown, DiagNeighborSignaledDown, now)
		}
		return nil
	}
	switch m.state {
	case StateDown:
		switch p.State {
		case StateDown:
			return m.setState(StateInit, DiagNone, now)
		case StateInit:
			return m.setState(StateUp, DiagNone, now)
		}
	case StateInit:
		if p.State == StateInit || p.State == StateUp {
			return m.setState(StateUp, DiagNone, now)
		}
	case StateUp:
		if p.State == StateDown {
			return m.setState(StateDown, DiagNeighborSignaledDown, now)
		}
	}
	return nil
}

// Advance runs the timers at now. It returns the packet to send, if one is
// due (a periodic packet or an owed Final), and the state change caused by
// the detection time expiring, if any. Call it at Deadline and after every
// Receive.
func (m *Machine) Advance(now time.Time) (send *Control, change *Change) {
	if m.echoActive && !now.Before(m.echoDetectAt) {
		m.remoteDiscr = 0 // as on the control detection time (§6.8.1)
		change = m.setState(StateDown, DiagEchoFailed, now)
	}
	if !m.detectAt.IsZero() && !now.Before(m.detectAt) {
		m.detectAt = time.Time{}
		m.remoteDiscr = 0
		m.remoteState = StateDown
		if m.state == StateInit || m.state == StateUp {
			change = m.setState(StateDown, DiagControlDetectionExpired, now)
		}
	}
	if m.sendFinal {
		m.sendFinal = false
		p := m.packet()
		p.Final, p.Poll = true, false
		return &p, change
	}
	if !m.nextTx.IsZero() && !now.Before(m.nextTx) {
		p := m.packet()
		m.nextTx = time.Time{}
		m.reschedule(now)
		return &p, change
	}
	return nil, change
}

// packet builds the control packet describing the current local state.
func (m *Machine) packet() Control {
	return Control{
		Diag: m.diag, State: m.state, Poll: m.pollActive,
		DetectMult:        m.cfg.DetectMult,
		MyDiscriminator:   m.localDiscr,
		YourDiscriminator: m.remoteDiscr,
		DesiredMinTx:      m.desiredMinTx,
		RequiredMinRx:     m.cfg.RequiredMinRx,
		RequiredMinEchoRx: m.requiredMinEchoRx(),
	}
}

// requiredMinEchoRx is the Required Min Echo RX Interval the session
// advertises: its EchoInterval with the echo function on, else zero (it
// will not loop the peer's echo packets back).
func (m *Machine) requiredMinEchoRx() time.Duration { return m.requiredMinEchoRxOf(m.cfg) }

func (m *Machine) requiredMinEchoRxOf(c Config) time.Duration {
	if c.Echo {
		return c.EchoInterval
	}
	return 0
}

// reschedule plans the next periodic packet if none is planned, or pulls
// it in when the interval shrank. Passive sessions wait for the peer.
func (m *Machine) reschedule(now time.Time) {
	if m.cfg.Passive && !m.heardPeer {
		m.nextTx = time.Time{}
		return
	}
	iv := txInterval(m.txUsed, m.remoteMinRx)
	if iv == 0 {
		m.nextTx = time.Time{}
		return
	}
	next := now.Add(jitter(iv, m.cfg.DetectMult, m.rand()))
	if m.nextTx.IsZero() || next.Before(m.nextTx) {
		m.nextTx = next
	}
}

func (m *Machine) setState(to State, diag Diag, now time.Time) *Change {
	from := m.state
	m.state, m.diag = to, diag
	defer m.updateEcho(now)
	switch {
	case to == StateUp:
		// §6.8.3: leave the slow start rate; tell the peer by a Poll.
		if m.cfg.DesiredMinTx != m.desiredMinTx {
			m.desiredMinTx, m.txUsed = m.cfg.DesiredMinTx, m.cfg.DesiredMinTx
			m.pollActive = true
		}
		m.nextTx = now // announce Up (and the Poll) at once
	case from == StateUp:
		m.desiredMinTx = max(m.cfg.DesiredMinTx, SlowTxInterval)
		m.txUsed, m.rxDetect = m.desiredMinTx, m.cfg.RequiredMinRx
		m.pollActive = false
		m.nextTx = now
	default:
		if !m.cfg.Passive || m.heardPeer {
			m.nextTx = now
		}
	}
	return &Change{From: from, To: to, Diag: diag}
}

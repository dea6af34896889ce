package bfd

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func half() float64 { return 0.5 }

var testCfg = Config{DesiredMinTx: 300 * time.Millisecond, RequiredMinRx: 300 * time.Millisecond, DetectMult: 3}

// machineIn returns a machine forced into state st.
func machineIn(st State) *Machine {
	m := NewMachine(testCfg, 42, t0, half)
	m.state = st
	if st == StateUp {
		m.desiredMinTx = testCfg.DesiredMinTx
	}
	return m
}

func peerPacket(st State) Control {
	your := uint32(42)
	return Control{State: st, DetectMult: 3, MyDiscriminator: 7, YourDiscriminator: your,
		DesiredMinTx: 300 * time.Millisecond, RequiredMinRx: 300 * time.Millisecond}
}

func TestReceiveTransitions(t *testing.T) {
	tests := []struct {
		from, remote State
		want         State
		diag         Diag
		change       bool
	}{
		{StateDown, StateAdminDown, StateDown, DiagNone, false},
		{StateDown, StateDown, StateInit, DiagNone, true},
		{StateDown, StateInit, StateUp, DiagNone, true},
		{StateDown, StateUp, StateDown, DiagNone, false},
		{StateInit, StateAdminDown, StateDown, DiagNeighborSignaledDown, true},
		{StateInit, StateDown, StateInit, DiagNone, false},
		{StateInit, StateInit, StateUp, DiagNone, true},
		{StateInit, StateUp, StateUp, DiagNone, true},
		{StateUp, StateAdminDown, StateDown, DiagNeighborSignaledDown, true},
		{StateUp, StateDown, StateDown, DiagNeighborSignaledDown, true},
		{StateUp, StateInit, StateUp, DiagNone, false},
		{StateUp, StateUp, StateUp, DiagNone, false},
		{StateAdminDown, StateDown, StateAdminDown, DiagNone, false},
		{StateAdminDown, StateUp, StateAdminDown, DiagNone, false},
	}
	for _, tt := range tests {
		t.Run(tt.from.String()+"+"+tt.remote.String(), func(t *testing.T) {
			m := machineIn(tt.from)
			ch := m.Receive(peerPacket(tt.remote), t0)
			if got := m.State(); got != tt.want {
				t.Errorf("state %v, want %v", got, tt.want)
			}
			if (ch != nil) != tt.change {
				t.Fatalf("change %+v, want change=%v", ch, tt.change)
			}
			if ch != nil && (ch.From != tt.from || ch.To != tt.want || ch.Diag != tt.diag) {
				t.Errorf("change %+v, want %v→%v diag %v", *ch, tt.from, tt.want, tt.diag)
			}
			if m.RemoteDiscriminator() != 7 {
				t.Errorf("remote discriminator %d, want 7", m.RemoteDiscriminator())
			}
		})
	}
}

func TestReceiveWrongDiscriminatorIgnored(t *testing.T) {
	m := machineIn(StateDown)
	p := peerPacket(StateDown)
	p.YourDiscriminator = 99
	if ch := m.Receive(p, t0); ch != nil || m.State() != StateDown || m.RemoteDiscriminator() != 0 {
		t.Errorf("packet for another discriminator changed the session: %+v, %v", ch, m.State())
	}
}

func TestDetectionTimeExpiry(t *testing.T) {
	for _, from := range []State{StateInit, StateUp} {
		t.Run(from.String(), func(t *testing.T) {
			m := machineIn(from)
			p := peerPacket(StateUp)
			if from == StateInit {
				p.State = StateDown
			}
			p.DetectMult = 4
			p.DesiredMinTx = 500 * time.Millisecond
			m.Receive(p, t0)
			// max(local required RX 300 ms, remote desired TX 500 ms) × 4.
			if got, want := m.DetectionTime(), 2*time.Second; got != want {
				t.Fatalf("detection time %v, want %v", got, want)
			}
			if _, ch := m.Advance(t0.Add(2*time.Second - time.Nanosecond)); ch != nil {
				t.Fatalf("expired early: %+v", ch)
			}
			_, ch := m.Advance(t0.Add(2 * time.Second))
			if ch == nil || ch.To != StateDown || ch.Diag != DiagControlDetectionExpired {
				t.Fatalf("expiry: %+v, want Down/ControlDetectionTimeExpired", ch)
			}
			if m.RemoteDiscriminator() != 0 {
				t.Errorf("remote discriminator %d after expiry, want 0", m.RemoteDiscriminator())
			}
		})
	}
}

func TestDetectionExpiryInDownNoChange(t *testing.T) {
	m := machineIn(StateDown)
	p := peerPacket(StateAdminDown)
	m.Receive(p, t0)
	if _, ch := m.Advance(t0.Add(time.Hour)); ch != nil {
		t.Errorf("change in Down: %+v", ch)
	}
	if m.RemoteDiscriminator() != 0 {
		t.Errorf("remote discriminator kept after expiry")
	}
}

func TestAdminDown(t *testing.T) {
	m := machineIn(StateUp)
	ch := m.SetAdminDown(true, t0)
	if ch == nil || ch.To != StateAdminDown || ch.Diag != DiagAdministrativelyDown {
		t.Fatalf("SetAdminDown(true): %+v", ch)
	}
	p, _ := m.Advance(t0)
	if p == nil || p.State != StateAdminDown || p.Diag != DiagAdministrativelyDown {
		t.Fatalf("packet after admin down: %+v", p)
	}
	if ch := m.SetAdminDown(true, t0); ch != nil {
		t.Errorf("second SetAdminDown(true): %+v", ch)
	}
	if ch := m.SetAdminDown(false, t0); ch == nil || ch.To != StateDown {
		t.Errorf("SetAdminDown(false): %+v", ch)
	}
}

// TestSessionBringUp runs two machines against each other: slow TX until Up,
// then a Poll/Final exchange moving both to the configured interval.
func TestSessionBringUp(t *testing.T) {
	a := NewMachine(testCfg, 1, t0, half)
	b := NewMachine(testCfg, 2, t0, half)
	now := t0
	ups := 0
	for step := 0; step < 200 && ups < 2; step++ {
		for _, pair := range [][2]*Machine{{a, b}, {b, a}} {
			p, _ := pair[0].Advance(now)
			if p == nil {
				continue
			}
			if p.State != StateUp && p.DesiredMinTx != SlowTxInterval {
				t.Fatalf("desired min TX %v while %v, want %v", p.DesiredMinTx, p.State, SlowTxInterval)
			}
			if p.Poll && p.Final {
				t.Fatal("packet with both P and F")
			}
			if ch := pair[1].Receive(*p, now); ch != nil && ch.To == StateUp {
				ups++
			}
		}
		now = now.Add(10 * time.Millisecond)
	}
	if a.State() != StateUp || b.State() != StateUp {
		t.Fatalf("states %v %v, want Up Up", a.State(), b.State())
	}
	// Run on until the Poll sequences are over.
	var last *Control
	for step := 0; step < 200; step++ {
		for _, pair := range [][2]*Machine{{a, b}, {b, a}} {
			if p, _ := pair[0].Advance(now); p != nil {
				pair[1].Receive(*p, now)
				last = p
			}
		}
		now = now.Add(10 * time.Millisecond)
	}
	if a.PollActive() || b.PollActive() {
		t.Error("poll sequence never finished")
	}
	if last == nil || last.DesiredMinTx != testCfg.DesiredMinTx {
		t.Errorf("last packet %+v, want desired min TX %v", last, testCfg.DesiredMinTx)
	}
	if a.State() != StateUp || b.State() != StateUp {
		t.Errorf("states %v %v after poll, want Up Up", a.State(), b.State())
	}
}

func TestPollAnsweredWithFinal(t *testing.T) {
	m := machineIn(StateUp)
	p := peerPacket(StateUp)
	p.Poll = true
	m.Advance(t0) // consume the packet due at start
	m.Receive(p, t0.Add(time.Millisecond))
	out, _ := m.Advance(t0.Add(time.Millisecond))
	if out == nil || !out.Final || out.Poll {
		t.Fatalf("reply %+v, want Final without Poll", out)
	}
}

func TestPassiveWaitsForPeer(t *testing.T) {
	cfg := testCfg
	cfg.Passive = true
	m := NewMachine(cfg, 1, t0, half)
	if p, _ := m.Advance(t0.Add(time.Hour)); p != nil || !m.Deadline().IsZero() {
		t.Fatalf("passive session sent %+v before hearing the peer", p)
	}
	p := peerPacket(StateDown)
	p.YourDiscriminator = 0
	m.Receive(p, t0)
	if out, _ := m.Advance(t0); out == nil || out.State != StateInit || out.YourDiscriminator != 7 {
		t.Fatalf("after the peer's packet: %+v, want an Init packet", out)
	}
}

func TestNoTransmitWhenRemoteMinRxZero(t *testing.T) {
	m := machineIn(StateDown)
	m.Advance(t0)
	p := peerPacket(StateAdminDown)
	p.RequiredMinRx = 0
	m.Receive(p, t0)
	m.Advance(t0)
	if !m.nextTx.IsZero() {
		t.Errorf("periodic packet scheduled at %v although the peer wants none", m.nextTx)
	}
}

func TestTxInterval(t *testing.T) {
	tests := []struct {
		name       string
		local, rem time.Duration
		mult       uint8
		r          float64
		want       time.Duration
	}{
		{"local larger, no jitter draw", 300 * time.Millisecond, 100 * time.Millisecond, 3, 0.999999999, 300 * time.Millisecond},
		{"remote larger, least", 300 * time.Millisecond, time.Second, 3, 0, 750 * time.Millisecond},
		{"mult 1 caps at 90 %", 100 * time.Millisecond, 0, 1, 0, 0},
		{"mult 1 top", 100 * time.Millisecond, 100 * time.Millisecond, 1, 0.999999999, 90 * time.Millisecond},
		{"mult 1 bottom", 100 * time.Millisecond, 100 * time.Millisecond, 1, 0, 75 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := jitter(txInterval(tt.local, tt.rem), tt.mult, tt.r)
			if d := got - tt.want; d < -time.Microsecond || d > time.Microsecond {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestProfileValidate(t *testing.T) {
	if err := (Profile{}).WithDefaults().Validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
	bad := []Profile{
		{ReceiveInterval: time.Millisecond},
		{TransmitInterval: 2 * time.Minute},
		{DetectMultiplier: 1},
		{EchoMode: true, EchoInterval: 5 * time.Millisecond},
		{MinimumTTL: 255},
	}
	for _, p := range bad {
		if err := p.WithDefaults().Validate(); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
}

// TestEcho: the echo function starts once Up when both ends want it,
// paces at the larger of the two intervals, advertises the local one,
// keeps the session Up while echo packets come back, and takes it Down
// with EchoFunctionFailed DetectMult intervals after the last one.
func TestEcho(t *testing.T) {
	cfg := testCfg
	cfg.Echo, cfg.EchoInterval = true, 50*time.Millisecond
	m := NewMachine(cfg, 42, t0, half)
	if p, _ := m.Advance(t0); p == nil || p.RequiredMinEchoRx != 50*time.Millisecond {
		t.Fatalf("first packet %+v, want RequiredMinEchoRx 50ms", p)
	}
	peer := peerPacket(StateInit)
	peer.RequiredMinEchoRx = 70 * time.Millisecond
	if ch := m.Receive(peer, t0); ch == nil || ch.To != StateUp {
		t.Fatalf("change %+v, want Up", ch)
	}
	if !m.EchoActive() || m.EchoInterval() != 70*time.Millisecond {
		t.Fatalf("echo active %v, interval %v; want true, 70ms (the peer's, larger)", m.EchoActive(), m.EchoInterval())
	}
	up := peerPacket(StateUp)
	up.RequiredMinEchoRx = peer.RequiredMinEchoRx
	now := t0
	sent := 0
	var lastBack time.Time
	for range 30 { // 300 ms, echo packets back after 1 ms
		if m.EchoDue(now) {
			sent++
			lastBack = now.Add(time.Millisecond)
			m.EchoReceived(lastBack)
		}
		m.Receive(up, now) // control packets keep flowing
		if _, ch := m.Advance(now); ch != nil {
			t.Fatalf("change %+v at %v while echo packets come back", ch, now.Sub(t0))
		}
		now = now.Add(10 * time.Millisecond)
	}
	if sent != 5 { // at 0, 70, 140, 210, 280 ms
		t.Errorf("%d echo packets in 300ms at 70ms, want 5", sent)
	}
	// None come back: Down 3 × 70 ms after the last one returned.
	last := now
	var down *Change
	for down == nil && now.Sub(last) < time.Second {
		now = now.Add(time.Millisecond)
		m.EchoDue(now)
		m.Receive(up, now)
		_, down = m.Advance(now)
	}
	if down == nil || down.To != StateDown || down.Diag != DiagEchoFailed {
		t.Fatalf("change %+v, want Down with EchoFunctionFailed", down)
	}
	if d := now.Sub(lastBack); d != 3*70*time.Millisecond {
		t.Errorf("Down %v after the last echo packet came back, want 3 × 70ms", d)
	}
	if m.EchoActive() || m.EchoDue(now.Add(time.Hour)) {
		t.Error("echo still active after Down")
	}
	if d := m.Deadline(); d.IsZero() {
		t.Error("no deadline: the Down packet is due")
	}
}

// TestEchoOffOrRefused: no echo packets when the local profile has echo off
// (and none advertised), or when the peer advertises a zero Required Min
// Echo RX Interval; an Up session without echo is not timed by it.
func TestEchoOffOrRefused(t *testing.T) {
	peer := peerPacket(StateInit)
	peer.RequiredMinEchoRx = 50 * time.Millisecond
	off := NewMachine(testCfg, 42, t0, half)
	if p, _ := off.Advance(t0); p.RequiredMinEchoRx != 0 {
		t.Errorf("echo off: RequiredMinEchoRx %v, want 0", p.RequiredMinEchoRx)
	}
	off.Receive(peer, t0)
	if off.EchoActive() || off.EchoDue(t0) {
		t.Error("echo off locally, but active")
	}
	cfg := testCfg
	cfg.Echo, cfg.EchoInterval = true, 50*time.Millisecond
	refused := NewMachine(cfg, 42, t0, half)
	refused.Receive(peerPacket(StateInit), t0)
	if refused.State() != StateUp || refused.EchoActive() {
		t.Errorf("peer refuses echo: state %v, echo active %v; want Up, false", refused.State(), refused.EchoActive())
	}
	// The peer starts accepting echo packets later: echo starts.
	up := peerPacket(StateUp)
	up.RequiredMinEchoRx = 50 * time.Millisecond
	refused.Receive(up, t0.Add(time.Millisecond))
	if !refused.EchoActive() {
		t.Error("echo not started when the peer began to accept it")
	}
	// And stops when it asks for none again.
	refused.Receive(peerPacket(StateUp), t0.Add(2*time.Millisecond))
	if refused.EchoActive() {
		t.Error("echo still active after the peer asked for none")
	}
}

// TestSetConfigWhileUp: new intervals reach the peer by a Poll sequence
// and the session stays Up; a shorter RX interval counts for detection
// only once the peer's Final came (§6.8.3), so the peer, still sending at
// its old pace, is not declared lost meanwhile; a longer TX interval paces
// the packets only after the Final. Seen failing with SetConfig applying
// the shorter RX interval at once: "detection time before the Final
// 150ms, want 900ms", and the session declared Down.
func TestSetConfigWhileUp(t *testing.T) {
	m := machineIn(StateUp)
	// The peer would send every 50 ms, but our RX interval (300 ms) holds
	// it to 300 ms until it learns the new one.
	slow := peerPacket(StateUp)
	slow.DesiredMinTx = 50 * time.Millisecond
	m.Receive(slow, t0)
	cfg := testCfg
	cfg.RequiredMinRx, cfg.DesiredMinTx = 50*time.Millisecond, time.Second
	m.SetConfig(cfg, t0)
	p, _ := m.Advance(t0)
	if p == nil || !p.Poll || p.RequiredMinRx != 50*time.Millisecond || p.DesiredMinTx != time.Second {
		t.Fatalf("packet after SetConfig %+v, want a Poll announcing rx 50ms, tx 1s", p)
	}
	// Before the Final: detection still on the old RX (3 × 300 ms).
	m.Receive(slow, t0.Add(10*time.Millisecond))
	if d := m.DetectionTime(); d != 900*time.Millisecond {
		t.Errorf("detection time before the Final %v, want 900ms (the old RX interval)", d)
	}
	if _, ch := m.Advance(t0.Add(400 * time.Millisecond)); ch != nil {
		t.Fatalf("change %+v before the peer could answer at its old pace", ch)
	}
	// The Final: the new values hold.
	final := peerPacket(StateUp)
	final.Final, final.DesiredMinTx = true, 50*time.Millisecond
	m.Receive(final, t0.Add(500*time.Millisecond))
	if m.PollActive() || m.State() != StateUp {
		t.Fatalf("after the Final: poll %v, state %v; want done, Up", m.PollActive(), m.State())
	}
	if d := m.DetectionTime(); d != 150*time.Millisecond {
		t.Errorf("detection time after the Final %v, want 150ms (3 × 50ms)", d)
	}
	if m.txUsed != time.Second {
		t.Errorf("TX pace after the Final %v, want the new 1s", m.txUsed)
	}
	// Echo turned on in place: it starts, the next packets advertise it.
	cfg.Echo, cfg.EchoInterval = true, 50*time.Millisecond
	m.SetConfig(cfg, t0.Add(time.Second))
	if p, _ := m.Advance(t0.Add(time.Second)); p == nil || p.RequiredMinEchoRx != 50*time.Millisecond {
		t.Errorf("packet after turning echo on %+v, want RequiredMinEchoRx 50ms", p)
	}
}

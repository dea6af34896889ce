package bfd

import (
	"errors"
	"fmt"
	"time"
)

// Profile holds a session's parameters; it mirrors the BFDProfile custom
// resource (api/v1beta1). Zero fields take the defaults.
type Profile struct {
	// ReceiveInterval is the least interval at which this system can
	// receive control packets (10 ms–60 s, default 300 ms).
	ReceiveInterval time.Duration
	// TransmitInterval is the desired interval between sent control
	// packets, before jitter (10 ms–60 s, default 300 ms).
	TransmitInterval time.Duration
	// DetectMultiplier is the number of packets that may be missed (2–255,
	// default 3).
	DetectMultiplier uint8
	// EchoInterval is, with EchoMode, both the least interval at which
	// this system loops the peer's echo packets back (its Required Min
	// Echo RX Interval) and the interval at which it sends its own, unless
	// the peer asks for a longer one (10 ms–60 s, default 50 ms).
	EchoInterval time.Duration
	// EchoMode turns on the echo function (RFC 5880 §6.4), on single-hop
	// sessions only (RFC 5883 §3): see Config.Echo and echoEndpoint.
	EchoMode bool
	// PassiveMode sessions send nothing until the peer's first packet.
	PassiveMode bool
	// MinimumTTL is the least TTL / hop limit a multi-hop session
	// (Manager.AddMultihop) accepts on received packets (1–254, default
	// 254: the peer is at most one routed hop away, as it sends with 255).
	// Single-hop sessions ignore it: they accept only 255 (RFC 5881 §5).
	MinimumTTL uint8
}

// Defaults of Profile.
const (
	DefaultInterval         = 300 * time.Millisecond
	DefaultDetectMultiplier = 3
	DefaultEchoInterval     = 50 * time.Millisecond
	DefaultMinimumTTL       = 254
	minInterval             = 10 * time.Millisecond
	maxInterval             = 60 * time.Second
)

// ErrEchoMultihop is wrapped by AddMultihop's error for a profile with
// EchoMode: the echo function is single-hop only (RFC 5883 §3).
var ErrEchoMultihop = errors.New("the echo function is for single-hop sessions only (RFC 5883)")

// WithDefaults returns p with every zero field set to its default.
func (p Profile) WithDefaults() Profile {
	if p.ReceiveInterval == 0 {
		p.ReceiveInterval = DefaultInterval
	}
	if p.TransmitInterval == 0 {
		p.TransmitInterval = DefaultInterval
	}
	if p.DetectMultiplier == 0 {
		p.DetectMultiplier = DefaultDetectMultiplier
	}
	if p.EchoInterval == 0 {
		p.EchoInterval = DefaultEchoInterval
	}
	if p.MinimumTTL == 0 {
		p.MinimumTTL = DefaultMinimumTTL
	}
	return p
}

// Validate checks a defaulted profile; its errors name the field, the bad
// value and what would be valid.
func (p Profile) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"receiveInterval", p.ReceiveInterval}, {"transmitInterval", p.TransmitInterval}, {"echoInterval", p.EchoInterval}} {
		if f.v < minInterval || f.v > maxInterval {
			errs = append(errs, fmt.Errorf("%s %v is out of range: must be between 10ms and 1m0s", f.name, f.v))
		}
	}
	if p.DetectMultiplier < 2 {
		errs = append(errs, fmt.Errorf("detectMultiplier %d is out of range: must be between 2 and 255", p.DetectMultiplier))
	}
	if p.MinimumTTL == 255 {
		errs = append(errs, fmt.Errorf("minimumTtl %d is out of range: must be between 1 and 254", p.MinimumTTL))
	}
	return errors.Join(errs...)
}

func (p Profile) config() Config {
	return Config{
		DesiredMinTx: p.TransmitInterval, RequiredMinRx: p.ReceiveInterval,
		DetectMult: p.DetectMultiplier, Passive: p.PassiveMode,
		Echo: p.EchoMode, EchoInterval: p.EchoInterval,
	}
}

package config

import (
	"fmt"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// Defaults of a BFDProfile, in milliseconds where they are intervals.
const (
	DefaultBFDReceiveInterval  = 300
	DefaultBFDTransmitInterval = 300
	DefaultBFDDetectMultiplier = 3
	DefaultBFDEchoInterval     = 50
	DefaultBFDMinimumTTL       = 254
)

func (b *builder) buildBFDProfiles(cands []candidate[v1beta1.BFDProfile]) *kindRun[v1beta1.BFDProfile, BFDProfile] {
	r := newKindRun(b, KindBFDProfile, cands, b.prev.BFDProfile)
	r.validate(validateBFDProfile)
	return r
}

func validateBFDProfile(c *candidate[v1beta1.BFDProfile], p *problems) BFDProfile {
	s := &c.obj.Spec
	if c.name == "" {
		p.add(v1beta1.ReasonInvalidSpec, "metadata.name", "", "missing; every BFD profile needs a name")
	}
	num := func(field string, v *uint32, def, lo, hi uint32, unit string) uint32 {
		if v == nil {
			return def
		}
		if *v < lo || *v > hi {
			p.add(v1beta1.ReasonInvalidSpec, field, fmt.Sprint(*v), "must be %d to %d%s", lo, hi, unit)
		}
		return *v
	}
	return BFDProfile{
		Name:             c.name,
		ReceiveInterval:  num("spec.receiveInterval", s.ReceiveInterval, DefaultBFDReceiveInterval, 10, 60000, " milliseconds"),
		TransmitInterval: num("spec.transmitInterval", s.TransmitInterval, DefaultBFDTransmitInterval, 10, 60000, " milliseconds"),
		DetectMultiplier: num("spec.detectMultiplier", s.DetectMultiplier, DefaultBFDDetectMultiplier, 2, 255, ""),
		EchoInterval:     num("spec.echoInterval", s.EchoInterval, DefaultBFDEchoInterval, 10, 60000, " milliseconds"),
		MinimumTTL:       num("spec.minimumTtl", s.MinimumTTL, DefaultBFDMinimumTTL, 1, 254, ""),
		EchoMode:         s.EchoMode != nil && *s.EchoMode,
		PassiveMode:      s.PassiveMode != nil && *s.PassiveMode,
	}
}

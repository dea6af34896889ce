package config

import (
	"cmp"
	"net/netip"
	"reflect"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// Defaults of a BGPPeer.
const (
	DefaultBGPPort  = 179
	DefaultHoldTime = 90 * time.Second
	maxBGPTimer     = 65535 * time.Second
	maxPasswordLen  = 80
	secretPassword  = corev1.BasicAuthPasswordKey
)

func (b *builder) buildPeers(cands []candidate[v1beta1.BGPPeer], bfd *kindRun[v1beta1.BFDProfile, BFDProfile]) *kindRun[v1beta1.BGPPeer, Peer] {
	r := newKindRun(b, KindBGPPeer, cands, b.prev.Peer)
	r.validate(func(c *candidate[v1beta1.BGPPeer], p *problems) Peer { return b.validatePeer(c, p, bfd) })
	r.resolveConflicts(samePeerSession, peersDuplicate)
	return r
}

func (b *builder) validatePeer(c *candidate[v1beta1.BGPPeer], p *problems, bfd *kindRun[v1beta1.BFDProfile, BFDProfile]) Peer {
	s := &c.obj.Spec
	peer := Peer{
		Name: c.name, MyASN: s.MyASN, LocalASN: s.LocalASN, PeerASN: s.PeerASN, DynamicASN: string(s.DynamicASN),
		Interface: s.Interface, Port: cmp.Or(s.PeerPort, DefaultBGPPort), NodeSelectors: cloneSelectors(s.NodeSelectors),
		EBGPMultiHop: s.EBGPMultiHop, EnableGracefulRestart: s.EnableGracefulRestart, VRF: s.VRF,
		DisableMP: s.DisableMP, DualStackAddressFamily: s.DualStackAddressFamily,
	}
	if c.name == "" {
		p.add(v1beta1.ReasonInvalidSpec, "metadata.name", "", "missing; every peer needs a name")
	}
	b.checkASNs(s, p)
	peer.Address = peerAddr(p, "spec.peerAddress", s.PeerAddress)
	switch {
	case s.PeerAddress == "" && s.Interface == "":
		p.add(v1beta1.ReasonInvalidSpec, "spec.peerAddress", "", "missing; set the router's address (such as 192.168.1.1), or spec.interface for BGP unnumbered")
	case s.PeerAddress != "" && s.Interface != "":
		p.add(v1beta1.ReasonInvalidSpec, "spec.interface", s.Interface, "set only one of spec.peerAddress and spec.interface")
	case s.Interface != "":
		p.add(v1beta1.ReasonNotSupported, "spec.interface", s.Interface,
			"this version of ironlb does not run BGP unnumbered sessions; set spec.peerAddress to the router's address instead")
	}
	peer.SourceAddress = peerAddr(p, "spec.sourceAddress", s.SourceAddress)
	if peer.SourceAddress.IsValid() && peer.Address.IsValid() && peer.SourceAddress.Is4() != peer.Address.Is4() {
		p.add(v1beta1.ReasonInvalidSpec, "spec.sourceAddress", s.SourceAddress, "is not of the same address family as spec.peerAddress %s", s.PeerAddress)
	}
	peer.RouterID = peerAddr(p, "spec.routerID", s.RouterID)
	if peer.RouterID.IsValid() && !peer.RouterID.Is4() {
		p.add(v1beta1.ReasonInvalidSpec, "spec.routerID", s.RouterID, "a BGP router ID is written as an IPv4 address, such as 10.0.0.1")
	}
	peer.HoldTime, peer.KeepaliveTime, peer.ConnectTime = checkTimers(s, p)
	checkSelectors(p, "spec.nodeSelectors", s.NodeSelectors)
	peer.Password = b.peerPassword(c, p)
	if s.BFDProfile != "" {
		switch prof, ok := bfd.inUse(s.BFDProfile); {
		case ok && prof.EchoMode && s.EBGPMultiHop:
			p.add(v1beta1.ReasonInvalidSpec, "spec.bfdProfile", s.BFDProfile,
				"BFDProfile %q has echoMode, and the echo function is for single-hop sessions alone (RFC 5883), where this peer has ebgpMultiHop: name a profile without echoMode", s.BFDProfile)
		case ok:
			v := *prof
			v.Origin = Origin{}
			peer.BFD = &v
		case bfd.defined[s.BFDProfile]:
			p.warn(v1beta1.ReasonMissingReference, "spec.bfdProfile", s.BFDProfile, "BFDProfile %q is not in use (see its own status); the session runs without BFD until it is fixed", s.BFDProfile)
		default:
			p.add(v1beta1.ReasonMissingReference, "spec.bfdProfile", s.BFDProfile, "no BFDProfile named %q exists; create it or remove spec.bfdProfile", s.BFDProfile)
		}
	}
	return peer
}

func (b *builder) checkASNs(s *v1beta1.BGPPeerSpec, p *problems) {
	if s.MyASN == 0 {
		p.add(v1beta1.ReasonInvalidSpec, "spec.myASN", "", "missing; set the AS number ironlb uses on its end of the session (1-4294967295)")
	}
	switch {
	case s.PeerASN == 0 && s.DynamicASN == "":
		p.add(v1beta1.ReasonInvalidSpec, "spec.peerASN", "", "missing; set the peer's AS number (1-4294967295), or spec.dynamicASN to internal or external")
	case s.PeerASN != 0 && s.DynamicASN != "":
		p.add(v1beta1.ReasonInvalidSpec, "spec.dynamicASN", string(s.DynamicASN), "set only one of spec.peerASN and spec.dynamicASN")
	case s.DynamicASN != "" && s.DynamicASN != v1beta1.DynamicASNInternal && s.DynamicASN != v1beta1.DynamicASNExternal:
		p.add(v1beta1.ReasonInvalidSpec, "spec.dynamicASN", string(s.DynamicASN), "must be internal or external")
	case s.DynamicASN == v1beta1.DynamicASNExternal:
		p.add(v1beta1.ReasonNotSupported, "spec.dynamicASN", string(s.DynamicASN),
			"this version of ironlb does not run sessions with dynamicASN external; set spec.peerASN to the router's AS number (or dynamicASN internal for iBGP)")
	}
	local := cmp.Or(s.LocalASN, s.MyASN)
	ibgp := (s.PeerASN != 0 && s.PeerASN == local) || s.DynamicASN == v1beta1.DynamicASNInternal
	if s.EBGPMultiHop && ibgp {
		p.add(v1beta1.ReasonInvalidSpec, "spec.ebgpMultiHop", "true", "applies to eBGP only, and this is an iBGP session (the peer's AS equals myASN, or localASN when set); remove it")
	}
}

// peerAddr parses an optional address field; the zero Addr means unset or
// invalid (the latter reported).
func peerAddr(p *problems, field, s string) netip.Addr {
	if s == "" {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err == nil {
		err = checkAddr(a)
	}
	if err != nil {
		p.add(v1beta1.ReasonInvalidSpec, field, s, "not an IP address (such as 192.168.1.1 or 2001:db8::1)")
		return netip.Addr{}
	}
	return a
}

// checkTimers defaults and checks the BGP timers, as MetalLB did: hold
// time 90s unless set, 0 or at least 3s; keepalive a third of the hold time
// unless set, and not above it.
func checkTimers(s *v1beta1.BGPPeerSpec, p *problems) (hold, keepalive, connect time.Duration) {
	wholeSeconds := func(d time.Duration) bool { return d%time.Second == 0 }
	hold = DefaultHoldTime
	if s.HoldTime != nil {
		hold = s.HoldTime.Duration
		if hold != 0 && (hold < 3*time.Second || hold > maxBGPTimer || !wholeSeconds(hold)) {
			p.add(v1beta1.ReasonInvalidSpec, "spec.holdTime", hold.String(), "must be 0s (no hold timer) or whole seconds from 3s to 65535s")
		}
	}
	keepalive = (hold / 3).Truncate(time.Second)
	if s.KeepaliveTime != nil {
		keepalive = s.KeepaliveTime.Duration
		switch {
		case keepalive < 0 || keepalive > maxBGPTimer || !wholeSeconds(keepalive):
			p.add(v1beta1.ReasonInvalidSpec, "spec.keepaliveTime", keepalive.String(), "must be whole seconds from 0s to 65535s")
		case hold != 0 && keepalive > hold:
			p.add(v1beta1.ReasonInvalidSpec, "spec.keepaliveTime", keepalive.String(), "is longer than the hold time %s; keep it at most the hold time (a third of it is usual)", hold)
		}
	}
	if s.ConnectTime != nil {
		connect = s.ConnectTime.Duration
		if connect < time.Second || connect > maxBGPTimer || !wholeSeconds(connect) {
			p.add(v1beta1.ReasonInvalidSpec, "spec.connectTime", connect.String(), "must be whole seconds from 1s to 65535s")
		}
	}
	return hold, keepalive, connect
}

// peerPassword returns the password from spec.password or the Secret named
// by spec.passwordSecret.
func (b *builder) peerPassword(c *candidate[v1beta1.BGPPeer], p *problems) Password {
	s := &c.obj.Spec
	if len(s.Password) > maxPasswordLen {
		p.add(v1beta1.ReasonInvalidSpec, "spec.password", "", "is %d characters long; TCP MD5 passwords are at most %d", len(s.Password), maxPasswordLen)
	}
	ref := s.PasswordSecret
	if ref == nil {
		return Password(s.Password)
	}
	if s.Password != "" {
		p.add(v1beta1.ReasonInvalidSpec, "spec.passwordSecret", ref.Name, "set only one of spec.password and spec.passwordSecret; keep the password in the Secret")
	}
	if ref.Name == "" {
		p.add(v1beta1.ReasonInvalidSpec, "spec.passwordSecret.name", "", "missing; name a Secret of type kubernetes.io/basic-auth")
		return ""
	}
	key := cmp.Or(ref.Namespace, c.obj.Namespace, b.ns) + "/" + ref.Name
	sec, ok := b.secrets[key]
	switch {
	case !ok:
		p.add(v1beta1.ReasonMissingReference, "spec.passwordSecret", key, "Secret %s does not exist; create it with type kubernetes.io/basic-auth and the password under the key %q", key, secretPassword)
	case sec.Type != corev1.SecretTypeBasicAuth:
		p.add(v1beta1.ReasonInvalidSpec, "spec.passwordSecret", key, "Secret %s is of type %q; it must be of type kubernetes.io/basic-auth", key, sec.Type)
	default:
		pw, ok := sec.Data[secretPassword]
		if !ok {
			p.add(v1beta1.ReasonMissingReference, "spec.passwordSecret", key, "Secret %s has no key %q; put the password there", key, secretPassword)
			return ""
		}
		if len(pw) > maxPasswordLen {
			p.add(v1beta1.ReasonInvalidSpec, "spec.passwordSecret", key, "the password in Secret %s is %d characters long; TCP MD5 passwords are at most %d", key, len(pw), maxPasswordLen)
		}
		return Password(pw)
	}
	return ""
}

func samePeerSession(a, b *Peer) bool {
	return a.Address == b.Address && a.Interface == b.Interface && a.Port == b.Port && a.VRF == b.VRF &&
		reflect.DeepEqual(a.NodeSelectors, b.NodeSelectors)
}

// peersDuplicate reports two peers that would open the same session (same
// address or interface, port and VRF) from a node both select.
func peersDuplicate(v, other *Peer, otherName string, p *problems) bool {
	if v.Address != other.Address || v.Interface != other.Interface || v.Port != other.Port || v.VRF != other.VRF {
		return false
	}
	if !selectorsMayOverlap(v.NodeSelectors, other.NodeSelectors) {
		return false
	}
	field, target := "spec.peerAddress", v.Address.String()
	if v.Interface != "" {
		field, target = "spec.interface", "interface "+v.Interface
	}
	vrf := "the default VRF"
	if v.VRF != "" {
		vrf = "VRF " + v.VRF
	}
	p.add(v1beta1.ReasonDuplicate, field, strings.TrimPrefix(target, "interface "),
		"BGPPeer %q already opens a session to %s port %d in %s from nodes this peer selects too; merge the two, or give them node selectors that cannot select the same node", otherName, target, v.Port, vrf)
	return true
}

package ipam

import (
	"fmt"
	"net/netip"
)

// checkShare returns nil if svc may hold ip next to its current holders
// (svc itself must not be among them), and the reason otherwise.
//
// Services share an address only if all of them carry the same non-empty
// sharing key, are in one namespace unless the pool allows sharing across
// namespaces, no two use the same protocol and port, and each pair either
// both use externalTrafficPolicy Cluster or has identical non-empty
// selectors (so a node with local endpoints serves all of them).
//
// held says svc already holds ip (it kept it, or the controller found it in
// its status at start-up): the namespace rule then does not apply, so that
// turning the rule on, or switching from an installation without it,
// takes no address away. It only refuses new shares.
func (a *Allocator) checkShare(svc *Service, ip netip.Addr, held bool) error {
	use := a.ips[ip]
	if use == nil || len(use.holders) == 0 {
		return nil
	}
	key := svc.Request.SharingKey
	if key == "" {
		return &IPInUseError{IP: ip, Holder: use.holders[0].svc.Key}
	}
	if !held && !use.span.pool.cfg.AllowCrossNamespaceSharing {
		// Checked before the keys, so that the answer tells a Service of
		// another namespace nothing of the holder's key.
		for _, h := range use.holders {
			if h.svc.Namespace != svc.Namespace {
				return &SharingConflictError{IP: ip, Other: h.svc.Key, Conflict: ConflictNamespace,
					Detail: fmt.Sprintf("it is in namespace %q, and pool %q does not allow sharing an address across namespaces (spec.allowCrossNamespaceSharing)",
						h.svc.Namespace, use.span.pool.name())}
			}
		}
	}
	for _, h := range use.holders {
		other := &h.svc
		if ok := other.Request.SharingKey; ok != key {
			detail := fmt.Sprintf("its allow-shared-ip key is %q and this Service's is %q; use the same key on both", ok, key)
			if ok == "" {
				detail = "it does not allow sharing (no allow-shared-ip annotation)"
			}
			return &SharingConflictError{IP: ip, Other: other.Key, Conflict: ConflictSharingKey, Detail: detail}
		}
		if p, clash := portClash(svc.Ports, other.Ports); clash {
			return &SharingConflictError{IP: ip, Other: other.Key, Conflict: ConflictPort,
				Detail: fmt.Sprintf("both use port %s; Services sharing an address need distinct ports", p)}
		}
		if !backendsCompatible(svc, other) {
			return &SharingConflictError{IP: ip, Other: other.Key, Conflict: ConflictBackends,
				Detail: fmt.Sprintf("externalTrafficPolicy is %s here and %s there, and the selectors are not identical; use Cluster on both or the same selector",
					svc.trafficPolicy(), other.trafficPolicy())}
		}
	}
	return nil
}

// portClash returns a port both lists use, if any.
func portClash(a, b []Port) (Port, bool) {
	for _, x := range a {
		for _, y := range b {
			if x.Port == y.Port && x.proto() == y.proto() {
				return x, true
			}
		}
	}
	return Port{}, false
}

// backendsCompatible: both Cluster, or identical non-empty selectors.
func backendsCompatible(a, b *Service) bool {
	if a.trafficPolicy() == TrafficCluster && b.trafficPolicy() == TrafficCluster {
		return true
	}
	return sameBackends(a, b)
}

// sharedIn returns the lowest address of family f in pool p that svc can
// share with the Services already holding it under svc's sharing key.
func (a *Allocator) sharedIn(svc *Service, p *poolState, f Family) (netip.Addr, *span, bool) {
	key := svc.Request.SharingKey
	if key == "" {
		return netip.Addr{}, nil, false
	}
	var best netip.Addr
	var bestSpan *span
	for ip := range a.shared[key] {
		use := a.ips[ip]
		if use.span.pool != p || FamilyOf(ip) != f || (best.IsValid() && best.Less(ip)) {
			continue
		}
		if a.checkShare(svc, ip, false) == nil {
			best, bestSpan = ip, use.span
		}
	}
	return best, bestSpan, best.IsValid()
}

// hasShared reports whether some pool-p address of one of the families can
// be shared by svc.
func (a *Allocator) hasShared(svc *Service, p *poolState, fams []Family) bool {
	for _, f := range fams {
		if _, _, ok := a.sharedIn(svc, p, f); ok {
			return true
		}
	}
	return false
}

package ipam

import (
	"fmt"
	"net/netip"
	"strings"
)

// Request is what a Service asks of the allocator beyond its spec: specific
// addresses, a pool, a sharing key.
type Request struct {
	// IPs are the requested addresses: none, or one or two of different
	// families.
	IPs []netip.Addr
	// Pool names the pool to allocate from; empty means any.
	Pool string
	// SharingKey lets Services with the same key hold the same address
	// when their ports do not clash and either all of them use
	// externalTrafficPolicy Cluster or their selectors are identical.
	// Empty means the Service never shares.
	SharingKey string
}

// Annotation prefixes read by ParseServiceRequest, in precedence order for
// error messages. All three spellings mean the same thing.
var annotationPrefixes = [...]string{"ironlb.io/", "metallb.universe.tf/", "metallb.io/"}

// Annotation names (after the prefix).
const (
	AnnotationAddressPool     = "address-pool"
	AnnotationLoadBalancerIPs = "loadBalancerIPs"
	AnnotationAllowSharedIP   = "allow-shared-ip"
)

// ParseServiceRequest reads a Service's request from its annotations and
// spec.loadBalancerIP. Each annotation may be spelled with the ironlb.io/,
// metallb.universe.tf/ or metallb.io/ prefix; spellings that are present
// must agree. Annotation values are trimmed, and an empty value counts as
// absent.
//
// loadBalancerIPs is a comma-separated list of at most one IPv4 and one
// IPv6 address; it cannot be combined with spec.loadBalancerIP. Zoned and
// IPv4-mapped IPv6 addresses are rejected. Whether the addresses fit the
// Service's families and policy is checked when allocating.
//
// Errors are *InvalidRequestError naming the annotation or field.
func ParseServiceRequest(annotations map[string]string, loadBalancerIP string) (Request, error) {
	var r Request
	var err error
	if r.Pool, _, err = annotation(annotations, AnnotationAddressPool); err != nil {
		return Request{}, err
	}
	if r.SharingKey, _, err = annotation(annotations, AnnotationAllowSharedIP); err != nil {
		return Request{}, err
	}
	ips, ipsKey, err := annotation(annotations, AnnotationLoadBalancerIPs)
	if err != nil {
		return Request{}, err
	}
	lbIP := strings.TrimSpace(loadBalancerIP)
	switch {
	case ips != "" && lbIP != "":
		return Request{}, &InvalidRequestError{Field: "spec.loadBalancerIP", Value: lbIP,
			Msg: fmt.Sprintf("cannot be combined with the %s annotation; use only the annotation", ipsKey)}
	case ips != "":
		r.IPs, err = parseAddrList(ipsKey, ips)
	case lbIP != "":
		var a netip.Addr
		a, err = parseAddr("spec.loadBalancerIP", lbIP, lbIP)
		r.IPs = []netip.Addr{a}
	}
	if err != nil {
		return Request{}, err
	}
	return r, nil
}

// annotation returns the trimmed value of name under any prefix and the key
// it was read from; present spellings must agree.
func annotation(ann map[string]string, name string) (value, key string, err error) {
	for _, p := range annotationPrefixes {
		k := p + name
		v := strings.TrimSpace(ann[k])
		if v == "" {
			continue
		}
		if key == "" {
			value, key = v, k
			continue
		}
		if !sameAnnotationValue(name, value, v) {
			return "", "", &InvalidRequestError{Field: k, Value: v,
				Msg: fmt.Sprintf("conflicts with %s=%q; set one of them, or give both the same value", key, value)}
		}
	}
	return value, key, nil
}

// sameAnnotationValue compares two values of one annotation; address lists
// compare as sets of addresses, so spacing and order do not matter.
func sameAnnotationValue(name, a, b string) bool {
	if a == b {
		return true
	}
	if name != AnnotationLoadBalancerIPs {
		return false
	}
	pa, errA := parseAddrList("", a)
	pb, errB := parseAddrList("", b)
	if errA != nil || errB != nil || len(pa) != len(pb) {
		return false
	}
	for _, x := range pa {
		found := false
		for _, y := range pb {
			found = found || x == y
		}
		if !found {
			return false
		}
	}
	return true
}

func parseAddrList(field, list string) ([]netip.Addr, error) {
	var out []netip.Addr
	for part := range strings.SplitSeq(list, ",") {
		a, err := parseAddr(field, list, strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if e := checkRequestedIPs(out); e != nil {
		e.Field = field
		return nil, e
	}
	return out, nil
}

func parseAddr(field, value, s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, &InvalidRequestError{Field: field, Value: value, Msg: "empty address in the list; write comma-separated addresses"}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, &InvalidRequestError{Field: field, Value: value,
			Msg: fmt.Sprintf("%q is not an IP address (want e.g. 192.0.2.10 or 2001:db8::10)", s)}
	}
	if e := checkAddr(a); e != nil {
		e.Field, e.Value = field, value
		return netip.Addr{}, e
	}
	return a, nil
}

// checkAddr rejects addresses ipam cannot hand out as written.
func checkAddr(a netip.Addr) *InvalidRequestError {
	switch {
	case !a.IsValid():
		return &InvalidRequestError{Field: "loadBalancerIPs", Msg: "invalid (zero) address"}
	case a.Zone() != "":
		return &InvalidRequestError{Field: "loadBalancerIPs", Value: a.String(),
			Msg: fmt.Sprintf("address %s has a zone; write it without %%%s", a, a.Zone())}
	case a.Is4In6():
		return &InvalidRequestError{Field: "loadBalancerIPs", Value: a.String(),
			Msg: fmt.Sprintf("IPv4-mapped address %s; write the IPv4 address %s", a, a.Unmap())}
	}
	return nil
}

// checkRequestedIPs checks a list of requested addresses: valid, at most
// two, at most one per family.
func checkRequestedIPs(ips []netip.Addr) *InvalidRequestError {
	for _, a := range ips {
		if e := checkAddr(a); e != nil {
			return e
		}
	}
	switch {
	case len(ips) > 2:
		return &InvalidRequestError{Field: "loadBalancerIPs", Value: addrList(ips),
			Msg: "at most two addresses, one IPv4 and one IPv6"}
	case len(ips) == 2 && FamilyOf(ips[0]) == FamilyOf(ips[1]):
		return &InvalidRequestError{Field: "loadBalancerIPs", Value: addrList(ips),
			Msg: fmt.Sprintf("two %s addresses; request at most one address per family", FamilyOf(ips[0]))}
	}
	return nil
}

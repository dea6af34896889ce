package ipam

import (
	"fmt"
	"net/netip"
	"strings"
)

// Error is implemented by every error the allocator returns for a Service.
// Reason is a stable CamelCase word for the Event reason; Error is the
// Event message.
type Error interface {
	error
	Reason() string
}

// Event reasons, one per error type.
const (
	ReasonPoolExhausted     = "PoolExhausted"
	ReasonIPInUse           = "IPAlreadyInUse"
	ReasonIPNotInPool       = "IPNotInPool"
	ReasonFamilyUnavailable = "IPFamilyUnavailable"
	ReasonSharingConflict   = "SharingConflict"
	ReasonUnknownPool       = "UnknownPool"
	ReasonPoolNotPermitted  = "PoolNotPermitted"
	ReasonNoPool            = "NoPoolAvailable"
	ReasonInvalidRequest    = "InvalidRequest"
)

// Reasons lists the reason of every Error the allocator returns (an
// IncompleteError has its Cause's): a bounded set, so a metric labelled by
// reason can export each from the start, before any failure.
func Reasons() []string {
	return []string{
		ReasonPoolExhausted, ReasonIPInUse, ReasonIPNotInPool, ReasonFamilyUnavailable, ReasonSharingConflict,
		ReasonUnknownPool, ReasonPoolNotPermitted, ReasonNoPool, ReasonInvalidRequest,
	}
}

// PoolExhaustedError: every candidate pool offering Family is full.
type PoolExhaustedError struct {
	Family Family
	Pools  []string // the pools tried, in order
}

func (e *PoolExhaustedError) Error() string {
	return fmt.Sprintf("no free %s address in %s; free an address, add a range, or choose another pool", e.Family, poolList(e.Pools))
}

// Reason implements Error.
func (e *PoolExhaustedError) Reason() string { return ReasonPoolExhausted }

// IPInUseError: the requested address is held by another Service and this
// one has no sharing key.
type IPInUseError struct {
	IP     netip.Addr
	Holder string // key of a Service holding IP
}

func (e *IPInUseError) Error() string {
	return fmt.Sprintf("address %s is already held by Service %s; request another address, or give both Services the same allow-shared-ip annotation", e.IP, e.Holder)
}

// Reason implements Error.
func (e *IPInUseError) Reason() string { return ReasonIPInUse }

// IPNotInPoolError: the requested address is not a usable address of any
// pool, or of the pool the Service names.
type IPNotInPoolError struct {
	IP     netip.Addr
	Pool   string // the pool named by the Service, or the pool excluding it; empty: no pool
	Detail string // why, when Pool is set
}

func (e *IPNotInPoolError) Error() string {
	if e.Pool == "" {
		return fmt.Sprintf("address %s is not in any address pool; request an address of a configured pool", e.IP)
	}
	msg := fmt.Sprintf("address %s is not usable in pool %q", e.IP, e.Pool)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Reason implements Error.
func (e *IPNotInPoolError) Reason() string { return ReasonIPNotInPool }

// FamilyUnavailableError: no candidate pool offers the families the
// Service's ipFamilyPolicy requires.
type FamilyUnavailableError struct {
	Policy   FamilyPolicy
	Families []Family
	Pools    []string // the candidate pools
}

func (e *FamilyUnavailableError) Error() string {
	need := "an " + string(e.Families[0]) + " address"
	if e.Policy == RequireDualStack {
		need = "both IPv4 and IPv6 addresses from one pool"
	} else if len(e.Families) > 1 {
		need = "IPv4 or IPv6 addresses"
	}
	return fmt.Sprintf("ipFamilyPolicy %s with ipFamilies %s needs %s, which %s cannot provide; add ranges of the missing family or choose another pool",
		e.Policy, familyList(e.Families), need, poolList(e.Pools))
}

// Reason implements Error.
func (e *FamilyUnavailableError) Reason() string { return ReasonFamilyUnavailable }

// IncompleteError: a RequireDualStack Service holds addresses of one
// family that stay valid, but neither their pool (which lost the other
// family, or has no room in it) nor any other pool can give it both
// families now. The Service keeps Kept — unlike every other error, after
// which it holds nothing — and is allocated again when the pools change.
type IncompleteError struct {
	Kept    []netip.Addr
	Pool    string
	Missing Family
	// Cause is why no pool can give both families.
	Cause Error
}

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("ipFamilyPolicy RequireDualStack: keeping %s of pool %q, which cannot give it an %s address now; no other pool can give both families: %v",
		addrList(e.Kept), e.Pool, e.Missing, e.Cause)
}

// Reason implements Error: the reason of Cause.
func (e *IncompleteError) Reason() string { return e.Cause.Reason() }

// Unwrap returns Cause.
func (e *IncompleteError) Unwrap() error { return e.Cause }

// Conflict says why two Services cannot share an address.
type Conflict string

// The sharing conflicts.
const (
	// ConflictSharingKey: the allow-shared-ip keys differ (or one is unset).
	ConflictSharingKey Conflict = "SharingKey"
	// ConflictPort: both use the same protocol and port.
	ConflictPort Conflict = "Port"
	// ConflictBackends: not both externalTrafficPolicy Cluster, and their
	// selectors differ (or are empty).
	ConflictBackends Conflict = "Backends"
	// ConflictNamespace: the holder is in another namespace and the pool
	// does not allow sharing across namespaces.
	ConflictNamespace Conflict = "Namespace"
)

// SharingConflictError: the Service has a sharing key but cannot share the
// address with Other.
type SharingConflictError struct {
	IP       netip.Addr
	Other    string // key of the Service holding IP
	Conflict Conflict
	Detail   string
}

func (e *SharingConflictError) Error() string {
	return fmt.Sprintf("address %s cannot be shared with Service %s: %s", e.IP, e.Other, e.Detail)
}

// Reason implements Error.
func (e *SharingConflictError) Reason() string { return ReasonSharingConflict }

// UnknownPoolError: the Service names a pool that does not exist.
type UnknownPoolError struct {
	Pool  string
	Known []string // existing pool names
}

func (e *UnknownPoolError) Error() string {
	if len(e.Known) == 0 {
		return fmt.Sprintf("address-pool %q does not exist, and no pool is configured", e.Pool)
	}
	return fmt.Sprintf("address-pool %q does not exist; existing pools: %s", e.Pool, strings.Join(e.Known, ", "))
}

// Reason implements Error.
func (e *UnknownPoolError) Reason() string { return ReasonUnknownPool }

// PoolNotPermittedError: the pool's serviceAllocation excludes the Service.
type PoolNotPermittedError struct {
	Pool    string
	Service string
}

func (e *PoolNotPermittedError) Error() string {
	return fmt.Sprintf("pool %q does not serve Service %s: its serviceAllocation (namespaces, namespaceSelectors, serviceSelectors) excludes it", e.Pool, e.Service)
}

// Reason implements Error.
func (e *PoolNotPermittedError) Reason() string { return ReasonPoolNotPermitted }

// NoPoolError: no pool may be used for automatic assignment.
type NoPoolError struct {
	Detail string
}

func (e *NoPoolError) Error() string { return "no address pool is available: " + e.Detail }

// Reason implements Error.
func (e *NoPoolError) Reason() string { return ReasonNoPool }

// InvalidRequestError: the Service's request or spec is malformed or
// inconsistent.
type InvalidRequestError struct {
	Field string // annotation key or spec field
	Value string
	Msg   string // what is wrong and what would be valid
}

func (e *InvalidRequestError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("invalid %s: %s", e.Field, e.Msg)
	}
	return fmt.Sprintf("invalid %s %q: %s", e.Field, e.Value, e.Msg)
}

// Reason implements Error.
func (e *InvalidRequestError) Reason() string { return ReasonInvalidRequest }

func poolList(names []string) string {
	switch len(names) {
	case 0:
		return "no pool"
	case 1:
		return fmt.Sprintf("pool %q", names[0])
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return "pools " + strings.Join(q, ", ")
}

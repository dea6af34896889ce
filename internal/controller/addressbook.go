package controller

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/ipam"
	"github.com/ironlb/ironlb/internal/metrics"
)

// poolStatusDelay coalesces pool status writes: a burst of allocations in
// one pool gives one status write per delay, not one per Service.
const poolStatusDelay = 500 * time.Millisecond

// addressBook wraps the allocator, which is not safe for concurrent use:
// every call goes through its mutex, so Service workers may run in parallel
// (their status writes do) while allocation decisions are serialized.
// Around the allocator it keeps the Services waiting for an address and the
// reason a Service lost its address, and it keeps the metrics current.
// Keys leave every map when their Service is released, so a Service
// deleted or no longer managed counts nowhere.
//
// It re-queues waiting Services whenever addresses may have become free
// (a release, a Service moving to other addresses, new pools), and asks
// for a pool status update whenever a pool's usage changes.
type addressBook struct {
	namespace string             // of the IPAddressPool objects
	services  *queueRef          // the Service controller's queue
	pools     *queueRef          // the pool status controller's queue
	metrics   *metrics.Allocator // nil: no metrics

	mu sync.Mutex // guards all fields below
	// alloc is the allocator; only called with mu held.
	alloc *ipam.Allocator
	// snap is the Snapshot whose pools alloc has; nil before the first.
	snap *config.Snapshot
	// pending holds the keys of managed Services that hold no address
	// because allocation failed; they are re-queued when addresses may
	// have become free.
	pending map[string]struct{}
	// lost says, per Service key, why the Service's addresses were taken
	// away (a pool edit, or an address no longer valid after a restart),
	// until its next allocation reports it in an Event.
	lost map[string]string
	// held counts the Services holding at least one address.
	held map[string]struct{}
	// failed holds, per key of a Service whose last allocation failed
	// (its ConditionIPAllocated is False: it holds nothing, or less than
	// it needs after an ipam.IncompleteError, or its request is
	// malformed), the failure's reason; failedBy counts its values, with
	// every reason of ipam.Reasons present, for the pending gauge.
	failed   map[string]string
	failedBy map[string]int
}

func newAddressBook(namespace string, services, pools *queueRef, m *metrics.Allocator) *addressBook {
	b := &addressBook{
		namespace: namespace, services: services, pools: pools, metrics: m,
		alloc:   ipam.New(),
		pending: map[string]struct{}{},
		lost:    map[string]string{},
		held:    map[string]struct{}{},
		failed:  map[string]string{},
	}
	// Every reason from the start, 0 included: on a healthy cluster (and
	// on a standby replica) the gauge exists all the same.
	b.failedBy = map[string]int{}
	for _, r := range ipam.Reasons() {
		b.failedBy[r] = 0
		m.SetServicesPending(r, 0)
	}
	return b
}

// allocResult is the outcome of one allocation.
type allocResult struct {
	Allocation ipam.Allocation
	// Err, when set, implements ipam.Error; the Service holds nothing.
	Err error
	// Lost says why the Service's previous addresses were taken away by
	// the controller (not by its own spec), empty if they were not.
	Lost string
}

// setPools gives the allocator the pools of snap. When they differ from
// the current ones it re-queues every Service holding an address (its pool
// may have a new name or its address may be gone) and every waiting one,
// and asks for every pool's status. It reports whether the pools changed.
func (b *addressBook) setPools(snap *config.Snapshot) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.snap != nil && samePools(b.snap, snap) {
		b.snap = snap
		return false, nil
	}
	pools, err := ipamPools(snap)
	if err != nil {
		return false, err
	}
	before := b.alloc.Pools()
	lost, err := b.alloc.SetPools(pools)
	if err != nil {
		return false, fmt.Errorf("setting %d address pools: %w", len(pools), err)
	}
	b.snap = snap
	for _, key := range lost {
		b.lost[key] = "its address is no longer in an address pool it may use"
		b.updateHeld(key)
	}
	after := b.alloc.Pools()
	for _, p := range before {
		if !slices.Contains(after, p) {
			b.metrics.DeletePool(p)
		}
	}
	var requeue []string
	for _, p := range after {
		b.poolChanged(p, 0)
		requeue = append(requeue, b.alloc.ServicesInPool(p)...)
	}
	requeue = append(requeue, lost...)
	for key := range b.pending {
		requeue = append(requeue, key)
	}
	b.services.addKeys(requeue...)
	return true, nil
}

// assign records addresses a Service held before the controller started.
// On error the Service holds nothing, and the reason is kept for the Event
// of its next allocation.
func (b *addressBook) assign(svc ipam.Service, ips []netip.Addr) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	a, err := b.alloc.Assign(svc, ips)
	if err != nil {
		b.lost[svc.Key] = fmt.Sprintf("its address %s is no longer valid: %v", addrList(ips), err)
		return err
	}
	b.held[svc.Key] = struct{}{}
	b.metrics.SetServicesAllocated(len(b.held))
	b.poolChanged(a.Pool, poolStatusDelay)
	return nil
}

// allocate decides the addresses of a managed Service (see
// ipam.Allocator.Allocate).
func (b *addressBook) allocate(svc ipam.Service) allocResult {
	start := time.Now()
	b.mu.Lock()
	prev, had := b.alloc.Allocation(svc.Key)
	a, err := b.alloc.Allocate(svc)
	res := allocResult{Allocation: a, Err: err, Lost: b.lost[svc.Key]}
	delete(b.lost, svc.Key)
	reason := ""
	if err != nil {
		reason = ipam.ReasonInvalidRequest
		if e := ipam.Error(nil); errors.As(err, &e) {
			reason = e.Reason()
		}
		b.pending[svc.Key] = struct{}{}
	} else {
		delete(b.pending, svc.Key)
	}
	b.setFailed(svc.Key, reason)
	changed := err == nil && !slices.Equal(prev.IPs, a.IPs)
	if had && (err != nil || changed) {
		b.freed(svc.Key, prev.Pool)
	}
	if changed {
		b.poolChanged(a.Pool, poolStatusDelay)
	}
	b.updateHeld(svc.Key)
	b.mu.Unlock()

	b.metrics.ObserveAllocation(time.Since(start), changed, reason)
	return res
}

// release frees what the Service holds and forgets it: it was deleted or
// is no longer managed. It reports whether the Service held an address.
func (b *addressBook) release(key string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.setFailed(key, "")
	return b.releaseLocked(key)
}

// releaseLocked is release, called with mu held, without touching the
// failure recorded for key.
func (b *addressBook) releaseLocked(key string) bool {
	delete(b.pending, key)
	delete(b.lost, key)
	prev, had := b.alloc.Allocation(key)
	if !b.alloc.Release(key) {
		return false
	}
	if had {
		b.freed(key, prev.Pool)
	}
	b.updateHeld(key)
	return true
}

// reject frees what a Service holds because its request is malformed (it
// can hold nothing until its spec changes) and counts the failure.
func (b *addressBook) reject(key string) {
	b.mu.Lock()
	b.releaseLocked(key)
	// Its condition is False like after any failed allocation, but it
	// is not re-queued when addresses are freed: only a spec change
	// helps.
	b.setFailed(key, ipam.ReasonInvalidRequest)
	b.mu.Unlock()
	b.metrics.ObserveAllocation(0, false, ipam.ReasonInvalidRequest)
}

// keepLost puts back why a Service lost its addresses, when the write
// that would have reported it failed.
func (b *addressBook) keepLost(key, why string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.lost[key]; !ok {
		b.lost[key] = why
	}
}

// allocation returns what the Service holds.
func (b *addressBook) allocation(key string) (ipam.Allocation, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.alloc.Allocation(key)
}

// usage returns the address counts of a pool the allocator has.
func (b *addressBook) usage(pool string) (ipam.PoolUsage, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.alloc.Usage(pool)
}

// freed re-queues the waiting Services (except key) after addresses of
// pool may have become free. Called with mu held.
func (b *addressBook) freed(key, pool string) {
	b.poolChanged(pool, poolStatusDelay)
	for k := range b.pending {
		if k != key {
			b.services.addKeys(k)
		}
	}
}

// poolChanged refreshes a pool's metrics and asks for its status after
// delay. Called with mu held.
func (b *addressBook) poolChanged(pool string, delay time.Duration) {
	if pool == "" {
		return
	}
	if u, ok := b.alloc.Usage(pool); ok {
		b.metrics.SetPool(pool, string(ipam.IPv4), satAdd(u.IPv4.Assigned, u.IPv4.Available), u.IPv4.Assigned)
		b.metrics.SetPool(pool, string(ipam.IPv6), satAdd(u.IPv6.Assigned, u.IPv6.Available), u.IPv6.Assigned)
	}
	req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: b.namespace, Name: pool}}
	if delay == 0 {
		b.pools.add(req)
	} else {
		b.pools.addAfter(req, delay)
	}
}

// updateHeld refreshes whether key holds an address. Called with mu held.
func (b *addressBook) updateHeld(key string) {
	if _, ok := b.alloc.Allocation(key); ok {
		b.held[key] = struct{}{}
	} else {
		delete(b.held, key)
	}
	b.metrics.SetServicesAllocated(len(b.held))
}

// setFailed records the reason of key's failed allocation, "" when it
// did not fail, and refreshes the pending gauge of the reasons that
// changed. Called with mu held.
func (b *addressBook) setFailed(key, reason string) {
	old, had := b.failed[key]
	if had && old == reason {
		return
	}
	if had {
		delete(b.failed, key)
		b.failedBy[old]--
		b.metrics.SetServicesPending(old, b.failedBy[old])
	}
	if reason != "" {
		b.failed[key] = reason
		b.failedBy[reason]++
		b.metrics.SetServicesPending(reason, b.failedBy[reason])
	}
}

// satAdd adds two non-negative counts, saturating at the largest int64.
func satAdd(a, b int64) int64 {
	if s := a + b; s >= a {
		return s
	}
	return 1<<63 - 1
}

// Package ipam is ironlb's address allocator: it owns the address pools and
// decides which LoadBalancer IPs each Service holds.
//
// It is pure: no Kubernetes types, no I/O, only the standard library and
// net/netip. The controller turns Services and the configuration snapshot
// into the plain inputs of this package ([Pool], [Service], [Request]) and
// turns its results ([Allocation], errors implementing [Error]) into
// Service status and Events.
//
// # Semantics
//
// Pools hold IPv4 and IPv6 ranges. A Service without a requested address or
// pool gets the lowest free address of the first suitable pool, where pools
// are ordered by serviceAllocation priority and then by name (see
// [Allocator.Allocate]). Services with the same sharing key may hold one
// address when their ports do not clash and their backends agree (see
// [Service.SharingKey]). An address already held by a Service never changes
// unless the Service's own spec or the pools stop allowing it.
//
// # Cost
//
// Memory is proportional to the number of addresses in use, never to the
// size of a pool, so an IPv6 /64 (or larger) pool is fine. Each range keeps
// its used addresses as a balanced tree of maximal used intervals, so the
// lowest free address is found in O(log n) for n addresses in use; addresses
// that avoidBuggyIPs excludes are removed from the address space by
// renumbering rather than skipped one by one. Full ranges of a pool are
// skipped with a per-family cursor. SetPools re-validates every allocation:
// O(n log n), once per configuration change.
//
// # Concurrency
//
// An [Allocator] is not safe for concurrent use. The controller serializes
// every call (a single reconcile worker, or its own mutex). ParseServiceRequest
// and the other free functions are safe to call from any goroutine.
package ipam

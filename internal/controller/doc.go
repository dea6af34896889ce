// Package controller is ironlb's controller: it gives LoadBalancer Services
// their addresses and reports what it did on the Services and on the
// configuration objects. The hard decisions live in pure packages
// (internal/config builds the configuration, internal/ipam allocates); this
// package gathers their inputs from the API server and writes their results
// back.
//
// # Parts
//
//   - The configuration source watches the six configuration kinds and the
//     Secrets of the ironlb namespace (Options.Namespace) and the legacy
//     ConfigMap (Options.ConfigMap), builds a Snapshot with config.Build
//     (passing the previous one, so an invalid edit keeps the last valid
//     version in use), publishes it, and gives its pools to the allocator.
//     Problems of legacy entries become Events on the ConfigMap.
//   - The Service controller handles Services of type LoadBalancer without
//     spec.loadBalancerClass, or with exactly Options.LoadBalancerClass when
//     set. For each it writes status.loadBalancer.ingress (one entry per
//     address, in the allocation's family order, ipMode VIP), the status
//     condition ConditionIPAllocated (reason ReasonIPAllocated or
//     ReasonAllocationFailed with the allocator's explanation) and the
//     AnnotationAllocatedFromPool annotation, with one request to the status
//     subresource. Events (ReasonIPAllocated, ReasonAllocationFailed,
//     ReasonIPChanged, ReasonIPReleased) are recorded only when what the
//     Service shows changes, so resyncs record nothing.
//   - Status controllers keep each configuration object's Valid condition
//     (from the last build) current and, for IPAddressPools, the address
//     counts and the Exhausted condition; they write only changes, and a
//     change of verdict becomes an Event on the object.
//
// # Allocation state
//
// The allocator's state lives in memory only. Calls to it are serialized by
// a mutex, so several Service workers run at once and their status writes
// overlap. Services that could not get an address are remembered and
// queued again whenever addresses may have become free: a release, a
// Service moving to other addresses, a configuration change.
//
// Addresses are released when the Service controller sees a Service gone,
// no longer a LoadBalancer, or of another class. There is no finalizer:
// a finalizer would cost a write per Service and block Service deletion
// while the controller is down, and nothing is lost without one, because
// the state is rebuilt from the Services themselves on start.
//
// # Start-up and leader election
//
// Only the leader (a Lease in the ironlb namespace, released when the
// manager stops so a standby takes over at once) allocates. Before it
// allocates anything it builds the configuration and records in the
// allocator every address that managed Services show in their status,
// oldest Service first; only then do the reconcilers run. Services are
// listed from the API server for this, not from the cache, because right
// after a change of leader the cache may miss the last statuses the
// previous leader wrote. So a restart or a failover changes no address and
// writes nothing. A Service whose address is no longer valid gets a new one
// with an IPChanged Event.
//
// Status writes carry the resourceVersion they were computed from: a write
// based on a stale cache fails with a conflict and is retried once the cache
// has caught up, instead of overwriting newer data.
//
// # Operations
//
// NewManager configures controller-runtime's manager: cache limited to the
// objects the controller reads, client rate limits (Options.KubeAPIQPS and
// KubeAPIBurst), leader election, /healthz and /readyz, and /metrics on
// controller-runtime's registry (internal/metrics defines the allocator's
// metrics, the Services waiting for addresses among them, and the count of
// configuration objects by state, set after every build). Run is what
// `ironlb controller` calls.
package controller

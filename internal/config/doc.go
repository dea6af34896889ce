// Package config turns ironlb's configuration — the ironlb.io CRs, the
// Secrets they name and the legacy MetalLB ConfigMap — into one immutable,
// validated Snapshot. Build is a pure function (no client, no I/O), so every
// rule is table-tested without a cluster; the controller gathers the inputs,
// calls Build and writes back the conditions and Events of Result.Statuses.
//
// # Sources
//
// CRs of the six configuration kinds (IPAddressPool, L2Advertisement,
// BGPAdvertisement, BGPPeer, BFDProfile, Community) and, optionally, the
// legacy ConfigMap (default ironlb-system/config, key "config") in MetalLB's
// v0.10–v0.12 format. The legacy configuration is converted into the same
// kinds (ConvertLegacy: one IPAddressPool per pool, an L2Advertisement per
// layer2 pool, BGPAdvertisements per bgp pool, a BGPPeer per peer, ...) and
// validated by the same code; its problems name the legacy entry
// ("ConfigMap ironlb-system/config address-pools[2]") and use the legacy
// key names ("addresses[1]", "hold-time").
//
// # Rules
//
// Each object is checked on its own (addresses, ranges, ASNs, timers,
// selectors, community values, BFD intervals, ...) and against the others:
// names are unique per kind across both sources; pools do not overlap;
// advertisements name existing pools, peers and community aliases; BGP
// aggregation lengths are not shorter than a pool's own CIDRs (per family:
// aggregationLength for IPv4, aggregationLengthV6 for IPv6); two peers do
// not open the same session (address or interface, port, VRF) from nodes
// both may select; a BGPPeer's BFD profile and password Secret exist; two
// advertisements do not send the same route to the same peer with different
// LOCAL_PREF values.
//
// # Invalid objects
//
// A broken object never takes working Services down. Every object is
// judged on its own, never the configuration as a whole:
//
//   - An invalid object is left out of the Snapshot. If Input.Previous holds
//     a version of the same kind and name, that last valid version stays in
//     the Snapshot instead (in a cluster, Previous is the accepted
//     configuration the controller records for every process: see
//     internal/configread and Encode), marked Origin.Stale with the problems attached:
//     a bad edit to a pool keeps serving the pool's addresses, a bad edit to
//     a peer keeps its session. A new object that is invalid is simply left
//     out. A legacy ConfigMap that does not parse at all keeps every object
//     previously converted from it.
//   - When two objects conflict (overlapping pools, the same name, the same
//     peer session, a community alias defined twice, clashing LOCAL_PREF),
//     one stays and the other is excluded with a reason naming the winner.
//     An object already in use with the same value wins, so an edit never
//     pushes out something that works; otherwise the older one wins: legacy
//     objects count as oldest (in the order written), then CRs by
//     creationTimestamp, then by name. An excluded object falls back to its
//     previous version when that one does not conflict.
//   - An object that refers to an excluded object stays valid; the
//     reference is reported as a warning and ignored (a pool the
//     advertisement skips, a peer without BFD, a community left off). A
//     reference to something that does not exist at all is an error of the
//     referring object.
//
// Result.Statuses carries, for every input object, the Valid condition to
// set (Status, a CamelCase Reason from api/v1beta1, a message naming the
// field, the bad value and what would be valid) and whether a stale
// version is in use.
//
// # Offline checks
//
// In a cluster the API server judges each CR before Build sees it; offline
// (`ironlb config validate`, `config convert`) nothing does, so CheckCR
// stands in for it: it runs the API server's own validation code from
// k8s.io/apiextensions-apiserver on the CRDs of config/crd/bases, embedded
// in the binary (strict unknown fields, metadata, OpenAPI schema, list
// types, CEL), and reports the same errors as FieldErrors. Manifests judges
// every CR of a file with it and gives Build only what the API server would
// store; ConvertLegacy judges every object it converts with it, so it
// never returns an object the API server refuses without saying so. A test
// compares CheckCR and the whole offline verdict with a real API server
// (and the webhook) on the documentation's examples and generated variants.
//
// # Address counts
//
// Pool.IPv4Count and IPv6Count return *big.Int: an IPv6 pool can hold up to
// 2^128 addresses, more than any fixed-size integer. Callers that need a
// bounded number saturate themselves.
package config

// Package speaker is the node side of ironlb: one speaker per node decides,
// for every LoadBalancer Service address, which node answers ARP/NDP for it
// (layer 2 mode), answering when that node is its own, and which routes
// this node announces to which BGP peers (BGP mode).
//
// # Shape
//
// The decision is the pure function decide.Decide; this package gathers its
// inputs from a controller-runtime cache and applies its result:
//
//   - inputs: the configuration (the same config.Build as the controller,
//     from the CRs and the legacy ConfigMap of the ironlb namespace), the
//     Nodes (labels, NetworkUnavailable, the AnnotationL2Subnets each
//     speaker publishes for its own node), the LoadBalancer Services of the
//     handled class with their status addresses, the EndpointSlices (ready
//     endpoints per node, for externalTrafficPolicy: Local) and the live
//     speakers (package membership: memberlist, or the Nodes' Ready
//     condition when memberlist cannot run);
//   - outputs: one layer2.Interface per interface the node answers on
//     (opened when first needed, closed when unused), one ServiceL2Status
//     per Service the node announces, an AnnouncingNodeChanged Event when
//     the node takes a Service over, and the ironlb_layer2_* metrics;
//   - the ConditionAnnounced condition on each Service this node reports
//     (the speaker elected for the Service's first address among the live
//     ones, so one writes per Service): True when every address in a pool
//     is announced, in layer 2 or over BGP (decide.Cover), False naming
//     the addresses that are not and why; NotAnnounced and Announced
//     Events when a write changes it (once per change: each write is a
//     merge patch with the resourceVersion read); and
//     ironlb_speaker_services_not_announced;
//   - ironlb_speaker_announced{service,ip,protocol,node}: 1 per Service
//     address this node announces, in layer 2 (elected for it) or over
//     BGP (a route covers it), from each recomputation's decisions
//     (announcedMetrics: two lists swapped atomically, read at scrape
//     time), so a Service deleted or moved leaves no series behind;
//   - BGP outputs (decide.DecideBGP): one bgp.Speaker per process, given
//     the whole set of peers and routes on every recomputation (it applies
//     only the difference); one ServiceBGPStatus per Service this node
//     announces over BGP, naming the peers; BGPSessionUp / BGPSessionDown
//     Events on the Node when a session enters or leaves Established;
//     BGPPeerNotRun on the Node when a BGPPeer selecting it cannot be run
//     there (once per change); InvalidBGPCommunities on a Service whose ironlb.io/bgp-communities
//     annotation has entries that were skipped (once per value); and the
//     ironlb_bgp_* and ironlb_bfd_* metrics. BGPPeers with spec.interface
//     (unnumbered) or dynamicASN external never reach it (config.Build
//     reports them NotSupported); its own check of them stays as a guard.
//     Routes of the family other than a session's go to it only
//     with dualStackAddressFamily, with the Node's InternalIP of that
//     family as next hop.
//
// Every change of an input (filtered to what can matter) and every
// membership change wakes one recomputation of everything; bursts of events
// coalesce. The responders are updated before anything is written to the
// API server, which happens on a goroutine of its own, so a slow API server
// never delays a failover.
//
// # Lifecycle
//
// At start the speaker waits for its Node, publishes its interfaces,
// reads the memberlist Secret, starts memberlist and joins the other
// speakers (the InternalIP of every Node carrying the annotation), then
// decides, and keeps the members it sees in a second Node annotation
// (AnnotationMembers, for `ironlb doctor`). When the memberlist Secret
// changes it rotates the gossip to the new key without cutting any
// speaker off (membership.Gossip.SetKey). Syncs are paced during bursts
// of object changes (a pause as long as the last sync after one of 5 ms or
// more), never after a membership change. When it stops it leaves
// memberlist first — the others take its addresses over at once and
// announce them — then stops answering, deletes its ServiceL2Statuses and
// removes its annotations (so, with the Node readiness fallback too, a
// stopped speaker is not elected any more).
//
// BGP sessions end with the speaker too: those to peers without graceful
// restart are closed, which withdraws their routes at once; those to peers
// with enableGracefulRestart stay open until the process exits, so they
// end without a NOTIFICATION and the router keeps the routes (stale) until
// the speaker is back and announces again, or the restart time (120 s)
// passes. ServiceBGPStatuses are deleted either way.
//
// /readyz succeeds once the first decision is applied and while every
// responder is up.
package speaker

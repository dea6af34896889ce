// Package speaker is the node side of ironlb's layer 2 mode: one speaker
// per node decides, for every LoadBalancer Service address, which node
// answers ARP/NDP for it, and answers when that node is its own.
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
//     the node takes a Service over, and the ironlb_layer2_* metrics.
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
// decides. When it stops it leaves memberlist first — the others take its
// addresses over at once and announce them — then stops answering, deletes
// its ServiceL2Statuses and removes its annotation (so, with the Node
// readiness fallback too, a stopped speaker is not elected any more).
//
// /readyz succeeds once the first decision is applied and while every
// responder is up.
package speaker

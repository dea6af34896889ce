// Package metrics defines ironlb's Prometheus collectors. Names follow
// ironlb_<subsystem>_<name>_<unit>: gauges never end in _total, counters
// always do.
//
// There are no package-level collectors: each constructor takes the
// prometheus.Registerer to register on (in the binaries, controller-runtime's
// sigs.k8s.io/controller-runtime/pkg/metrics.Registry, served by the manager's
// metrics endpoint), so tests and several managers in one process each get
// their own set.
package metrics

package metrics

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Names of the allocator's metrics.
const (
	AllocatorAddresses                 = "ironlb_allocator_addresses"
	AllocatorAddressesInUse            = "ironlb_allocator_addresses_in_use"
	AllocatorServicesAllocated         = "ironlb_allocator_services_allocated"
	AllocatorServicesPending           = "ironlb_allocator_services_pending"
	AllocatorAllocationsTotal          = "ironlb_allocator_allocations_total"
	AllocatorAllocationFailuresTotal   = "ironlb_allocator_allocation_failures_total"
	AllocatorAllocationDurationSeconds = "ironlb_allocator_allocation_duration_seconds"
)

// Allocator holds the controller's address-allocation metrics:
//
//   - ironlb_allocator_addresses{pool,family}: gauge, usable addresses of a
//     pool (assigned plus available; saturates at 2^63-1 for huge IPv6
//     pools).
//   - ironlb_allocator_addresses_in_use{pool,family}: gauge, addresses of a
//     pool held by at least one Service.
//   - ironlb_allocator_services_allocated: gauge, Services holding at least
//     one address.
//   - ironlb_allocator_services_pending{reason}: gauge, Services without
//     all the addresses they need (their IPAllocated condition is False),
//     by the reason of their last failed allocation.
//   - ironlb_allocator_allocations_total: counter, allocations that gave a
//     Service addresses it did not hold before.
//   - ironlb_allocator_allocation_failures_total{reason}: counter, failed
//     allocations by the allocator's CamelCase reason (PoolExhausted, ...).
//   - ironlb_allocator_allocation_duration_seconds: histogram, time of one
//     allocation decision, waiting for the allocator included.
//
// Its methods are safe for concurrent use. A nil *Allocator ignores every
// call, so callers need no metrics in tests.
type Allocator struct {
	addresses *prometheus.GaugeVec
	inUse     *prometheus.GaugeVec
	services  prometheus.Gauge
	pending   *prometheus.GaugeVec
	allocs    prometheus.Counter
	failures  *prometheus.CounterVec
	duration  prometheus.Histogram
}

// NewAllocator creates the allocator metrics and registers them on reg.
// It fails when reg already holds collectors of the same names.
func NewAllocator(reg prometheus.Registerer) (*Allocator, error) {
	m := &Allocator{
		addresses: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: AllocatorAddresses,
			Help: "Usable addresses of an address pool, per family.",
		}, []string{"pool", "family"}),
		inUse: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: AllocatorAddressesInUse,
			Help: "Addresses of an address pool held by at least one Service, per family.",
		}, []string{"pool", "family"}),
		services: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: AllocatorServicesAllocated,
			Help: "LoadBalancer Services holding at least one address.",
		}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: AllocatorServicesPending,
			Help: "LoadBalancer Services without all the addresses they need (condition ironlb.io/IPAllocated False), by the reason of their last failed allocation.",
		}, []string{"reason"}),
		allocs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: AllocatorAllocationsTotal,
			Help: "Allocations that gave a Service addresses it did not hold before.",
		}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: AllocatorAllocationFailuresTotal,
			Help: "Failed allocations, by reason.",
		}, []string{"reason"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    AllocatorAllocationDurationSeconds,
			Help:    "Time of one allocation decision, including the wait for the allocator.",
			Buckets: prometheus.ExponentialBuckets(1e-6, 4, 12), // 1µs .. ~4s
		}),
	}
	var (
		errs []error
		done []prometheus.Collector
	)
	for _, c := range m.collectors() {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, c)
	}
	if err := errors.Join(errs...); err != nil {
		// Unregistering matches by description, so remove only what this
		// call added: the clashing collectors belong to someone else.
		for _, c := range done {
			reg.Unregister(c)
		}
		return nil, fmt.Errorf("metrics: registering allocator metrics: %w", err)
	}
	return m, nil
}

// Unregister removes the metrics from reg.
func (m *Allocator) Unregister(reg prometheus.Registerer) {
	if m == nil {
		return
	}
	for _, c := range m.collectors() {
		reg.Unregister(c)
	}
}

func (m *Allocator) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.addresses, m.inUse, m.services, m.pending, m.allocs, m.failures, m.duration}
}

// SetPool sets the address counts of one family of a pool.
func (m *Allocator) SetPool(pool, family string, addresses, inUse int64) {
	if m == nil {
		return
	}
	m.addresses.WithLabelValues(pool, family).Set(float64(addresses))
	m.inUse.WithLabelValues(pool, family).Set(float64(inUse))
}

// DeletePool removes every series of a pool that no longer exists.
func (m *Allocator) DeletePool(pool string) {
	if m == nil {
		return
	}
	m.addresses.DeletePartialMatch(prometheus.Labels{"pool": pool})
	m.inUse.DeletePartialMatch(prometheus.Labels{"pool": pool})
}

// SetServicesAllocated sets how many Services hold addresses.
func (m *Allocator) SetServicesAllocated(n int) {
	if m == nil {
		return
	}
	m.services.Set(float64(n))
}

// SetServicesPending sets how many Services wait for addresses because
// of reason. The caller sets every reason it may report, 0 included,
// before the first failure: Prometheus then knows the series on a healthy
// cluster, and a reason whose Services all got their addresses shows 0
// instead of vanishing. The reasons are a fixed, small set, so no series
// is ever deleted.
func (m *Allocator) SetServicesPending(reason string, n int) {
	if m == nil {
		return
	}
	m.pending.WithLabelValues(reason).Set(float64(n))
}

// ObserveAllocation records one allocation decision that took d. failReason
// is empty on success; then changed says whether the Service got addresses
// it did not hold before (only those count as allocations).
func (m *Allocator) ObserveAllocation(d time.Duration, changed bool, failReason string) {
	if m == nil {
		return
	}
	m.duration.Observe(d.Seconds())
	switch {
	case failReason != "":
		m.failures.WithLabelValues(failReason).Inc()
	case changed:
		m.allocs.Inc()
	}
}

package configread

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ironlb/ironlb/internal/config"
)

// Names of the configuration metrics every process exposes: comparing them
// across the controller and the speakers shows whether all of them run the
// same configuration.
const (
	// MetricAcceptedGeneration is the generation of the accepted
	// configuration record the process last built on (0: none yet).
	MetricAcceptedGeneration = "ironlb_config_accepted_generation"
	// MetricSnapshotInfo has value 1 and the label digest: the
	// config.Snapshot.Digest of the configuration in use.
	MetricSnapshotInfo = "ironlb_config_snapshot_info"
)

// Metrics reports which configuration a process runs.
type Metrics struct {
	generation prometheus.Gauge
	info       *prometheus.GaugeVec

	mu     sync.Mutex
	digest string
}

// NewMetrics registers the configuration metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		generation: prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricAcceptedGeneration,
			Help: "Generation of the accepted configuration record (Secret " + AcceptedSecretName + ") this process last built on; 0 before the controller wrote one."}),
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricSnapshotInfo,
			Help: "The configuration in use, identified by the digest of its content (equal in every process that runs the same configuration); always 1."},
			[]string{"digest"}),
	}
	for _, c := range []prometheus.Collector{m.generation, m.info} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Observe records that the process runs snap, built on the record of
// generation gen (or that it wrote as gen). A nil Metrics records nothing.
func (m *Metrics) Observe(gen int64, snap *config.Snapshot) {
	if m == nil {
		return
	}
	d := snap.Digest()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.generation.Set(float64(gen))
	if d != m.digest {
		m.info.Reset()
		m.info.WithLabelValues(d).Set(1)
		m.digest = d
	}
}

package metrics

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// ConfigObjects is the name of the controller's gauge of configuration
// objects by kind and state.
const ConfigObjects = "ironlb_config_objects"

// States of a configuration object, the values of the state label of
// ironlb_config_objects.
const (
	// StateValid: the object is valid (warnings allowed) and its current
	// version is what the configuration uses.
	StateValid = "valid"
	// StateStale: the current version is invalid and the last valid
	// version stays in use until it is fixed.
	StateStale = "stale"
	// StateInvalid: the object is invalid and no version of it is in use.
	StateInvalid = "invalid"
)

// States lists every state, in the order of their meaning: fine, kept,
// left out.
func States() []string { return []string{StateValid, StateStale, StateInvalid} }

// ObjectCount is one series of ironlb_config_objects.
type ObjectCount struct {
	Kind, State string
}

// ConfigStatus holds ironlb_config_objects{kind,state}, a gauge of the
// configuration objects the last build judged, by kind and state. Every
// kind given to NewConfigStatus has a series for each state from the start
// (0 until counted), so the gauge is known to Prometheus before anything
// is invalid. Its methods are safe for concurrent use; a nil *ConfigStatus
// ignores every call.
type ConfigStatus struct {
	objects *prometheus.GaugeVec

	mu sync.Mutex // guards the fields below and orders Set calls
	// fixed are the series of the kinds given to NewConfigStatus: always
	// exported.
	fixed map[ObjectCount]bool
	// extra are the series of other kinds the last Set exported; the
	// next Set deletes those it does not count, so no label value
	// outlives its objects.
	extra map[ObjectCount]bool
}

// NewConfigStatus creates ironlb_config_objects with a zero series for
// every state of every kind, and registers it on reg.
func NewConfigStatus(reg prometheus.Registerer, kinds []string) (*ConfigStatus, error) {
	m := &ConfigStatus{
		objects: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: ConfigObjects,
			Help: "Configuration objects by kind and state: valid, stale (invalid, its last valid version in use) or invalid (not in use), as judged by the last build.",
		}, []string{"kind", "state"}),
		fixed: map[ObjectCount]bool{},
		extra: map[ObjectCount]bool{},
	}
	for _, k := range kinds {
		for _, s := range States() {
			m.fixed[ObjectCount{k, s}] = true
			m.objects.WithLabelValues(k, s).Set(0)
		}
	}
	if err := reg.Register(m.objects); err != nil {
		return nil, fmt.Errorf("metrics: registering %s: %w", ConfigObjects, err)
	}
	return m, nil
}

// Unregister removes the metric from reg.
func (m *ConfigStatus) Unregister(reg prometheus.Registerer) {
	if m == nil {
		return
	}
	reg.Unregister(m.objects)
}

// Set replaces every count by those of one build. A series not in counts
// becomes 0 (a kind given to NewConfigStatus) or is deleted (any other
// kind). Series are overwritten in place, never reset all at once, so a
// scrape during Set sees no gap.
func (m *ConfigStatus) Set(counts map[ObjectCount]int) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	extra := map[ObjectCount]bool{}
	for c, n := range counts {
		m.objects.WithLabelValues(c.Kind, c.State).Set(float64(n))
		if !m.fixed[c] {
			extra[c] = true
		}
	}
	for c := range m.fixed {
		if _, ok := counts[c]; !ok {
			m.objects.WithLabelValues(c.Kind, c.State).Set(0)
		}
	}
	for c := range m.extra {
		if !extra[c] {
			m.objects.DeleteLabelValues(c.Kind, c.State)
		}
	}
	m.extra = extra
}

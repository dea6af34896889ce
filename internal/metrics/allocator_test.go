package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// gather returns the metric families of reg by name.
func gather(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	out := make(map[string]*dto.MetricFamily, len(mfs))
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

func TestAllocatorNamesAndTypes(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewAllocator(reg)
	if err != nil {
		t.Fatal(err)
	}
	// Every vector needs one series to be gathered.
	m.SetPool("default", "IPv4", 16, 3)
	m.SetServicesAllocated(3)
	m.SetServicesPending("PoolExhausted", 1)
	m.ObserveAllocation(time.Millisecond, true, "")
	m.ObserveAllocation(time.Millisecond, false, "PoolExhausted")

	want := map[string]dto.MetricType{
		AllocatorAddresses:                 dto.MetricType_GAUGE,
		AllocatorAddressesInUse:            dto.MetricType_GAUGE,
		AllocatorServicesAllocated:         dto.MetricType_GAUGE,
		AllocatorServicesPending:           dto.MetricType_GAUGE,
		AllocatorAllocationsTotal:          dto.MetricType_COUNTER,
		AllocatorAllocationFailuresTotal:   dto.MetricType_COUNTER,
		AllocatorAllocationDurationSeconds: dto.MetricType_HISTOGRAM,
	}
	got := map[string]dto.MetricType{}
	for name, mf := range gather(t, reg) {
		got[name] = mf.GetType()
		if !strings.HasPrefix(name, "ironlb_allocator_") {
			t.Errorf("%s: want prefix ironlb_allocator_", name)
		}
		switch mf.GetType() {
		case dto.MetricType_GAUGE:
			if strings.HasSuffix(name, "_total") {
				t.Errorf("gauge %s ends in _total", name)
			}
		case dto.MetricType_COUNTER:
			if !strings.HasSuffix(name, "_total") {
				t.Errorf("counter %s does not end in _total", name)
			}
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("metrics (-want +got):\n%s", d)
	}
}

func TestAllocatorValues(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewAllocator(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.SetPool("a", "IPv4", 16, 3)
	m.SetPool("a", "IPv6", 256, 1)
	m.SetPool("b", "IPv4", 8, 0)
	m.ObserveAllocation(time.Millisecond, true, "")
	m.ObserveAllocation(time.Millisecond, false, "") // a re-check: no allocation
	m.ObserveAllocation(time.Millisecond, false, "PoolExhausted")
	m.ObserveAllocation(time.Millisecond, false, "PoolExhausted")
	m.DeletePool("b")
	m.SetServicesPending("PoolExhausted", 0)
	m.SetServicesPending("IPNotInPool", 2)
	m.SetServicesPending("IPNotInPool", 1)

	mfs := gather(t, reg)
	series := func(name string) map[string]float64 {
		out := map[string]float64{}
		for _, s := range mfs[name].GetMetric() {
			var key []string
			for _, l := range s.GetLabel() {
				key = append(key, l.GetName()+"="+l.GetValue())
			}
			v := s.GetGauge().GetValue() + s.GetCounter().GetValue() + float64(s.GetHistogram().GetSampleCount())
			out[strings.Join(key, ",")] = v
		}
		return out
	}
	tests := []struct {
		name string
		want map[string]float64
	}{
		{AllocatorAddresses, map[string]float64{"family=IPv4,pool=a": 16, "family=IPv6,pool=a": 256}},
		{AllocatorAddressesInUse, map[string]float64{"family=IPv4,pool=a": 3, "family=IPv6,pool=a": 1}},
		{AllocatorServicesPending, map[string]float64{"reason=IPNotInPool": 1, "reason=PoolExhausted": 0}},
		{AllocatorAllocationsTotal, map[string]float64{"": 1}},
		{AllocatorAllocationFailuresTotal, map[string]float64{"reason=PoolExhausted": 2}},
		{AllocatorAllocationDurationSeconds, map[string]float64{"": 4}},
	}
	for _, tt := range tests {
		if d := cmp.Diff(tt.want, series(tt.name)); d != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, d)
		}
	}
}

func TestNilAllocatorIgnoresCalls(t *testing.T) {
	var m *Allocator
	m.SetPool("a", "IPv4", 1, 1)
	m.DeletePool("a")
	m.SetServicesAllocated(1)
	m.SetServicesPending("PoolExhausted", 1)
	m.ObserveAllocation(time.Second, true, "")
	m.Unregister(prometheus.NewRegistry())
}

func TestAllocatorFailedRegisterKeepsOthers(t *testing.T) {
	reg := prometheus.NewRegistry()
	first, err := NewAllocator(reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewAllocator(reg); err == nil {
		t.Fatal("second NewAllocator on one registry: want an error")
	}
	first.SetServicesAllocated(2)
	if _, ok := gather(t, reg)[AllocatorServicesAllocated]; !ok {
		t.Fatalf("the failed registration removed the first set's %s", AllocatorServicesAllocated)
	}
}

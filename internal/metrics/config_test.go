package metrics

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// configSeries returns the series of ironlb_config_objects as
// "kind/state" → value.
func configSeries(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mf, ok := gather(t, reg)[ConfigObjects]
	if !ok {
		t.Fatalf("%s is not exported", ConfigObjects)
	}
	if mf.GetType() != dto.MetricType_GAUGE || strings.HasSuffix(mf.GetName(), "_total") {
		t.Errorf("%s: type %s", ConfigObjects, mf.GetType())
	}
	out := map[string]float64{}
	for _, s := range mf.GetMetric() {
		l := map[string]string{}
		for _, p := range s.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		out[l["kind"]+"/"+l["state"]] = s.GetGauge().GetValue()
	}
	return out
}

// TestConfigStatusIsExact: every state of every kind is exported at 0
// before the first build; each Set replaces the counts, so fixed objects
// go back to 0 and a kind not announced up front leaves no series behind.
func TestConfigStatusIsExact(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewConfigStatus(reg, []string{"IPAddressPool", "BGPPeer"})
	if err != nil {
		t.Fatal(err)
	}
	zeros := map[string]float64{
		"IPAddressPool/valid": 0, "IPAddressPool/stale": 0, "IPAddressPool/invalid": 0,
		"BGPPeer/valid": 0, "BGPPeer/stale": 0, "BGPPeer/invalid": 0,
	}
	if d := cmp.Diff(zeros, configSeries(t, reg)); d != "" {
		t.Errorf("before any build (-want +got):\n%s", d)
	}

	m.Set(map[ObjectCount]int{
		{"IPAddressPool", StateValid}: 2, {"IPAddressPool", StateStale}: 1,
		{"BGPPeer", StateInvalid}: 1, {"Other", StateInvalid}: 3,
	})
	want := map[string]float64{
		"IPAddressPool/valid": 2, "IPAddressPool/stale": 1, "IPAddressPool/invalid": 0,
		"BGPPeer/valid": 0, "BGPPeer/stale": 0, "BGPPeer/invalid": 1,
		"Other/invalid": 3,
	}
	if d := cmp.Diff(want, configSeries(t, reg)); d != "" {
		t.Errorf("after a build with problems (-want +got):\n%s", d)
	}

	// Fixed and deleted: back to the zeros, Other gone.
	m.Set(map[ObjectCount]int{{"IPAddressPool", StateValid}: 3})
	zeros["IPAddressPool/valid"] = 3
	if d := cmp.Diff(zeros, configSeries(t, reg)); d != "" {
		t.Errorf("after the fix (-want +got):\n%s", d)
	}

	if _, err := NewConfigStatus(reg, nil); err == nil {
		t.Error("a second NewConfigStatus on one registry: want an error")
	}
	m.Unregister(reg)
	if _, ok := gather(t, reg)[ConfigObjects]; ok {
		t.Errorf("%s still exported after Unregister", ConfigObjects)
	}
}

func TestNilConfigStatusIgnoresCalls(t *testing.T) {
	var m *ConfigStatus
	m.Set(map[ObjectCount]int{{"IPAddressPool", StateValid}: 1})
	m.Unregister(prometheus.NewRegistry())
}

package speaker

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ironlb/ironlb/internal/configread"
	"github.com/ironlb/ironlb/internal/layer2"
)

// TestMetricsDocumented keeps docs/metrics.md true: every metric the
// speaker registers is listed there with its name in backquotes.
func TestMetricsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	descs := make(chan *prometheus.Desc, 100)
	go func() {
		for _, c := range append([]prometheus.Collector{
			newLayer2Collector(&layer2.Counters{}, nil, nil), newNotAnnouncedGauge(nil),
			newAnnouncedCollector(&announcedMetrics{}, "n1"), newBGPCollector(nil), newMemberlistCollector(nil),
		}, newFencedGauges(&fencedCounts{})...) {
			c.Describe(descs)
		}
		close(descs)
	}()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	n := 0
	for d := range descs {
		m := fqName.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("no fqName in %s", d)
		}
		n++
		if !strings.Contains(string(doc), "`"+m[1]+"`") {
			t.Errorf("%s is not listed in docs/metrics.md", m[1])
		}
	}
	if n < 20 {
		t.Errorf("read %d metric names, want the speaker's 20 or more", n)
	}
	for _, name := range []string{configread.MetricAcceptedGeneration, configread.MetricSnapshotInfo} {
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("%s is not listed in docs/metrics.md", name)
		}
	}
}

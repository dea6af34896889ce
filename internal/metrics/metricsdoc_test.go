package metrics

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestMetricsDocumented keeps docs/metrics.md true: every metric this
// package registers is listed there with its name in backquotes (the
// speaker's own test does the same for the speaker's metrics).
func TestMetricsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	alloc, err := NewAllocator(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	cs, err := NewConfigStatus(prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	descs := make(chan *prometheus.Desc, 100)
	go func() {
		for _, c := range append(alloc.collectors(), cs.objects) {
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
	if n < 8 {
		t.Errorf("read %d metric names, want the package's 8 or more", n)
	}
}

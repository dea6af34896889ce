package monitoring

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/ironlb/ironlb/internal/testkit"
)

func repoFile(t *testing.T, rel string) string {
	t.Helper()
	root, err := testkit.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, filepath.FromSlash(rel))
}

// promtool runs the pinned promtool in dir and returns its combined
// output; it fails t with that output when promtool fails.
func promtool(t *testing.T, dir string, args ...string) string {
	t.Helper()
	bin := testkit.Prometheus(t, "promtool")
	ctx, cancel := context.WithTimeout(t.Context(), testkit.Budget(10*time.Second))
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// TestAlertRules runs `promtool check rules` (syntax, templates, labels)
// and `promtool test rules` (config/prometheus/alerts_test.yaml: every
// alert firing and not firing) with the pinned promtool.
//
// Seen failing, each time on IronlbServiceWithoutAddress when it still
// watched the allocation failure counter (it now reads the gauge
// ironlb_allocator_services_pending): its new-series
// term without `> 0` fired on a counter still at 0 ("alertname:
// IronlbServiceWithoutAddress, time: 5m, exp:[], got:[... reason=
// "IPNotInPool" ...]"); reduced to its increase() term it missed a
// counter born with the first failure ("time: 12m, exp:[...
// reason="PoolExhausted" ...], got:[]").
func TestAlertRules(t *testing.T) {
	dir := filepath.Dir(repoFile(t, RulesFile))
	promtool(t, dir, "check", "rules", filepath.Base(RulesFile))
	out := promtool(t, dir, "test", "rules", filepath.Base(RulesTestFile))
	t.Logf("promtool test rules:\n%s", out)
}

// ruleTests is the part of a promtool test file TestEveryAlertIsTested
// reads.
type ruleTests struct {
	Tests []struct {
		AlertRuleTest []struct {
			Alertname string `json:"alertname"`
			ExpAlerts []any  `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

// TestEveryAlertIsTested: each alert of the rule file has a unit test
// where it fires and one where it does not, and no test names an alert
// that does not exist.
func TestEveryAlertIsTested(t *testing.T) {
	rules, err := LoadRules(repoFile(t, RulesFile))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(repoFile(t, RulesTestFile))
	if err != nil {
		t.Fatal(err)
	}
	var tests ruleTests
	if err := yaml.Unmarshal(b, &tests); err != nil {
		t.Fatal(err)
	}
	firing, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				firing[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	var names []string
	for _, a := range rules.Alerts() {
		names = append(names, a.Alert)
		if !firing[a.Alert] {
			t.Errorf("alert %s has no unit test where it fires (%s)", a.Alert, RulesTestFile)
		}
		if !quiet[a.Alert] {
			t.Errorf("alert %s has no unit test where it does not fire (%s)", a.Alert, RulesTestFile)
		}
		if a.Labels["severity"] == "" || a.Annotations["summary"] == "" || a.Annotations["description"] == "" {
			t.Errorf("alert %s lacks a severity label, a summary or a description", a.Alert)
		}
	}
	for name := range firing {
		if !slices.Contains(names, name) {
			t.Errorf("%s tests alert %s, which %s does not define", RulesTestFile, name, RulesFile)
		}
	}
	if len(names) == 0 {
		t.Fatalf("%s defines no alerts", RulesFile)
	}
}

// TestDashboardShape checks what makes the dashboard importable and
// portable: a uid, the data source variable, every panel and target on
// that variable, unique panel ids, and a query in every target.
func TestDashboardShape(t *testing.T) {
	d, err := LoadDashboard(repoFile(t, DashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard uid %q, title %q: both are needed for a stable import", d.UID, d.Title)
	}
	hasVar := false
	for _, v := range d.Templating.List {
		if v.Name == DatasourceVar && v.Type == "datasource" && v.Query == "prometheus" {
			hasVar = true
		}
	}
	if !hasVar {
		t.Errorf("no template variable %q of type datasource (query prometheus)", DatasourceVar)
	}
	ids := map[int]string{}
	queries := 0
	for _, p := range d.AllPanels() {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != DatasourceUID {
			t.Errorf("panel %q: datasource %+v, want uid %s", p.Title, p.Datasource, DatasourceUID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			queries++
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q target %s has no expr", p.Title, tg.RefID)
			}
			if tg.Datasource == nil || tg.Datasource.UID != DatasourceUID {
				t.Errorf("panel %q target %s: datasource %+v, want uid %s", p.Title, tg.RefID, tg.Datasource, DatasourceUID)
			}
		}
	}
	if queries == 0 {
		t.Fatal("the dashboard has no queries")
	}
}

// TestDashboardQueriesParse hands every panel query, its Grafana macros
// expanded, to `promtool check rules` as a recording rule: Prometheus's
// own parser judges them without a server.
func TestDashboardQueriesParse(t *testing.T) {
	d, err := LoadDashboard(repoFile(t, DashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("groups:\n- name: dashboard\n  rules:\n")
	for i, q := range d.Queries() {
		fmt.Fprintf(&b, "  # %s\n  - record: dashboard:query_%d\n    expr: %q\n", q.Where, i, ExpandGrafana(q.Expr, "1m"))
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dashboard.yaml"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	promtool(t, dir, "check", "rules", "--lint=none", "dashboard.yaml")
}

// metricName finds ironlb's metric names in a query.
var metricName = regexp.MustCompile(`\bironlb_[a-z0-9_]+\b`)

// TestMetricsAreDocumented: every ironlb metric a panel or an alert
// queries is in docs/metrics.md, the list of what the code exports (its
// own tests keep it so). The e2e test TestMonitoring checks the same
// against the lab's Prometheus.
func TestMetricsAreDocumented(t *testing.T) {
	doc, err := os.ReadFile(repoFile(t, "docs/metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := LoadDashboard(repoFile(t, DashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := LoadRules(repoFile(t, RulesFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range append(d.Queries(), rules.Queries()...) {
		for _, name := range metricName.FindAllString(q.Expr, -1) {
			if !bytes.Contains(doc, []byte("`"+name+"`")) {
				t.Errorf("%s queries %s, which docs/metrics.md does not list", q.Where, name)
			}
		}
	}
}

func TestExpandGrafana(t *testing.T) {
	for in, want := range map[string]string{
		"rate(x[$__rate_interval])":   "rate(x[1m])",
		"rate(x[${__rate_interval}])": "rate(x[1m])",
		"increase(x[$__range])":       "increase(x[1m])",
		"x{a=\"$__intervals\"}":       "x{a=\"$__intervals\"}",
	} {
		if got := ExpandGrafana(in, "1m"); got != want {
			t.Errorf("ExpandGrafana(%q) = %q, want %q", in, got, want)
		}
	}
}

// Package monitoring reads ironlb's monitoring artefacts — the alerting
// rules (config/prometheus/alerts.yaml) and the Grafana dashboard
// (config/prometheus/ironlb-dashboard.json) — into the queries they run, so
// tests can check them: the promtool unit tests and the static checks of
// this package, and the end-to-end test that evaluates every query against
// the lab's Prometheus (test/e2e, TestMonitoring).
//
// Those files are the one source: `make generate` copies them into the Helm
// chart and dist/ (hack/render-manifests.sh). This package only reads them;
// it imports no Prometheus code, so the queries are parsed by the pinned
// promtool and Prometheus themselves.
package monitoring

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"
)

// Paths of the sources, relative to the repository root (slash-separated).
const (
	RulesFile     = "config/prometheus/alerts.yaml"
	RulesTestFile = "config/prometheus/alerts_test.yaml"
	DashboardFile = "config/prometheus/ironlb-dashboard.json"
)

// DatasourceVar is the dashboard's data source template variable; every
// panel and target names its data source as "${datasource}", so the
// dashboard works with whichever Prometheus the user picks.
const DatasourceVar = "datasource"

// grafanaMacro matches the interval macros Grafana expands in a query.
var grafanaMacro = regexp.MustCompile(`\$__(rate_interval|interval|range)\b|\$\{__(rate_interval|interval|range)\}`)

// Query is one PromQL expression of the dashboard or the rules, with where
// it comes from.
type Query struct {
	// Where names it for messages: `panel "Pool usage" target A` or
	// `alert IronlbBGPSessionDown`.
	Where string
	Expr  string
}

// Dashboard is the part of a Grafana dashboard the checks read.
type Dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []Panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query string `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// Panel is a dashboard panel; rows carry no targets.
type Panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *Datasource `json:"datasource"`
	Targets    []Target    `json:"targets"`
	// Panels are those of a collapsed row.
	Panels []Panel `json:"panels"`
}

// Target is one query of a panel.
type Target struct {
	RefID      string      `json:"refId"`
	Expr       string      `json:"expr"`
	Datasource *Datasource `json:"datasource"`
	Instant    bool        `json:"instant"`
}

// Datasource is a panel's or target's data source reference.
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// LoadDashboard reads a dashboard JSON file.
func LoadDashboard(path string) (*Dashboard, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	var d Dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("dashboard %s: %w", path, err)
	}
	return &d, nil
}

// AllPanels lists the panels, those inside collapsed rows included.
func (d *Dashboard) AllPanels() []Panel {
	var out []Panel
	var walk func([]Panel)
	walk = func(ps []Panel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// Queries lists every target's expression, as written (Grafana's macros
// unexpanded: see ExpandGrafana).
func (d *Dashboard) Queries() []Query {
	var out []Query
	for _, p := range d.AllPanels() {
		for _, t := range p.Targets {
			out = append(out, Query{Where: fmt.Sprintf("panel %q target %s", p.Title, t.RefID), Expr: t.Expr})
		}
	}
	return out
}

// ExpandGrafana replaces the interval macros Grafana expands before it
// sends a query ($__rate_interval, $__interval, $__range) with interval,
// so the expression can go to Prometheus as Grafana would send it.
func ExpandGrafana(expr, interval string) string {
	return grafanaMacro.ReplaceAllString(expr, interval)
}

// Rules is a Prometheus rule file.
type Rules struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []Rule `json:"rules"`
	} `json:"groups"`
}

// Rule is one alerting or recording rule.
type Rule struct {
	Alert       string            `json:"alert"`
	Record      string            `json:"record"`
	Expr        string            `json:"expr"`
	For         string            `json:"for"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// LoadRules reads a Prometheus rule file.
func LoadRules(path string) (*Rules, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	var r Rules
	if err := yaml.UnmarshalStrict(b, &r); err != nil {
		return nil, fmt.Errorf("rules %s: %w", path, err)
	}
	return &r, nil
}

// Alerts lists the alerting rules in file order.
func (r *Rules) Alerts() []Rule {
	var out []Rule
	for _, g := range r.Groups {
		for _, rule := range g.Rules {
			if rule.Alert != "" {
				out = append(out, rule)
			}
		}
	}
	return out
}

// Queries lists every alert's expression.
func (r *Rules) Queries() []Query {
	var out []Query
	for _, a := range r.Alerts() {
		out = append(out, Query{Where: "alert " + a.Alert, Expr: strings.TrimSpace(a.Expr)})
	}
	return out
}

// DatasourceUID is the data source uid every panel and target names.
const DatasourceUID = "${" + DatasourceVar + "}"

package manifests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/ironlb/ironlb/internal/monitoring"
)

var (
	rulesFile      = filepath.Join(repoRoot, filepath.FromSlash(monitoring.RulesFile))
	dashboardFile  = filepath.Join(repoRoot, filepath.FromSlash(monitoring.DashboardFile))
	distMonitoring = filepath.Join(repoRoot, "dist", "ironlb-monitoring.yaml")
	distDashboard  = filepath.Join(repoRoot, "dist", "ironlb-dashboard.json")
)

// wantRules is the rule file's content as the spec of a PrometheusRule
// must hold it.
func wantRules(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkMonitoring: b's PrometheusRule holds exactly the rule file and its
// dashboard ConfigMap exactly the dashboard, labelled for the Grafana
// sidecar.
func checkMonitoring(t *testing.T, b *bundle, where string) {
	t.Helper()
	rule := b.get(t, "PrometheusRule", "ironlb")
	if rule.GetAPIVersion() != "monitoring.coreos.com/v1" {
		t.Errorf("%s: PrometheusRule apiVersion %q", where, rule.GetAPIVersion())
	}
	if diff := cmp.Diff(wantRules(t), rule.Object["spec"]); diff != "" {
		t.Errorf("%s: PrometheusRule spec differs from %s (-file +rendered):\n%s", where, rulesFile, diff)
	}
	cm := b.get(t, "ConfigMap", "ironlb-grafana-dashboard")
	if cm.GetLabels()["grafana_dashboard"] != "1" {
		t.Errorf("%s: dashboard ConfigMap labels %v lack grafana_dashboard: \"1\"", where, cm.GetLabels())
	}
	got, _, _ := unstructuredString(cm.Object, "data", "ironlb-dashboard.json")
	if want := readString(t, dashboardFile); strings.TrimSpace(got) != strings.TrimSpace(want) {
		t.Errorf("%s: the ConfigMap's ironlb-dashboard.json differs from %s", where, dashboardFile)
	}
}

// TestChartMonitoring: the chart renders the PrometheusRule and the
// dashboard only when asked, from the same sources as dist/, with the
// extra labels and namespace given.
func TestChartMonitoring(t *testing.T) {
	t.Parallel()
	off := helmTemplate(t)
	if n := len(off.ofKind("PrometheusRule")); n != 0 {
		t.Errorf("the default chart renders %d PrometheusRules; it must be opt-in (prometheusRule.enabled)", n)
	}
	on := helmTemplate(t, "--set", "prometheusRule.enabled=true", "--set", "grafana.dashboard.enabled=true",
		"--set", "prometheusRule.labels.release=kps", "--set", "grafana.dashboard.namespace=monitoring")
	checkMonitoring(t, on, "helm template")
	if got := on.get(t, "PrometheusRule", "ironlb").GetLabels()["release"]; got != "kps" {
		t.Errorf("PrometheusRule label release = %q, want kps (prometheusRule.labels)", got)
	}
	if got := on.get(t, "ConfigMap", "ironlb-grafana-dashboard").GetNamespace(); got != "monitoring" {
		t.Errorf("dashboard ConfigMap namespace %q, want monitoring (grafana.dashboard.namespace)", got)
	}
}

// TestDistMonitoring: dist/ironlb-monitoring.yaml (kustomize's rendering of
// config/prometheus) holds the PodMonitors, the rules and the dashboard;
// dist/ironlb-dashboard.json is the dashboard itself. The PodMonitors
// scrape over HTTPS with the token of a ServiceAccount bound to the
// ClusterRole dist/ironlb.yaml ships for readers of the secure /metrics.
func TestDistMonitoring(t *testing.T) {
	t.Parallel()
	b := loadFile(t, distMonitoring)
	checkMonitoring(t, b, distMonitoring)
	secret := b.get(t, "Secret", "ironlb-metrics-scraper-token")
	sa := secret.GetAnnotations()["kubernetes.io/service-account.name"]
	b.get(t, "ServiceAccount", sa)
	binding := b.get(t, "ClusterRoleBinding", "ironlb-metrics-scraper")
	role, _, _ := unstructured.NestedString(binding.Object, "roleRef", "name")
	loadFile(t, distManifest).get(t, "ClusterRole", role)
	if subjects, _, _ := unstructured.NestedSlice(binding.Object, "subjects"); len(subjects) != 1 ||
		subjects[0].(map[string]any)["name"] != sa || subjects[0].(map[string]any)["namespace"] != namespace {
		t.Errorf("ClusterRoleBinding %s subjects %v, want ServiceAccount %s/%s", binding.GetName(), subjects, namespace, sa)
	}
	for _, name := range []string{"ironlb-controller", "ironlb-speaker"} {
		pm := b.get(t, "PodMonitor", name)
		eps, _, _ := unstructured.NestedSlice(pm.Object, "spec", "podMetricsEndpoints")
		for _, e := range eps {
			ep := e.(map[string]any)
			cred, _, _ := unstructured.NestedString(ep, "authorization", "credentials", "name")
			if ep["scheme"] != "https" || cred != secret.GetName() {
				t.Errorf("PodMonitor %s endpoint %v: want scheme https and the token of Secret %s", name, ep, secret.GetName())
			}
		}
	}
	for _, o := range b.objs {
		if o.GetKind() == "ClusterRoleBinding" {
			continue
		}
		if o.GetNamespace() != namespace {
			t.Errorf("%s %s in namespace %q, want %s", o.GetKind(), o.GetName(), o.GetNamespace(), namespace)
		}
	}
	if readString(t, distDashboard) != readString(t, dashboardFile) {
		t.Errorf("%s differs from %s; run `make generate`", distDashboard, dashboardFile)
	}
	if !strings.HasPrefix(readString(t, distMonitoring), "# Generated by hack/render-manifests.sh") {
		t.Errorf("%s does not start with the generator's header; render it with `make generate`", distMonitoring)
	}
}

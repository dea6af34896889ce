package lab

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/ironlb/ironlb/internal/testkit"
)

// promConfig is the part of prometheus.yml the checks read.
type promConfig struct {
	RuleFiles     []string `json:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string `json:"job_name"`
		StaticConfigs []struct {
			Targets []string `json:"targets"`
		} `json:"static_configs"`
	} `json:"scrape_configs"`
}

// TestPrometheusConfig: the lab's prometheus.yml scrapes the controller
// on its loopback port and every speaker at its node's first cluster
// address, and loads the rules; the pinned promtool accepts it.
func TestPrometheusConfig(t *testing.T) {
	p, err := NewPlan("t-", 3, IPv6Only)
	if err != nil {
		t.Fatal(err)
	}
	s := &State{Dir: t.TempDir()}
	speakers := speakerTargets(s, p)
	if want := []string{"[fd00:200::11]:7473", "[fd00:200::12]:7473", "[fd00:200::13]:7473"}; !slices.Equal(speakers, want) {
		t.Errorf("speaker targets %v, want %v", speakers, want)
	}
	dir := t.TempDir()
	rules := filepath.Join(dir, "alerts.yaml")
	if err := os.WriteFile(rules, []byte("groups: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	text := prometheusConfig(rules, "127.0.0.1:4242", speakers)
	var cfg promConfig
	if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
		t.Fatalf("prometheus.yml does not parse: %v\n%s", err, text)
	}
	if !slices.Equal(cfg.RuleFiles, []string{rules}) {
		t.Errorf("rule_files %v, want [%s]", cfg.RuleFiles, rules)
	}
	targets := map[string][]string{}
	for _, sc := range cfg.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			targets[sc.JobName] = append(targets[sc.JobName], st.Targets...)
		}
	}
	if got := targets["ironlb-controller"]; !slices.Equal(got, []string{"127.0.0.1:4242"}) {
		t.Errorf("controller targets %v", got)
	}
	if got := targets["ironlb-speaker"]; !slices.Equal(got, speakers) {
		t.Errorf("speaker job targets %v, want %v", got, speakers)
	}

	file := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(testkit.Prometheus(t, "promtool"), "check", "config", file).CombinedOutput()
	if err != nil {
		t.Errorf("promtool check config: %v\n%s\n%s", err, out, text)
	}
}

// TestFreePortExcept: the port is free and none of the lab's others (the
// controller's are chosen at up but bound later).
func TestFreePortExcept(t *testing.T) {
	ports, err := pickPorts()
	if err != nil {
		t.Fatal(err)
	}
	n, err := freePortExcept(ports)
	if err != nil {
		t.Fatal(err)
	}
	if n == ports.ControllerMetrics || n == ports.ControllerHealth || n == ports.APIServer {
		t.Errorf("freePortExcept = %d, one of the lab's ports %+v", n, ports)
	}
}

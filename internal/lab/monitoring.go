package lab

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The lab's Prometheus (`lab up --monitoring`) runs in the client's
// namespace, like a monitoring host on the nodes' LAN: it scrapes every
// speaker at its node's address, as a Prometheus in a cluster scrapes a
// host-network pod, and the controller through a forwarder of the
// supervisor on the client's loopback (the API server's trick, see
// Supervise). A second forwarder, in the root namespace, brings its HTTP
// API to 127.0.0.1:<Monitoring.Port> there, so the CLI, tests and a
// browser on the machine reach it without entering a namespace. It loads
// ironlb's alerting rules from the checkout, so they are evaluated on the
// lab's metrics too.

// Monitoring is what `lab up --monitoring` set up, recorded in the state.
type Monitoring struct {
	// Port is the loopback port of Prometheus's HTTP API: Prometheus
	// listens on it in the client's namespace, the supervisor forwards
	// the root namespace's 127.0.0.1:Port to it.
	Port int `json:"port"`
	// Prometheus is the prometheus binary the lab runs.
	Prometheus string `json:"prometheus"`
	// Rules is the copy of the alerting rules Prometheus loads; empty
	// when the ironlb checkout (config/prometheus/alerts.yaml) was not
	// found.
	Rules string `json:"rules,omitempty"`
}

// URL is the Prometheus HTTP API's address in the root namespace.
func (m *Monitoring) URL() string { return "http://127.0.0.1:" + strconv.Itoa(m.Port) }

const (
	// monitoringDir (in the lab directory) holds Prometheus's
	// configuration, rules and data.
	monitoringDir = "prometheus"
	// monitoringHost is where Prometheus runs.
	monitoringHost = "client"
	// speakerMetricsPort is the speaker's default metrics port (its
	// --metrics-bind-address, :7473), used when the installation's
	// arguments do not set another.
	speakerMetricsPort = 7473
	// scrapeInterval is short so a test sees a rate within seconds; the
	// lab has a handful of targets.
	scrapeInterval = "5s"
	// rulesPath is the alerting rules' source in the checkout.
	rulesPath = "config/prometheus/alerts.yaml"
)

// FindPrometheus picks the prometheus binary: in dir when set, else in
// $IRONLB_PROMETHEUS_DIR, else in the newest
// ${IRONLB_CACHE:-~/.cache/ironlb}/prometheus-* (where
// hack/build-prometheus.sh puts it).
func FindPrometheus(dir string) (string, error) {
	if dir == "" {
		dir = os.Getenv("IRONLB_PROMETHEUS_DIR")
	}
	if dir != "" {
		bin := filepath.Join(dir, "prometheus")
		if !executable(bin) {
			return "", fmt.Errorf("no prometheus binary in %s; build it with `hack/build-prometheus.sh`", dir)
		}
		return bin, nil
	}
	cache, err := cacheDir()
	if err != nil {
		return "", err
	}
	dirs, _ := filepath.Glob(filepath.Join(cache, "prometheus-v*"))
	slices.Reverse(dirs) // newest version first (by name; good enough for one pin)
	for _, d := range dirs {
		if bin := filepath.Join(d, "prometheus"); executable(bin) {
			return bin, nil
		}
	}
	return "", fmt.Errorf("--monitoring: no %s/prometheus-*/prometheus; build it with `hack/build-prometheus.sh`", cache)
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// setUpMonitoring writes Prometheus's configuration and records its
// process in the state, before the supervisor starts: the supervisor opens
// the monitoring forwarders when it starts and then starts Prometheus like
// every supervised process.
func setUpMonitoring(s *State, p Plan, prometheus string) (string, error) {
	port, err := freePortExcept(s.Ports)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(s.Dir, monitoringDir)
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return "", fmt.Errorf("monitoring directory: %w", err)
	}
	m := &Monitoring{Port: port, Prometheus: prometheus}
	note := "no alerting rules (checkout not found)"
	wd, _ := os.Getwd()
	if root := FindRepoRoot(wd, filepath.Dir(s.Ironlb)); root != "" {
		rules, err := os.ReadFile(filepath.Join(root, rulesPath))
		if err != nil {
			return "", fmt.Errorf("alerting rules: %w", err)
		}
		m.Rules = filepath.Join(dir, "alerts.yaml")
		if err := os.WriteFile(m.Rules, rules, 0o644); err != nil {
			return "", fmt.Errorf("alerting rules: %w", err)
		}
		note = "rules from " + filepath.Join(root, rulesPath)
	}
	speakers := speakerTargets(s, p)
	cfg := prometheusConfig(m.Rules, "127.0.0.1:"+strconv.Itoa(s.Ports.ControllerMetrics), speakers)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		return "", fmt.Errorf("prometheus configuration: %w", err)
	}
	pr := &Proc{
		Name: "prometheus", Host: monitoringHost, Order: 95, Supervised: true,
		Args: []string{prometheus,
			"--config.file=" + filepath.Join(dir, "prometheus.yml"),
			"--storage.tsdb.path=" + filepath.Join(dir, "data"),
			"--storage.tsdb.retention.time=1d",
			"--web.listen-address=127.0.0.1:" + strconv.Itoa(port),
		},
	}
	err = updateState(s.Dir, func(st *State) error {
		st.Monitoring = m
		st.Procs[pr.Name] = pr
		*s = *st
		return nil
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("Prometheus on %s (in %s), scraping the controller and %d speakers; %s",
		m.URL(), p.Namespace(monitoringHost), len(speakers), note), nil
}

// freePortExcept is freePort avoiding the lab's other ports: the
// controller's are chosen but not bound until it starts.
func freePortExcept(ports Ports) (int, error) {
	taken := []int{ports.APIServer, ports.EtcdClient, ports.EtcdPeer, ports.ControllerManager, ports.Scheduler,
		ports.ControllerHealth, ports.ControllerMetrics}
	for range 20 {
		n, err := freePort(0)
		if err != nil {
			return 0, err
		}
		if !slices.Contains(taken, n) {
			return n, nil
		}
	}
	return 0, fmt.Errorf("finding a free loopback port for Prometheus: the kernel kept offering the lab's own")
}

// speakerTargets are the speakers' metrics addresses: each node's first
// address in the cluster's families (a dual-stack lab's IPv4 one), on the
// port of the installation's --metrics-bind-address.
func speakerTargets(s *State, p Plan) []string {
	port := speakerMetricsPort
	if c := loadInstallation(s.Dir).component("speaker"); c != nil {
		if v, ok := argValue(c.Args, "metrics-bind-address"); ok {
			port = bindPort(v, speakerMetricsPort)
		}
	}
	var out []string
	for _, h := range p.Nodes {
		out = append(out, netip.AddrPortFrom(p.NodeIPs(h)[0], uint16(port)).String()) //nolint:gosec // a port
	}
	return out
}

// prometheusConfig is the lab's prometheus.yml: two jobs, named like the
// components, with static targets (the build has no other discovery).
func prometheusConfig(rules, controller string, speakers []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by `ironlb lab up --monitoring`.\nglobal:\n  scrape_interval: %s\n  evaluation_interval: %s\n", scrapeInterval, scrapeInterval)
	if rules != "" {
		fmt.Fprintf(&b, "rule_files:\n- %q\n", rules)
	}
	b.WriteString("scrape_configs:\n")
	fmt.Fprintf(&b, "- job_name: ironlb-controller\n  static_configs:\n  - targets: [%q]\n", controller)
	b.WriteString("- job_name: ironlb-speaker\n  static_configs:\n  - targets:\n")
	for _, t := range speakers {
		fmt.Fprintf(&b, "    - %q\n", t)
	}
	return b.String()
}

// serveMonitoring opens the monitoring forwarders of a lab with
// --monitoring (the supervisor's part): the controller's metrics port on
// the client's loopback, spliced to the root namespace's; and
// Prometheus's port on the root namespace's loopback, spliced into the
// client's namespace.
func serveMonitoring(ctx context.Context, s *State, p Plan, log *slog.Logger) error {
	m := s.Monitoring
	if m == nil {
		return nil
	}
	ns := p.Namespace(monitoringHost)
	metrics := "127.0.0.1:" + strconv.Itoa(s.Ports.ControllerMetrics)
	ln, err := listenIn(ns, metrics)
	if err != nil {
		return fmt.Errorf("supervise: controller metrics forwarder in %s: %w", monitoringHost, err)
	}
	go (&forwarder{ln: ln, target: metrics, log: log.With("forward", "controller-metrics")}).serve(ctx)

	api := "127.0.0.1:" + strconv.Itoa(m.Port)
	rootLn, err := net.Listen("tcp", api)
	if err != nil {
		return fmt.Errorf("supervise: Prometheus forwarder: %w", err)
	}
	into := func(ctx context.Context) (net.Conn, error) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return DialIn(ctx, ns, api)
	}
	go (&forwarder{ln: rootLn, target: ns + "/" + api, dial: into, log: log.With("forward", "prometheus")}).serve(ctx)
	log.Info("monitoring forwarders listening", "controllerMetrics", metrics, "prometheus", api)
	return nil
}

package controller

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	toolscache "k8s.io/client-go/tools/cache"
)

// TestBench1000Services measures, against a real API server, how fast the
// controller gives LoadBalancer Services their addresses. It runs with
// IRONLB_BENCH=1 (make bench), prints a table and writes it to
// $IRONLB_BENCH_OUT when set. Two runs of 1,000 Services each:
//
//   - "created while running": Services created as fast as the API server
//     takes them (bulkWorkers requests in flight) while the controller runs;
//     per Service, from the start of its create request to its address
//     showing in a watch.
//   - "pending at start": 1,000 Services created while no controller runs
//     (next to the first run's 1,000, which keep their addresses); from the
//     controller's start to each address.
//
// The goal is all 1,000 within 5 s.
func TestBench1000Services(t *testing.T) {
	if os.Getenv("IRONLB_BENCH") != "1" {
		t.Skip("a benchmark: set IRONLB_BENCH=1 to run it")
	}
	const n = 1000
	h := newHarness(t)
	h.pool("bench", "10.50.0.0/20")
	w := h.watchAddresses()

	// Run 1: created while the controller runs.
	run := h.start(h.options(), true)
	begin := time.Now()
	var mu sync.Mutex
	started := map[string]time.Time{}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("live-%04d", i)
	}
	h.createNamed(names, func(name string) {
		mu.Lock()
		started[name] = time.Now()
		mu.Unlock()
	})
	created := time.Since(begin)
	done := w.wait(h, names)
	live := result{name: "created while running", create: created}
	live.fill(names, func(name string) time.Duration { return done[name].Sub(started[name]) }, done, begin)
	if err := run.stop(); err != nil {
		t.Fatal(err)
	}

	// Run 2: pending when the controller starts.
	pending := make([]string, n)
	for i := range pending {
		pending[i] = fmt.Sprintf("pending-%04d", i)
	}
	begin = time.Now()
	h.createNamed(pending, nil)
	created = time.Since(begin)
	begin = time.Now()
	opts := h.options()
	// Knobs for experiments; the table reports the defaults.
	for env, p := range map[string]any{"IRONLB_BENCH_WORKERS": &opts.MaxConcurrentReconciles, "IRONLB_BENCH_QPS": &opts.KubeAPIQPS, "IRONLB_BENCH_BURST": &opts.KubeAPIBurst} {
		if v := os.Getenv(env); v != "" {
			if _, err := fmt.Sscan(v, p); err != nil {
				t.Fatalf("%s=%q: %v", env, v, err)
			}
		}
	}
	h.start(opts, false)
	done = w.wait(h, pending)
	atStart := result{name: "pending at start", create: created}
	atStart.fill(pending, func(name string) time.Duration { return done[name].Sub(begin) }, done, begin)

	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	_, _ = fmt.Fprintf(tw, "run\tservices\tcreating them\tfirst IP\tp50 to IP\tp99 to IP\tmax\ttotal to last IP\t\n")
	for _, r := range []result{live, atStart} {
		_, _ = fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.name, n, ms(r.create), ms(r.first), ms(r.p50), ms(r.p99), ms(r.max), ms(r.total))
	}
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Logf("LoadBalancer Service allocation against a real API server (controller: QPS %d, burst %d, %d workers):\n%s",
		DefaultKubeAPIQPS, DefaultKubeAPIBurst, DefaultMaxConcurrentReconciles, b.String())
	if out := os.Getenv("IRONLB_BENCH_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	checkUnique(t, h.serviceStates())
}

// result is one row of the benchmark table.
type result struct {
	name                                string
	create, first, p50, p99, max, total time.Duration
}

// fill computes the latencies of names and the total from begin to the
// last address.
func (r *result) fill(names []string, latency func(string) time.Duration, done map[string]time.Time, begin time.Time) {
	lat := make([]time.Duration, 0, len(names))
	var last time.Time
	for _, name := range names {
		lat = append(lat, latency(name))
		if done[name].After(last) {
			last = done[name]
		}
	}
	slices.Sort(lat)
	r.first, r.p50, r.p99, r.max = lat[0], pct(lat, 50), pct(lat, 99), lat[len(lat)-1]
	r.total = last.Sub(begin)
}

// addressWatch records when each Service of the app namespace first shows
// an address, through an informer (which re-lists when the API server
// drops a watch that falls behind).
type addressWatch struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func (h *harness) watchAddresses() *addressWatch {
	h.t.Helper()
	cs, err := kubernetes.NewForConfig(h.env.Config)
	if err != nil {
		h.t.Fatal(err)
	}
	a := &addressWatch{seen: map[string]time.Time{}}
	note := func(obj any) {
		svc, ok := obj.(*corev1.Service)
		if !ok || len(svc.Status.LoadBalancer.Ingress) == 0 {
			return
		}
		now := time.Now()
		a.mu.Lock()
		if _, ok := a.seen[svc.Name]; !ok {
			a.seen[svc.Name] = now
		}
		a.mu.Unlock()
	}
	f := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(h.app))
	inf := f.Core().V1().Services().Informer()
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    note,
		UpdateFunc: func(_, obj any) { note(obj) },
	}); err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.t.Cleanup(func() { cancel(); f.Shutdown() })
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	return a
}

// wait waits until every named Service has an address and returns when
// each got it.
func (a *addressWatch) wait(h *harness, names []string) map[string]time.Time {
	h.t.Helper()
	out := map[string]time.Time{}
	h.eventually(fmt.Sprintf("%d Services to get an address", len(names)), func() (bool, string) {
		a.mu.Lock()
		defer a.mu.Unlock()
		missing := 0
		for _, n := range names {
			if t, ok := a.seen[n]; ok {
				out[n] = t
			} else {
				missing++
			}
		}
		if missing == 0 {
			return true, ""
		}
		listed := 0
		for _, st := range h.serviceStates() {
			if st.IPs == "" {
				listed++
			}
		}
		return false, fmt.Sprintf("%d without in the watch, %d without in a list", missing, listed)
	})
	return out
}

// pct returns the p-th percentile of sorted durations.
func pct(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p+99)/100 - 1
	return sorted[max(i, 0)]
}

func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

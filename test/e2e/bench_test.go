//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/internal/lab"
	"github.com/ironlb/ironlb/internal/testkit"
)

const (
	// benchRuns is the default number of failovers per kind.
	benchRuns = 20
	// probeEvery is how often the client starts a new request during a
	// failover: the resolution of the figures.
	probeEvery = 5 * time.Millisecond
	// probeTimeout bounds one request; requests sent to a node that is
	// gone are abandoned after it while newer ones go out.
	probeTimeout = 250 * time.Millisecond
	// failoverLimit is how long a failover may take before the run counts
	// as failed.
	failoverLimit = 30 * time.Second
)

// benchPool is the bench's own pool, clear of the suite's and the quick
// start's.
var benchPool = []string{"10.200.0.210-10.200.0.219", "fd00:200::210-fd00:200::219"}

// failure is one way of taking the announcing node away, and how to bring
// it back.
type failure struct {
	name string
	fail func(node string) error
	undo func(node string) error
}

// TestBenchFailover measures Layer 2 failover in the lab (`make bench`,
// IRONLB_BENCH=1): the time from the failure of the announcing node to the
// client's first successful HTTP request answered through the new node,
// over IRONLB_BENCH_RUNS (default 20) runs each of a crash (`lab node
// fail`: speaker SIGKILLed, link cut) and a graceful stop of the
// announcer's speaker (SIGTERM, `lab node stop-speaker`), for IPv4 and
// IPv6. The Service has externalTrafficPolicy Local and a pod on every
// node, so the node named in an answer (the pod's node) is the node the
// request went through. The failure is caused in-process (lab.NodeFail,
// lab.StopSpeaker) so the figures hold no CLI start-up time. It prints a
// table and writes it to $IRONLB_BENCH_OUT when set. Figures, never
// assertions.
func TestBenchFailover(t *testing.T) {
	runs := requireBench(t, "failover in the lab")
	requireLab(t)
	requireNodes(t, 2, "failover")
	l := newL2Env(t)
	l.createPool(t, "bench", benchPool)
	l.deployWeb(t, "web", e2e.nodes, nil)
	svc := l.createLB(t, "bench", "web", "bench", corev1.IPFamilyPolicyRequireDualStack,
		[]corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, true)
	ips := l.waitIngress(t, svc, 2)
	l.waitSettled(t)

	ctx := context.Background()
	failures := []failure{
		{
			name: "crash (`lab node fail`)",
			fail: func(n string) error { return lab.NodeFail(ctx, e2e.dir, n, io.Discard) },
			undo: func(n string) error { return lab.NodeRecover(ctx, e2e.dir, n, io.Discard) },
		},
		{
			name: "graceful stop (SIGTERM)",
			fail: func(n string) error { return lab.StopSpeaker(e2e.dir, n, io.Discard) },
			undo: func(n string) error { return lab.NodeRecover(ctx, e2e.dir, n, io.Discard) },
		},
	}
	load0 := loadAverage()
	started := time.Now().UTC()
	var rows []benchRow
	for _, f := range failures {
		got := map[netip.Addr][]time.Duration{}
		failed := 0
		for i := range runs {
			// The election is per address: when the two families have
			// different announcers, each is failed in turn, measuring the
			// addresses it held.
			owners := l.steadyOwners(t, svc, ips)
			var victims []string
			for _, ip := range ips {
				if !slices.Contains(victims, owners[ip]) {
					victims = append(victims, owners[ip])
				}
			}
			for vi, victim := range victims {
				if vi > 0 {
					owners = l.steadyOwners(t, svc, ips)
				}
				var held []netip.Addr
				for _, ip := range ips {
					if owners[ip] == victim {
						held = append(held, ip)
					}
				}
				if len(held) == 0 {
					continue
				}
				took, err := l.measureFailover(held, victim, f.fail)
				if uerr := f.undo(victim); uerr != nil {
					t.Fatalf("%s, run %d: bringing %s back: %v", f.name, i+1, victim, uerr)
				}
				if err != nil {
					t.Errorf("%s, run %d (announcer %s): %v", f.name, i+1, victim, err)
					failed++
				}
				for ip, d := range took {
					got[ip] = append(got[ip], d)
				}
				t.Logf("%s, run %d: from %s: %v", f.name, i+1, victim, took)
				l.waitSettled(t)
			}
		}
		for _, ip := range ips {
			rows = append(rows, newBenchRow(f.name, ip, got[ip], failed))
		}
	}
	report := benchReport(rows, runs, started, load0, loadAverage())
	fmt.Println(report) // `make bench` runs with -v and shows it
	if out := os.Getenv("IRONLB_BENCH_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(report), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// steadyOwners waits until every address of svc has one announcer, named
// in ServiceL2Status, and three requests in a row per address are
// answered through it; it returns the announcer per address.
func (l *l2Env) steadyOwners(t *testing.T, svc string, ips []netip.Addr) map[netip.Addr]string {
	t.Helper()
	var owners map[netip.Addr]string
	// Expected: a few seconds after a recovery (waitAnnounced's own wait).
	eventually(t, testkit.Budget(5*time.Second), "a steady announcer per address of "+svc, func() error {
		owners = l.waitAnnounced(t, svc, ips, nil)
		for _, ip := range ips {
			for range 3 {
				body, err := l.get(context.Background(), ip)
				if err != nil {
					return err
				}
				if n := field(body, "node"); n != owners[ip] {
					return fmt.Errorf("%s answered through %s, announced by %s", ip, n, owners[ip])
				}
			}
		}
		return nil
	})
	return owners
}

// measureFailover starts probing every address from the client, calls
// fail(old), and returns, per address, the time from the call to the
// first answer through another node than old.
func (l *l2Env) measureFailover(ips []netip.Addr, old string, fail func(string) error) (map[netip.Addr]time.Duration, error) {
	took, _, err := measureFailover(l.get, ips, old, fail)
	return took, err
}

// measureFailover probes every address with get (a new request every
// probeEvery, each given probeTimeout), calls fail(old), and returns, per
// address, the time from the call to the first answer through another
// node than old, and how many probes sent after the call failed before
// that answer (answers through old count as served).
func measureFailover(get func(context.Context, netip.Addr) (string, error), ips []netip.Addr, old string,
	fail func(string) error) (map[netip.Addr]time.Duration, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), failoverLimit)
	defer cancel()
	type hit struct {
		ip netip.Addr
		at time.Time
	}
	hits := make(chan hit, len(ips))
	var wg sync.WaitGroup
	var failedAfter atomic.Int64
	var t0 atomic.Pointer[time.Time]
	for _, ip := range ips {
		pctx, stop := context.WithCancel(ctx)
		var once sync.Once
		wg.Go(func() {
			defer stop()
			tick := time.NewTicker(probeEvery)
			defer tick.Stop()
			var probes sync.WaitGroup
			defer probes.Wait()
			for {
				select {
				case <-pctx.Done():
					return
				case <-tick.C:
				}
				probes.Go(func() {
					sentAt := time.Now()
					rctx, rcancel := context.WithTimeout(pctx, probeTimeout)
					defer rcancel()
					body, err := get(rctx, ip)
					if err != nil {
						// A probe cut short because the answer came
						// is no failure.
						if start := t0.Load(); start != nil && sentAt.After(*start) && pctx.Err() == nil {
							failedAfter.Add(1)
						}
						return
					}
					if n := field(body, "node"); n != "" && n != old {
						at := time.Now()
						once.Do(func() {
							hits <- hit{ip, at}
							stop()
						})
					}
				})
			}
		})
	}
	time.Sleep(50 * time.Millisecond) // probes in flight, all through old
	start := time.Now()
	t0.Store(&start)
	err := fail(old)
	out := map[netip.Addr]time.Duration{}
	if err == nil {
		for len(out) < len(ips) {
			select {
			case h := <-hits:
				out[h.ip] = h.at.Sub(start)
			case <-ctx.Done():
				var missing []string
				for _, ip := range ips {
					if _, ok := out[ip]; !ok {
						missing = append(missing, ip.String())
					}
				}
				err = fmt.Errorf("no answer through another node than %s for %s within %s",
					old, strings.Join(missing, ", "), failoverLimit)
			}
			if err != nil {
				break
			}
		}
	}
	cancel()
	wg.Wait()
	return out, int(failedAfter.Load()), err
}

// benchRow is one line of the table.
type benchRow struct {
	failure, family   string
	n, failed         int
	min, p50, p95, mx time.Duration
}

func newBenchRow(failure string, ip netip.Addr, ds []time.Duration, failed int) benchRow {
	r := benchRow{failure: failure, family: "IPv4 (ARP)", n: len(ds), failed: failed}
	if ip.Is6() {
		r.family = "IPv6 (NDP)"
	}
	if len(ds) == 0 {
		return r
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	r.min, r.mx = ds[0], ds[len(ds)-1]
	r.p50, r.p95 = percentile(ds, 50), percentile(ds, 95)
	return r
}

// percentile is the nearest-rank percentile of sorted ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p/100*float64(len(ds)))) - 1
	return ds[max(0, min(i, len(ds)-1))]
}

func benchReport(rows []benchRow, runs int, started time.Time, load0, load1 string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Layer 2 failover in the lab (%d nodes), %d runs per failure, %s UTC; %d CPUs; load average %s at the start, %s at the end\n",
		e2e.nodes, runs, started.Format("2006-01-02 15:04"), runtime.NumCPU(), load0, load1)
	fmt.Fprintf(&b, "time from the failure to the client's first HTTP answer through the new node (probes every %s)\n\n", probeEvery)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "failure\tfamily\truns\tmin\tp50\tp95\tmax\tfailed runs")
	for _, r := range rows {
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%d\n", r.failure, r.family, r.n,
			ms(r.min), ms(r.p50), ms(r.p95), ms(r.mx), r.failed)
	}
	_ = tw.Flush()
	return b.String()
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 0, 64) + " ms"
}

// loadAverage is the first three fields of /proc/loadavg.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// requireBench skips t unless IRONLB_BENCH=1 (`make bench` sets it; what
// says what the benchmark measures) and returns the number of runs:
// benchRuns, or $IRONLB_BENCH_RUNS.
func requireBench(t *testing.T, what string) int {
	t.Helper()
	if os.Getenv("IRONLB_BENCH") != "1" {
		t.Skipf("set IRONLB_BENCH=1 (`make bench`) to measure %s", what)
	}
	v := os.Getenv("IRONLB_BENCH_RUNS")
	if v == "" {
		return benchRuns
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("IRONLB_BENCH_RUNS=%q: want a positive number", v)
	}
	return n
}

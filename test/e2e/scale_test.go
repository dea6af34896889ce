//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/lab"
	"github.com/ironlb/ironlb/internal/testkit"
)

// scalePool holds the scale run's Services: single-stack IPv6 in the
// LAN's own subnet, so every node may announce every address.
var scalePool = []string{"fd00:200::2:0-fd00:200::2:ffff"}

// scaleWebLabel marks the nodes that run kube-proxy and the web pods the
// failover Service is answered by.
const scaleWebLabel = "e2e.ironlb.io/web"

// TestBenchScale is the scale bench (`make bench`, IRONLB_BENCH=1): a lab
// of its own with IRONLB_SCALE_NODES nodes (default 30; speakers and
// agents on all, kube-proxy on the first two) and IRONLB_SCALE_SERVICES
// Services (default 5,000), created in a burst. It measures:
//   - every Service announced by exactly one node (its ServiceL2Statuses),
//     and for a sample of 200 addresses exactly one answer to the client's
//     neighbour solicitation, from the MAC of that node;
//   - create → IP over the burst; controller and speaker memory idle and
//     with the Services; a speaker's CPU at rest with every member;
//   - crash and graceful failover with all the members (IRONLB_BENCH_RUNS
//     each), through the two kube-proxy nodes;
//   - false failovers over IRONLB_SCALE_WINDOW (default 10m) each with
//     nothing failing: idle, beside a CPU hog (`yes`), and with 5 % of the
//     packets dropped on every node's link in each direction (nftables: the
//     kernel here has no sch_netem, so no delay or jitter can be added) —
//     memberlist's suspicions and failures declared (the speakers' logs)
//     and announcer changes (ServiceL2Status watch).
//
// Figures, never assertions; the table goes to $IRONLB_BENCH_OUT when set.
func TestBenchScale(t *testing.T) {
	runs := requireBench(t, "ironlb at scale")
	requireLab(t)
	nodes := envInt(t, "IRONLB_SCALE_NODES", 30)
	services := envInt(t, "IRONLB_SCALE_SERVICES", 5000)
	window := 10 * time.Minute
	if v := os.Getenv("IRONLB_SCALE_WINDOW"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("IRONLB_SCALE_WINDOW=%q: want a positive duration", v)
		}
		window = d
	}
	started, load0 := time.Now().UTC(), loadAverage()
	c := upCompareLab(t, lab.LBIronlb, nodes, "--kube-proxy-nodes", "2")
	var rows [][2]string
	add := func(label, format string, a ...any) {
		rows = append(rows, [2]string{label, fmt.Sprintf(format, a...)})
		t.Logf("%s: %s", label, rows[len(rows)-1][1])
	}
	report := func() {
		var b strings.Builder
		fmt.Fprintf(&b, "ironlb at scale: %d nodes (kube-proxy on 2), %d Services, %d failovers per kind, false failovers over %v per condition\n",
			nodes, services, runs, window)
		fmt.Fprintf(&b, "started %s, load average %s at the start, %s at the end\n\n", started.Format(time.RFC3339), load0, loadAverage())
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, r := range rows {
			_, _ = fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
		}
		_ = tw.Flush()
		fmt.Println(b.String())
		if out := os.Getenv("IRONLB_BENCH_OUT"); out != "" {
			if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
				t.Error(err)
			}
		}
	}
	defer report() // what a failed run measured still shows

	time.Sleep(10 * time.Second) // the processes settle after start
	rss, anon, _ := c.memory(t, "controller")
	add("controller memory, idle", "RSS %.1f MB, anonymous %.1f MB", rss, anon)
	rss, anon, _ = c.memory(t, "speaker/node1")
	add("speaker memory (node1), idle", "RSS %.1f MB, anonymous %.1f MB", rss, anon)
	add("speaker CPU at rest (node1), no Services", "%.2f %% of a core", c.cpuRate(t, "speaker/node1", 30*time.Second))

	c.configure(t, map[string][]string{"failover": comparePool, "burst": scalePool})
	c.ensureNamespace(t, "burst")
	st := watchAddresses(t, c.cs, "burst")
	sent := c.createServices(t, "burst", "s", services, 32, 0)
	ds, last := latencies(t, st, sent, testkit.Budget(10*time.Minute))
	st.stop()
	var lastCreate time.Time
	for _, at := range sent {
		if at.After(lastCreate) {
			lastCreate = at
		}
	}
	add("burst create → IP", "p50 %.0f ms, p99 %.0f ms, last create → last IP %.0f ms",
		msf(percentile(ds, 50)), msf(percentile(ds, 99)), msf(last.Sub(lastCreate)))

	cl := c.client(t)
	owners := c.waitOneAnnouncerEach(t, cl, "burst", services)
	add("Services announced by exactly one node (ServiceL2Status)", "%d of %d", len(owners), services)
	c.sampleNeighbours(t, owners, 200, add)

	time.Sleep(10 * time.Second)
	rss, anon, _ = c.memory(t, "controller")
	add(fmt.Sprintf("controller memory, %d Services", services), "RSS %.1f MB, anonymous %.1f MB", rss, anon)
	rss, anon, _ = c.memory(t, "speaker/node1")
	add(fmt.Sprintf("speaker memory (node1), %d Services", services), "RSS %.1f MB, anonymous %.1f MB", rss, anon)
	add(fmt.Sprintf("speaker CPU at rest (node1), %d Services", services), "%.2f %% of a core", c.cpuRate(t, "speaker/node1", 30*time.Second))

	// Failover through the two kube-proxy nodes, with every member.
	for _, n := range []string{"node1", "node2"} {
		c.labelNode(t, n, scaleWebLabel, "yes")
	}
	env := &l2Env{cs: c.cs, ns: "default"}
	env.deployWeb(t, "web", 2, map[string]string{scaleWebLabel: "yes"})
	f := compareFigures{}
	c.failover(t, f, runs)
	add(fmt.Sprintf("crash failover with %d members", nodes), "p50 %.0f ms, p95 %.0f ms, max %.0f ms", f["crash.p50"], f["crash.p95"], f["crash.max"])
	add(fmt.Sprintf("graceful failover with %d members", nodes), "p50 %.0f ms, p95 %.0f ms, max %.0f ms, %.0f failed probes",
		f["graceful.p50"], f["graceful.p95"], f["graceful.max"], f["graceful.failed"])

	conditions := []struct {
		name  string
		setup func(t *testing.T) func()
	}{
		{"idle", func(*testing.T) func() { return func() {} }},
		{"one core taken by a CPU hog", startHog},
		{"5 % packet loss on every node link, each direction", func(t *testing.T) func() { return c.dropPackets(t, nodes, 5) }},
	}
	for _, cond := range conditions {
		undo := cond.setup(t)
		suspects, failed, changes := c.falseFailovers(t, cl, window)
		undo()
		add("false failovers, "+cond.name, "%d announcer changes; memberlist: %d suspicions, %d members declared failed", changes, suspects, failed)
		// The members declared failed rejoin within the join interval.
		time.Sleep(15 * time.Second)
	}
}

// envInt is the positive integer in the environment variable name, or def.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// cpuRate is the CPU a lab process uses over d, in % of a core.
func (c *compareLab) cpuRate(t *testing.T, name string, d time.Duration) float64 {
	t.Helper()
	_, cpu0 := c.usage(t, name)
	time.Sleep(d)
	_, cpu1 := c.usage(t, name)
	return 100 * (cpu1 - cpu0) / d.Seconds()
}

// client is a controller-runtime client of the lab with ironlb's types.
func (c *compareLab) client(t *testing.T) client.WithWatch {
	t.Helper()
	s, err := lab.LoadState(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	return labClient(t, s)
}

// labelNode sets a label on a Node.
func (c *compareLab) labelNode(t *testing.T, node, key, value string) {
	t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, key, value)
	if _, err := c.cs.CoreV1().Nodes().Patch(context.Background(), node, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitOneAnnouncerEach waits until each of the n Services of namespace ns
// has exactly one ServiceL2Status, and returns each Service's address and
// announcing node.
func (c *compareLab) waitOneAnnouncerEach(t *testing.T, cl client.Client, ns string, n int) map[netip.Addr]string {
	t.Helper()
	ctx := context.Background()
	out := map[netip.Addr]string{}
	// Expected: the speakers write their statuses while the addresses are
	// handed out; minutes for thousands on a 2-core machine.
	eventually(t, testkit.Budget(10*time.Minute), fmt.Sprintf("one ServiceL2Status for each of %d Services", n), func() error {
		var list v1beta1.ServiceL2StatusList
		if err := cl.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return err
		}
		nodesOf := map[string][]string{}
		for _, s := range list.Items {
			svc := s.Labels[v1beta1.LabelStatusServiceName]
			nodesOf[svc] = append(nodesOf[svc], s.Labels[v1beta1.LabelStatusNode])
		}
		svcs, err := c.cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		clear(out)
		none, several := 0, 0
		for _, s := range svcs.Items {
			switch nodes := nodesOf[s.Name]; {
			case len(nodes) == 0:
				none++
			case len(nodes) > 1:
				several++
			case len(s.Status.LoadBalancer.Ingress) == 1:
				if ip, err := netip.ParseAddr(s.Status.LoadBalancer.Ingress[0].IP); err == nil {
					out[ip] = nodes[0]
				}
			}
		}
		if none > 0 || several > 0 || len(out) != n {
			return fmt.Errorf("%d Services without a status, %d with several, %d with one status and one address", none, several, len(out))
		}
		return nil
	})
	return out
}

// sampleNeighbours asks, from the client, for the MAC of sample addresses
// picked at random: each must get exactly one answer, from the node its
// ServiceL2Status names. A probe that fails to run fails the test.
func (c *compareLab) sampleNeighbours(t *testing.T, owners map[netip.Addr]string, sample int, add func(string, string, ...any)) {
	t.Helper()
	st, err := lab.GetStatus(context.Background(), c.dir)
	if err != nil {
		t.Fatal(err)
	}
	macs := map[string]string{}
	for _, h := range st.Hosts {
		if h.Role == lab.RoleNode {
			macs[h.Name] = strings.ToLower(h.MAC)
		}
	}
	ips := make([]netip.Addr, 0, len(owners))
	for ip := range owners {
		ips = append(ips, ip)
	}
	rand.Shuffle(len(ips), func(i, j int) { ips[i], ips[j] = ips[j], ips[i] })
	ips = ips[:min(sample, len(ips))]
	var mu sync.Mutex
	var wrong []string
	work := make(chan netip.Addr)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for ip := range work {
				got, err := neighborProbe(c.prefix+"client", "eth0", ip)
				mu.Lock()
				switch {
				case err != nil:
					wrong = append(wrong, fmt.Sprintf("%s: %v", ip, err))
				case len(got) != 1 || got[0] != macs[owners[ip]]:
					wrong = append(wrong, fmt.Sprintf("%s: answered by %v, want %s only (%s)", ip, got, macs[owners[ip]], owners[ip]))
				}
				mu.Unlock()
			}
		})
	}
	for _, ip := range ips {
		work <- ip
	}
	close(work)
	wg.Wait()
	add("sampled addresses answered by exactly their announcer (NDP from the client)", "%d of %d", len(ips)-len(wrong), len(ips))
	for _, w := range wrong {
		t.Errorf("neighbour check: %s", w)
	}
}

// startHog takes one core with `yes` until the returned function runs.
func startHog(t *testing.T) func() {
	t.Helper()
	cmd := exec.Command("yes")
	if err := cmd.Start(); err != nil { // stdout nil: /dev/null
		t.Fatalf("starting the CPU hog: %v", err)
	}
	return func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

// dropPackets drops pct % of the packets leaving and entering eth0 of
// every node, at random, with an nftables table in each node namespace,
// until the returned function removes them.
func (c *compareLab) dropPackets(t *testing.T, nodes, pct int) func() {
	t.Helper()
	table := "e2e-loss"
	nft := func(ns, script string) error { return nftIn(context.Background(), ns, script) }
	var done []string
	undo := func() {
		for _, ns := range done {
			if err := nft(ns, "delete table inet "+table+"\n"); err != nil {
				t.Error(err)
			}
		}
	}
	for i := 1; i <= nodes; i++ {
		ns := c.prefix + "node" + strconv.Itoa(i)
		script := fmt.Sprintf("table inet %s {\n"+
			" chain in { type filter hook input priority -10; iifname \"eth0\" numgen random mod 100 < %d drop; }\n"+
			" chain out { type filter hook output priority -10; oifname \"eth0\" numgen random mod 100 < %d drop; }\n}\n", table, pct, pct)
		if err := nft(ns, script); err != nil {
			undo()
			t.Fatal(err)
		}
		done = append(done, ns)
	}
	return undo
}

// falseFailovers watches the lab for d with nothing failing and returns
// memberlist's suspicions and failures declared, from the speakers' logs,
// and the announcer changes: a ServiceL2Status of a Service created for
// another node than the one that announced it last.
func (c *compareLab) falseFailovers(t *testing.T, cl client.WithWatch, d time.Duration) (suspects, failed, changes int) {
	t.Helper()
	st, err := lab.LoadState(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	offsets := map[string]int64{}
	for name := range st.Procs {
		if strings.HasPrefix(name, "speaker/") {
			if fi, err := os.Stat(lab.LogPath(c.dir, name)); err == nil {
				offsets[name] = fi.Size()
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	last := map[string]string{}
	seen := func(s *v1beta1.ServiceL2Status) {
		key := s.Namespace + "/" + s.Labels[v1beta1.LabelStatusServiceName]
		node := s.Labels[v1beta1.LabelStatusNode]
		if prev, ok := last[key]; ok && prev != node {
			changes++
			t.Logf("announcer change: %s from %s to %s", key, prev, node)
		}
		last[key] = node
	}
	// list reads every status (the first time, and again when the watch
	// cannot go on from where it was: what changed meanwhile counts too).
	list := func() string {
		var l v1beta1.ServiceL2StatusList
		if err := cl.List(context.Background(), &l); err != nil {
			t.Fatalf("listing ServiceL2Statuses: %v", err)
		}
		for i := range l.Items {
			seen(&l.Items[i])
		}
		return l.ResourceVersion
	}
	rv := list()
	for ctx.Err() == nil {
		w, err := cl.Watch(ctx, &v1beta1.ServiceL2StatusList{}, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv}})
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			t.Fatalf("watching ServiceL2Statuses: %v", err)
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Error { // expired: start again from a list
				rv = ""
				break
			}
			s, ok := ev.Object.(*v1beta1.ServiceL2Status)
			if !ok {
				continue
			}
			rv = s.ResourceVersion
			if ev.Type == watch.Added {
				seen(s)
			}
		}
		w.Stop()
		if rv == "" && ctx.Err() == nil {
			rv = list()
		}
	}
	for name, off := range offsets {
		b, err := os.ReadFile(lab.LogPath(c.dir, name))
		if err != nil || int64(len(b)) < off {
			t.Errorf("reading %s's log: %v", name, err)
			continue
		}
		for _, l := range bytes.Split(b[off:], []byte("\n")) {
			switch {
			case bytes.Contains(l, []byte("has failed, no acks received")):
				suspects++
			case bytes.Contains(l, []byte("as failed, suspect timeout reached")):
				failed++
				t.Logf("%s: %s", filepath.Base(name), l)
			}
		}
	}
	return suspects, failed, changes
}

//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/internal/controller"
	"github.com/ironlb/ironlb/internal/lab"
	"github.com/ironlb/ironlb/internal/testkit"
)

// requestEvery is the client's request interval while the controller
// restarts and hands over.
const requestEvery = 20 * time.Millisecond

// testControllerHandover: while the client sends a request every 20 ms to
// a dual-stack Service, the lab's controller is restarted, then a second
// controller replica is started and the lab's controller stopped
// (`lab stop controller`: SIGTERM, it releases its Lease, and it is kept
// down), so the leader-election Lease moves to the second replica — seen
// in the replica's own log; then the first is started again, as a
// standby. No request may fail and no Service may get another address: the
// controller is not on the data path, and a new leader rebuilds the same
// allocations from the Services' status.
//
// The request counter is proven to see failures: with `lab node fail` of
// the announcer added at the start of the window, the check failed with
// "10 of 24 requests failed during the controller's restart and hand-over
// (first: 10.200.0.200: Get "http://10.200.0.200:80/": context deadline
// exceeded)" — so 0 here means none failed, not that none was made.
func (l *l2Env) testControllerHandover(t *testing.T) {
	svc := l.createLB(t, "handoff", "web", "lan", corev1.IPFamilyPolicyRequireDualStack,
		[]corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, false)
	ips := l.waitIngress(t, svc, 2)
	l.waitAnnounced(t, svc, ips, nil)
	l.waitAnswers(t, svc, ips, "web", "")
	before := l.allIngress(t)
	holder0 := l.leaseHolder(t)

	traffic := startTraffic(ips)
	ironlb(t, "restart", "controller")
	// Expected: the restarted controller takes its Lease back once the old
	// one released it (graceful stop) — seconds.
	eventually(t, testkit.Budget(10*time.Second), "the restarted controller holding the Lease", func() error {
		if h := l.leaseHolder(t); h == "" || h == holder0 {
			return fmt.Errorf("Lease held by %q (before the restart: %q)", h, holder0)
		}
		return nil
	})
	holder1 := l.leaseHolder(t)

	secondLog := l.startSecondController(t)
	// Expected: the replica starts and asks for the Lease within a second.
	eventually(t, testkit.Budget(2*time.Second), "the second replica waiting for the Lease", func() error {
		if log := readFile(t, secondLog); !strings.Contains(log, attemptingLease) {
			return fmt.Errorf("its log says:\n%s", log)
		}
		return nil
	})
	if h := l.leaseHolder(t); h != holder1 || strings.Contains(readFile(t, secondLog), acquiredLease) {
		t.Fatalf("the standby took the Lease from a live leader: held by %q, was %q", h, holder1)
	}
	ironlb(t, "stop", "controller") // graceful: it releases the Lease
	t.Cleanup(func() { _, _ = ironlbErr("restart", "controller") })
	// Expected: the stopped leader releases the Lease; the standby, which
	// retries every 2 s, takes it within a few seconds.
	eventually(t, testkit.Budget(10*time.Second), "the second replica holding the Lease", func() error {
		if !strings.Contains(readFile(t, secondLog), acquiredLease) {
			return fmt.Errorf("the second replica has not acquired the Lease (held by %q)", l.leaseHolder(t))
		}
		return nil
	})
	second := l.leaseHolder(t)
	// A few seconds of the client's stream under the new leader, then the
	// lab's controller back as a standby.
	time.Sleep(3 * time.Second)
	ironlb(t, "restart", "controller")
	time.Sleep(2 * time.Second)
	if h := l.leaseHolder(t); h != second {
		t.Errorf("the restarted lab controller took the Lease from the live second replica: held by %q, was %q", h, second)
	}
	sent, failed, firstErr := traffic.stop()
	switch {
	case failed > 0:
		t.Errorf("%d of %d requests failed during the controller's restart and hand-over (first: %v)", failed, sent, firstErr)
	case sent < 100:
		t.Fatalf("only %d requests sent, none failed: the stream did not run", sent)
	}
	if d := diffIngress(before, l.allIngress(t)); d != "" {
		t.Errorf("addresses changed during the controller's restart and hand-over: %s", d)
	}
	t.Logf("%v: %d requests every %v, %d failed; Lease %q → %q (restart) → %q (second replica)", ips, sent, requestEvery, failed, holder0, holder1, second)
}

// leaseHolder is the holder of the controller's leader-election Lease;
// empty when none.
func (l *l2Env) leaseHolder(t *testing.T) string {
	t.Helper()
	var lease coordinationv1.Lease
	err := l.cl.Get(context.Background(), types.NamespacedName{Namespace: ironlbNamespace, Name: controller.DefaultLeaderElectionID}, &lease)
	if err != nil {
		t.Fatal(err)
	}
	if lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *lease.Spec.HolderIdentity
}

// What client-go's leader election logs when it starts asking for the
// Lease and when it takes it.
const (
	attemptingLease = "Attempting to acquire leader lease"
	acquiredLease   = "Successfully acquired lease"
)

// startSecondController runs a second controller replica beside the
// lab's, with the same arguments and environment but its own health port
// and no metrics or webhook server, and returns the path of its log. It is
// stopped when t ends.
func (l *l2Env) startSecondController(t *testing.T) string {
	t.Helper()
	s, err := lab.LoadState(e2e.dir)
	if err != nil {
		t.Fatal(err)
	}
	p := s.Procs["controller"]
	if p == nil || len(p.Args) < 2 {
		t.Fatalf("no controller in the lab's state: %+v", p)
	}
	var args []string
	for _, a := range p.Args[1:] {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch name {
		case "health-probe-bind-address", "metrics-bind-address", "webhook-port", "log-format":
			continue
		}
		args = append(args, a)
	}
	args = append(args, "--health-probe-bind-address=127.0.0.1:0", "--metrics-bind-address=0", "--log-format=text")
	cmd := exec.Command(p.Args[0], args...)
	cmd.Env = append(os.Environ(), p.Env...)
	logPath := t.TempDir() + "/controller-2.log"
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	// Started from a goroutine locked to a fresh thread: the test's other
	// goroutines enter the client's network namespace on their threads,
	// and a child forked from such a thread would run in it.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		started <- cmd.Start()
	}()
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	t.Logf("second controller: %s (pid %d)", strings.Join(cmd.Args, " "), cmd.Process.Pid)
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		_ = logf.Close()
		if t.Failed() {
			t.Logf("second controller's log:\n%s", readFile(t, logPath))
		}
	})
	return logPath
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// trafficStream sends a GET to each address in turn every requestEvery
// from the client until stopped, counting failures.
type trafficStream struct {
	stopCh       chan struct{}
	wg           sync.WaitGroup
	sent, failed atomic.Int64
	mu           sync.Mutex
	firstErr     error
	// firstFail and lastFail are when the first and the last failed
	// request was sent.
	firstFail, lastFail time.Time
}

// startTraffic streams from the suite lab's client.
func startTraffic(ips []netip.Addr) *trafficStream {
	return startTrafficIn(e2e.prefix+"client", ips)
}

// startTrafficIn streams from the network namespace ns.
func startTrafficIn(ns string, ips []netip.Addr) *trafficStream {
	ts := &trafficStream{stopCh: make(chan struct{})}
	ts.wg.Go(func() {
		tick := time.NewTicker(requestEvery)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ts.stopCh:
				return
			case <-tick.C:
			}
			ip := ips[i%len(ips)]
			// A request answered within a second counts; a lost ARP
			// answer or a refused connection would not be.
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			sentAt := time.Now()
			_, err := httpGetIn(ctx, ns, netip.AddrPortFrom(ip, 80).String())
			cancel()
			ts.sent.Add(1)
			if err != nil {
				ts.failed.Add(1)
				ts.mu.Lock()
				if ts.firstErr == nil {
					ts.firstErr = fmt.Errorf("%s: %w", ip, err)
					ts.firstFail = sentAt
				}
				ts.lastFail = sentAt
				ts.mu.Unlock()
			}
		}
	})
	return ts
}

// stop ends the stream and returns what it counted.
func (ts *trafficStream) stop() (sent, failed int64, firstErr error) {
	close(ts.stopCh)
	ts.wg.Wait()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.sent.Load(), ts.failed.Load(), ts.firstErr
}

// failures returns when the first and the last failed request was sent
// (zero times when none failed); call it after stop.
func (ts *trafficStream) failures() (first, last time.Time) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.firstFail, ts.lastFail
}

//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/lab"
	"github.com/ironlb/ironlb/internal/testkit"
)

// ironlb runs the ironlb CLI against the test lab and fails t on error.
func ironlb(t *testing.T, args ...string) string {
	t.Helper()
	out, err := ironlbErr(args...)
	if err != nil {
		t.Fatalf("ironlb %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func ironlbErr(args ...string) (string, error) {
	// Expected: the slowest subcommands the suites run (`restart speaker`:
	// SIGTERM, up to 10 s to SIGKILL, start; `down`: 1-2 s) within 15 s.
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Budget(15*time.Second))
	defer cancel()
	full := append([]string{"lab", "--dir", e2e.dir}, args...)
	out, err := exec.CommandContext(ctx, e2e.ironlb, full...).CombinedOutput()
	return string(out), err
}

// clientset is a client of the test lab's API server.
func clientset(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	cs, err := lab.Clientset(e2e.dir)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// status reads `ironlb lab status` of the test lab.
func status(t *testing.T) *lab.Status {
	t.Helper()
	st, err := lab.GetStatus(context.Background(), e2e.dir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// eventually polls cond every 250 ms until it returns nil or timeout
// passes, then fails t with cond's last error. Callers pass
// testkit.Budget(expected), expected being how long the outcome takes on an
// idle machine, and say what it is based on.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// httpGetFrom GETs http://addr/ from inside the namespace of host, as a
// process on that host would, and returns the body.
func httpGetFrom(ctx context.Context, host, addr string) (string, error) {
	return httpGetIn(ctx, e2e.prefix+host, addr)
}

// httpGetIn GETs http://addr/ from inside the network namespace ns.
func httpGetIn(ctx context.Context, ns, addr string) (string, error) {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return lab.DialIn(ctx, ns, addr)
		},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 3 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s from %s: %s", addr, ns, resp.Status)
	}
	return string(b), nil
}

// unanswered reports whether err, from a request to a host that should be
// cut off, really is a missing answer — a timeout, or an unreachable host
// or network — rather than a request that never went out (a namespace
// that could not be entered, a malformed address) or an answer of another
// kind: a refused or reset connection is a live host answering. A
// negative check passes only on a missing answer; on anything else it
// must fail.
func unanswered(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout()) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH)
}

// firstLines is the first n lines of s, joined by " | ", for logs.
func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[:min(n, len(lines))], " | ")
}

// labClient is a controller-runtime client of lab s with client-go's and
// ironlb's types, rate limited to 50 requests/s (burst 100).
func labClient(t *testing.T, s *lab.State) client.WithWatch {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := v1beta1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	ctrllog.SetLogger(logr.Discard()) // the client's own logging is not wanted here
	cl, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// nftIn runs the nftables script in the network namespace ns.
func nftIn(ctx context.Context, ns, script string) error {
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft in %s: %w\n%s", ns, err, out)
	}
	return nil
}

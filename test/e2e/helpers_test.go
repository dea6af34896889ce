//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/ironlb/ironlb/internal/lab"
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
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
// passes, then fails t with cond's last error.
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
	ns := e2e.prefix + host
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
		return "", fmt.Errorf("GET %s from %s: %s", addr, host, resp.Status)
	}
	return string(b), nil
}

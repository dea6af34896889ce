//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	lbstatus "github.com/ironlb/ironlb/internal/status"
	"github.com/ironlb/ironlb/internal/testkit"
)

// l2PoolStatus is the pool of the `ironlb status` check, clear of the
// other pools.
var l2PoolStatus = []string{"10.200.0.236-10.200.0.239"}

// testStatusCommand: `ironlb status` (the kubectl plugin's command) run
// against the lab names a Service's address, its pool and the node the
// client's ARP request is answered by — read from the cluster, compared
// with the wire — and its text output shows the pool's usage and the
// Service's line.
//
// Seen failing with From ignoring the ServiceL2Statuses: "ironlb status
// naming the announcer: not within 16s: ironlb status names [10.200.0.236]
// from "e2e-status-48ce", announcers [] (mode -) for e2e-l2-48ce/status;
// the client's ARP is answered by node2".
func (l *l2Env) testStatusCommand(t *testing.T) {
	l.createPool(t, "status", l2PoolStatus)
	svc := l.createLB(t, "status", "web", "status", corev1.IPFamilyPolicySingleStack, []corev1.IPFamily{corev1.IPv4Protocol}, false)
	ips := l.waitIngress(t, svc, 1)
	owners := l.waitAnnounced(t, svc, ips, nil)

	run := func(args ...string) string {
		t.Helper()
		// Expected: a handful of list calls, well under a second.
		ctx, cancel := context.WithTimeout(context.Background(), testkit.Budget(5*time.Second))
		defer cancel()
		full := append([]string{"status", "--kubeconfig", l.state.Kubeconfig()}, args...)
		out, err := exec.CommandContext(ctx, e2e.ironlb, full...).Output()
		if err != nil {
			t.Fatalf("ironlb %s: %v", strings.Join(full, " "), err)
		}
		return string(out)
	}
	// The status objects follow the announcement within a second.
	eventually(t, testkit.Budget(2*time.Second), "ironlb status naming the announcer", func() error {
		var st lbstatus.Status
		if err := json.Unmarshal([]byte(run("-o", "json")), &st); err != nil {
			return err
		}
		i := slices.IndexFunc(st.Services, func(s lbstatus.Service) bool { return s.Namespace == l.ns && s.Name == svc })
		if i < 0 {
			return fmt.Errorf("ironlb status lists no %s/%s", l.ns, svc)
		}
		s := st.Services[i]
		var nodes []string
		for _, a := range s.Layer2 {
			nodes = append(nodes, a.Node)
		}
		if !slices.Equal(s.Addresses, []string{ips[0].String()}) || s.Pool != l.pools["status"] ||
			!slices.Equal(nodes, []string{owners[ips[0]]}) || s.Mode() != "layer2" {
			return fmt.Errorf("ironlb status names %v from %q, announcers %v (mode %s) for %s/%s; the client's ARP is answered by %s",
				s.Addresses, s.Pool, nodes, s.Mode(), l.ns, svc, owners[ips[0]])
		}
		return nil
	})
	text := run()
	for _, want := range []string{
		"[###-------] 1/4", // the pool: 1 of its 4 addresses assigned
		l.ns + "/" + svc,
		ips[0].String(),
		owners[ips[0]] + " (eth0)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("ironlb status lacks %q:\n%s", want, text)
		}
	}
	t.Logf("ironlb status:\n%s", text)
}

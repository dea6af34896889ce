//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/configread"
	"github.com/ironlb/ironlb/internal/testkit"
)

// invalidIPv6Range is written backwards: the CRD's rules cannot order IPv6
// addresses, so the API server stores it, and internal/config refuses it.
const invalidIPv6Range = "fd00:200::2ff-fd00:200::2f0"

// testRestartDuringInvalidEdit: an invalid edit of the pool in use is
// pending when one speaker (an announcer of the Service) and the controller
// restart. Every process must build the pool's last valid version from the
// accepted configuration record (docs/architecture.md, "One configuration
// truth"): every address stays answered by one node, no Service gets
// another address, and the controller and every speaker report the
// record's generation and digest.
//
// Seen failing with the design it replaces (each process keeping its own
// Previous in memory, configread.Read not setting it): the restarted
// speaker built without the pool, and the address it had announced went
// unanswered ("10.200.0.200 answered by 0 MACs"); with the metric check
// first, the restarted speaker reported another digest than the record.
// With no Previous anywhere the pool was out of use at once, before any
// restart ("not in use" on its condition).
func (l *l2Env) testRestartDuringInvalidEdit(t *testing.T) {
	ctx := context.Background()
	svc := l.createLB(t, "truth", "web", "lan", corev1.IPFamilyPolicyRequireDualStack,
		[]corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, false)
	ips := l.waitIngress(t, svc, 2)
	owners := l.waitAnnounced(t, svc, ips, nil)
	l.waitAnswers(t, svc, ips, "web", "")
	before := l.allIngress(t)

	// The invalid edit, undone at the end.
	name := l.pools["lan"]
	var pool v1beta1.IPAddressPool
	if err := l.cl.Get(ctx, types.NamespacedName{Namespace: ironlbNamespace, Name: name}, &pool); err != nil {
		t.Fatal(err)
	}
	valid := slices.Clone(pool.Spec.Addresses)
	pool.Spec.Addresses = append(slices.Clone(valid), invalidIPv6Range)
	if err := l.cl.Update(ctx, &pool); err != nil {
		t.Fatalf("storing the invalid edit (the API server should accept it; internal/config refuses it): %v", err)
	}
	t.Cleanup(func() { l.setPoolAddresses(t, name, valid) })
	// Expected: the controller judges the edit within a second.
	eventually(t, testkit.Budget(2*time.Second), "pool "+name+" judged invalid, its last valid version in use", func() error {
		var p v1beta1.IPAddressPool
		if err := l.cl.Get(ctx, types.NamespacedName{Namespace: ironlbNamespace, Name: name}, &p); err != nil {
			return err
		}
		c := apimeta.FindStatusCondition(p.Status.Conditions, v1beta1.ConditionValid)
		if c == nil || c.Status != metav1.ConditionFalse || c.ObservedGeneration != p.Generation ||
			!strings.Contains(c.Message, "last valid version stays in use") {
			return fmt.Errorf("condition Valid = %+v", c)
		}
		return nil
	})
	gen, _ := l.sameConfigEverywhere(t)

	victim := owners[ips[0]]
	ironlb(t, "restart", "speaker", victim)
	ironlb(t, "restart", "controller")

	l.waitAnnounced(t, svc, ips, nil)
	l.waitAnswers(t, svc, ips, "web", "")
	// The restarted processes build on the record: nobody writes a new
	// generation, and all report the one that was there.
	if after, digest := l.sameConfigEverywhere(t); after != gen {
		t.Errorf("the restarts moved the accepted configuration from generation %d to %d (digest %s): a restarted process built another configuration", gen, after, digest)
	}
	// Nothing re-allocated: the controller has built its configuration
	// (it reports the record) and reconciled every Service at start;
	// watch the addresses for a few more seconds.
	for range 4 {
		if diff := diffIngress(before, l.allIngress(t)); diff != "" {
			t.Fatalf("after the restarts Services' addresses changed: %s", diff)
		}
		time.Sleep(time.Second)
	}
	t.Logf("restarted speaker/%s and the controller during an invalid edit of %s: generation %d everywhere, %v still answered, %d Services kept their addresses",
		victim, name, gen, ips, len(before))
}

// sameConfigEverywhere waits until the accepted configuration record
// exists and the controller and every speaker report its generation and
// digest, and returns them.
func (l *l2Env) sameConfigEverywhere(t *testing.T) (int64, string) {
	t.Helper()
	ctx := context.Background()
	var gen int64
	var digest string
	// Expected: the record is written within a second of a change, and
	// every process re-reads it at once (a watch event); a restarted
	// process needs a few seconds to start and sync its cache.
	eventually(t, testkit.Budget(5*time.Second), "the controller and every speaker on the accepted configuration", func() error {
		sec, err := l.cs.CoreV1().Secrets(ironlbNamespace).Get(ctx, configread.AcceptedSecretName, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("the record: %w", err)
		}
		gen, err = strconv.ParseInt(sec.Annotations[configread.AnnotationGeneration], 10, 64)
		if err != nil {
			return fmt.Errorf("the record's generation: %w", err)
		}
		digest = sec.Annotations[configread.AnnotationDigest]
		where := map[string][2]string{"controller": {"", "127.0.0.1:" + strconv.Itoa(l.state.Ports.ControllerMetrics)}}
		for _, n := range l.nodes {
			where["speaker/"+n] = [2]string{e2e.prefix + n, speakerMetrics}
		}
		var wrong []string
		for _, who := range slices.Sorted(maps.Keys(where)) {
			text, err := scrapeMetrics(ctx, where[who][0], where[who][1])
			if err != nil {
				return fmt.Errorf("%s: %w", who, err)
			}
			g, _ := metricValue(text, configread.MetricAcceptedGeneration)
			d, _ := metricLabel(text, configread.MetricSnapshotInfo, "digest")
			if g != strconv.FormatInt(gen, 10) || d != digest {
				wrong = append(wrong, fmt.Sprintf("%s on generation %q digest %q", who, g, d))
			}
		}
		if len(wrong) > 0 {
			return fmt.Errorf("record generation %d digest %s; %s", gen, digest, strings.Join(wrong, ", "))
		}
		return nil
	})
	return gen, digest
}

// allIngress returns the addresses of every LoadBalancer Service of the
// cluster, by namespace/name.
func (l *l2Env) allIngress(t *testing.T) map[string][]netip.Addr {
	t.Helper()
	svcs, err := l.cs.CoreV1().Services(metav1.NamespaceAll).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]netip.Addr{}
	for _, s := range svcs.Items {
		if s.Spec.Type != corev1.ServiceTypeLoadBalancer {
			continue
		}
		var ips []netip.Addr
		for _, in := range s.Status.LoadBalancer.Ingress {
			if a, err := netip.ParseAddr(in.IP); err == nil {
				ips = append(ips, a)
			}
		}
		slices.SortFunc(ips, func(a, b netip.Addr) int { return a.Compare(b) })
		out[s.Namespace+"/"+s.Name] = ips
	}
	return out
}

// diffIngress describes how the addresses in after differ from before;
// empty when every Service of before has the same addresses.
func diffIngress(before, after map[string][]netip.Addr) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(before)) {
		if !slices.Equal(before[k], after[k]) {
			out = append(out, fmt.Sprintf("%s %v -> %v", k, before[k], after[k]))
		}
	}
	return strings.Join(out, "; ")
}

// setPoolAddresses sets a pool's addresses, retrying on conflicts.
func (l *l2Env) setPoolAddresses(t *testing.T, name string, addrs []string) {
	t.Helper()
	ctx := context.Background()
	for range 5 {
		var p v1beta1.IPAddressPool
		if err := l.cl.Get(ctx, types.NamespacedName{Namespace: ironlbNamespace, Name: name}, &p); err != nil {
			t.Errorf("restoring pool %s: %v", name, err)
			return
		}
		p.Spec.Addresses = addrs
		if err := l.cl.Update(ctx, &p); err == nil {
			return
		}
	}
	t.Errorf("restoring pool %s: conflicts on every try", name)
}

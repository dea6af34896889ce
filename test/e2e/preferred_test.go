//go:build e2e

package e2e

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/testkit"
)

// l2PoolPreferred is the pool of the preferredNodeSelectors check, in the
// LAN's subnet, clear of the other pools.
var l2PoolPreferred = []string{"10.200.0.220-10.200.0.229", "fd00:200::220-fd00:200::229"}

// labelPreferred is the node label the check's preference selects.
const labelPreferred = "e2e.ironlb.io/preferred"

// testPreferredNodes: an L2Advertisement's preferredNodeSelectors move the
// announcement of every address to the preferred node once it is
// labelled; when that node fails, the plain hash election picks another,
// and when it recovers it takes its addresses back; unlabelled, the
// addresses return to the hash winners.
//
// Seen failing with the preference score ignored (decide's score always
// 0): after the label, "10.200.0.220: answered by node2, want node1".
func (l *l2Env) testPreferredNodes(t *testing.T) {
	requireNodes(t, 2, "a preferred node other than the hash winner")
	l.createPoolWith(t, "preferred", l2PoolPreferred, v1beta1.L2AdvertisementSpec{
		PreferredNodeSelectors: []v1beta1.PreferredNodeSelector{{
			Weight: 50, Preference: metav1.LabelSelector{MatchLabels: map[string]string{labelPreferred: "yes"}},
		}},
	})
	svc := l.createLB(t, "preferred", "web", "preferred", corev1.IPFamilyPolicyRequireDualStack,
		[]corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, false)
	ips := l.waitIngress(t, svc, 2)
	hashed := l.waitAnnounced(t, svc, ips, nil)

	// Prefer a node that does not win the IPv4 address by hash.
	var preferred string
	for _, n := range l.nodes {
		if n != hashed[ips[0]] {
			preferred = n
			break
		}
	}
	on := func(want string) func(string) error {
		return func(n string) error {
			if n != want {
				return fmt.Errorf("answered by %s, want %s", n, want)
			}
			return nil
		}
	}
	l.setNodeLabel(t, preferred, labelPreferred, ptr.To("yes"))
	t.Cleanup(func() { l.setNodeLabel(t, preferred, labelPreferred, nil) })
	l.waitAnnounced(t, svc, ips, on(preferred))
	l.waitAnswers(t, svc, ips, "web", "")

	ironlb(t, "node", "fail", preferred)
	t.Cleanup(func() { _, _ = ironlbErr("node", "recover", preferred) })
	l.waitAnnounced(t, svc, ips, func(n string) error {
		if n == preferred {
			return fmt.Errorf("still %s, which failed", n)
		}
		return nil
	})
	ironlb(t, "node", "recover", preferred)
	l.waitSettled(t)
	l.waitAnnounced(t, svc, ips, on(preferred))

	l.setNodeLabel(t, preferred, labelPreferred, nil)
	// Expected: the speakers recompute within a second of the Node update.
	eventually(t, testkit.Budget(2*time.Second), "the hash winners answering again", func() error {
		for _, ip := range ips {
			n, err := l.answerer(ip)
			if err != nil {
				return err
			}
			if n != hashed[ip] {
				return fmt.Errorf("%s answered by %s, want the hash winner %s", ip, n, hashed[ip])
			}
		}
		return nil
	})
	back := l.waitAnnounced(t, svc, ips, nil)
	t.Logf("%v: hash winners %v; %s, preferred, took both, gave them up while failed and took them back on recovery; unlabelled, back to %v", ips, hashed, preferred, back)
}

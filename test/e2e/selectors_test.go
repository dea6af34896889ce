//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/testkit"
)

// l2PoolSelected is the pool of the serviceSelectors check, in the LAN's
// subnet, clear of the other pools.
var l2PoolSelected = []string{"10.200.0.210-10.200.0.219", "fd00:200::210-fd00:200::219"}

// labelAnnounce is the Service label the check's L2Advertisement selects.
const labelAnnounce = "e2e.ironlb.io/announce"

// testServiceSelectors: an L2Advertisement with serviceSelectors announces
// a Service only while the Service's labels match: relabelling it away
// silences ARP and NDP for its addresses (and removes its
// ServiceL2Status), relabelling it back brings the answer and the traffic
// back. The addresses stay allocated throughout.
//
// Seen failing with the speaker ignoring serviceSelectors (decide's
// forServices bypassed): the Service not yet labelled was answered
// ("10.200.0.210 answered by [02:00:00:00:00:0b]").
func (l *l2Env) testServiceSelectors(t *testing.T) {
	l.createPoolWith(t, "selected", l2PoolSelected, v1beta1.L2AdvertisementSpec{
		ServiceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{labelAnnounce: "yes"}}},
	})
	svc := l.createLB(t, "selected", "web", "selected", corev1.IPFamilyPolicyRequireDualStack,
		[]corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, false)

	// Not labelled yet: allocated, but nobody answers.
	ips := l.waitIngress(t, svc, 2)
	l.silent(t, svc, ips)

	l.labelService(t, svc, "yes")
	owners := l.waitAnnounced(t, svc, ips, nil)
	l.waitAnswers(t, svc, ips, "web", "")

	l.labelService(t, svc, "no")
	l.silent(t, svc, ips)
	if got := l.waitIngress(t, svc, 2); got[0] != ips[0] || got[1] != ips[1] {
		t.Errorf("relabelling moved the addresses: %v -> %v", ips, got)
	}

	l.labelService(t, svc, "yes")
	l.waitAnnounced(t, svc, ips, nil)
	l.waitAnswers(t, svc, ips, "web", "")
	t.Logf("%v answered by %v only while labelled %s=yes", ips, owners, labelAnnounce)
}

// labelService sets the Service's labelAnnounce label.
func (l *l2Env) labelService(t *testing.T, svc, value string) {
	t.Helper()
	patch := fmt.Appendf(nil, `{"metadata":{"labels":{%q:%q}}}`, labelAnnounce, value)
	if _, err := l.cs.CoreV1().Services(l.ns).Patch(context.Background(), svc, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// silent waits until no node answers ARP or NDP for any of ips and no
// ServiceL2Status names svc, then checks it stays so for a second. The
// question must be asked cleanly: a failing arping or ndisc6 fails t
// (neighborProbe), it is no "no answer".
func (l *l2Env) silent(t *testing.T, svc string, ips []netip.Addr) {
	t.Helper()
	check := func() error {
		for _, ip := range ips {
			macs, err := l.neighborMACs(ip)
			if err != nil {
				t.Fatalf("asking for %s: %v", ip, err)
			}
			if len(macs) != 0 {
				return fmt.Errorf("%s answered by %v", ip, macs)
			}
		}
		named, err := l.announcers(context.Background(), svc)
		if err != nil {
			return err
		}
		if len(named) != 0 {
			return fmt.Errorf("ServiceL2Statuses of %s name %v", svc, named)
		}
		return nil
	}
	// Expected: the speakers recompute within a second of the change.
	eventually(t, testkit.Budget(2*time.Second), "no answer for "+l.ns+"/"+svc, check)
	for range 3 {
		time.Sleep(300 * time.Millisecond)
		if err := check(); err != nil {
			t.Errorf("after the silence: %v", err)
		}
	}
}

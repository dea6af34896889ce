//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/testkit"
)

// l2PoolAnnounced is the pool of the Announced condition check, in the
// LAN's subnet, clear of the other pools.
var l2PoolAnnounced = []string{"10.200.0.230-10.200.0.235", "fd00:200::230-fd00:200::235"}

// What the speakers write on a Service about its announcement (the
// documented names, spelled out: they are the interface users see).
const (
	conditionAnnounced = "ironlb.io/Announced"
	reasonAnnounced    = "Announced"
	reasonNotAnnounced = "NotAnnounced"
	messageAnnounced   = "every address of the Service is announced"
)

// testAnnouncedCondition: an L2Advertisement listing an interface no node
// has leaves the Service's address unannounced: the Service carries
// ironlb.io/Announced=False naming the address and the rule no node meets,
// one NotAnnounced Warning Event says the same, and nobody answers ARP.
// Once the advertisement lists no interfaces, the condition turns True,
// one Announced Event follows, and ARP is answered; the NotAnnounced Event
// is still the only one of its kind.
//
// Seen failing with no speaker ever the reporter of a Service, so none
// writes the condition (announcedTargetOf comparing reporter(...) with a
// name no node has, in a binary passed as IRONLB_BIN): "ironlb.io/
// Announced=False on e2e-l2-59e6/announced: not within 16s: no condition
// ironlb.io/Announced" (CI=true), the IPv4 subtest before it passing.
func (l *l2Env) testAnnouncedCondition(t *testing.T) {
	l.createPoolWith(t, "announced", l2PoolAnnounced, v1beta1.L2AdvertisementSpec{Interfaces: []string{"nosuch0"}})
	svc := l.createLB(t, "announced", "web", "announced", corev1.IPFamilyPolicySingleStack, []corev1.IPFamily{corev1.IPv4Protocol}, false)
	ips := l.waitIngress(t, svc, 1)
	ip := ips[0]

	notAnnounced := l.waitCondition(t, svc, metav1.ConditionFalse, reasonNotAnnounced, func(msg string) error {
		for _, want := range []string{ip.String() + " is not announced", "without an interface"} {
			if !strings.Contains(msg, want) {
				return fmt.Errorf("message %q does not say %q", msg, want)
			}
		}
		return nil
	})
	l.waitEvents(t, svc, corev1.EventTypeWarning, reasonNotAnnounced, ip.String()+" is not announced", 1)
	l.silent(t, svc, ips)
	t.Logf("%s: %s=False: %s", ip, conditionAnnounced, notAnnounced)

	// Fixed: no interfaces list, so every node on the subnet may answer.
	adv := &v1beta1.L2Advertisement{}
	if err := l.cl.Get(context.Background(), client.ObjectKey{Namespace: ironlbNamespace, Name: l.pools["announced"]}, adv); err != nil {
		t.Fatal(err)
	}
	adv.Spec.Interfaces = nil
	if err := l.cl.Update(context.Background(), adv); err != nil {
		t.Fatal(err)
	}
	l.waitCondition(t, svc, metav1.ConditionTrue, reasonAnnounced, func(msg string) error {
		if msg != messageAnnounced {
			return fmt.Errorf("message %q, want %q", msg, messageAnnounced)
		}
		return nil
	})
	l.waitEvents(t, svc, corev1.EventTypeNormal, reasonAnnounced, ip.String(), 1)
	owners := l.waitAnnounced(t, svc, ips, nil)
	l.waitEvents(t, svc, corev1.EventTypeWarning, reasonNotAnnounced, ip.String()+" is not announced", 1)
	t.Logf("%s: announced by %s once the advertisement lists no interfaces; %s=True, one Event each way", ip, owners[ip], conditionAnnounced)
}

// waitCondition waits until Service svc carries ironlb.io/Announced with
// status and reason and a message check accepts, and returns the message.
func (l *l2Env) waitCondition(t *testing.T, svc string, status metav1.ConditionStatus, reason string, check func(string) error) string {
	t.Helper()
	var msg string
	// Expected: the speakers recompute within a second of the change and
	// the reporter writes at once.
	eventually(t, testkit.Budget(2*time.Second), fmt.Sprintf("%s=%s on %s/%s", conditionAnnounced, status, l.ns, svc), func() error {
		s, err := l.cs.CoreV1().Services(l.ns).Get(context.Background(), svc, metav1.GetOptions{})
		if err != nil {
			return err
		}
		c := apimeta.FindStatusCondition(s.Status.Conditions, conditionAnnounced)
		if c == nil {
			return fmt.Errorf("no condition %s", conditionAnnounced)
		}
		if c.Status != status || c.Reason != reason {
			return fmt.Errorf("condition %s %s: %s", c.Status, c.Reason, c.Message)
		}
		msg = c.Message
		return check(c.Message)
	})
	return msg
}

// waitEvents waits until the Events of reason and type on Service svc
// whose note contains text happened exactly n times (an Event object
// counts as often as its series says), and checks that stays so for a
// second.
func (l *l2Env) waitEvents(t *testing.T, svc, typ, reason, text string, n int) {
	t.Helper()
	count := func() error {
		list, err := l.cs.EventsV1().Events(l.ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return err
		}
		got := 0
		var notes []string
		for _, e := range list.Items {
			if e.Regarding.Kind != "Service" || e.Regarding.Name != svc || e.Reason != reason {
				continue
			}
			notes = append(notes, e.Type+": "+e.Note)
			if e.Type != typ || !strings.Contains(e.Note, text) {
				continue
			}
			got++
			if e.Series != nil {
				got += int(e.Series.Count) - 1
			}
		}
		if got != n {
			return fmt.Errorf("%d %s %s Events with %q, want %d; all %s: %q", got, typ, reason, text, n, reason, notes)
		}
		return nil
	}
	// Expected: the Event follows the condition's write at once.
	eventually(t, testkit.Budget(2*time.Second), fmt.Sprintf("%d %s Event(s) on %s/%s", n, reason, l.ns, svc), count)
	time.Sleep(time.Second)
	if err := count(); err != nil {
		t.Error(err)
	}
}

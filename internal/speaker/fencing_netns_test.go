package speaker

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/fence"
	"github.com/ironlb/ironlb/internal/netnstest"
	"github.com/ironlb/ironlb/internal/speaker/decide"
	"github.com/ironlb/ironlb/internal/testkit"
)

// fencingLease is the leaseFencing duration of TestLeaseFencing.
const fencingLease = 2 * time.Second

// TestLeaseFencing: two speakers on a real network, memberlist between
// them cut (nftables drops their gossip; the API server still reaches
// both), so each believes the other failed and elects itself for the
// address.
//
//   - Without leaseFencing both answer ARP for the address: two MACs. This
//     is the split brain, and it shows the cut works: the fenced run below
//     would pass vacuously if the two kept seeing each other.
//   - With leaseFencing only the node holding the address's Lease answers,
//     every time, for the whole cut; the other counts the address as
//     waiting and, after twice the Lease duration, records a
//     LeaseHeldElsewhere Event naming both nodes.
//     Once the cut heals they agree again. After a crash of the holder the
//     other answers once the Lease has expired.
func TestLeaseFencing(t *testing.T) {
	netnstest.Require(t, netnstest.Root, "ip", "sysctl", "arping", "nft")
	t.Run("off: both answer during the cut", func(t *testing.T) { testLeaseFencing(t, false) })
	t.Run("on: only the Lease holder answers", func(t *testing.T) { testLeaseFencing(t, true) })
}

func testLeaseFencing(t *testing.T, fenced bool) {
	var adv v1beta1.L2AdvertisementSpec
	if fenced {
		adv.LeaseFencing = &v1beta1.LeaseFencing{LeaseDuration: &metav1.Duration{Duration: fencingLease}}
	}
	rn := newRealNetwork(t, "ifen", true, adv)
	env, asker, c, ns, hosts := rn.env, rn.asker, rn.env.Client, rn.ns, rn.hosts
	ctx := t.Context()
	names := []string{"node1", "node2"}

	speakers := map[string]*testSpeaker{}
	for i, name := range names {
		// crash: a stop abandons the Leases, as a crash would.
		speakers[name] = startSpeaker(t, env, ns, hosts[name], rn.memberlistAddress(i), true)
	}
	members := func(n int64) {
		t.Helper()
		for name, sp := range speakers {
			poll(t, fmt.Sprintf("speaker %s seeing %d members", name, n), testkit.Budget(speakerStart+crashDetect), func() error {
				if m := sp.s.memberN.Load(); m != n {
					return fmt.Errorf("%d members", m)
				}
				return nil
			})
		}
	}
	members(2)
	winner := decide.Elect(netnsVIP, names)
	loser := names[0]
	if winner == loser {
		loser = names[1]
	}
	onlyWinner := func(what string) {
		t.Helper()
		poll(t, what, testkit.Budget(speakerStart), func() error {
			if macs := arpingMACs(t, asker, 2); len(macs) != 1 || macs[0] != hosts[winner].MAC.String() {
				return fmt.Errorf("ARP answered by %v, want only %s (%s)", macs, hosts[winner].MAC, winner)
			}
			return nil
		})
	}
	onlyWinner(winner + " answering alone")
	if fenced {
		var lease coordinationv1.Lease
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: fence.LeaseName(netnsVIP)}, &lease); err != nil {
			t.Fatalf("the address's Lease: %v", err)
		}
		if h := ptr.Deref(lease.Spec.HolderIdentity, ""); h != winner {
			t.Fatalf("Lease %s held by %q, want %s", lease.Name, h, winner)
		}
	}

	// The cut: every memberlist datagram and connection between the two
	// dropped. Each declares the other failed.
	heal := cutMemberlist(t, rn.port)
	cutAt := time.Now()
	members(1)
	start := time.Now()
	macs := map[string]bool{}
	for time.Since(start) < 2*fencingLease {
		for _, m := range arpingMACs(t, asker, 2) {
			macs[m] = true
		}
	}
	switch {
	case !fenced:
		if len(macs) != 2 {
			t.Fatalf("without fencing, during the cut ARP was answered by %v: want both nodes (the cut did not split them)", macs)
		}
		t.Logf("without fencing, during the cut both %s and %s answered", winner, loser)
	case len(macs) != 1 || !macs[hosts[winner].MAC.String()]:
		t.Errorf("with fencing, during the cut ARP was answered by %v: want only %s (%s)", macs, hosts[winner].MAC, winner)
	default:
		res := speakers[loser].s.fence
		if res.Held(netnsVIP) || res.Holder(netnsVIP) != winner {
			t.Errorf("%s: Lease held %v, holder %q; want %s holding", loser, res.Held(netnsVIP), res.Holder(netnsVIP), winner)
		}
		// The waiting node reports the disagreement once it has waited
		// twice the Lease duration: a Warning Event naming both nodes, and
		// its gauge counts the address as waiting (the holder's as held).
		poll(t, "the LeaseHeldElsewhere Event", testkit.Budget(2*fencingLease+apiReaction), func() error {
			var list eventsv1.EventList
			if err := c.List(ctx, &list, client.InNamespace(rn.app)); err != nil {
				return err
			}
			for _, e := range list.Items {
				if e.Reason == ReasonLeaseHeldElsewhere && e.Regarding.Name == "web" &&
					strings.Contains(e.Note, "node "+loser+" elected itself") && strings.Contains(e.Note, "node "+winner+" has held") {
					return nil
				}
			}
			hist := map[string]int{}
			for _, e := range list.Items {
				hist[e.Reason+"/"+e.ReportingInstance+"/"+e.Regarding.Kind]++
			}
			return fmt.Errorf("%d Events %v, no %s from %s naming %s", len(list.Items), hist, ReasonLeaseHeldElsewhere, loser, winner)
		})
		// Both sides report the Service (each sees itself alone) and must
		// agree that it is announced: the waiting node counts the holder as
		// the announcer, and leaves the condition alone while it does not
		// know the holder yet. Seen failing when it did neither: "1082
		// Announced and 1082 NotAnnounced Events" in 10 s, the two
		// rewriting the condition in turn; with the holder counted but the
		// pending wait not left alone: "1 NotAnnounced Events on web during
		// the cut" (the moment before the Lease was read), twice in two runs.
		var list eventsv1.EventList
		if err := c.List(ctx, &list, client.InNamespace(rn.app)); err != nil {
			t.Fatal(err)
		}
		flips := 0
		for _, e := range list.Items {
			if e.Reason == ReasonNotAnnounced && e.Regarding.Name == "web" && !e.EventTime.Before(&metav1.MicroTime{Time: cutAt}) {
				flips++
			}
		}
		if flips > 0 {
			t.Errorf("%d %s Events on web during the cut: the two sides disagree about whether it is announced", flips, ReasonNotAnnounced)
		}
		if w, h := speakers[loser].s.fenced.waiting.Load(), speakers[winner].s.fenced.held.Load(); w != 1 || h != 1 {
			t.Errorf("fenced addresses: %s waiting %d, %s held %d; want 1 and 1", loser, w, winner, h)
		}
		t.Logf("with fencing, during the cut only %s answered; %s waited for the Lease and reported it", winner, loser)
	}
	heal()
	members(2)
	onlyWinner("one answer again once the cut healed")
	if !fenced {
		return
	}

	// The holder crashes: the other answers once the Lease expires.
	crash := time.Now()
	speakers[winner].stop()
	poll(t, loser+" answering after the crash", testkit.Budget(crashDetect+2*fencingLease), func() error {
		if macs := arpingMACs(t, asker, 1); len(macs) != 1 || macs[0] != hosts[loser].MAC.String() {
			return fmt.Errorf("ARP answered by %v, want %s", macs, hosts[loser].MAC)
		}
		return nil
	})
	t.Logf("%s answered %v after %s crashed (Lease %v)", loser, time.Since(crash).Round(10*time.Millisecond), winner, fencingLease)
}

// cutMemberlist drops, in the root network namespace, all traffic to the
// memberlist port of the test speakers (127.0.0.2 and 127.0.0.3), and
// returns the function removing the rule. The table has a name of its own
// so nothing else is touched.
func cutMemberlist(t *testing.T, port int) (heal func()) {
	t.Helper()
	table := fmt.Sprintf("ironlb_fencing_test_%d", port)
	rules := fmt.Sprintf(`table inet %s {
	chain output {
		type filter hook output priority 0; policy accept;
		ip daddr { 127.0.0.2, 127.0.0.3 } tcp dport %d drop
		ip daddr { 127.0.0.2, 127.0.0.3 } udp dport %d drop
	}
}
`, table, port, port)
	nft := func(stdin string, args ...string) {
		t.Helper()
		cmd := exec.CommandContext(context.Background(), "nft", args...)
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nft %v: %v: %s", args, err, out)
		}
	}
	nft(rules, "-f", "-")
	done := false
	heal = func() {
		if !done {
			done = true
			nft("", "delete", "table", "inet", table)
		}
	}
	t.Cleanup(heal)
	return heal
}

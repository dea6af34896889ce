//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/lab"
	"github.com/ironlb/ironlb/internal/layer2"
	"github.com/ironlb/ironlb/internal/testkit"
)

// Pools of the interfaces check: one in the LAN's subnet (every node's
// eth0), one in the subnet of the lab's second card (every node's and the
// client's eth1, on a bridge of its own), clear of the other pools.
var (
	l2PoolCards = []string{"10.200.0.150-10.200.0.153", "fd00:200::150-fd00:200::153"}
	l2PoolCard2 = []string{"10.204.0.200-10.204.0.203", "fd00:204::200-fd00:204::203"}
)

// announceScheduleEnd is when the last unsolicited announcement of a new
// address goes out.
var announceScheduleEnd = layer2.DefaultAnnounceSchedule()[len(layer2.DefaultAnnounceSchedule())-1]

// labCards is what the interfaces check knows of the lab's two network
// cards, from `lab status`: the client's card names in order (eth0, eth1)
// and, per card name, each node's MAC on it.
type labCards struct {
	names []string
	macs  map[string]map[string]string // card → node → MAC
}

// readCards reads the cards from the lab's status; a lab without a second
// card on the client and every node fails the test.
func readCards(t *testing.T) labCards {
	t.Helper()
	c := labCards{macs: map[string]map[string]string{}}
	for _, h := range status(t).Hosts {
		if h.Role != lab.RoleNode && h.Role != lab.RoleClient {
			continue
		}
		if h.NIC2 == nil {
			t.Fatalf("%s has no second network card in `lab status`; the lab predates it", h.Name)
		}
		if h.Role == lab.RoleClient {
			c.names = []string{h.Interface, h.NIC2.Interface}
			continue
		}
		for name, mac := range map[string]string{h.Interface: h.MAC, h.NIC2.Interface: h.NIC2.MAC} {
			if c.macs[name] == nil {
				c.macs[name] = map[string]string{}
			}
			c.macs[name][h.Name] = strings.ToLower(mac)
		}
	}
	if len(c.names) != 2 || c.names[0] == c.names[1] {
		t.Fatalf("the client's cards are %q, want two", c.names)
	}
	return c
}

// answeredOn asks for ip from the client on each of its cards in turn
// (arping or ndisc6, neighborProbe) and returns, per card that got an
// answer, the node that answered, known by its MAC on that card. Several
// MACs on one card, a MAC of no node or a node's MAC of another card, and
// a probe that failed to run are errors, never "no answer".
//
// ndisc6 takes an advertisement for its target arriving on any interface
// of the client, not only the one it asks on: the eth1 probe was seen
// reading node2's answer on eth0 ("fd00:200::150 answered on the client's
// eth1 by 02:00:00:00:00:0c, the eth1 MAC of no node"). So the cards are
// asked one after the other, never at once, and waitCards lets a new
// announcement's unsolicited advertisements pass before it relies on a
// card being silent. Such a stray answer can only fail a check (a MAC of
// the wrong card), never make one pass: a card's MACs exist on its own
// bridge alone.
func (c labCards) answeredOn(ip netip.Addr) (map[string]string, error) {
	got := map[string]string{}
	for _, card := range c.names {
		macs, err := neighborProbe(e2e.prefix+"client", card, ip)
		if err != nil {
			return nil, err
		}
		if len(macs) == 0 {
			continue
		}
		if len(macs) > 1 {
			return nil, fmt.Errorf("%s answered on the client's %s by %d MACs %v, want one", ip, card, len(macs), macs)
		}
		node := ""
		for n, m := range c.macs[card] {
			if m == macs[0] {
				node = n
			}
		}
		if node == "" {
			other := ""
			for name, ms := range c.macs {
				for n, m := range ms {
					if m == macs[0] {
						other = fmt.Sprintf(" (%s's %s MAC)", n, name)
					}
				}
			}
			return nil, fmt.Errorf("%s answered on the client's %s by %s, the %s MAC of no node%s", ip, card, macs[0], card, other)
		}
		got[card] = node
	}
	return got, nil
}

// cardsCheck checks once that every address of svc is answered on exactly
// the client's cards want, each time with the MAC of that card of one and
// the same node, nothing answering on the other card, and that the
// Service's ServiceL2Statuses name exactly the answering nodes, each with
// the interfaces want. It returns the answering node per address.
func (l *l2Env) cardsCheck(c labCards, svc string, ips []netip.Addr, want []string) (map[netip.Addr]string, error) {
	// The addresses are asked at once (a probe waits a second for
	// answers): each probe takes only answers for its own address.
	ons := make([]map[string]string, len(ips))
	errs := make([]error, len(ips))
	var wg sync.WaitGroup
	for i, ip := range ips {
		wg.Go(func() { ons[i], errs[i] = c.answeredOn(ip) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	owners := map[netip.Addr]string{}
	for i, ip := range ips {
		on := ons[i]
		if cards := slices.Sorted(maps.Keys(on)); !slices.Equal(cards, want) {
			return nil, fmt.Errorf("%s answered on the client's %v (by %v), want on %v alone", ip, cards, on, want)
		}
		for _, n := range on {
			if owners[ip] != "" && owners[ip] != n {
				return nil, fmt.Errorf("%s answered by different nodes on different cards: %v", ip, on)
			}
			owners[ip] = n
		}
	}
	statuses, err := l.l2StatusInterfaces(context.Background(), svc)
	if err != nil {
		return nil, err
	}
	nodes := slices.Sorted(maps.Values(owners))
	if named := slices.Sorted(maps.Keys(statuses)); !slices.Equal(slices.Compact(nodes), named) {
		return nil, fmt.Errorf("answered by %v, ServiceL2Statuses name %v", owners, named)
	}
	for n, ifcs := range statuses {
		if !slices.Equal(ifcs, want) {
			return nil, fmt.Errorf("the ServiceL2Status of %s lists interfaces %v, want %v", n, ifcs, want)
		}
	}
	return owners, nil
}

// waitCards waits until cardsCheck passes, then, once the announcement's
// unsolicited advertisements are over, checks twice more, a little apart,
// that it still does (the answer on the one card and the silence on the
// other are stable, not a lucky moment of a change).
func (l *l2Env) waitCards(t *testing.T, c labCards, svc string, ips []netip.Addr, want []string) map[netip.Addr]string {
	t.Helper()
	var owners map[netip.Addr]string
	// Expected: the speakers recompute within a second of a change to the
	// advertisements and open or close the card's responder at once.
	eventually(t, testkit.Budget(5*time.Second), fmt.Sprintf("%s/%s answered on %v alone", l.ns, svc, want), func() error {
		var err error
		owners, err = l.cardsCheck(c, svc, ips, want)
		return err
	})
	// A card that starts answering sends unsolicited advertisements for
	// 2 s (layer2.DefaultAnnounceSchedule); ndisc6 asking on the other
	// card would read them (answeredOn).
	time.Sleep(announceScheduleEnd + time.Second)
	for range 2 {
		time.Sleep(500 * time.Millisecond)
		again, err := l.cardsCheck(c, svc, ips, want)
		if err != nil {
			t.Fatalf("%s/%s, once answered on %v alone: %v", l.ns, svc, want, err)
		}
		if !maps.Equal(again, owners) {
			t.Fatalf("%s/%s: answered by %v, a moment before by %v", l.ns, svc, again, owners)
		}
	}
	return owners
}

// l2StatusInterfaces returns, per node a ServiceL2Status of svc names, the
// interfaces it lists (sorted).
func (l *l2Env) l2StatusInterfaces(ctx context.Context, svc string) (map[string][]string, error) {
	var list v1beta1.ServiceL2StatusList
	if err := l.cl.List(ctx, &list, client.InNamespace(l.ns), client.MatchingLabels{
		v1beta1.LabelStatusServiceName: svc, v1beta1.LabelStatusServiceNamespace: l.ns,
	}); err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, o := range list.Items {
		if o.Status.Node == "" {
			return nil, fmt.Errorf("ServiceL2Status %s/%s has no status.node yet", o.Namespace, o.Name)
		}
		var names []string
		for _, i := range o.Status.Interfaces {
			names = append(names, i.Name)
		}
		slices.Sort(names)
		out[o.Status.Node] = names
	}
	return out, nil
}

// setInterfaces sets an L2Advertisement's interfaces.
func (l *l2Env) setInterfaces(t *testing.T, name string, ifcs []string) {
	t.Helper()
	ctx := context.Background()
	adv := &v1beta1.L2Advertisement{}
	if err := l.cl.Get(ctx, client.ObjectKey{Namespace: ironlbNamespace, Name: name}, adv); err != nil {
		t.Fatal(err)
	}
	orig := adv.DeepCopy()
	adv.Spec.Interfaces = ifcs
	if err := l.cl.Patch(ctx, adv, client.MergeFrom(orig)); err != nil {
		t.Fatalf("setting the interfaces of L2Advertisement %s: %v", name, err)
	}
}

// testInterfaces proves an L2Advertisement's interfaces on the lab's two
// cards (eth0 on the LAN bridge, eth1 on a bridge of its own, each card
// with its own MAC, the client on both), for a dual-stack Service:
//   - interfaces [eth0]: the client's ARP/NDP on its eth0 is answered with
//     the elected node's eth0 MAC, and nothing answers on its eth1;
//   - switched to [eth1]: answered on eth1 with the same node's eth1 MAC,
//     nothing on eth0;
//   - a second advertisement of the pool with [eth0]: answered on both
//     cards, each with its own MAC, by that node;
//   - a pool in the second card's subnet, no interfaces list: answered on
//     eth1 alone (subnet awareness) and its Service answers HTTP from the
//     client, whose route to it is eth1's subnet.
//
// ServiceL2Status lists exactly the interfaces answered on, each time.
func (l *l2Env) testInterfaces(t *testing.T) {
	c := readCards(t)
	eth0, eth1 := c.names[0], c.names[1]
	l.createPoolWith(t, "cards", l2PoolCards, v1beta1.L2AdvertisementSpec{Interfaces: []string{eth0}})
	svc := l.createLB(t, "cards", "web", "cards", corev1.IPFamilyPolicyRequireDualStack,
		[]corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, false)
	ips := l.waitIngress(t, svc, 2)
	if !inPool(ips[0], l2PoolCards) || !inPool(ips[1], l2PoolCards) {
		t.Fatalf("EXTERNAL-IPs %v, want addresses of %v", ips, l2PoolCards)
	}

	// The positive half needs the eth0 MAC of the winner; the negative
	// half is neighborProbe's clean "no answer" on eth1, a probe that
	// fails to run failing the check. Seen failing with a speaker
	// answering on every card whatever the list and the subnet
	// (decide.eligibleInterface returning true, in a copy of the tree,
	// run as IRONLB_BIN): "answered on [eth0] alone: not within 40s:
	// 10.200.0.150 answered on the client's [eth0 eth1] (by map[eth0:node2
	// eth1:node2]), want on [eth0] alone" (CI=true).
	owners := l.waitCards(t, c, svc, ips, []string{eth0})
	t.Logf("interfaces [%s]: %v answered on %s alone by %v", eth0, ips, eth0, owners)

	// Every node has an eth1, so the election does not change: the same
	// node answers, now on eth1 with its eth1 MAC, and no longer on eth0.
	// Seen failing with a speaker ignoring the interfaces list (subnet
	// only: decide.eligibleInterface without its first branch, in a
	// copy), the [eth0] step before passing: "answered on [eth1] alone:
	// not within 40s: 10.200.0.150 answered on the client's [eth0] (by
	// map[eth0:node2]), want on [eth1] alone".
	l.setInterfaces(t, l.pools["cards"], []string{eth1})
	moved := l.waitCards(t, c, svc, ips, []string{eth1})
	if !maps.Equal(moved, owners) {
		t.Errorf("interfaces [%s]: answered by %v, want the same nodes as on %s, %v", eth1, moved, eth0, owners)
	}
	t.Logf("interfaces [%s]: %v answered on %s alone by %v", eth1, ips, eth1, moved)

	// Two advertisements of the pool, one per card: both cards answer,
	// each with its own MAC, from the one elected node (cardsCheck).
	// Seen failing with a speaker answering only through the first
	// advertisement that lets the node answer (decide.prepared.answersOn
	// returning after it, in a copy), the steps before passing: "answered
	// on [eth0 eth1] alone: not within 40s: 10.200.0.150 answered on the
	// client's [eth1] (by map[eth1:node2]), want on [eth0 eth1] alone".
	second := &v1beta1.L2Advertisement{
		ObjectMeta: metav1.ObjectMeta{Namespace: ironlbNamespace, Name: l.pools["cards"] + "-" + eth0},
		Spec:       v1beta1.L2AdvertisementSpec{IPAddressPools: []string{l.pools["cards"]}, Interfaces: []string{eth0}},
	}
	if err := l.cl.Create(context.Background(), second); err != nil {
		t.Fatalf("creating L2Advertisement %s: %v", second.Name, err)
	}
	t.Cleanup(func() {
		if err := l.cl.Delete(context.Background(), second); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting L2Advertisement %s: %v", second.Name, err)
		}
	})
	both := l.waitCards(t, c, svc, ips, []string{eth0, eth1})
	if !maps.Equal(both, owners) {
		t.Errorf("two advertisements: answered by %v, want the same nodes as before, %v", both, owners)
	}
	t.Logf("advertisements [%s] and [%s]: %v answered on both cards by %v, each card with its own MAC", eth0, eth1, ips, both)

	// A pool in eth1's subnet and no interfaces list: subnet awareness
	// answers on eth1 alone. The client reaches the address through its
	// own eth1 (a connected route, no router): ARP/NDP on eth1, the node's
	// kube-proxy DNATs what arrives there, replies go back through the
	// node's eth1. Seen failing with a speaker answering on every card
	// when the list is empty (decide.eligibleInterface returning true
	// after its first branch, in a copy), the steps before passing:
	// "card2 answered on [eth1] alone: not within 40s: 10.204.0.200
	// answered on the client's [eth0 eth1] (by map[eth0:node1
	// eth1:node1]), want on [eth1] alone".
	l.createPool(t, "card2", l2PoolCard2)
	svc2 := l.createLB(t, "card2", "web", "card2", corev1.IPFamilyPolicyRequireDualStack,
		[]corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, false)
	ips2 := l.waitIngress(t, svc2, 2)
	if !inPool(ips2[0], l2PoolCard2) || !inPool(ips2[1], l2PoolCard2) {
		t.Fatalf("EXTERNAL-IPs %v, want addresses of %v", ips2, l2PoolCard2)
	}
	owners2 := l.waitCards(t, c, svc2, ips2, []string{eth1})
	for _, ip := range ips2 {
		out, err := exec.Command("ip", "-n", e2e.prefix+"client", "route", "get", ip.String()).CombinedOutput()
		if err != nil {
			t.Fatalf("ip route get %s in the client: %v: %s", ip, err, out)
		}
		if f := strings.Fields(string(out)); !slices.Contains(f, "dev") || f[slices.Index(f, "dev")+1] != eth1 || slices.Contains(f, "via") {
			t.Errorf("the client's route to %s is %q, want directly on %s", ip, strings.TrimSpace(string(out)), eth1)
		}
	}
	l.waitAnswers(t, svc2, ips2, "web", "")
	t.Logf("pool in %s's subnet, no interfaces list: %v answered on %s alone by %v, and over HTTP from the client through it", eth1, ips2, eth1, owners2)
}

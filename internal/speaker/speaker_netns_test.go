package speaker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/netnstest"
	"github.com/ironlb/ironlb/internal/speaker/decide"
	"github.com/ironlb/ironlb/internal/testenv"
	"github.com/ironlb/ironlb/internal/testkit"
)

// The cluster of TestSpeakersOnRealNetwork: two node namespaces on
// 10.201.0.0/24 and a client; the API server and memberlist (on
// 127.0.0.2 and 127.0.0.3, the Nodes' InternalIPs) stay in the root
// namespace, only the layer 2 sockets live in the nodes'.
var netnsVIP = netip.MustParseAddr("10.201.0.100")

// What the waits of the speaker tests derive from: times measured on an
// idle 2-core machine. A wait lasts testkit.Budget of the time its outcome
// is expected to take and ends as soon as it is there.
const (
	// speakerStart: a speaker's manager starts, its caches sync, it joins
	// memberlist (or reads the Nodes) and decides.
	speakerStart = 2 * time.Second
	// speakerStop: a graceful stop: withdrawals and gratuitous ARP, its
	// status objects deleted through the API server, its sessions closed.
	speakerStop = 2 * time.Second
	// apiReaction: a speaker sees a change through its watches and
	// writes what follows (a status, an Event) through the API server.
	apiReaction = 500 * time.Millisecond
	// crashDetect: memberlist declares a crashed member dead (about
	// 0.6 s with membership.DefaultTuning) and the survivor takes over.
	crashDetect = time.Second
)

// testSpeaker is one speaker running in the test process.
type testSpeaker struct {
	name string
	host *netnstest.Host
	s    *Speaker
	stop func()
}

func testLog(name string) *slog.Logger {
	if os.Getenv("SPEAKER_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", name)
}

// startSpeaker runs a speaker for host until stop (or the end of the test).
// With crash, stop stands in for a crash: no memberlist leave, no cleanup.
func startSpeaker(t *testing.T, env *testenv.Env, ns string, h *netnstest.Host, memberlistAddr string, crash bool) *testSpeaker {
	t.Helper()
	opts := Options{
		NodeName: h.Name, Namespace: ns, MemberlistBindAddress: memberlistAddr,
		HealthProbeBindAddress: "0", MetricsBindAddress: "0", Registry: prometheus.NewRegistry(),
		InterfaceScanInterval: time.Second, MemberlistSecretWait: -1,
		inNetNS: h.Do, skipNameValidation: true, logger: testLog(h.Name), crashOnStop: crash,
	}
	mgr, err := NewManager(env.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Setup(mgr, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	ts := &testSpeaker{name: h.Name, host: h, s: s}
	var once sync.Once
	ts.stop = func() { once.Do(func() { stop(t, h.Name, cancel, done) }) }
	t.Cleanup(ts.stop)
	return ts
}

// stop cancels a speaker's manager and waits for it to return.
func stop(t *testing.T, name string, cancel func(), done <-chan error) {
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("speaker %s: %v", name, err)
		}
	case <-time.After(testkit.Budget(speakerStop)):
		t.Errorf("speaker %s did not stop within %v", name, testkit.Budget(speakerStop))
	}
}

// TestSpeakersOnRealNetwork runs two speakers against a real API server,
// answering on real interfaces: with memberlist (graceful stop, return,
// crash), and with the Node readiness fallback (no memberlist Secret;
// graceful stop).
func TestSpeakersOnRealNetwork(t *testing.T) {
	netnstest.Require(t, netnstest.Root, "ip", "sysctl", "arping")
	t.Run("memberlist", func(t *testing.T) { testRealNetwork(t, true) })
	t.Run("node readiness", func(t *testing.T) { testRealNetwork(t, false) })
}

func testRealNetwork(t *testing.T, memberlist bool) {
	rn := newRealNetwork(t, "ispk", memberlist, v1beta1.L2AdvertisementSpec{})
	env, asker, c, ns, app, hosts := rn.env, rn.asker, rn.env.Client, rn.ns, rn.app, rn.hosts
	ctx := t.Context()

	memberlistAddr := map[string]string{}
	speakers := map[string]*testSpeaker{}
	for i, name := range []string{"node1", "node2"} {
		memberlistAddr[name] = rn.memberlistAddress(i)
		speakers[name] = startSpeaker(t, env, ns, hosts[name], memberlistAddr[name], false)
	}

	// Once the speakers see each other, exactly one node answers: the
	// elected one, which its ServiceL2Status names.
	for name, sp := range speakers {
		poll(t, "speaker "+name+" ready and seeing both", testkit.Budget(speakerStart), func() error {
			if m := sp.s.memberN.Load(); m != 2 {
				return fmt.Errorf("%d members", m)
			}
			return sp.s.Ready()
		})
	}
	if !memberlist {
		// No memberlist Secret: no gossip at all, never gossip in clear,
		// and each Node says so. Seen failing with startMembership
		// starting memberlist without a key when the Secret is missing:
		// "the memberlist address 127.0.0.2:43267 of node1 is taken: the
		// speaker gossips without a key", then "none Warning
		// MemberlistNotUsed on Node node1".
		for name, addr := range memberlistAddr {
			pc, err := net.ListenPacket("udp", addr)
			switch {
			case errors.Is(err, syscall.EADDRINUSE):
				t.Errorf("the memberlist address %s of %s is taken: the speaker gossips without a key", addr, name)
			case err != nil:
				t.Fatalf("checking the memberlist address %s of %s: %v", addr, name, err)
			default:
				_ = pc.Close()
			}
			poll(t, "the "+ReasonMemberlistNotUsed+" Event of Node "+name, testkit.Budget(apiReaction), func() error {
				return findNodeEvent(ctx, c, name, ReasonMemberlistNotUsed, corev1.EventTypeWarning)
			})
		}
	}
	winner := decide.Elect(netnsVIP, []string{"node1", "node2"})
	loser := "node1"
	if winner == "node1" {
		loser = "node2"
	}
	if got := waitStatusNode(t, c, app, loser, testkit.Budget(apiReaction)); got != winner {
		t.Fatalf("ServiceL2Status names %s, want %s", got, winner)
	}
	t.Logf("%s announces %s", winner, netnsVIP)
	macs := arpingMACs(t, asker, 3)
	if len(macs) != 1 || macs[0] != hosts[winner].MAC.String() {
		t.Fatalf("arping got replies from %v, want only %s (%s)", macs, hosts[winner].MAC, winner)
	}
	poll(t, "the AnnouncingNodeChanged Event", testkit.Budget(apiReaction), func() error {
		return findEvent(ctx, c, app, "web", winner)
	})
	for name := range hosts {
		var n corev1.Node
		if err := c.Get(ctx, client.ObjectKey{Name: name}, &n); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(n.Annotations[AnnotationL2Subnets], `"eth0":["10.201.0.0/24","fd00:201::/64"]`) {
			t.Errorf("Node %s annotation %q", name, n.Annotations[AnnotationL2Subnets])
		}
	}
	// Each speaker keeps its view of the members on its Node (what
	// `ironlb doctor` compares). Seen failing with sync not setting the
	// target: "no annotation ironlb.io/members".
	var names []string
	for name := range hosts {
		names = append(names, name)
	}
	via := ViaMemberlist
	if !memberlist {
		via = ViaNodeReady
	}
	want := EncodeMembers(MembersView{Via: via, Members: names})
	for name := range hosts {
		poll(t, "Node "+name+"'s members annotation", testkit.Budget(apiReaction), func() error {
			var n corev1.Node
			if err := c.Get(ctx, client.ObjectKey{Name: name}, &n); err != nil {
				return err
			}
			got, ok := n.Annotations[AnnotationMembers]
			if !ok {
				return fmt.Errorf("no annotation %s", AnnotationMembers)
			}
			if got != want {
				return fmt.Errorf("annotation %s %s, want %s", AnnotationMembers, got, want)
			}
			return nil
		})
	}

	// A graceful stop hands over at once: the client's neighbour entry
	// flips to the other node's MAC with its gratuitous ARP.
	took := handover(t, asker, hosts[winner], hosts[loser], speakers[winner].stop, testkit.Budget(speakerStop))
	t.Logf("after a graceful stop of %s, the client's neighbour entry moved to %s in %v", winner, loser, took)
	speakers[winner].stop()
	if got := waitStatusNode(t, c, app, winner, testkit.Budget(apiReaction)); got != loser {
		t.Errorf("ServiceL2Status names %s, want %s", got, loser)
	}
	macs = arpingMACs(t, asker, 3)
	if len(macs) != 1 || macs[0] != hosts[loser].MAC.String() {
		t.Errorf("after the stop, arping got replies from %v, want only %s", macs, hosts[loser].MAC)
	}
	var n corev1.Node
	if err := c.Get(ctx, client.ObjectKey{Name: winner}, &n); err != nil {
		t.Fatal(err)
	}
	if v, ok := n.Annotations[AnnotationL2Subnets]; ok {
		t.Errorf("the stopped speaker left its annotation %q", v)
	}
	if !memberlist {
		return // a crash is noticed only when the Node turns NotReady
	}

	// The elected node comes back and takes its address back.
	took = handover(t, asker, hosts[loser], hosts[winner], func() {
		speakers[winner] = startSpeaker(t, env, ns, hosts[winner], memberlistAddr[winner], true)
	}, testkit.Budget(speakerStart))
	t.Logf("%s took its address back %v after its speaker started", winner, took)
	if got := waitStatusNode(t, c, app, loser, testkit.Budget(apiReaction)); got != winner {
		t.Errorf("ServiceL2Status names %s, want %s", got, winner)
	}

	// It crashes: the other notices through memberlist and takes over;
	// it also deletes the ServiceL2Status the crashed node left.
	took = handover(t, asker, hosts[winner], hosts[loser], speakers[winner].stop, testkit.Budget(crashDetect))
	t.Logf("after a crash of %s, the client's neighbour entry moved to %s in %v", winner, loser, took)
	if got := waitStatusNode(t, c, app, winner, testkit.Budget(crashDetect+apiReaction)); got != loser {
		t.Errorf("ServiceL2Status names %s, want %s", got, loser)
	}
}

// realNetwork is the cluster of the speaker tests on a real network: two
// node namespaces (node1, node2) on 10.201.0.0/24 and a client; their
// Nodes, whose InternalIPs 127.0.0.2 and 127.0.0.3 carry memberlist in the
// root namespace, where the API server stays; pool "lan" with one
// L2Advertisement; with memberlist its Secret; and Service web holding
// netnsVIP. Only the layer 2 sockets live in the nodes' namespaces.
type realNetwork struct {
	env     *testenv.Env
	asker   *netnstest.Host
	hosts   map[string]*netnstest.Host
	ns, app string // ironlb's namespace, the Service's
	port    int    // the memberlist port
}

func newRealNetwork(t *testing.T, prefix string, memberlist bool, adv v1beta1.L2AdvertisementSpec) *realNetwork {
	t.Helper()
	env := testenv.Start(t)
	nw := netnstest.New(t, netnstest.Options{Prefix: prefix})
	rn := &realNetwork{env: env, asker: nw.AddHost("client", 9), hosts: map[string]*netnstest.Host{},
		ns: env.NewNamespace(t), app: env.NewNamespace(t), port: freeLoopbackPort(t)}
	ctx, c := t.Context(), env.Client
	mustCreate := func(o client.Object) {
		t.Helper()
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	for i, name := range []string{"node1", "node2"} {
		rn.hosts[name] = nw.AddHost(name, i+1)
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
		mustCreate(n)
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: fmt.Sprintf("127.0.0.%d", i+2)}}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
		if err := c.Status().Update(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	mustCreate(&v1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Namespace: rn.ns, Name: "lan"},
		Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"10.201.0.100-10.201.0.110"}}})
	mustCreate(&v1beta1.L2Advertisement{ObjectMeta: metav1.ObjectMeta{Namespace: rn.ns, Name: "lan"}, Spec: adv})
	if memberlist {
		mustCreate(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: rn.ns, Name: DefaultMemberlistSecretName},
			Data: map[string][]byte{MemberlistSecretKey: []byte("a test secret")}})
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: rn.app, Name: "web"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, AllocateLoadBalancerNodePorts: ptr.To(false),
			Ports: []corev1.ServicePort{{Port: 80}}},
	}
	mustCreate(svc)
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: netnsVIP.String()}}
	if err := c.Status().Update(ctx, svc); err != nil {
		t.Fatal(err)
	}
	return rn
}

// memberlistAddress is node i's (0-based) memberlist address.
func (rn *realNetwork) memberlistAddress(i int) string {
	return fmt.Sprintf("127.0.0.%d:%d", i+2, rn.port)
}

// handover sets the client's neighbour entry for the VIP to from's MAC,
// runs act, and returns how long after act started the entry moved to
// to's MAC (by a gratuitous ARP), failing the test after limit.
func handover(t *testing.T, asker, from, to *netnstest.Host, act func(), limit time.Duration) time.Duration {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	asker.SetNeighbor(netnsVIP, from.MAC, "reachable")
	at := flipped(asker.WatchNeighbors(ctx), netnsVIP, to.MAC.String())
	start := time.Now()
	act()
	select {
	case when := <-at:
		return when.Sub(start)
	case <-time.After(limit):
		t.Fatalf("the client's neighbour entry for %s did not move from %s to %s within %v", netnsVIP, from.Name, to.Name, limit)
		return 0
	}
}

// flipped delivers the time the neighbour entry of addr got mac.
func flipped(events <-chan netnstest.NeighborEvent, addr netip.Addr, mac string) <-chan time.Time {
	at := make(chan time.Time, 1)
	go func() {
		for e := range events {
			if e.Addr == addr && !e.Deleted && e.MAC.String() == mac {
				at <- e.At
				return
			}
		}
	}()
	return at
}

// waitStatusNode waits until the Service web has exactly one
// ServiceL2Status, of a node other than not, and returns that node.
func waitStatusNode(t *testing.T, c client.Client, ns, not string, limit time.Duration) string {
	t.Helper()
	var node string
	poll(t, "one ServiceL2Status", limit, func() error {
		var list v1beta1.ServiceL2StatusList
		if err := c.List(context.Background(), &list, client.InNamespace(ns),
			client.MatchingLabels{v1beta1.LabelStatusServiceName: "web"}); err != nil {
			return err
		}
		if len(list.Items) != 1 {
			return fmt.Errorf("%d objects", len(list.Items))
		}
		st := list.Items[0].Status
		if st.Node == "" || st.Node == not || st.ServiceName != "web" || st.ServiceNamespace != ns ||
			len(st.Interfaces) != 1 || st.Interfaces[0].Name != "eth0" {
			return fmt.Errorf("status %+v", st)
		}
		node = st.Node
		return nil
	})
	return node
}

var macRE = regexp.MustCompile(`bytes from ([0-9a-f:]{17})`)

// arpingMACs sends count ARP requests for the VIP from the client and
// returns the distinct MAC addresses that answered, sorted. Its 2 s
// deadline is a window (every node that answers at all answers within
// milliseconds), not a budget: it also bounds the look for a second,
// wrong answer.
func arpingMACs(t *testing.T, asker *netnstest.Host, count int) []string {
	t.Helper()
	out, _ := asker.Output(context.Background(), "arping", "-c", fmt.Sprint(count), "-W", "0.2", "-w", "2",
		"-i", asker.Interface, netnsVIP.String())
	var macs []string
	for _, m := range macRE.FindAllStringSubmatch(out, -1) {
		if !slices.Contains(macs, m[1]) {
			macs = append(macs, m[1])
		}
	}
	slices.Sort(macs)
	return macs
}

// findEvent looks for the AnnouncingNodeChanged Event on Service name
// naming node.
func findEvent(ctx context.Context, c client.Client, ns, name, node string) error {
	var list eventsv1.EventList
	if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return err
	}
	for _, e := range list.Items {
		if e.Reason == ReasonAnnouncingNodeChanged && e.Regarding.Name == name && strings.Contains(e.Note, "node "+node+" answers") {
			return nil
		}
	}
	return fmt.Errorf("%d events, none matching", len(list.Items))
}

// freeLoopbackPort returns a port free on 127.0.0.2 right now.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// poll retries f until it succeeds, failing the test after limit.
func poll(t *testing.T, what string, limit time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

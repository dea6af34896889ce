package speaker

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/bfd"
	"github.com/ironlb/ironlb/internal/bgp"
	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/speaker/decide"
)

// fakeBGP records what the announcer asks of a bgp.Speaker.
type fakeBGP struct {
	mu     sync.Mutex
	peers  []bgp.Peer
	routes []bgp.Route
	closed bool
	stats  map[string]bgp.PeerStats
	events chan bgp.PeerEvent
}

func newFakeBGP() *fakeBGP { return &fakeBGP{events: make(chan bgp.PeerEvent, 16)} }

func (f *fakeBGP) SetPeers(_ context.Context, peers []bgp.Peer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.peers = slices.Clone(peers)
	return nil
}

func (f *fakeBGP) Advertise(_ context.Context, routes []bgp.Route) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes = slices.Clone(routes)
	return nil
}

func (f *fakeBGP) Events() <-chan bgp.PeerEvent { return f.events }

func (f *fakeBGP) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func (f *fakeBGP) Stats(context.Context) (map[string]bgp.PeerStats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats, nil
}

var (
	nodeV4 = netip.MustParseAddr("10.0.0.11")
	nodeV6 = netip.MustParseAddr("fd00::11")
)

func testNode() *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node1", UID: "node-uid"},
		Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeHostName, Address: "node1"},
			{Type: corev1.NodeInternalIP, Address: nodeV6.String()},
			{Type: corev1.NodeInternalIP, Address: nodeV4.String()},
		}},
	}
}

func TestToBGPPeer(t *testing.T) {
	na := nodeAddresses(testNode())
	if na.v4 != nodeV4 || na.v6 != nodeV6 {
		t.Fatalf("node addresses %+v", na)
	}
	base := config.Peer{
		Name: "router", MyASN: 64513, PeerASN: 64512, Address: netip.MustParseAddr("10.0.0.1"), Port: 1179,
		HoldTime: 9 * time.Second, KeepaliveTime: 3 * time.Second, Password: "pw", EnableGracefulRestart: true,
		DualStackAddressFamily: true,
	}
	got, err := toBGPPeer(&base, na)
	if err != nil {
		t.Fatal(err)
	}
	want := bgp.Peer{
		Name: "router", Address: base.Address, Port: 1179, MyASN: 64513, PeerASN: 64512, RouterID: nodeV4,
		HoldTime: 9 * time.Second, KeepaliveTime: 3 * time.Second, Password: "pw", GracefulRestart: true,
		NextHopIPv6: nodeV6,
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("peer (-want +got):\n%s", diff)
	}

	single := base
	single.DualStackAddressFamily = false
	if got, err := toBGPPeer(&single, na); err != nil || got.NextHopIPv6.IsValid() {
		t.Errorf("without dualStackAddressFamily: %+v, %v; want no IPv6 next hop", got, err)
	}

	withBFD := base
	withBFD.DisableMP = true
	withBFD.DynamicASN, withBFD.PeerASN = "internal", 0
	withBFD.BFD = &config.BFDProfile{Name: "fast", ReceiveInterval: 100, TransmitInterval: 200, DetectMultiplier: 4, MinimumTTL: 254}
	got, err = toBGPPeer(&withBFD, na)
	if err != nil {
		t.Fatal(err)
	}
	if !got.BFD || got.SourceAddress != nodeV4 || got.PeerASN != 64513 || got.NextHopIPv6.IsValid() ||
		got.BFDProfile != (bfd.Profile{ReceiveInterval: 100 * time.Millisecond, TransmitInterval: 200 * time.Millisecond, DetectMultiplier: 4, MinimumTTL: 254}) {
		t.Errorf("BFD, iBGP by dynamicASN, disableMP: %+v", got)
	}

	// localASN: the whole session runs in it (replace-as), and dynamicASN
	// internal expects the peer in it too.
	local := base
	local.LocalASN = 64600
	local.DynamicASN, local.PeerASN = "internal", 0
	if got, err := toBGPPeer(&local, na); err != nil || got.MyASN != 64600 || got.PeerASN != 64600 {
		t.Errorf("localASN 64600, dynamicASN internal: MyASN %d, PeerASN %d, %v; want both 64600", got.MyASN, got.PeerASN, err)
	}

	for name, p := range map[string]config.Peer{
		"unnumbered":   {Name: "x", MyASN: 1, PeerASN: 2, Interface: "eth1"},
		"external":     {Name: "x", MyASN: 1, DynamicASN: "external", Address: base.Address},
		"no router ID": {Name: "x", MyASN: 1, PeerASN: 2, Address: base.Address},
	} {
		n := na
		if name == "no router ID" {
			n = nodeAddrs{}
		}
		if _, err := toBGPPeer(&p, n); err == nil || !strings.Contains(err.Error(), "BGPPeer x") {
			t.Errorf("%s: error %v", name, err)
		}
	}
}

func TestDefaultRouterID(t *testing.T) {
	for _, c := range []struct {
		v4, v6 string
		want   string
	}{
		{"10.200.0.11", "fd00:200::11", "10.200.0.11"},
		{"", "fd00:200::11", "0.0.0.17"},
		{"", "2001:db8::a:b:c0a8:102", "192.168.1.2"},
		{"", "2001:db8:1:2::", "203.59.150.194"}, // low bits zero: FNV-1a of the address
		{"", "", "invalid IP"},
	} {
		var na nodeAddrs
		if c.v4 != "" {
			na.v4 = netip.MustParseAddr(c.v4)
		}
		if c.v6 != "" {
			na.v6 = netip.MustParseAddr(c.v6)
		}
		if got := defaultRouterID(na).String(); got != c.want {
			t.Errorf("v4 %q v6 %q: router ID %s, want %s", c.v4, c.v6, got, c.want)
		}
	}
	// An IPv6-only node runs a peer without routerID.
	p := config.Peer{Name: "x", MyASN: 1, PeerASN: 2, Address: netip.MustParseAddr("fd00:200::1")}
	if got, err := toBGPPeer(&p, nodeAddrs{v6: netip.MustParseAddr("fd00:200::12")}); err != nil || got.RouterID != netip.MustParseAddr("0.0.0.18") {
		t.Errorf("IPv6-only node: router ID %v, %v; want 0.0.0.18", got.RouterID, err)
	}
}

func TestToBGPRoutes(t *testing.T) {
	v4 := bgp.Peer{Name: "v4", Address: netip.MustParseAddr("10.0.0.1"), NextHopIPv6: nodeV6}
	v4only := bgp.Peer{Name: "v4only", Address: netip.MustParseAddr("10.0.0.2")}
	routes := toBGPRoutes([]decide.BGPRoute{
		{Prefix: netip.MustParsePrefix("10.0.0.150/32"), Peers: []string{"gone", "v4", "v4only"},
			Communities: []config.BGPCommunity{{Global: 64513, Local1: 100}, {Large: true, Global: 1, Local1: 2, Local2: 3}}, LocalPref: 200, ASPathPrepend: 2},
		{Prefix: netip.MustParsePrefix("fd00::150/128"), Peers: []string{"v4", "v4only"}},
		{Prefix: netip.MustParsePrefix("fd00::151/128"), Peers: []string{"v4only"}},
	}, []bgp.Peer{v4, v4only})
	lp := uint32(200)
	want := []bgp.Route{
		{Prefix: netip.MustParsePrefix("10.0.0.150/32"), Peers: []string{"v4", "v4only"},
			Communities: []bgp.Community{64513<<16 | 100}, LargeCommunities: []bgp.LargeCommunity{{Global: 1, Local1: 2, Local2: 3}}, LocalPref: &lp, ASPathPrepend: 2},
		{Prefix: netip.MustParsePrefix("fd00::150/128"), Peers: []string{"v4"}},
	}
	if diff := cmp.Diff(want, routes, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
		cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
}

func TestBGPAnnouncer(t *testing.T) {
	ctx := context.Background()
	fb := newFakeBGP()
	rec := events.NewFakeRecorder(10)
	a := newBGPAnnouncer(fb, "node1", rec, slog.New(slog.DiscardHandler))
	gr := &config.Peer{Name: "gr", MyASN: 64513, PeerASN: 64512, Address: netip.MustParseAddr("10.0.0.1"), EnableGracefulRestart: true,
		DualStackAddressFamily: true}
	plain := &config.Peer{Name: "plain", MyASN: 64513, PeerASN: 64513, Address: netip.MustParseAddr("10.0.0.2")}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "web", UID: "svc-uid",
		Annotations: map[string]string{decide.AnnotationBGPCommunities: "65000:1,bad"}}}
	byKey := map[string]*corev1.Service{"app/web": svc}
	res := &decide.BGPResult{
		Peers: []*config.Peer{gr, plain},
		Routes: []decide.BGPRoute{
			{Prefix: netip.MustParsePrefix("10.0.0.150/32"), Peers: []string{"gr", "plain"}},
			{Prefix: netip.MustParsePrefix("fd00::150/128"), Peers: []string{"gr"}},
		},
		Services:           map[string][]string{"app/web": {"gr", "plain"}},
		InvalidCommunities: map[string][]string{"app/web": {`"bad": no Community object`}},
	}
	for range 2 { // the second apply records no second Event
		if err := a.apply(ctx, res, testNode(), byKey); err != nil {
			t.Fatal(err)
		}
	}
	if len(fb.peers) != 2 || len(fb.routes) != 2 {
		t.Fatalf("peers %+v routes %+v", fb.peers, fb.routes)
	}
	evs := drainEvents(rec)
	if len(evs) != 1 || !strings.HasPrefix(evs[0], "Warning "+ReasonInvalidBGPCommunities) || !strings.Contains(evs[0], `"bad"`) {
		t.Errorf("events %q", evs)
	}

	// Session events become Node Events; a removed peer's are ignored.
	a.onEvent(bgp.PeerEvent{Peer: "gr", State: bgp.StateActive})
	a.onEvent(bgp.PeerEvent{Peer: "gr", State: bgp.StateEstablished})
	a.onEvent(bgp.PeerEvent{Peer: "plain", State: bgp.StateEstablished})
	a.onEvent(bgp.PeerEvent{Peer: "plain", State: bgp.StateIdle})
	a.onEvent(bgp.PeerEvent{Peer: "other", State: bgp.StateEstablished})
	evs = drainEvents(rec)
	if len(evs) != 3 || !strings.HasPrefix(evs[0], "Normal "+ReasonBGPSessionUp) || !strings.Contains(evs[0], "peer gr (10.0.0.1)") ||
		!strings.HasPrefix(evs[2], "Warning "+ReasonBGPSessionDown) || !strings.Contains(evs[2], "peer plain") {
		t.Errorf("session events %q", evs)
	}

	// Metrics.
	fb.stats = map[string]bgp.PeerStats{
		"gr":    {UpdatesSent: 7},
		"plain": {UpdatesSent: 3, BFD: &bgp.BFDStats{Up: true, Counters: bfd.Counters{PacketsReceived: 10, PacketsSent: 11, Downs: 1, EchoSent: 40, EchoReceived: 39}}},
	}
	const want = `
# HELP ironlb_bgp_announced_prefixes Prefixes this node announces to the peer.
# TYPE ironlb_bgp_announced_prefixes gauge
ironlb_bgp_announced_prefixes{peer="gr"} 2
ironlb_bgp_announced_prefixes{peer="plain"} 1
# HELP ironlb_bgp_session_up 1 when the BGP session to the peer is Established, else 0.
# TYPE ironlb_bgp_session_up gauge
ironlb_bgp_session_up{peer="gr"} 1
ironlb_bgp_session_up{peer="plain"} 0
# HELP ironlb_bgp_updates_sent_total BGP UPDATE messages sent to the peer since its session was configured.
# TYPE ironlb_bgp_updates_sent_total counter
ironlb_bgp_updates_sent_total{peer="gr"} 7
ironlb_bgp_updates_sent_total{peer="plain"} 3
# HELP ironlb_bfd_control_packets_received_total Valid BFD control packets received from the peer.
# TYPE ironlb_bfd_control_packets_received_total counter
ironlb_bfd_control_packets_received_total{peer="plain"} 10
# HELP ironlb_bfd_control_packets_sent_total BFD control packets sent to the peer.
# TYPE ironlb_bfd_control_packets_sent_total counter
ironlb_bfd_control_packets_sent_total{peer="plain"} 11
# HELP ironlb_bfd_echo_packets_received_total BFD echo packets of this node that the peer looped back.
# TYPE ironlb_bfd_echo_packets_received_total counter
ironlb_bfd_echo_packets_received_total{peer="plain"} 39
# HELP ironlb_bfd_echo_packets_sent_total BFD echo packets sent to the peer to loop back (profiles with echoMode).
# TYPE ironlb_bfd_echo_packets_sent_total counter
ironlb_bfd_echo_packets_sent_total{peer="plain"} 40
# HELP ironlb_bfd_session_down_events_total Times the BFD session to the peer went down from Up.
# TYPE ironlb_bfd_session_down_events_total counter
ironlb_bfd_session_down_events_total{peer="plain"} 1
# HELP ironlb_bfd_session_up 1 when the BFD session to the peer is Up, else 0.
# TYPE ironlb_bfd_session_up gauge
ironlb_bfd_session_up{peer="plain"} 1
`
	if err := testutil.CollectAndCompare(newBGPCollector(a.metrics), strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(newBGPCollector(a.metrics)); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}

	// A graceful stop keeps the session with graceful restart only.
	a.stop(false)
	if fb.closed || len(fb.peers) != 1 || fb.peers[0].Name != "gr" {
		t.Errorf("after stop: closed %v, peers %+v", fb.closed, fb.peers)
	}

	// Without graceful restart, stop closes everything.
	fb2 := newFakeBGP()
	b := newBGPAnnouncer(fb2, "node1", rec, slog.New(slog.DiscardHandler))
	if err := b.apply(ctx, &decide.BGPResult{Peers: []*config.Peer{plain}}, testNode(), nil); err != nil {
		t.Fatal(err)
	}
	b.stop(false)
	if !fb2.closed {
		t.Error("stop without graceful restart did not close the speaker")
	}
}

func TestBGPStatusWriter(t *testing.T) {
	ctx := context.Background()
	scheme, err := newScheme()
	if err != nil {
		t.Fatal(err)
	}
	other := &v1beta1.ServiceBGPStatus{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "theirs", Labels: map[string]string{
		v1beta1.LabelStatusNode: "node2", v1beta1.LabelStatusServiceName: "web", v1beta1.LabelStatusServiceNamespace: "app",
	}}}
	c := fake.NewClientBuilder().WithScheme(scheme).WithStatusSubresource(&v1beta1.ServiceBGPStatus{}).WithObjects(other).Build()
	rec := events.NewFakeRecorder(10)
	w := &statusWriter{client: c, cache: c, node: "node1", recorder: rec, log: slog.New(slog.DiscardHandler), kind: bgpKind}
	if err := w.adopt(ctx, c); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "web", UID: types.UID("u-1")}}
	w.setTarget(bgpStatusTargetOf(&decide.BGPResult{Services: map[string][]string{"app/web": {"a", "b"}}}, map[string]*corev1.Service{"app/web": svc}))
	if err := w.write(ctx); err != nil {
		t.Fatal(err)
	}
	var list v1beta1.ServiceBGPStatusList
	if err := c.List(ctx, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 {
		t.Fatalf("%d objects, want ours and node2's", len(list.Items))
	}
	name := kindStatusName(bgpKind, "u-1", "node1")
	for _, o := range list.Items {
		if o.Name != name {
			continue
		}
		if !strings.HasPrefix(name, "bgp-") || o.Status.Node != "node1" || o.Status.ServiceName != "web" ||
			!slices.Equal(o.Status.Peers, []string{"a", "b"}) || o.OwnerReferences[0].UID != "u-1" {
			t.Errorf("object %+v", o)
		}
	}
	if evs := drainEvents(rec); len(evs) != 0 {
		t.Errorf("events %q", evs)
	}
	if err := w.deleteAll(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.List(ctx, &list); err != nil || len(list.Items) != 1 || list.Items[0].Name != "theirs" {
		t.Errorf("after deleteAll: %v %+v", err, list.Items)
	}
}

// TestBGPPeerNotRunEvent: a peer the speaker cannot run on this node is a
// Warning Event on the Node, once per change, not only a log line.
func TestBGPPeerNotRunEvent(t *testing.T) {
	ctx := context.Background()
	rec := events.NewFakeRecorder(10)
	a := newBGPAnnouncer(newFakeBGP(), "node1", rec, slog.New(slog.DiscardHandler))
	bad := &config.Peer{Name: "leaf", MyASN: 64513, PeerASN: 64512, Interface: "eth1"}
	res := &decide.BGPResult{Peers: []*config.Peer{bad}}
	for range 2 {
		if err := a.apply(ctx, res, testNode(), nil); err != nil {
			t.Fatal(err)
		}
	}
	evs := drainEvents(rec)
	if len(evs) != 1 || !strings.HasPrefix(evs[0], "Warning "+ReasonBGPPeerNotRun) || !strings.Contains(evs[0], "BGPPeer leaf") {
		t.Errorf("events %q, want one %s naming BGPPeer leaf", evs, ReasonBGPPeerNotRun)
	}
	// Fixed: no Event; broken again: a new one.
	if err := a.apply(ctx, &decide.BGPResult{}, testNode(), nil); err != nil {
		t.Fatal(err)
	}
	if err := a.apply(ctx, res, testNode(), nil); err != nil {
		t.Fatal(err)
	}
	if evs := drainEvents(rec); len(evs) != 1 {
		t.Errorf("after fix and break: events %q, want one", evs)
	}
}

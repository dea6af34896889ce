package speaker

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/bfd"
	"github.com/ironlb/ironlb/internal/frrtest"
	"github.com/ironlb/ironlb/internal/netnstest"
	"github.com/ironlb/ironlb/internal/speaker/decide"
	"github.com/ironlb/ironlb/internal/testenv"
)

// What the waits of TestBGPWithFRR derive from: the lab's settings and
// times measured on an idle 2-core machine. A wait lasts testkit.Budget of
// the time its outcome is expected to take and ends as soon as it is
// there; see also speakerStart, speakerStop and apiReaction.
const (
	// bgpSpeakerStart: a speaker child is exec'd (a race-enabled test
	// binary), its caches sync and it has configured its peers; the lab
	// starts four at once on two cores.
	bgpSpeakerStart = 4 * time.Second
	// sessionSetup: GoBGP's first connect waits a random 1–2 s (connect
	// retry jitter, connectTime 1 s; FRR's `timers connect 1` plays no
	// part: GoBGP never listens); OPEN and KEEPALIVE take milliseconds.
	sessionSetup = 2 * time.Second
	// reconnect: after its session failed (the router ended it, e.g.
	// when FRR's BFD went down), GoBGP idles 5 s (its fixed idle hold
	// time), then connects 1–2 s later.
	reconnect = 5*time.Second + sessionSetup
	// propagation: an announcement or withdrawal reaches the router's
	// BGP table and kernel (measured 60–70 ms).
	propagation = 500 * time.Millisecond
	// bfdDetect: the detection time of the default BFD profile that
	// both sides run: multiplier × interval.
	bfdDetect = bfd.DefaultDetectMultiplier * bfd.DefaultInterval
	// bfdUp: a BFD session comes up after a three-way handshake at the
	// 1 s interval RFC 5880 §6.8.3 imposes while it is not Up.
	bfdUp = 3 * time.Second
	// bfdHoldTime is the BGP hold time of the bfd node's peer (setup):
	// long enough that only BFD can end its session quickly.
	bfdHoldTime = 90 * time.Second
	// md5Window: how long the session with a wrong MD5 password is
	// watched once more (it has been retrying all along). A window, not
	// a budget: a slow machine only makes fewer attempts in it.
	md5Window = 3 * time.Second
)

// bgpLab is the router, the nodes and the API server of TestBGPWithFRR.
type bgpLab struct {
	env     *testenv.Env
	ns, app string
	router  *netnstest.Host
	frr     *frrtest.Router
	nodes   map[string]*netnstest.Host
	nw      *netnstest.Network
}

func newBGPLab(t *testing.T) *bgpLab {
	t.Helper()
	frrtest.Require(t, false)
	env := testenv.Start(t)
	nw := netnstest.New(t, netnstest.Options{Prefix: "ispb",
		IPv4: netip.MustParsePrefix("10.203.0.0/24"), IPv6: netip.MustParsePrefix("fd00:203::/64"), MACByte: 3})
	l := &bgpLab{env: env, ns: env.NewNamespace(t), app: env.NewNamespace(t), router: nw.AddHost("router", 1), nodes: map[string]*netnstest.Host{}, nw: nw}
	for i, name := range []string{"ebgp", "ibgp", "md5", "bfd"} {
		l.nodes[name] = nw.AddHost(name, i+2)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "frr defaults traditional\nhostname router\n!\nrouter bgp %d\n bgp router-id %s\n no bgp ebgp-requires-policy\n bgp bestpath as-path multipath-relax\n",
		bgpRouterASN, l.router.IPv4)
	neighbors := []struct {
		h   *netnstest.Host
		asn int
		pw  string
	}{{l.nodes["ebgp"], bgpNodeASN, ""}, {l.nodes["ibgp"], bgpRouterASN, ""}, {l.nodes["md5"], bgpNodeASN, bgpMD5Password},
		{l.nodes["bfd"], bgpNodeASN, ""}}
	for _, nb := range neighbors {
		fmt.Fprintf(&b, " neighbor %s remote-as %d\n neighbor %s timers connect 1\n", nb.h.IPv4, nb.asn, nb.h.IPv4)
		if nb.pw != "" {
			fmt.Fprintf(&b, " neighbor %s password %s\n", nb.h.IPv4, nb.pw)
		}
	}
	// The router follows BFD for the bfd node (default timers: 300 ms × 3).
	fmt.Fprintf(&b, " neighbor %s bfd\n", l.nodes["bfd"].IPv4)
	for _, af := range []string{"ipv4", "ipv6"} {
		fmt.Fprintf(&b, " address-family %s unicast\n  maximum-paths 8\n  maximum-paths ibgp 8\n", af)
		for _, nb := range neighbors {
			fmt.Fprintf(&b, "  neighbor %s activate\n", nb.h.IPv4)
		}
		b.WriteString(" exit-address-family\n")
	}
	l.frr = frrtest.Start(t, l.router, frrtest.Config{BGP: b.String(), BFD: "bfd\n!\n"})
	return l
}

func (l *bgpLab) mustCreate(t *testing.T, o client.Object) {
	t.Helper()
	if err := l.env.Client.Create(t.Context(), o); err != nil {
		t.Fatal(err)
	}
}

// setup creates the Nodes (InternalIPs = the namespaces' addresses,
// labelled role=<name>) and the BGP configuration: one BGPPeer per node
// (eBGP with graceful restart; iBGP; eBGP with a wrong MD5 password from a
// Secret), one BGPAdvertisement with communities, an alias and localPref.
func (l *bgpLab) setup(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	c := l.env.Client
	for name, h := range l.nodes {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"role": name}}}
		l.mustCreate(t, n)
		n.Status.Addresses = []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: h.IPv4.String()},
			{Type: corev1.NodeInternalIP, Address: h.IPv6.String()},
		}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
		if err := c.Status().Update(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: l.ns, Name: name} }
	sel := func(role string) []metav1.LabelSelector {
		return []metav1.LabelSelector{{MatchLabels: map[string]string{"role": role}}}
	}
	d := func(s string) *metav1.Duration {
		v, _ := time.ParseDuration(s)
		return &metav1.Duration{Duration: v}
	}
	peer := func(role string, myASN uint32) v1beta1.BGPPeerSpec {
		return v1beta1.BGPPeerSpec{MyASN: myASN, PeerASN: bgpRouterASN, PeerAddress: l.router.IPv4.String(),
			HoldTime: d("9s"), KeepaliveTime: d("3s"), ConnectTime: d("1s"), NodeSelectors: sel(role),
			DualStackAddressFamily: true}
	}
	l.mustCreate(t, &v1beta1.IPAddressPool{ObjectMeta: meta("bgp"),
		Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"10.96.3.100-10.96.3.110", "fd00:96:3::100/124"}}})
	ebgp := peer("ebgp", bgpNodeASN)
	ebgp.EnableGracefulRestart = true
	l.mustCreate(t, &v1beta1.BGPPeer{ObjectMeta: meta("router"), Spec: ebgp})
	l.mustCreate(t, &v1beta1.BGPPeer{ObjectMeta: meta("router-ibgp"), Spec: peer("ibgp", bgpRouterASN)})
	l.mustCreate(t, &corev1.Secret{ObjectMeta: meta("md5"), Type: corev1.SecretTypeBasicAuth,
		Data: map[string][]byte{corev1.BasicAuthPasswordKey: []byte("wrong")}})
	md5 := peer("md5", bgpNodeASN)
	md5.PasswordSecret = &v1beta1.SecretReference{Name: "md5"}
	l.mustCreate(t, &v1beta1.BGPPeer{ObjectMeta: meta("router-md5"), Spec: md5})
	// The bfd node's peer: BFD with the default profile, and a hold time
	// long enough that only BFD can bring the session down quickly.
	bfdPeer := peer("bfd", bgpNodeASN)
	bfdPeer.HoldTime = &metav1.Duration{Duration: bfdHoldTime}
	bfdPeer.KeepaliveTime = &metav1.Duration{Duration: bfdHoldTime / 3}
	bfdPeer.BFDProfile = "default-timers"
	l.mustCreate(t, &v1beta1.BFDProfile{ObjectMeta: meta("default-timers")})
	l.mustCreate(t, &v1beta1.BGPPeer{ObjectMeta: meta("router-bfd"), Spec: bfdPeer})
	l.mustCreate(t, &v1beta1.Community{ObjectMeta: meta("names"),
		Spec: v1beta1.CommunitySpec{Communities: []v1beta1.CommunityAlias{{Name: "edge", Value: "64513:200"}}}})
	l.mustCreate(t, &v1beta1.BGPAdvertisement{ObjectMeta: meta("all"), Spec: v1beta1.BGPAdvertisementSpec{
		Communities: []string{"64513:100", "large:64513:1:2", "edge"}, LocalPref: 250}})
}

// createService creates the LoadBalancer Service web with both VIPs in
// its status and the communities annotation.
func (l *bgpLab) createService(t *testing.T) *corev1.Service {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: l.app, Name: "web",
			Annotations: map[string]string{decide.AnnotationBGPCommunities: "65000:7, large:65000:1:1, bogus"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, AllocateLoadBalancerNodePorts: ptr.To(false),
			Ports: []corev1.ServicePort{{Port: 80}}},
	}
	l.mustCreate(t, svc)
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: bgpVIP4.String()}, {IP: bgpVIP6.String()}}
	if err := l.env.Client.Status().Update(t.Context(), svc); err != nil {
		t.Fatal(err)
	}
	return svc
}

// paths waits until check accepts the router's paths of prefix and
// returns them and how long that took; it fails the test after limit.
func (l *bgpLab) paths(t *testing.T, prefix netip.Prefix, limit time.Duration, what string, check func([]frrtest.Path) bool) ([]frrtest.Path, time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		ps, raw, err := l.frr.Paths(prefix)
		if err == nil && check(ps) {
			return ps, time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("router's BGP table for %s: want %s within %v; have %v (%v)\n%s\n%s", prefix, what, limit, ps, err, raw,
				l.frr.Vtysh("show bgp summary"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kernel waits until check accepts the router's kernel route for prefix.
func (l *bgpLab) kernel(t *testing.T, prefix netip.Prefix, limit time.Duration, what string, check func(string) bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got, err := frrtest.KernelRoute(l.router, prefix)
		if err == nil && check(got) {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("router's kernel route %s: want %s within %v; have %q (%v)", prefix, what, limit, got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// neighborState returns FRR's BGP state of the session with addr.
func (l *bgpLab) neighborState(t *testing.T, addr netip.Addr) string {
	t.Helper()
	var m map[string]struct {
		BGPState string `json:"bgpState"`
	}
	raw := l.frr.Vtysh("show bgp neighbors " + addr.String() + " json")
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("parsing %q: %v", raw, err)
	}
	return m[addr.String()].BGPState
}

func fromPeer(addr netip.Addr) func(frrtest.Path) bool {
	return func(p frrtest.Path) bool { return p.Peer == addr.String() }
}

func hasPathFrom(addr netip.Addr) func([]frrtest.Path) bool {
	return func(ps []frrtest.Path) bool { return slices.ContainsFunc(ps, fromPeer(addr)) }
}

func pathFrom(t *testing.T, ps []frrtest.Path, addr netip.Addr) frrtest.Path {
	t.Helper()
	i := slices.IndexFunc(ps, fromPeer(addr))
	if i < 0 {
		t.Fatalf("no path from %s in %+v", addr, ps)
	}
	return ps[i]
}

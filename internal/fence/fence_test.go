package fence

import (
	"net"
	"net/netip"
	"net/url"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/internal/testenv"
	"github.com/ironlb/ironlb/internal/testkit"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestLeaseName(t *testing.T) {
	tests := map[string]string{
		"10.200.0.100":         "ironlb-l2-10.200.0.100",
		"fd00:200::194":        "ironlb-l2-fd00-200--194",
		"fd00:200::":           "ironlb-l2-fd00-200--0",
		"::":                   "ironlb-l2-0--0",
		"::1":                  "ironlb-l2-0--1",
		"::ffff:10.0.0.1":      "ironlb-l2-10.0.0.1",
		"2001:db8:1:2:3:4:5:6": "ironlb-l2-2001-db8-1-2-3-4-5-6",
	}
	for in, want := range tests {
		a := netip.MustParseAddr(in)
		got := LeaseName(a)
		if got != want {
			t.Errorf("LeaseName(%s) = %q, want %q", in, got, want)
		}
		if errs := validation.IsDNS1123Subdomain(got); len(errs) > 0 {
			t.Errorf("LeaseName(%s) = %q: not an object name: %v", in, got, errs)
		}
		if errs := validation.IsValidLabelValue(addressToken(a)); len(errs) > 0 {
			t.Errorf("addressToken(%s) = %q: not a label value: %v", in, addressToken(a), errs)
		}
	}
}

// fenceTestDuration is the Lease duration of the tests: D/4 = 500 ms
// renewals, a holder cut off gives up within 1.5 s, another takes over
// after 2 s without renewals.
const fenceTestDuration = 2 * time.Second

var vip = netip.MustParseAddr("10.201.0.100")

// node is one Fence in a test, with a record of when it held the address.
type node struct {
	name  string
	f     *Fence
	mu    sync.Mutex
	held  bool
	spans []span // the intervals it held the address, by the test's clock
}

type span struct{ from, to time.Time }

func startNode(t *testing.T, cfg *rest.Config, ns, name string) *node {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{name: name}
	n.f = New(Config{Client: cs.CoordinationV1(), Namespace: ns, Identity: name, OnChange: n.observe})
	t.Cleanup(n.f.Stop)
	return n
}

// observe records a change of Held: called by the Fence on a change.
func (n *node) observe() {
	held := n.f.Held(vip)
	n.mu.Lock()
	defer n.mu.Unlock()
	now := time.Now()
	switch {
	case held && !n.held:
		n.spans = append(n.spans, span{from: now})
	case !held && n.held:
		n.spans[len(n.spans)-1].to = now
	}
	n.held = held
}

func (n *node) want() { n.f.Want(map[netip.Addr]time.Duration{vip: fenceTestDuration}) }

// waitHeld waits until n holds the address.
func waitHeld(t *testing.T, n *node, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(testkit.Budget(within))
	for !n.f.Held(vip) {
		if time.Now().After(deadline) {
			t.Fatalf("%s does not hold %s's Lease (holder %q)", n.name, vip, n.f.Holder(vip))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkNeverBoth fails when the two nodes' holding intervals overlap.
func checkNeverBoth(t *testing.T, a, b *node) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	end := func(s span) time.Time {
		if s.to.IsZero() {
			return time.Now()
		}
		return s.to
	}
	for _, x := range a.spans {
		for _, y := range b.spans {
			if x.from.Before(end(y)) && y.from.Before(end(x)) {
				t.Errorf("%s held %s from %s to %s and %s from %s to %s: both at once",
					a.name, vip, x.from.Format("15:04:05.000"), end(x).Format("15:04:05.000"),
					b.name, y.from.Format("15:04:05.000"), end(y).Format("15:04:05.000"))
			}
		}
	}
}

// TestOneHolderAndHandover: of two nodes wanting the address one holds it
// and the other keeps waiting; the holder's Lease carries the address
// label. A node that stops wanting the address (the election moved it)
// releases its Lease — the holder cleared — so the next node takes it at
// once instead of after the expiry. Once nobody wants it, the Lease is
// deleted.
//
// Seen failing with ReleaseOnCancel off: "Lease ironlb-l2-10.201.0.100
// still held by "node-a" after node-a gave the address up".
func TestOneHolderAndHandover(t *testing.T) {
	env := testenv.Shared(t)
	ns := env.NewNamespace(t)
	a, b := startNode(t, env.Config, ns, "node-a"), startNode(t, env.Config, ns, "node-b")
	a.want()
	waitHeld(t, a, time.Second)
	b.want()
	time.Sleep(2 * fenceTestDuration) // b retries every 500 ms, and must keep failing
	if b.f.Held(vip) || b.f.Holder(vip) != "node-a" {
		t.Errorf("node-b: held %v, holder %q; want node-a holding", b.f.Held(vip), b.f.Holder(vip))
	}
	// holder returns the Lease's holder ("" when free or deleted).
	holder := func() (string, map[string]string) {
		var lease coordinationv1.Lease
		err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: LeaseName(vip)}, &lease)
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return ptr.Deref(lease.Spec.HolderIdentity, ""), lease.Labels
	}
	if h, labels := holder(); h != "node-a" || labels[AddressLabel] != "10.201.0.100" {
		t.Errorf("Lease %s: holder %q, labels %v; want node-a and the address", LeaseName(vip), h, labels)
	}

	// b stops competing, so that the release is seen on the Lease.
	b.f.Want(nil)
	a.f.Want(nil)
	if a.f.Held(vip) {
		t.Error("node-a still holds the address after giving it up")
	}
	deadline := time.Now().Add(testkit.Budget(time.Second))
	for h, _ := holder(); h != ""; h, _ = holder() {
		if time.Now().After(deadline) {
			t.Fatalf("Lease %s still held by %q after node-a gave the address up", LeaseName(vip), h)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.want()
	waitHeld(t, b, time.Second) // a free Lease: b's first attempt
	checkNeverBoth(t, a, b)

	// Nobody wants the address any more: its Lease is deleted.
	b.f.Want(nil)
	deadline = time.Now().Add(testkit.Budget(time.Second))
	for {
		var lease coordinationv1.Lease
		err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: LeaseName(vip)}, &lease)
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Lease %s left behind (%v), holder %q", LeaseName(vip), err, ptr.Deref(lease.Spec.HolderIdentity, ""))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCutOffHolderStopsFirst: the holder loses the API server (its
// connections cut by a proxy: a partition from the control plane) while
// another node wants the address. The holder stops answering before the
// other starts: never both.
//
// Seen failing with a loss not clearing Held (OnStoppedLeading doing
// nothing): "node-a still holds the address after node-b took it" and
// "node-a held 10.201.0.100 from … to … and node-b from … to …: both at
// once".
func TestCutOffHolderStopsFirst(t *testing.T) {
	env := testenv.Shared(t)
	ns := env.NewNamespace(t)
	proxy := newCutProxy(t, env.Config)
	a := startNode(t, proxy.config, ns, "node-a")
	b := startNode(t, env.Config, ns, "node-b")
	a.want()
	waitHeld(t, a, time.Second)
	b.want()
	time.Sleep(fenceTestDuration) // b fails a few times: a renews
	if b.f.Held(vip) {
		t.Fatal("node-b holds the address while node-a renews")
	}

	cut := time.Now()
	proxy.cut()
	waitHeld(t, b, 2*fenceTestDuration)
	if a.f.Held(vip) {
		t.Error("node-a still holds the address after node-b took it")
	}
	a.mu.Lock()
	stopped := a.spans[len(a.spans)-1].to
	a.mu.Unlock()
	b.mu.Lock()
	started := b.spans[len(b.spans)-1].from
	b.mu.Unlock()
	t.Logf("cut at 0: node-a stopped at %s, node-b started at %s", stopped.Sub(cut).Round(time.Millisecond), started.Sub(cut).Round(time.Millisecond))
	checkNeverBoth(t, a, b)
}

// cutProxy forwards TCP to the API server until cut: then it closes every
// connection and refuses new ones, as a partition would.
type cutProxy struct {
	config *rest.Config
	cut    func()
}

func newCutProxy(t *testing.T, cfg *rest.Config) *cutProxy {
	t.Helper()
	u, err := url.Parse(cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := testkit.Forward(ln, u.Host)
	t.Cleanup(f.Close)
	p := &cutProxy{config: rest.CopyConfig(cfg), cut: f.Close}
	p.config.Host = "https://" + ln.Addr().String()
	p.config.ServerName = u.Hostname()
	return p
}

// TestDurationChange: a new Lease duration restarts the address's
// election after the old one has released the Lease, and the node holds
// it again, now with the new duration.
func TestDurationChange(t *testing.T) {
	env := testenv.Shared(t)
	ns := env.NewNamespace(t)
	a := startNode(t, env.Config, ns, "node-a")
	a.want()
	waitHeld(t, a, time.Second)
	a.f.Want(map[netip.Addr]time.Duration{vip: 3 * time.Second})
	deadline := time.Now().Add(testkit.Budget(2 * time.Second))
	for {
		var lease coordinationv1.Lease
		err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: LeaseName(vip)}, &lease)
		if err == nil && a.f.Held(vip) && ptr.Deref(lease.Spec.HolderIdentity, "") == "node-a" && ptr.Deref(lease.Spec.LeaseDurationSeconds, 0) == 3 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the change to 3 s: held %v, Lease %v (%v)", a.f.Held(vip), lease.Spec, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

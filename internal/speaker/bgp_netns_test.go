package speaker

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/bfd"
	"github.com/ironlb/ironlb/internal/frrtest"
	"github.com/ironlb/ironlb/internal/netnstest"
	"github.com/ironlb/ironlb/internal/testkit"
)

// TestBGPWithFRR runs speakers against FRR: sessions, routes with their
// attributes, withdrawal, MD5, ServiceBGPStatuses, Events, metrics and
// graceful restart.
func TestBGPWithFRR(t *testing.T) {
	l := newBGPLab(t)
	l.setup(t)
	ctx := t.Context()
	c := l.env.Client
	ebgp, ibgp, md5 := l.nodes["ebgp"], l.nodes["ibgp"], l.nodes["md5"]
	v4, v6 := netip.PrefixFrom(bgpVIP4, 32), netip.PrefixFrom(bgpVIP6, 128)

	speakers := map[string]*bgpSpeaker{}
	start := time.Now()
	for _, name := range []string{"ebgp", "ibgp", "md5", "bfd"} {
		speakers[name] = startBGPSpeaker(t, l.env, l.ns, l.nodes[name])
	}
	svc := l.createService(t)
	svcAt := time.Now()

	t.Run("eBGP and iBGP sessions come up", func(t *testing.T) {
		for _, h := range []*netnstest.Host{ebgp, ibgp} {
			poll(t, "the session of "+h.Name+" Established", testkit.Budget(bgpSpeakerStart+sessionSetup), func() error {
				if s := l.neighborState(t, h.IPv4); s != "Established" {
					return fmt.Errorf("state %s", s)
				}
				return nil
			})
		}
		t.Logf("speakers started -> both sessions Established: %v", time.Since(start).Round(time.Millisecond))
		poll(t, "the BGPSessionUp Event of ebgp", testkit.Budget(apiReaction), func() error {
			return findNodeEvent(ctx, c, "ebgp", ReasonBGPSessionUp, corev1.EventTypeNormal)
		})
	})

	t.Run("routes with communities, large communities and local-pref", func(t *testing.T) {
		// The sessions may still be coming up (when this subtest runs
		// alone).
		ps, _ := l.paths(t, v4, testkit.Budget(bgpSpeakerStart+sessionSetup+propagation), "paths from both nodes", func(ps []frrtest.Path) bool {
			return hasPathFrom(ebgp.IPv4)(ps) && hasPathFrom(ibgp.IPv4)(ps)
		})
		t.Logf("the /32 was in the router's BGP table from both nodes %v after the Service got its addresses (session setup included)", time.Since(svcAt).Round(time.Millisecond))
		e := pathFrom(t, ps, ebgp.IPv4)
		if e.Communities != "64513:100 64513:200 65000:7" || e.LargeCommunities != "64513:1:2 65000:1:1" {
			t.Errorf("eBGP path communities %q, large %q", e.Communities, e.LargeCommunities)
		}
		if e.LocalPref != nil && *e.LocalPref == 250 {
			t.Errorf("the eBGP path carries our localPref 250: %+v", e)
		}
		i := pathFrom(t, ps, ibgp.IPv4)
		if i.LocalPref == nil || *i.LocalPref != 250 {
			t.Errorf("iBGP path local-pref %v, want 250", i.LocalPref)
		}
		ps6, _ := l.paths(t, v6, testkit.Budget(propagation), "a path from the eBGP node", hasPathFrom(ebgp.IPv4))
		if e6 := pathFrom(t, ps6, ebgp.IPv4); !slices.Contains(e6.NextHops, ebgp.IPv6.String()) || e6.Communities != "64513:100 64513:200 65000:7" {
			t.Errorf("IPv6 path %+v: want next hop %s and the communities", e6, ebgp.IPv6)
		}
		// The iBGP path wins on local-pref; the kernel routes through it.
		l.kernel(t, v4, testkit.Budget(propagation), "a route via the iBGP node", func(s string) bool { return strings.Contains(s, "via "+ibgp.IPv4.String()) })
		l.kernel(t, v6, testkit.Budget(propagation), "a route", func(s string) bool { return s != "" })
		poll(t, "the InvalidBGPCommunities Event", testkit.Budget(apiReaction), func() error {
			return findServiceEvent(ctx, c, l.app, "web", ReasonInvalidBGPCommunities, `"bogus"`)
		})
	})

	t.Run("ServiceBGPStatus per announcing node", func(t *testing.T) {
		poll(t, "a ServiceBGPStatus per node", testkit.Budget(bgpSpeakerStart+apiReaction), func() error {
			got, err := bgpStatuses(ctx, c, l.app)
			if err != nil {
				return err
			}
			// The md5 node is configured to announce too, though its
			// session is not up: the status does not say.
			want := map[string][]string{"ebgp": {"router"}, "ibgp": {"router-ibgp"}, "md5": {"router-md5"}, "bfd": {"router-bfd"}}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				return fmt.Errorf("have %v, want %v", got, want)
			}
			return nil
		})
	})

	t.Run("metrics", func(t *testing.T) {
		poll(t, "the eBGP node's metrics", testkit.Budget(bgpSpeakerStart+sessionSetup+propagation), func() error {
			m, err := speakers["ebgp"].metrics()
			if err != nil {
				return err
			}
			for _, want := range []string{`ironlb_bgp_session_up{peer="router"} 1`, `ironlb_bgp_announced_prefixes{peer="router"} 2`} {
				if !strings.Contains(m, want) {
					return fmt.Errorf("no %q in\n%s", want, grepLines(m, "ironlb_bgp"))
				}
			}
			if !strings.Contains(m, `ironlb_bgp_updates_sent_total{peer="router"} `) || strings.Contains(m, `ironlb_bgp_updates_sent_total{peer="router"} 0`) {
				return fmt.Errorf("updates sent:\n%s", grepLines(m, "ironlb_bgp"))
			}
			return nil
		})
		m, _ := speakers["md5"].metrics()
		if !strings.Contains(m, `ironlb_bgp_session_up{peer="router-md5"} 0`) {
			t.Errorf("md5 node metrics:\n%s", grepLines(m, "ironlb_bgp"))
		}
	})

	t.Run("MD5: a wrong password never establishes, the right one does", func(t *testing.T) {
		// By now the speaker has been retrying every second for as long
		// as the others have been up; watch a window more.
		for end := time.Now().Add(md5Window); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if s := l.neighborState(t, md5.IPv4); s == "Established" {
				t.Fatalf("the session with the wrong MD5 password is %s", s)
			}
		}
		var sec corev1.Secret
		if err := c.Get(ctx, client.ObjectKey{Namespace: l.ns, Name: "md5"}, &sec); err != nil {
			t.Fatal(err)
		}
		sec.Data[corev1.BasicAuthPasswordKey] = []byte(bgpMD5Password)
		if err := c.Update(ctx, &sec); err != nil {
			t.Fatal(err)
		}
		// The speaker re-creates the peer with the new password: a first
		// connect of a new GoBGP server.
		poll(t, "the MD5 session Established", testkit.Budget(apiReaction+sessionSetup), func() error {
			if s := l.neighborState(t, md5.IPv4); s != "Established" {
				return fmt.Errorf("state %s", s)
			}
			return nil
		})
	})

	t.Run("BFD: a cut node's routes leave the router at BFD speed", func(t *testing.T) { testBFDCut(t, l, speakers["bfd"], v4) })

	t.Run("externalTrafficPolicy Local withdraws from nodes without endpoints", func(t *testing.T) {
		l.mustCreate(t, &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: l.app, Name: "web-1", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.244.0.5"}, NodeName: ptr.To("ibgp"),
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		})
		if err := c.Get(ctx, client.ObjectKeyFromObject(svc), svc); err != nil {
			t.Fatal(err)
		}
		svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		if err := c.Update(ctx, svc); err != nil {
			t.Fatal(err)
		}
		_, took := l.paths(t, v4, testkit.Budget(apiReaction+propagation), "a path from the iBGP node only", func(ps []frrtest.Path) bool {
			return !hasPathFrom(ebgp.IPv4)(ps) && !hasPathFrom(md5.IPv4)(ps) && !hasPathFrom(l.nodes["bfd"].IPv4)(ps) && hasPathFrom(ibgp.IPv4)(ps)
		})
		t.Logf("Local policy -> the nodes without endpoints withdrew in %v", took)
		poll(t, "only the ibgp node's ServiceBGPStatus", testkit.Budget(apiReaction), func() error {
			got, err := bgpStatuses(ctx, c, l.app)
			if err != nil {
				return err
			}
			if len(got) != 1 || got["ibgp"] == nil {
				return fmt.Errorf("have %v", got)
			}
			return nil
		})
	})

	t.Run("deleting the Service withdraws its routes", func(t *testing.T) {
		if err := c.Delete(ctx, svc); err != nil {
			t.Fatal(err)
		}
		_, took := l.paths(t, v4, testkit.Budget(apiReaction+propagation), "no path", func(ps []frrtest.Path) bool { return len(ps) == 0 })
		l.paths(t, v6, testkit.Budget(apiReaction+propagation), "no path", func(ps []frrtest.Path) bool { return len(ps) == 0 })
		l.kernel(t, v4, testkit.Budget(propagation), "no route", func(s string) bool { return s == "" })
		t.Logf("Service deleted -> routes gone from the router's BGP table in %v", took)
	})

	t.Run("graceful stop with graceful restart keeps the routes on the router", func(t *testing.T) {
		speakers["ibgp"].stop(t) // withdraws: its peer has no graceful restart
		speakers["md5"].stop(t)
		if err := c.Get(ctx, client.ObjectKeyFromObject(svc), &corev1.Service{}); err == nil {
			if err := c.Delete(ctx, svc); err != nil { // run alone: start from a Service with the Cluster policy
				t.Fatal(err)
			}
		}
		l.createService(t)
		l.kernel(t, v4, testkit.Budget(bgpSpeakerStart+sessionSetup+apiReaction+propagation), "a route via the eBGP node", func(s string) bool {
			return strings.Contains(s, "via "+ebgp.IPv4.String())
		})
		stopAt := time.Now()
		speakers["ebgp"].stop(t)
		t.Logf("the eBGP speaker stopped gracefully in %v", time.Since(stopAt).Round(time.Millisecond))
		// The router marks the path stale when the session closes.
		ps, _ := l.paths(t, v4, testkit.Budget(propagation), "a stale path from the eBGP node", func(ps []frrtest.Path) bool {
			i := slices.IndexFunc(ps, fromPeer(ebgp.IPv4))
			return i >= 0 && ps[i].Stale
		})
		t.Logf("after the stop the router keeps %+v", ps)
		if s := l.neighborState(t, ebgp.IPv4); s == "Established" {
			t.Errorf("the session is still %s after the speaker stopped", s)
		}
		if r, _ := frrtest.KernelRoute(l.router, v4); !strings.Contains(r, "via "+ebgp.IPv4.String()) {
			t.Errorf("the kernel route went away: %q", r)
		}
		// The speaker comes back: the path is fresh again. The new
		// process runs a new GoBGP server: a first connect.
		speakers["ebgp"] = startBGPSpeaker(t, l.env, l.ns, ebgp)
		_, took := l.paths(t, v4, testkit.Budget(bgpSpeakerStart+sessionSetup+propagation), "a fresh path from the eBGP node", func(ps []frrtest.Path) bool {
			i := slices.IndexFunc(ps, fromPeer(ebgp.IPv4))
			return i >= 0 && !ps[i].Stale
		})
		t.Logf("restarted speaker -> fresh path %v after its start (%v since the stop)", took, time.Since(stopAt).Round(time.Millisecond))
	})
}

// testBFDCut cuts the link of the bfd node (BFD with the default profile,
// hold time 90 s) and waits until its path leaves the router: within the
// wait, only BFD can have taken it down.
func testBFDCut(t *testing.T, l *bgpLab, sp *bgpSpeaker, v4 netip.Prefix) {
	node := l.nodes["bfd"]
	// FRR runs BFD with a neighbour once their BGP session is up.
	poll(t, "FRR's BFD session with the bfd node up", testkit.Budget(bgpSpeakerStart+sessionSetup+bfdUp), func() error {
		var peers []struct {
			Peer   string `json:"peer"`
			Status string `json:"status"`
		}
		raw := l.frr.Vtysh("show bfd peers json")
		if err := json.Unmarshal([]byte(raw), &peers); err != nil {
			return fmt.Errorf("parsing %q: %w", raw, err)
		}
		for _, p := range peers {
			if p.Peer == node.IPv4.String() && p.Status == "up" {
				return nil
			}
		}
		return fmt.Errorf("BFD peers %+v", peers)
	})
	// Our side is Up a packet after FRR's at most.
	poll(t, "the bfd node's BFD metrics", testkit.Budget(bfd.DefaultInterval), func() error {
		m, err := sp.metrics()
		if err != nil {
			return err
		}
		if !strings.Contains(m, `ironlb_bfd_session_up{peer="router-bfd"} 1`) ||
			!strings.Contains(m, `ironlb_bfd_control_packets_received_total{peer="router-bfd"}`) {
			return fmt.Errorf("metrics:\n%s", grepLines(m, "ironlb_bfd"))
		}
		return nil
	})
	// Normally there already. Should BFD have gone down once on this
	// loaded machine, the session was reset; after FRR ended it, GoBGP
	// reconnects after its idle hold time.
	_, took := l.paths(t, v4, testkit.Budget(reconnect+propagation), "a path from the bfd node", hasPathFrom(node.IPv4))
	if m, err := sp.metrics(); err == nil {
		t.Logf("BFD before the cut (path there after %v more): %s", took.Round(time.Millisecond), grepLines(m, BFDSessionDownEventsTotal+"{"))
	}
	l.nw.SetPort(node, false)
	// Within half the hold time only BFD can have ended the session: the
	// budget never goes beyond, whatever the factor.
	limit := min(testkit.Budget(bfdDetect+propagation), bfdHoldTime/2)
	_, took = l.paths(t, v4, limit, "no path from the cut bfd node", func(ps []frrtest.Path) bool {
		return !hasPathFrom(node.IPv4)(ps)
	})
	t.Logf("bfd node's link cut -> its path left the router's BGP table in %v (BFD detection time %v; hold time %v)", took.Round(time.Millisecond), bfdDetect, bfdHoldTime)
}

// bgpStatuses returns node -> peers of the ServiceBGPStatuses of Service
// web in ns.
func bgpStatuses(ctx context.Context, c client.Client, ns string) (map[string][]string, error) {
	var list v1beta1.ServiceBGPStatusList
	if err := c.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{v1beta1.LabelStatusServiceName: "web"}); err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, o := range list.Items {
		if o.Status.ServiceName != "web" || o.Status.ServiceNamespace != ns || o.Labels[v1beta1.LabelStatusNode] != o.Status.Node {
			return nil, fmt.Errorf("object %s: status %+v labels %v", o.Name, o.Status, o.Labels)
		}
		out[o.Status.Node] = o.Status.Peers
	}
	return out, nil
}

// findNodeEvent looks for an Event of reason and type on Node node.
func findNodeEvent(ctx context.Context, c client.Client, node, reason, typ string) error {
	var list eventsv1.EventList
	if err := c.List(ctx, &list); err != nil {
		return err
	}
	for _, e := range list.Items {
		if e.Reason == reason && e.Type == typ && e.Regarding.Kind == "Node" && e.Regarding.Name == node {
			return nil
		}
	}
	return fmt.Errorf("%d events, none %s %s on Node %s", len(list.Items), typ, reason, node)
}

// findServiceEvent looks for an Event of reason on a Service whose note
// contains text.
func findServiceEvent(ctx context.Context, c client.Client, ns, name, reason, text string) error {
	var list eventsv1.EventList
	if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return err
	}
	for _, e := range list.Items {
		if e.Reason == reason && e.Regarding.Name == name && strings.Contains(e.Note, text) {
			return nil
		}
	}
	return fmt.Errorf("%d events, none %s on %s/%s with %q", len(list.Items), reason, ns, name, text)
}

// grepLines returns the lines of s containing sub.
func grepLines(s, sub string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

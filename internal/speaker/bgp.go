package speaker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/bfd"
	"github.com/ironlb/ironlb/internal/bgp"
	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/speaker/decide"
)

// Events the speaker records for BGP: session changes on its Node, invalid
// community annotations on Services.
const (
	// ReasonBGPSessionUp (Normal, on the Node): a session became
	// Established.
	ReasonBGPSessionUp = "BGPSessionUp"
	// ReasonBGPSessionDown (Warning, on the Node): an Established session
	// went down.
	ReasonBGPSessionDown = "BGPSessionDown"
	// ReasonBGPPeerNotRun (Warning, on the Node): a BGPPeer that selects
	// the node cannot be run on it (no router ID, no InternalIP of a
	// family it needs, ...); the message names the peer and why. Recorded
	// once per change of the problems.
	ReasonBGPPeerNotRun = "BGPPeerNotRun"
	// ReasonInvalidBGPCommunities (Warning, on the Service): entries of the
	// ironlb.io/bgp-communities annotation were ignored. Recorded once per
	// annotation value by each node announcing the Service.
	ReasonInvalidBGPCommunities = "InvalidBGPCommunities"
	actionBGPSession            = "BGPSession"
	actionAnnotate              = "ReadAnnotation"
)

// bgpAnnouncer applies the BGP decision to a bgp.Speaker and keeps what
// the Events, logs and metrics need. apply runs on the sync loop; run
// (the session events) on its own goroutine; metrics at scrape time.
type bgpAnnouncer struct {
	sp   bgp.Speaker
	node string
	// namespace is ironlb's, where the BGPPeers live (for Events).
	namespace string
	recorder  events.EventRecorder
	log       *slog.Logger
	// reason is the last decision's BGPResult.Reason, logged on change;
	// only the sync loop (under Speaker.mu) uses it.
	reason string

	mu sync.Mutex // guards all following fields
	// nodeUID is the UID of this node's Node, for Events.
	nodeUID types.UID
	// peers are the peers of the last apply; wanted their names.
	peers  []bgp.Peer
	wanted map[string]bool
	// states are the last reported session states, by peer name.
	states map[string]bgp.SessionState
	// prefixes counts the routes announced to each peer by the last
	// successful Advertise; announced maps each prefix to its peers.
	prefixes  map[string]int
	announced map[netip.Prefix]string
	// problems is the last logged text of configuration the speaker
	// cannot apply, so each change is logged once.
	problems string
	// reported maps a Service key to the annotation value whose invalid
	// entries were recorded in an Event.
	reported map[string]string
}

func newBGPAnnouncer(sp bgp.Speaker, node string, recorder events.EventRecorder, log *slog.Logger) *bgpAnnouncer {
	return &bgpAnnouncer{
		sp: sp, node: node, recorder: recorder, log: log,
		wanted: map[string]bool{}, states: map[string]bgp.SessionState{}, prefixes: map[string]int{},
		announced: map[netip.Prefix]string{}, reported: map[string]string{},
	}
}

// syncBGP decides what this node does over BGP and applies it: sessions,
// routes, Events; the ServiceBGPStatuses are written on their own
// goroutine. Callers hold s.mu.
func (s *Speaker) syncBGP(ctx context.Context, nodes []corev1.Node, svcs []decide.Service, byKey map[string]*corev1.Service) error {
	in := decide.BGPInput{Config: s.snapshot}
	var self *corev1.Node
	for i := range nodes {
		if nodes[i].Name == s.opts.NodeName {
			self = &nodes[i]
			d, _ := toNode(self) // the subnets annotation does not matter here
			in.Self = &d
		}
	}
	for _, sv := range svcs {
		bs := decide.BGPService{Service: sv}
		if svc := byKey[sv.Key]; svc != nil {
			bs.Communities = svc.Annotations[decide.AnnotationBGPCommunities]
		}
		in.Services = append(in.Services, bs)
	}
	res := decide.DecideBGP(&in)
	if res.Reason != s.bgp.reason {
		s.bgp.reason = res.Reason
		if res.Reason != "" && s.snapshot != nil && len(s.snapshot.Peers) > 0 {
			s.log.Info("this node announces nothing over BGP", "reason", res.Reason)
		}
	}
	err := s.bgp.apply(ctx, &res, self, byKey)
	s.announcedMetrics.setBGP(&res, svcs)
	s.bgpStatus.setTarget(bgpStatusTargetOf(&res, byKey))
	kick(s.bgpStatusTrigger)
	return err
}

// apply makes the sessions and routes those of res.
func (a *bgpAnnouncer) apply(ctx context.Context, res *decide.BGPResult, self *corev1.Node, byKey map[string]*corev1.Service) error {
	addrs := nodeAddresses(self)
	peers, problems := toBGPPeers(res.Peers, addrs)
	routes := toBGPRoutes(res.Routes, peers)

	a.mu.Lock()
	if self != nil {
		a.nodeUID = self.UID
	}
	a.peers = peers
	a.wanted = map[string]bool{}
	for _, p := range peers {
		a.wanted[p.Name] = true
	}
	for name := range a.states {
		if !a.wanted[name] {
			delete(a.states, name)
		}
	}
	var notRun string
	if text := strings.Join(problems, "; "); text != a.problems {
		a.problems = text
		if text != "" {
			a.log.Warn("some BGP configuration cannot be applied on this node", "problems", problems)
			notRun = text
		}
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: a.node, UID: a.nodeUID}}
	a.mu.Unlock()
	if notRun != "" {
		a.recorder.Eventf(node, nil, corev1.EventTypeWarning, ReasonBGPPeerNotRun, actionBGPSession,
			"node %s cannot run some BGP configuration: %s", a.node, notRun)
	}

	var errs []error
	if err := a.sp.SetPeers(ctx, peers); err != nil {
		errs = append(errs, err)
	}
	if err := a.sp.Advertise(ctx, routes); err != nil {
		errs = append(errs, err)
	} else {
		a.announce(routes)
	}
	a.reportCommunities(res, byKey)
	return errors.Join(errs...)
}

// announce records what the last Advertise announced, and logs changes.
func (a *bgpAnnouncer) announce(routes []bgp.Route) {
	counts := map[string]int{}
	now := map[netip.Prefix]string{}
	for _, r := range routes {
		for _, p := range r.Peers {
			counts[p]++
		}
		now[r.Prefix] += strings.Join(r.Peers, ",") + " "
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for p, peers := range now {
		if a.announced[p] != peers {
			a.log.Info("announcing a prefix over BGP", "prefix", p, "peers", strings.Fields(peers))
		}
	}
	for p := range a.announced {
		if _, ok := now[p]; !ok {
			a.log.Info("withdrawing a prefix over BGP", "prefix", p)
		}
	}
	a.prefixes, a.announced = counts, now
}

// reportCommunities records ReasonInvalidBGPCommunities once per Service
// and annotation value.
func (a *bgpAnnouncer) reportCommunities(res *decide.BGPResult, byKey map[string]*corev1.Service) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for key := range a.reported {
		if _, ok := res.InvalidCommunities[key]; !ok {
			delete(a.reported, key)
		}
	}
	for key, bad := range res.InvalidCommunities {
		svc := byKey[key]
		if svc == nil {
			continue
		}
		value := svc.Annotations[decide.AnnotationBGPCommunities]
		if prev, ok := a.reported[key]; ok && prev == value {
			continue
		}
		a.reported[key] = value
		ref := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: svc.Namespace, Name: svc.Name, UID: svc.UID}}
		a.recorder.Eventf(ref, nil, corev1.EventTypeWarning, ReasonInvalidBGPCommunities, actionAnnotate,
			"node %s ignores entries of annotation %s: %s; the routes are announced without them",
			a.node, decide.AnnotationBGPCommunities, strings.Join(bad, "; "))
		a.log.Warn("ignoring invalid BGP communities of a Service", "service", key, "invalid", bad)
	}
}

// run turns session state changes into logs, Events and metrics until
// ctx ends or the speaker is closed.
func (a *bgpAnnouncer) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-a.sp.Events():
			if !ok {
				return
			}
			a.onEvent(e)
		}
	}
}

// onEvent handles one session state change.
func (a *bgpAnnouncer) onEvent(e bgp.PeerEvent) {
	a.mu.Lock()
	prev := a.states[e.Peer]
	wanted := a.wanted[e.Peer]
	if wanted {
		a.states[e.Peer] = e.State
	}
	var addr string
	for _, p := range a.peers {
		if p.Name == e.Peer {
			addr = p.Address.String()
		}
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: a.node, UID: a.nodeUID}}
	a.mu.Unlock()
	if !wanted {
		a.log.Debug("BGP session state of a removed peer", "peer", e.Peer, "state", e.State)
		return
	}
	up := bgp.StateEstablished
	switch {
	case e.State == up && prev != up:
		a.log.Info("BGP session established", "peer", e.Peer, "address", addr)
		a.recorder.Eventf(node, a.peerRef(e.Peer), corev1.EventTypeNormal, ReasonBGPSessionUp, actionBGPSession,
			"%s", sessionUpNote(a.node, e.Peer, addr))
	case prev == up && e.State != up:
		a.log.Warn("BGP session down", "peer", e.Peer, "address", addr, "state", e.State)
		a.recorder.Eventf(node, a.peerRef(e.Peer), corev1.EventTypeWarning, ReasonBGPSessionDown, actionBGPSession,
			"%s", sessionDownNote(a.node, e.Peer, addr, string(e.State)))
	}
}

// peerRef is the BGPPeer a session Event is related to. The Event library
// groups the Events of one object, reason and related object into one
// series whatever their notes: without it, every peer's session Events on
// a node would merge into the first one's.
func (a *bgpAnnouncer) peerRef(peer string) *v1beta1.BGPPeer {
	return &v1beta1.BGPPeer{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1beta1.GroupVersion.String(), Kind: "BGPPeer"},
		ObjectMeta: metav1.ObjectMeta{Namespace: a.namespace, Name: peer},
	}
}

// stop ends BGP as the speaker stops. With crash nothing happens, as if
// the process died. Otherwise the sessions to peers without graceful
// restart are closed, which withdraws their routes; the sessions to peers
// with graceful restart stay open until the process exits, so they end
// without a NOTIFICATION and the routers keep the routes (marked stale)
// until the speaker is back or the restart time (120 s) passes.
func (a *bgpAnnouncer) stop(crash bool) {
	if crash {
		return
	}
	a.mu.Lock()
	var keep []bgp.Peer
	var names []string
	for _, p := range a.peers {
		if p.GracefulRestart {
			keep = append(keep, p)
			names = append(names, p.Name)
		}
	}
	a.wanted = map[string]bool{}
	a.mu.Unlock()
	if len(keep) == 0 {
		if err := a.sp.Close(); err != nil {
			a.log.Warn("closing the BGP sessions", "error", err)
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if err := a.sp.SetPeers(ctx, keep); err != nil {
		a.log.Warn("closing the BGP sessions without graceful restart", "error", err)
	}
	a.log.Info("leaving the BGP sessions with graceful restart open until the process exits, so the routers keep the routes", "peers", names)
}

// nodeAddrs are a node's addresses used for BGP: router ID, next hops of
// the other family, BFD source.
type nodeAddrs struct{ v4, v6 netip.Addr }

// nodeAddresses returns the node's first InternalIP of each family, else
// its first ExternalIP of that family.
func nodeAddresses(n *corev1.Node) nodeAddrs {
	var out nodeAddrs
	if n == nil {
		return out
	}
	for _, typ := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP} {
		for _, a := range n.Status.Addresses {
			if a.Type != typ {
				continue
			}
			ip, err := netip.ParseAddr(a.Address)
			if err != nil {
				continue
			}
			ip = ip.Unmap()
			switch {
			case ip.Is4() && !out.v4.IsValid():
				out.v4 = ip
			case ip.Is6() && !out.v6.IsValid():
				out.v6 = ip
			}
		}
	}
	return out
}

// toBGPPeers converts the configured peers of this node; peers it cannot
// run are left out and described in problems.
func toBGPPeers(peers []*config.Peer, na nodeAddrs) (out []bgp.Peer, problems []string) {
	for _, p := range peers {
		bp, err := toBGPPeer(p, na)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if p.DualStackAddressFamily && !bp.NextHopIPv4.IsValid() && !bp.NextHopIPv6.IsValid() {
			problems = append(problems, fmt.Sprintf("BGPPeer %s: dualStackAddressFamily is set, but routes of the other family are not announced: the Node has no InternalIP of that family for their next hop", p.Name))
		}
		out = append(out, bp)
	}
	return out, problems
}

// toBGPPeer converts one configured peer for this node. Routes of the
// family other than the session's are carried (a next hop of that family
// is set) only with dualStackAddressFamily, from the Node's address of
// that family.
func toBGPPeer(p *config.Peer, na nodeAddrs) (bgp.Peer, error) {
	fail := func(format string, args ...any) (bgp.Peer, error) {
		return bgp.Peer{}, fmt.Errorf("BGPPeer %s: "+format, append([]any{p.Name}, args...)...)
	}
	if p.Interface != "" {
		return fail("spec.interface %q (BGP unnumbered) is not supported by the speaker; set spec.peerAddress", p.Interface)
	}
	if !p.Address.IsValid() {
		return fail("no peer address")
	}
	peerASN := p.PeerASN
	switch p.DynamicASN {
	case "":
	case "internal":
		peerASN = p.SessionASN()
	default:
		return fail("spec.dynamicASN %q is not supported by the speaker; set spec.peerASN", p.DynamicASN)
	}
	out := bgp.Peer{
		// With localASN the whole session runs in that AS (replace-as):
		// one GoBGP server per peer makes that the server's own AS.
		Name: p.Name, Address: p.Address, Port: p.Port, MyASN: p.SessionASN(), PeerASN: peerASN,
		SourceAddress: p.SourceAddress, RouterID: p.RouterID,
		HoldTime: p.HoldTime, KeepaliveTime: p.KeepaliveTime, ConnectTime: p.ConnectTime,
		Password: string(p.Password), EBGPMultiHop: p.EBGPMultiHop, GracefulRestart: p.EnableGracefulRestart, VRF: p.VRF,
	}
	if !out.RouterID.IsValid() {
		out.RouterID = defaultRouterID(na)
	}
	if !out.RouterID.Is4() {
		return fail("no router ID: spec.routerID is unset and the Node has no InternalIP")
	}
	own := na.v4
	if p.Address.Is6() {
		own = na.v6
	}
	if p.DualStackAddressFamily && !p.DisableMP {
		if p.Address.Is4() {
			out.NextHopIPv6 = na.v6
		} else {
			out.NextHopIPv4 = na.v4
		}
	}
	if p.BFD != nil {
		if !out.SourceAddress.IsValid() {
			out.SourceAddress = own
		}
		if !out.SourceAddress.IsValid() {
			return fail("BFD profile %s needs spec.sourceAddress or a Node InternalIP of the peer's family", p.BFD.Name)
		}
		out.BFD = true
		ms := func(v uint32) time.Duration { return time.Duration(v) * time.Millisecond }
		out.BFDProfile = bfd.Profile{
			ReceiveInterval: ms(p.BFD.ReceiveInterval), TransmitInterval: ms(p.BFD.TransmitInterval),
			DetectMultiplier: uint8(min(p.BFD.DetectMultiplier, 255)), //nolint:gosec // clamped
			EchoInterval:     ms(p.BFD.EchoInterval), EchoMode: p.BFD.EchoMode, PassiveMode: p.BFD.PassiveMode,
			MinimumTTL: uint8(min(p.BFD.MinimumTTL, 254)), //nolint:gosec // clamped
		}
	}
	return out, nil
}

// defaultRouterID is a node's BGP identifier when its BGPPeer names none:
// its IPv4 InternalIP, or on a node with IPv6 ones alone the low 32 bits of
// its IPv6 InternalIP (fd00:200::11 → 0.0.0.17: distinct between the nodes
// of a subnet, as their interface identifiers are), or an FNV-1a hash of
// that address when those bits are zero; invalid without either.
func defaultRouterID(na nodeAddrs) netip.Addr {
	if na.v4.IsValid() || !na.v6.IsValid() {
		return na.v4
	}
	b := na.v6.As16()
	id := [4]byte(b[12:])
	if id == [4]byte{} {
		h := fnv.New32a()
		_, _ = h.Write(b[:])
		binary.BigEndian.PutUint32(id[:], h.Sum32())
	}
	return netip.AddrFrom4(id)
}

// toBGPRoutes converts the decided routes for the peers that run. A route
// of the family other than its session's goes only to peers with a next
// hop of that family (see toBGPPeer).
func toBGPRoutes(routes []decide.BGPRoute, peers []bgp.Peer) []bgp.Route {
	byName := make(map[string]*bgp.Peer, len(peers))
	for i := range peers {
		byName[peers[i].Name] = &peers[i]
	}
	var out []bgp.Route
	for _, r := range routes {
		var to []string
		for _, name := range r.Peers {
			if p, ok := byName[name]; ok && carries(p, r.Prefix) {
				to = append(to, name)
			}
		}
		if len(to) == 0 {
			continue
		}
		br := bgp.Route{Prefix: r.Prefix, Peers: to}
		for _, c := range r.Communities {
			if c.Large {
				br.LargeCommunities = append(br.LargeCommunities, bgp.LargeCommunity{Global: c.Global, Local1: c.Local1, Local2: c.Local2})
			} else {
				br.Communities = append(br.Communities, bgp.Community(c.Standard()))
			}
		}
		if r.LocalPref > 0 {
			lp := r.LocalPref
			br.LocalPref = &lp
		}
		br.ASPathPrepend = r.ASPathPrepend
		out = append(out, br)
	}
	slices.SortStableFunc(out, func(a, b bgp.Route) int { return a.Prefix.Addr().Compare(b.Prefix.Addr()) })
	return out
}

// carries reports whether p can take a route for prefix: one of its
// session's family, or of the other family when p has a next hop for it.
func carries(p *bgp.Peer, prefix netip.Prefix) bool {
	v4 := prefix.Addr().Is4()
	switch {
	case v4 == p.Address.Is4():
		return true
	case v4:
		return p.NextHopIPv4.IsValid()
	default:
		return p.NextHopIPv6.IsValid()
	}
}

package doctor

import (
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/speaker"
	"github.com/ironlb/ironlb/internal/speaker/decide"
)

// EventTTL is how long the API server keeps Events by default
// (kube-apiserver --event-ttl): a session Event older than that is gone.
const EventTTL = time.Hour

// defaultConnectTime is the BGP connect retry interval when a BGPPeer sets
// none (internal/bgp: 0 means 5 s).
const defaultConnectTime = 5 * time.Second

// sessionEvent is one session Event of a node, read back.
type sessionEvent struct {
	up   bool
	peer string
	// first is when it was first observed, last when last (equal unless
	// it is a series).
	first, last time.Time
	message     string
	// merged is true for a series of Events that names no BGPPeer as
	// related object: client-go's event library merges every Event of
	// one reason on one Node within 6 minutes into one series, whatever
	// its note, so only the first occurrence is known to be about the
	// peer of the note; the later ones may be about any peer.
	merged bool
}

// at is when the Event is known to be about its peer.
func (e *sessionEvent) at() time.Time {
	if e.merged {
		return e.first
	}
	return e.last
}

// sessionEvents returns the BGPSessionUp and BGPSessionDown Events per
// node. The peer is the related object when it is a BGPPeer, else the
// one the note names.
func sessionEvents(events []corev1.Event) map[string][]sessionEvent {
	out := map[string][]sessionEvent{}
	for i := range events {
		e := &events[i]
		if e.InvolvedObject.Kind != "Node" || (e.Reason != speaker.ReasonBGPSessionUp && e.Reason != speaker.ReasonBGPSessionDown) {
			continue
		}
		se := sessionEvent{up: e.Reason == speaker.ReasonBGPSessionUp, message: e.Message, last: eventTime(e)}
		se.first = firstTime(e)
		related := e.Related != nil && e.Related.Kind == config.KindBGPPeer
		if related {
			se.peer = e.Related.Name
		} else if _, peer, _, _, ok := speaker.ParseSessionNote(e.Message); ok {
			se.peer = peer
		} else {
			continue
		}
		se.merged = !related && (e.Series != nil && e.Series.Count > 1 || e.Count > 1)
		out[e.InvolvedObject.Name] = append(out[e.InvolvedObject.Name], se)
	}
	return out
}

// firstTime is when an Event was first observed.
func firstTime(e *corev1.Event) time.Time {
	switch {
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

// sessionState is what a node's session Events say of one peer: the
// latest Event known to be about it (nil: none), and whether a merged
// series observed later may be about it (so the state may have changed).
func sessionState(events []sessionEvent, peer string, since time.Time) (latest *sessionEvent, maybeLater bool) {
	for i := range events {
		e := &events[i]
		if e.peer == peer && !e.at().Before(since) && (latest == nil || e.at().After(latest.at())) {
			latest = e
		}
	}
	for i := range events {
		e := &events[i]
		if e.merged && e.last.After(e.first) && !e.last.Before(since) && (latest == nil || e.last.After(latest.at())) && (latest == nil || e.up != latest.up) {
			maybeLater = true
		}
	}
	return latest, maybeLater
}

// checkBGPSessions judges every BGP session ironlb should run: each
// BGPPeer with each node it selects that runs a speaker. Its latest
// session Event on the Node says whether it is up: BGPSessionDown is a
// warning, with the Event's message. The speaker records an Event only
// when a session becomes Established or stops being so, so a session that
// never came up has none: when the BGPPeer is younger than the Events the
// API server keeps (EventTTL) and older than a few connect attempts, no
// Event at all means it was never Established (a warning); for older
// peers it cannot be told (an info). Nor can it when a later Event on the
// node was merged into a series that may be about the peer (see
// sessionEvent.merged): an info, and a note.
func checkBGPSessions(c *checker) {
	snap := c.res.Snapshot
	if len(snap.Peers) == 0 {
		return
	}
	byNode := sessionEvents(c.in.Events)
	var merged []string
	for i := range c.in.Nodes {
		n := &c.in.Nodes[i]
		if !c.runsSpeaker(n) {
			continue // checkSpeakers says so when an advertisement selects it
		}
		res := decide.DecideBGP(&decide.BGPInput{Config: snap, Self: &decide.Node{Name: n.Name, Labels: n.Labels}})
		for _, p := range res.Peers {
			obj := Object{Kind: config.KindBGPPeer, Namespace: c.namespace(), Name: p.Name}
			created := p.Origin.CreationTimestamp
			ev, maybeLater := sessionState(byNode[n.Name], p.Name, created)
			if maybeLater && !slices.Contains(merged, n.Name) {
				merged = append(merged, n.Name)
			}
			fix := fmt.Sprintf("check that %s answers BGP from node %s (its address, ASN %d, password, and a route to it), and read the speaker's log on the node", peerAddress(p), n.Name, p.PeerASN)
			unknownFix := "see the speaker's metric ironlb_bgp_session_up on the node, or the router's view of the session"
			age := c.in.Now.Sub(created)
			switch {
			case maybeLater:
				state := "no session Event names this peer"
				if ev != nil {
					state = fmt.Sprintf("the latest session Event naming this peer (%s) says %s", ev.at().UTC().Format(time.RFC3339), upDown(ev.up))
				}
				c.add(Info, "bgp-session-unknown", obj,
					fmt.Sprintf("the session from node %s cannot be judged: %s, but a later session Event on the node was merged into a series that may be about this peer", n.Name, state), unknownFix)
			case ev != nil && !ev.up:
				c.add(Warning, "bgp-session-down", obj,
					fmt.Sprintf("the session from node %s is down since %s: %s", n.Name, ev.at().UTC().Format(time.RFC3339), ev.message), fix)
			case ev != nil:
			case created.IsZero() || age >= EventTTL:
				c.add(Info, "bgp-session-unknown", obj,
					fmt.Sprintf("no session Event from node %s in the Events the API server keeps (about an hour): the session may be up since earlier, or never have been Established", n.Name),
					unknownFix)
			case age > grace(p):
				c.add(Warning, "bgp-session-down", obj,
					fmt.Sprintf("the session from node %s has not been Established since the BGPPeer was created %s ago (no %s Event)",
						n.Name, age.Round(time.Second), speaker.ReasonBGPSessionUp), fix)
			}
		}
	}
	if len(merged) > 0 {
		c.notes = append(c.notes, "BGP sessions: the session Events on node(s) "+joinComma(merged)+" were merged into series by the Kubernetes event library "+
			"(Events of one reason on one Node within 6 minutes count as one, whatever the peer they name), so some sessions could not be judged")
	}
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

// grace is how long a new session may take to come up: the speaker reads
// the BGPPeer within seconds, then connects every ConnectTime.
func grace(p *config.Peer) time.Duration {
	ct := p.ConnectTime
	if ct == 0 {
		ct = defaultConnectTime
	}
	return 3*ct + 10*time.Second
}

func peerAddress(p *config.Peer) string {
	if p.Interface != "" {
		return "the peer on interface " + p.Interface
	}
	return p.Address.String()
}

// runsSpeaker reports whether a node runs an ironlb speaker, by the
// evidence checkSpeakers uses: a Ready speaker Pod, or the l2-subnets
// annotation when there are no speaker Pods (or Pods were not gathered).
func (c *checker) runsSpeaker(n *corev1.Node) bool {
	anyPod := false
	for i := range c.in.Pods {
		p := &c.in.Pods[i]
		if !isSpeakerPod(p) {
			continue
		}
		anyPod = true
		if p.Spec.NodeName == n.Name && podReady(p) {
			return true
		}
	}
	if anyPod {
		return false
	}
	_, ok := n.Annotations[speaker.AnnotationL2Subnets]
	return ok
}

// eventTime is when an Event was last observed.
func eventTime(e *corev1.Event) time.Time {
	t := e.CreationTimestamp.Time
	for _, c := range []time.Time{e.FirstTimestamp.Time, e.LastTimestamp.Time, e.EventTime.Time} {
		if c.After(t) {
			t = c
		}
	}
	if e.Series != nil && e.Series.LastObservedTime.After(t) {
		t = e.Series.LastObservedTime.Time
	}
	return t
}

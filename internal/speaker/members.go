package speaker

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/internal/membership"
)

// joinParallel bounds the joins attempted at once.
const joinParallel = 4

// Reasons of the speaker's Events about memberlist, on its Node.
const (
	// ReasonMemberlistNotUsed: the speaker runs without memberlist and
	// judges liveness by the Nodes' Ready condition.
	ReasonMemberlistNotUsed = "MemberlistNotUsed"
	// ReasonMemberlistSecretUnusable: the memberlist Secret changed to
	// something no key derives from; the gossip keeps its key.
	ReasonMemberlistSecretUnusable = "MemberlistSecretUnusable"
	actionMembership               = "Membership"
)

// startMembership starts memberlist, or falls back to Node readiness when
// it is disabled or cannot run (no Secret, the port cannot be bound).
func (s *Speaker) startMembership(ctx context.Context, self *corev1.Node) {
	s.self = self
	if s.opts.DisableMemberlist {
		s.useFallback("memberlist is disabled by the options", nil)
		return
	}
	key, err := s.memberlistKey(ctx, s.live)
	// On a fresh installation the controller creates the Secret as the
	// speakers start: wait for it a little before falling back.
	for waited := time.Duration(0); apierrors.IsNotFound(err) && waited < s.opts.MemberlistSecretWait && ctx.Err() == nil; waited += time.Second {
		if waited == 0 {
			s.log.Info("waiting for the memberlist Secret (the controller creates it when missing)", "secret", s.opts.MemberlistSecret)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
			key, err = s.memberlistKey(ctx, s.live)
		}
	}
	if err != nil {
		s.useFallback("the memberlist Secret cannot be used", err)
		return
	}
	host, port, _ := s.opts.memberlistBind() // validated
	advertise := host
	if !advertise.IsValid() {
		advertise = internalIP(self)
	}
	g, err := membership.Start(membership.Config{
		Name: s.opts.NodeName, BindAddr: host, BindPort: port, AdvertiseAddr: advertise,
		SecretKey: key, Tuning: s.opts.MemberlistTuning, Logger: s.log,
	})
	if err != nil {
		s.useFallback("memberlist cannot start", err)
		return
	}
	s.gossip, s.members = g, g
	s.gossipUp.Store(g)
	s.log.Info("memberlist started", "address", g.LocalAddr().String(), "key", g.Keys().Primary)
}

// useFallback judges liveness by the Nodes' Ready condition.
func (s *Speaker) useFallback(why string, err error) {
	s.fallback = membership.NewSet()
	s.members = s.fallback
	args := []any{"reason", why}
	if err != nil {
		args = append(args, "error", err)
	}
	s.log.Error("NOT using memberlist: a speaker is taken as alive while its Node is Ready, so after a crash "+
		"its addresses move only once the node controller marks the Node NotReady (40 s or more); "+
		"a graceful stop still hands them over at once", args...)
	if s.self != nil && s.recorder != nil {
		note := why
		if err != nil {
			note += ": " + err.Error()
		}
		s.recorder.Eventf(s.self, nil, corev1.EventTypeWarning, ReasonMemberlistNotUsed, actionMembership,
			"node %s does not use memberlist (%s); after a crash its addresses move only once the Node is NotReady", s.opts.NodeName, note)
	}
}

// memberlistKey reads the memberlist Secret through r and derives the
// gossip key.
func (s *Speaker) memberlistKey(ctx context.Context, r client.Reader) ([]byte, error) {
	name, _ := s.opts.memberlistSecretName() // validated
	var sec corev1.Secret
	if err := r.Get(ctx, name, &sec); err != nil {
		return nil, fmt.Errorf("reading the memberlist Secret %s: %w", name, err)
	}
	v, ok := sec.Data[MemberlistSecretKey]
	if !ok {
		return nil, fmt.Errorf("the memberlist Secret %s has no key %q", name, MemberlistSecretKey)
	}
	k, err := membership.SecretKey(v)
	if err != nil {
		return nil, fmt.Errorf("the memberlist Secret %s, key %q: %w", name, MemberlistSecretKey, err)
	}
	return k, nil
}

// keyLoop follows the memberlist Secret: when its content changes, the
// gossip rotates to the key derived from it (membership.Gossip.SetKey,
// which keeps every member reachable on the way). A Secret that cannot be
// used (deleted, its key missing or empty) leaves the key in use, with a
// Warning Event on the Node.
func (s *Speaker) keyLoop(ctx context.Context) {
	var lastErr string
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.keyTrigger:
		}
		key, err := s.memberlistKey(ctx, s.cache)
		if err == nil {
			err = s.gossip.SetKey(key)
		}
		if err == nil {
			lastErr = ""
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if err.Error() == lastErr {
			continue
		}
		lastErr = err.Error()
		s.log.Error("the memberlist Secret cannot be used; the gossip keeps its key", "error", err)
		s.recorder.Eventf(s.self, nil, corev1.EventTypeWarning, ReasonMemberlistSecretUnusable, actionMembership,
			"node %s keeps its memberlist key: %v", s.opts.NodeName, err)
	}
}

// isMemberlistSecret reports whether o is the memberlist Secret.
func (s *Speaker) isMemberlistSecret(o any) bool {
	sec, ok := unwrap(o).(*corev1.Secret)
	if !ok {
		return false
	}
	name, _ := s.opts.memberlistSecretName() // validated
	return sec.Namespace == name.Namespace && sec.Name == name.Name
}

// stopMembership leaves memberlist gracefully, if it runs.
func (s *Speaker) stopMembership() {
	if s.gossip == nil {
		return
	}
	if err := s.gossip.Stop(leaveTimeout); err != nil {
		s.log.Warn("leaving memberlist", "error", err)
	}
}

// joinLoop joins, every joinInterval and when Nodes appear, the speakers
// that are not members yet: new nodes, and the other side of a healed
// partition.
func (s *Speaker) joinLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.joinTrigger:
		case <-time.After(joinInterval):
		}
		s.joinMissing(ctx)
	}
}

// joinMissing joins every node with a published subnets annotation (so a
// speaker has run there) that is not a member, at <InternalIP>:<port>.
func (s *Speaker) joinMissing(ctx context.Context) {
	var nodes corev1.NodeList
	if err := s.cache.List(ctx, &nodes, client.UnsafeDisableDeepCopy); err != nil {
		s.log.Warn("listing Nodes to join their speakers", "error", err)
		return
	}
	members := map[string]bool{}
	for _, m := range s.gossip.Members() {
		members[m] = true
	}
	_, port, _ := s.opts.memberlistBind()
	var addrs []string
	for i := range nodes.Items {
		n := &nodes.Items[i]
		if n.Name == s.opts.NodeName || members[n.Name] {
			continue
		}
		if _, ok := n.Annotations[AnnotationL2Subnets]; !ok {
			continue
		}
		if ip := internalIP(n); ip.IsValid() {
			addrs = append(addrs, net.JoinHostPort(ip.String(), strconv.Itoa(port)))
		}
	}
	if len(addrs) == 0 {
		return
	}
	sem := make(chan struct{}, joinParallel)
	var wg sync.WaitGroup
	for _, a := range addrs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, err := s.gossip.Join([]string{a}); err != nil {
				s.log.Debug("joining a speaker", "address", a, "error", err)
			}
		})
	}
	wg.Wait()
	s.log.Debug("joined speakers", "tried", addrs, "members", s.gossip.Members())
}

package speaker

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/configread"
	"github.com/ironlb/ironlb/internal/fence"
	"github.com/ironlb/ironlb/internal/layer2"
	"github.com/ironlb/ironlb/internal/membership"
	"github.com/ironlb/ironlb/internal/speaker/decide"
)

// Timers of the speaker's loops.
const (
	retryMin       = 200 * time.Millisecond
	retryMax       = 10 * time.Second
	resyncInterval = 30 * time.Second
	healthInterval = 2 * time.Second
	// joinInterval paces the joins of speakers that are not members (new
	// nodes, the other side of a healed partition or link flap): it bounds
	// how long two sides that can talk again stay apart. A join of a
	// member that is really down costs a connection attempt.
	joinInterval = 2 * time.Second
	// paceMin and paceMax bound loop's pause after a sync: syncs shorter
	// than paceMin (small clusters, quiet times) are not paced; no pause is
	// longer than paceMax.
	paceMin      = 5 * time.Millisecond
	paceMax      = time.Second
	stopTimeout  = 10 * time.Second
	leaveTimeout = 2 * time.Second
)

// Speaker is the speaker of one node, layer 2 and BGP. Setup creates it
// and adds it to a manager, which runs it (Start) once the caches are up.
type Speaker struct {
	opts   Options
	client client.Client // writes; reads go to the cache
	cache  cache.Cache
	live   client.Reader // reads straight from the API server
	log    *slog.Logger

	counters   *layer2.Counters
	responders *responders
	conflicts  *conflictReporter // reports the responders' conflicts
	status     *statusWriter
	bgp        *bgpAnnouncer
	bgpStatus  *statusWriter // ServiceBGPStatuses
	announced  *announcedWriter
	fence      *fence.Fence // the Leases of leaseFencing
	fenced     fencedCounts // leaseFencing's addresses (metrics)
	// scan lists the node's interfaces (in the node's network namespace).
	scan func() ([]decide.Interface, error)

	// kicks: buffered by one, sent without blocking.
	trigger       chan struct{} // recompute
	statusTrigger chan struct{} // write ServiceL2Statuses
	joinTrigger   chan struct{} // join speakers not yet members
	keyTrigger    chan struct{} // the memberlist Secret changed
	configDirty   atomic.Bool   // the configuration must be rebuilt
	// bgpStatusTrigger (buffered by one too): write ServiceBGPStatuses.
	bgpStatusTrigger chan struct{}
	// announcedTrigger (buffered by one too): write the Services'
	// ConditionAnnounced.
	announcedTrigger chan struct{}
	// membersTrigger (buffered by one too): write AnnotationMembers.
	membersTrigger chan struct{}
	membersView    *membersWriter

	// Set once in Start, before the loops run.
	members membership.Members
	gossip  *membership.Gossip // nil when falling back to Node readiness
	// gossipUp is gossip once it runs, for the metrics (read by scrapes).
	gossipUp atomic.Pointer[membership.Gossip]
	// self is the speaker's Node as it was at the start, the subject of
	// its Events about the node.
	self     *corev1.Node
	recorder events.EventRecorder
	fallback *membership.Set // non-nil when falling back
	memberN  atomic.Int64    // members seen at the last sync (metrics)
	synced   atomic.Bool     // a sync has completed
	// notAnnounced counts the Services this node reports as not
	// announced at the last sync (metrics).
	notAnnounced atomic.Int64
	// announcedMetrics is what this node announces, per Service address,
	// as the last sync decided it (metrics).
	announcedMetrics announcedMetrics

	mu sync.Mutex // serializes sync and shutdown; guards the fields below
	// snapshot is the configuration in use.
	snapshot *config.Snapshot
	// recordErr is the last error reading the accepted configuration
	// record, logged once.
	recordErr     string
	configMetrics *configread.Metrics
	// answering is what this node answered for after the last sync, and
	// reasons why addresses had no node, for logging changes.
	answering map[string][]string
	reasons   map[string]string
	// fenceWaits are the addresses whose Lease this node waits for.
	fenceWaits map[netip.Addr]*fenceWait
	stopping   bool
}

// NeedLeaderElection makes every speaker run: they are not replicas but
// one per node.
func (s *Speaker) NeedLeaderElection() bool { return false }

// Ready reports whether the speaker serves: it has computed what to
// announce and every layer 2 responder is up.
func (s *Speaker) Ready() error {
	if !s.synced.Load() {
		return errors.New("the speaker has not decided what to announce yet")
	}
	return s.responders.ready()
}

// kick sends on a trigger channel without blocking.
func kick(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Start runs the speaker until ctx ends: it publishes the node's
// interfaces, joins the other speakers, then recomputes and applies what
// to announce on every change. When ctx ends it leaves the membership first
// (so another node takes over at once), stops answering, and removes its
// ServiceL2Statuses and its subnets and members annotations.
func (s *Speaker) Start(ctx context.Context) error {
	if !s.cache.WaitForCacheSync(ctx) {
		return nil // stopping before the start
	}
	if err := s.watch(ctx); err != nil {
		return err
	}
	self, ok := s.ownNode(ctx)
	if !ok {
		return nil
	}
	if !s.publishInterfaces(ctx) {
		return nil
	}
	s.startMembership(ctx, self)
	if err := s.status.adopt(ctx, s.live); err != nil {
		s.stopMembership()
		return err
	}
	if err := s.bgpStatus.adopt(ctx, s.live); err != nil {
		s.stopMembership()
		return err
	}

	var wg sync.WaitGroup
	loopCtx, cancel := context.WithCancel(ctx)
	if s.gossip != nil {
		s.joinMissing(loopCtx) // before the first decision: do not start alone
		wg.Go(func() { s.joinLoop(loopCtx) })
		wg.Go(func() { s.keyLoop(loopCtx) })
	}
	wg.Go(func() { s.scanLoop(loopCtx) })
	wg.Go(func() { s.statusLoop(loopCtx, s.status, s.statusTrigger) })
	wg.Go(func() { s.statusLoop(loopCtx, s.bgpStatus, s.bgpStatusTrigger) })
	wg.Go(func() { s.statusLoop(loopCtx, s.announced, s.announcedTrigger) })
	wg.Go(func() { s.statusLoop(loopCtx, s.membersView, s.membersTrigger) })
	wg.Go(func() { s.bgp.run(loopCtx) })
	s.configDirty.Store(true)
	s.loop(loopCtx)
	s.handOver()
	s.bgp.stop(s.opts.crashOnStop)
	cancel()
	wg.Wait()
	s.cleanUp()
	return nil
}

// loop recomputes on every kick, membership change, retry and resync.
func (s *Speaker) loop(ctx context.Context) {
	resync := time.NewTicker(resyncInterval)
	defer resync.Stop()
	health := time.NewTicker(healthInterval)
	defer health.Stop()
	backoff := retryMin
	var retry <-chan time.Time
	kick(s.trigger)
	now := false // a membership change came while pacing: sync at once
	for {
		if !now {
			select {
			case <-ctx.Done():
				return
			case <-s.trigger:
			case <-s.members.Changes():
			case <-retry:
			case <-resync.C:
			case <-health.C:
				if s.responders.healthy() {
					continue
				}
			}
		}
		now = false
		start := time.Now()
		if err := s.sync(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log.Warn("applying the announcements failed; retrying", "error", err, "retryIn", backoff)
			retry = time.After(backoff)
			backoff = min(2*backoff, retryMax)
			continue
		}
		retry, backoff = nil, retryMin
		// Pacing: during a burst of changes (thousands of Services
		// created) every sync recomputes everything, so back to back they
		// would take a whole core. Waiting as long as the last sync took
		// keeps them to half of one, each covering the changes that came
		// meanwhile. A membership change — a failover — does not wait.
		if d := time.Since(start); d >= paceMin {
			select {
			case <-ctx.Done():
				return
			case <-s.members.Changes():
				now = true
			case <-time.After(min(d, paceMax)):
			}
		}
	}
}

// asyncWriter is what statusLoop drives: a writer working towards a
// target set by sync.
type asyncWriter interface {
	// write brings what is written in line with the target; called again
	// to retry when it fails. errStale means only conflicts failed.
	write(ctx context.Context) error
	// what names what is written, for messages.
	what() string
}

// statusLoop runs w whenever the target changes (a kick on trigger),
// retrying failures.
func (s *Speaker) statusLoop(ctx context.Context, w asyncWriter, trigger chan struct{}) {
	backoff := retryMin
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-trigger:
		case <-retry:
		}
		if err := w.write(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			level := slog.LevelWarn
			if errors.Is(err, errStale) {
				level = slog.LevelDebug
			}
			s.log.Log(ctx, level, "writing "+w.what()+" failed; retrying", "error", err, "retryIn", backoff)
			retry = time.After(backoff)
			backoff = min(2*backoff, retryMax)
			continue
		}
		retry, backoff = nil, retryMin
	}
}

// ownNode waits until this node's Node object is in the cache.
func (s *Speaker) ownNode(ctx context.Context) (*corev1.Node, bool) {
	warned := false
	for {
		var n corev1.Node
		err := s.cache.Get(ctx, client.ObjectKey{Name: s.opts.NodeName}, &n)
		if err == nil {
			return &n, true
		}
		if !warned {
			s.log.Warn("waiting for this speaker's Node object", "node", s.opts.NodeName, "error", err)
			warned = true
		}
		select {
		case <-ctx.Done():
			return nil, false
		case <-time.After(time.Second):
		}
	}
}

// handOver gives the node's addresses up as the speaker stops: it leaves
// memberlist (or, with the Node readiness fallback, removes its subnets
// annotation), so the others take over at once, then stops answering.
// Nothing is recomputed afterwards.
func (s *Speaker) handOver() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopping = true
	switch {
	case s.opts.crashOnStop:
		if s.gossip != nil {
			_ = s.gossip.Abort()
		}
	case s.gossip != nil:
		s.stopMembership()
	default:
		// Node readiness: the others drop this node when its annotation
		// goes.
		ctx, cancel := context.WithTimeout(context.Background(), leaveTimeout)
		defer cancel()
		if err := s.unpublishInterfaces(ctx); err != nil {
			s.log.Warn("removing the subnets and members annotations", "error", err)
		}
	}
	s.responders.closeAll()
	// Only now, answering nothing, give the Leases up.
	if s.opts.crashOnStop {
		s.fence.Abandon()
	} else {
		s.fence.Stop()
	}
}

// cleanUp removes what the speaker wrote: its ServiceL2Statuses and its
// subnets annotation (with the Node readiness fallback, that is what
// makes the others take over).
func (s *Speaker) cleanUp() {
	if s.opts.crashOnStop {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if err := s.status.deleteAll(ctx); err != nil {
		s.log.Warn("removing this node's ServiceL2Statuses", "error", err)
	}
	if err := s.bgpStatus.deleteAll(ctx); err != nil {
		s.log.Warn("removing this node's ServiceBGPStatuses", "error", err)
	}
	if err := s.unpublishInterfaces(ctx); err != nil {
		s.log.Warn("removing the subnets and members annotations", "error", err)
	}
	s.log.Info("speaker stopped")
}

// Package fence keeps a node from answering for an address another node
// answers for: the node holds a Lease (coordination.k8s.io) per address
// and answers only while it holds it. Two nodes that disagree about who
// should answer — memberlist partitioned, a node starved — cannot both hold
// the Lease, so at most one answers; the price is a slower failover (the
// next node waits for the Lease to expire) and API server writes for every
// renewal.
//
// Each address is a leader election of client-go's leaderelection package
// on a Lease named after the address. The timings follow from the Lease
// duration D: a holder renews every D/4 and gives up D/2 after a renewal
// starts failing, so it stops answering at most 3D/4 after its last
// successful renewal; another node takes the Lease only once it has seen
// no renewal for D. The quarter of D left over absorbs scheduling delays
// and clock-rate differences (no clock needs to agree with another: each
// node times the others by its own clock).
package fence

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// LeasePrefix starts the name of every address's Lease.
const LeasePrefix = "ironlb-l2-"

// AddressLabel on each Lease holds the address as in its name.
const AddressLabel = "ironlb.io/address"

// Timings derived from a Lease duration d (see the package documentation).
func renewDeadline(d time.Duration) time.Duration { return d / 2 }
func retryPeriod(d time.Duration) time.Duration   { return d / 4 }

// deleteTimeout bounds the deletion of a released Lease.
const deleteTimeout = 5 * time.Second

// MinDuration is the shortest Lease duration the timings allow; the API
// refuses shorter ones.
const MinDuration = 2 * time.Second

// LeaseName is the name of the Lease of address a: the prefix and
// addressToken(a).
func LeaseName(a netip.Addr) string { return LeasePrefix + addressToken(a) }

// addressToken writes a as a name part and label value: IPv6 colons as
// dashes, and a 0 before a leading dash and after a trailing one (an
// address starting or ending in "::") so it starts and ends in an
// alphanumeric. Canonical addresses never start with "0::" or end in
// "::0", so no two addresses share a token.
func addressToken(a netip.Addr) string {
	s := strings.ReplaceAll(a.Unmap().WithZone("").String(), ":", "-")
	if strings.HasPrefix(s, "-") {
		s = "0" + s
	}
	if strings.HasSuffix(s, "-") {
		s += "0"
	}
	return s
}

// Config is what a Fence needs.
type Config struct {
	// Client reaches the API server's Leases.
	Client coordinationv1client.LeasesGetter
	// Namespace holds the Leases.
	Namespace string
	// Identity is the holder name written into the Leases: the node.
	Identity string
	// OnChange is called, on a goroutine of the Fence, each time an
	// address is gained or lost, or another holder is seen. It must not
	// block.
	OnChange func()
	// Log receives the gains and losses.
	Log *slog.Logger
}

// Fence holds the Leases of the addresses it is told to want.
type Fence struct {
	cfg Config

	mu      sync.Mutex
	entries map[netip.Addr]*entry
	stopped bool
	wg      sync.WaitGroup
	// abandoned makes every Lease write fail (Abandon).
	abandoned atomic.Bool
}

// entry is one wanted address: its election, running until cancel.
type entry struct {
	duration time.Duration
	cancel   context.CancelFunc
	done     chan struct{} // closed when the election has ended (and released)
	held     bool          // under Fence.mu
	holder   string        // the last holder seen, under Fence.mu
}

// New returns a Fence holding nothing.
func New(cfg Config) *Fence {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.OnChange == nil {
		cfg.OnChange = func() {}
	}
	return &Fence{cfg: cfg, entries: map[netip.Addr]*entry{}}
}

// Want makes the Fence compete for the Lease of each address of want
// (with its Lease duration) and give up the others: their Leases are
// released — the holder cleared — so the next node need not wait for them
// to expire. A changed duration restarts the address's election (the
// Lease is released and taken again).
func (f *Fence) Want(want map[netip.Addr]time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	replaced := map[netip.Addr]chan struct{}{}
	for a, e := range f.entries {
		if d, ok := want[a]; !ok || d != e.duration {
			e.cancel()
			delete(f.entries, a)
			replaced[a] = e.done
		}
	}
	for _, a := range slices.SortedFunc(maps.Keys(want), netip.Addr.Compare) {
		if _, ok := f.entries[a]; ok {
			continue
		}
		d := max(want[a], MinDuration)
		ctx, cancel := context.WithCancel(context.Background())
		e := &entry{duration: want[a], cancel: cancel, done: make(chan struct{})}
		f.entries[a] = e
		f.wg.Add(1)
		// A new duration: the old election releases the Lease first, so
		// that its release cannot clear the new one's hold.
		go f.run(ctx, a, d, e, replaced[a])
	}
}

// Held reports whether the node holds the Lease of a now.
func (f *Fence) Held(a netip.Addr) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.entries[a]
	return e != nil && e.held
}

// Holder returns the holder of a's Lease last seen ("" when unknown or
// free).
func (f *Fence) Holder(a netip.Addr) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e := f.entries[a]; e != nil {
		return e.holder
	}
	return ""
}

// Stop releases every Lease and returns once all are released (or their
// release failed). The Fence wants nothing afterwards.
func (f *Fence) Stop() { f.stop(false) }

// Abandon stops like Stop but writes nothing more, releasing no Lease: the
// others take the addresses only once the Leases expire, as after a crash.
func (f *Fence) Abandon() { f.stop(true) }

func (f *Fence) stop(abandon bool) {
	f.mu.Lock()
	if abandon {
		f.abandoned.Store(true)
	}
	f.stopped = true
	for a, e := range f.entries {
		e.cancel()
		delete(f.entries, a)
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// run competes for a's Lease until ctx ends, again after each loss, once
// after (a closed channel, or nil) is closed.
func (f *Fence) run(ctx context.Context, a netip.Addr, d time.Duration, e *entry, after <-chan struct{}) {
	defer f.wg.Done()
	defer close(e.done)
	if after != nil {
		select {
		case <-after:
		case <-ctx.Done():
			return
		}
	}
	log := f.cfg.Log.With("ip", a.String(), "lease", LeaseName(a))
	lock := abandonable{&resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: f.cfg.Namespace, Name: LeaseName(a)},
		Client:     f.cfg.Client,
		LockConfig: resourcelock.ResourceLockConfig{Identity: f.cfg.Identity},
		Labels:     map[string]string{AddressLabel: addressToken(a)},
	}, &f.abandoned}
	// set records held; with while set, only if while has not ended,
	// checked under the lock.
	set := func(held bool, holder string, while context.Context) {
		f.mu.Lock()
		if while != nil && while.Err() != nil {
			f.mu.Unlock()
			return
		}
		changed := e.held != held
		e.held = held
		if holder != "" || !held {
			e.holder = holder
		}
		f.mu.Unlock()
		if changed {
			if held {
				log.Info("holding the address's Lease: answering for it")
			} else {
				log.Info("not holding the address's Lease: not answering for it", "holder", holder)
			}
			f.cfg.OnChange()
		}
	}
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   d,
			RenewDeadline:   renewDeadline(d),
			RetryPeriod:     retryPeriod(d),
			ReleaseOnCancel: true,
			Name:            LeaseName(a),
			Callbacks: leaderelection.LeaderCallbacks{
				// OnStartedLeading runs on a goroutine of its own and may
				// run after the loss (its ctx then ended): held only while
				// ctx lives, decided under the lock OnStoppedLeading takes
				// after ctx has ended.
				OnStartedLeading: func(lctx context.Context) { set(true, f.cfg.Identity, lctx) },
				OnStoppedLeading: func() { set(false, "", nil) },
				// A new holder seen: the caller may show who answers.
				OnNewLeader: func(id string) {
					f.mu.Lock()
					changed := e.holder != id
					e.holder = id
					f.mu.Unlock()
					if changed {
						f.cfg.OnChange()
					}
				},
			},
		})
		if err != nil { // the timings are derived to be valid
			log.Error("cannot compete for the address's Lease", "error", fmt.Errorf("leader election config: %w", err))
			return
		}
		le.Run(ctx)
	}
	if !f.abandoned.Load() {
		f.deleteIfFree(a, log)
	}
}

// deleteIfFree deletes a's Lease when nobody holds it (this node released
// it and no other took it yet), so that the Leases of addresses gone from
// the cluster do not pile up. The resourceVersion precondition keeps a
// Lease another node took meanwhile.
func (f *Fence) deleteIfFree(a netip.Addr, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), deleteTimeout)
	defer cancel()
	leases := f.cfg.Client.Leases(f.cfg.Namespace)
	lease, err := leases.Get(ctx, LeaseName(a), metav1.GetOptions{})
	if err != nil || (lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != "") {
		return
	}
	err = leases.Delete(ctx, lease.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &lease.ResourceVersion}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		log.Debug("deleting the released Lease", "error", err)
	}
}

// abandonable is a lock whose writes fail once abandoned is set, so that
// an abandoned election releases nothing.
type abandonable struct {
	resourcelock.Interface
	abandoned *atomic.Bool
}

var errAbandoned = errors.New("the fence was abandoned")

func (l abandonable) Create(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	if l.abandoned.Load() {
		return errAbandoned
	}
	return l.Interface.Create(ctx, r)
}

func (l abandonable) Update(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	if l.abandoned.Load() {
		return errAbandoned
	}
	return l.Interface.Update(ctx, r)
}

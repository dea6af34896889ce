package speaker

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/internal/speaker/decide"
)

// What the speakers write on a Service about its announcement.
const (
	// ConditionAnnounced is the Service status condition: True (reason
	// ReasonAnnounced) when some node announces every address of the
	// Service that lies in an IPAddressPool, in layer 2 or over BGP;
	// False (reason ReasonNotAnnounced) when not, the message naming each
	// address no node announces and why. Services with no address in a
	// pool do not carry it.
	ConditionAnnounced = "ironlb.io/Announced"
	// ReasonAnnounced (condition; Normal Event when the condition goes
	// from False to True).
	ReasonAnnounced = "Announced"
	// ReasonNotAnnounced (condition; Warning Event when the condition
	// goes to False or its message changes).
	ReasonNotAnnounced = "NotAnnounced"
	// messageAnnounced is the message of the True condition: it names no
	// node, so a failover writes nothing.
	messageAnnounced = "every address of the Service is announced"
	// maxConditionMessage is the API's limit on a condition message.
	maxConditionMessage = 32768
)

// errStale reports writes refused because the cached Service was not the
// latest version (a conflict): retried soon, not worth a warning.
var errStale = errors.New("the cached Service was not its latest version")

// wantCondition is the ConditionAnnounced one Service should carry.
type wantCondition struct {
	namespace, name string
	uid             types.UID
	ips             []netip.Addr
	// cond is the condition to set (its LastTransitionTime unset); nil
	// removes it.
	cond *metav1.Condition
}

// announcedTarget is the state the announced writer works towards: the
// Services this node reports (it is their reporter) whose condition, as
// the sync saw them, differs from the wanted one.
type announcedTarget struct {
	services map[string]wantCondition
	// notAnnounced counts the Services this node reports whose condition
	// is False, whether it is written yet or not.
	notAnnounced int
}

// reporter returns the speaker that writes ConditionAnnounced on a
// Service: the one elected, as for layer 2, for the Service's first
// address, among the speakers that may report (see reporters). Every
// speaker computes the same, so one writes; while membership changes two
// may for a moment, which is harmless as each writes only a change, with
// optimistic locking. A Service without an address (whose condition is to
// be removed) is given one made of its key.
func reporter(key string, ips []netip.Addr, members []string) string {
	if len(ips) > 0 {
		return decide.Elect(ips[0], members)
	}
	sum := sha256.Sum256([]byte(key))
	return decide.Elect(netip.AddrFrom16([16]byte(sum[:16])), members)
}

// reporters returns the speakers that may report: the live members whose
// Node carries published interfaces, so runs a speaker. With memberlist
// that is every member; with the Node readiness fallback, Ready Nodes
// where no speaker runs are members too, and must not be elected.
func reporters(in *decide.Input) []string {
	live := make(map[string]bool, len(in.Members))
	for _, m := range in.Members {
		live[m] = true
	}
	out := make([]string, 0, len(in.Members))
	for i := range in.Nodes {
		if n := &in.Nodes[i]; live[n.Name] && n.Interfaces != nil {
			out = append(out, n.Name)
		}
	}
	return out
}

// announcedTargetOf returns the conditions node self reports, from the
// decision res of in (the Services the speaker announces, byKey) and all
// the Services of the cache: ConditionAnnounced on the Services of in
// with an address in a pool, none on the others (removed where present).
// A Service with a pending address (leaseFencing: whether anyone answers
// is not known yet) keeps the condition it has.
func announcedTargetOf(self string, all []corev1.Service, in *decide.Input, res decide.Result, byKey map[string]*corev1.Service, pending map[netip.Addr]bool) *announcedTarget {
	t := &announcedTarget{services: map[string]wantCondition{}}
	candidates := reporters(in)
	mine := map[string]bool{}
	for i := range in.Services {
		s := &in.Services[i]
		if reporter(s.Key, s.IPs, candidates) == self && !slices.ContainsFunc(s.IPs, func(a netip.Addr) bool { return pending[a] }) {
			mine[s.Key] = true
		}
	}
	for key, c := range decide.Cover(in, res, mine) {
		svc := byKey[key]
		if svc == nil {
			continue
		}
		var cond *metav1.Condition
		switch {
		case !c.Pooled:
		case c.Announced():
			cond = &metav1.Condition{Type: ConditionAnnounced, Status: metav1.ConditionTrue, Reason: ReasonAnnounced, Message: messageAnnounced}
		default:
			t.notAnnounced++
			msg := c.Message()
			if len(msg) > maxConditionMessage {
				msg = msg[:maxConditionMessage-3] + "..."
			}
			cond = &metav1.Condition{Type: ConditionAnnounced, Status: metav1.ConditionFalse, Reason: ReasonNotAnnounced, Message: msg}
		}
		if sameCondition(apimeta.FindStatusCondition(svc.Status.Conditions, ConditionAnnounced), cond) {
			continue
		}
		t.services[key] = wantCondition{namespace: svc.Namespace, name: svc.Name, uid: svc.UID, ips: ingressIPs(svc), cond: cond}
	}
	// Services the speaker does not announce (no address, another class,
	// no LoadBalancer any more) keep no condition.
	for i := range all {
		svc := &all[i]
		key := serviceKey(svc.Namespace, svc.Name)
		if _, ok := byKey[key]; ok || apimeta.FindStatusCondition(svc.Status.Conditions, ConditionAnnounced) == nil {
			continue
		}
		if reporter(key, ingressIPs(svc), candidates) == self {
			t.services[key] = wantCondition{namespace: svc.Namespace, name: svc.Name, uid: svc.UID}
		}
	}
	return t
}

// sameCondition reports whether the condition cur (nil: absent) is want
// (nil: absent) in status, reason and message.
func sameCondition(cur, want *metav1.Condition) bool {
	if cur == nil || want == nil {
		return cur == want
	}
	return cur.Status == want.Status && cur.Reason == want.Reason && cur.Message == want.Message
}

// announcedWriter writes ConditionAnnounced on the Services this node
// reports, on its own goroutine, and records an Event on a Service each
// time a write changes its condition: ReasonNotAnnounced (Warning) when
// it goes to False or its message changes, ReasonAnnounced (Normal) when
// it goes back from False to True. Each write is a merge patch of the
// status subresource from the cached Service with its resourceVersion
// (the controller writes the same status, with its own condition, the
// same way), so a write succeeds only over the latest version: a change
// is written, and its Event recorded, once, whatever the number of
// resyncs, speaker restarts or reporters.
type announcedWriter struct {
	client   client.Client // writes go to the API server
	cache    client.Reader // the Services as last seen
	recorder events.EventRecorder
	log      *slog.Logger

	// target is the latest state to reach; nil before the first sync.
	target atomic.Pointer[announcedTarget]

	mu sync.Mutex // serializes write
}

// setTarget replaces the state to reach.
func (w *announcedWriter) setTarget(t *announcedTarget) { w.target.Store(t) }

// what names what the writer writes, for messages.
func (w *announcedWriter) what() string {
	return "the " + ConditionAnnounced + " conditions of Services"
}

// write brings the conditions in line with the target; it returns every
// failure (errStale alone when the only failures were conflicts) and is
// called again to retry.
func (w *announcedWriter) write(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	target := w.target.Load()
	if target == nil {
		return nil
	}
	keys := make([]string, 0, len(target.services))
	for key := range target.services {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	var errs []error
	stale := false
	for _, key := range keys {
		err := w.ensure(ctx, target.services[key])
		switch {
		case err == nil:
		case apierrors.IsConflict(err):
			stale = true
		default:
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 && stale {
		return errStale
	}
	return errors.Join(errs...)
}

// ensure writes one Service's condition when the cached Service does not
// carry it yet, and records the Event of the change.
func (w *announcedWriter) ensure(ctx context.Context, want wantCondition) error {
	svc := &corev1.Service{}
	if err := w.cache.Get(ctx, types.NamespacedName{Namespace: want.namespace, Name: want.name}, svc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("reading Service %s/%s: %w", want.namespace, want.name, err)
	}
	if svc.UID != want.uid {
		return nil // another Service of the same name: the next sync decides
	}
	cur := apimeta.FindStatusCondition(svc.Status.Conditions, ConditionAnnounced)
	if sameCondition(cur, want.cond) {
		return nil
	}
	var before *metav1.Condition
	if cur != nil {
		before = cur.DeepCopy()
	}
	updated := svc.DeepCopy()
	if want.cond == nil {
		apimeta.RemoveStatusCondition(&updated.Status.Conditions, ConditionAnnounced)
	} else {
		apimeta.SetStatusCondition(&updated.Status.Conditions, *want.cond)
	}
	patch := client.MergeFromWithOptions(svc, client.MergeFromWithOptimisticLock{})
	if err := w.client.Status().Patch(ctx, updated, patch); err != nil {
		return fmt.Errorf("writing condition %s of Service %s/%s: %w", ConditionAnnounced, want.namespace, want.name, err)
	}
	w.recordChange(updated, before, want)
	return nil
}

// recordChange records the Event and the log line of a condition written
// over before (nil: absent).
func (w *announcedWriter) recordChange(svc *corev1.Service, before *metav1.Condition, want wantCondition) {
	key := serviceKey(svc.Namespace, svc.Name)
	switch {
	case want.cond == nil:
		w.log.Info("removed the announcement condition of a Service ironlb does not announce", "service", key)
	case want.cond.Status == metav1.ConditionFalse:
		// A write always changes status or message, unless only the
		// reason was edited by hand: nothing to report then.
		if before != nil && before.Status == metav1.ConditionFalse && before.Message == want.cond.Message {
			return
		}
		w.recorder.Eventf(svc, nil, corev1.EventTypeWarning, ReasonNotAnnounced, actionAnnounce, "%s", want.cond.Message)
		w.log.Warn("a Service is not announced", "service", key, "why", want.cond.Message)
	case before != nil && before.Status == metav1.ConditionFalse:
		w.recorder.Eventf(svc, nil, corev1.EventTypeNormal, ReasonAnnounced, actionAnnounce,
			"%s again (%s)", messageAnnounced, addrList(want.ips))
		w.log.Info("a Service is announced again", "service", key, "ips", addrList(want.ips))
	}
}

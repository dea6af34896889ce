package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/configread"
	"github.com/ironlb/ironlb/internal/metrics"
)

// configRequest is the one request of the config controller: every
// configuration object maps to it, so a burst of edits is one rebuild.
var configRequest = reconcile.Request{NamespacedName: types.NamespacedName{Name: "ironlb-configuration"}}

// reasonMissingConfigKey is the Event reason on a legacy ConfigMap that
// lacks the configuration key.
const reasonMissingConfigKey = "MissingConfigKey"

// reasonUnreadableRecord is the Event reason on an accepted configuration
// record that cannot be read.
const reasonUnreadableRecord = "UnreadableRecord"

// objectStatuses are the verdicts of one config.Build on the CRs, by kind
// and name (legacy objects, which have no CR, are not in it).
type objectStatuses map[config.ObjectKey]config.ObjectStatus

// configSource reads every configuration object from the cache, builds the
// Snapshot with config.Build on the accepted configuration record (so an
// invalid edit keeps the last valid version in use, in every process
// alike), publishes it, hands its pools to the allocator, asks the status
// controllers to write the verdicts, and records the new Snapshot when it
// differs from the record.
type configSource struct {
	reader    client.Reader
	writer    client.Writer // writes the accepted configuration record
	metrics   *configread.Metrics
	objects   *metrics.ConfigStatus // the verdicts of the last build, counted
	namespace string
	configMap types.NamespacedName
	book      *addressBook
	recorder  events.EventRecorder
	log       *slog.Logger
	// statusQueues are the queues of the Valid-condition controllers, by
	// kind; every object of the kind is queued after a rebuild.
	statusQueues map[string]*queueRef
	primed       <-chan struct{}

	mu sync.Mutex // serializes sync; guards legacyReported and unreadableReported
	// legacyReported is the last problem reported as an Event on the
	// legacy ConfigMap per converted object, so each is reported once.
	legacyReported map[config.ObjectKey]string
	// unreadableReported is the resourceVersion of the unreadable record
	// last reported.
	unreadableReported string

	snapshot atomic.Pointer[config.Snapshot]
	statuses atomic.Pointer[objectStatuses]
}

// Reconcile rebuilds the configuration. It waits until the controller has
// recorded the addresses Services held before it started.
func (s *configSource) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	if !whenPrimed(ctx, s.primed) {
		return reconcile.Result{}, nil // stopping
	}
	err := s.sync(ctx)
	if errors.Is(err, errRecordRaced) {
		// The cache lags behind the record another write made; the
		// record's own watch event brings the next sync.
		return reconcile.Result{RequeueAfter: time.Second}, nil
	}
	return reconcile.Result{}, unlessStopping(ctx, err)
}

// errRecordRaced says the accepted configuration record changed (or
// appeared) since the cache read it.
var errRecordRaced = errors.New("the accepted configuration record changed meanwhile")

// Snapshot returns the configuration in use; nil before the first build.
func (s *configSource) Snapshot() *config.Snapshot { return s.snapshot.Load() }

// status returns the verdict of the last build on a CR.
func (s *configSource) status(kind, name string) (config.ObjectStatus, bool) {
	m := s.statuses.Load()
	if m == nil {
		return config.ObjectStatus{}, false
	}
	st, ok := (*m)[config.ObjectKey{Kind: kind, Name: name}]
	return st, ok
}

// sync builds and publishes a Snapshot from the objects in the cache, then
// records it as the accepted configuration.
func (s *configSource) sync(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	read, err := configread.Read(ctx, s.reader, s.namespace, s.configMap)
	if err != nil {
		return err
	}
	in, cm := read.Input, read.ConfigMap
	if read.AcceptedErr != nil {
		s.reportUnreadableRecord(read)
	}
	res := config.Build(in) // in.Previous is the accepted record

	st := make(objectStatuses, len(res.Statuses))
	for _, o := range res.Statuses {
		if !o.Legacy && o.Kind != config.KindConfigMap {
			st[config.ObjectKey{Kind: o.Kind, Name: o.Name}] = o
		}
	}
	s.snapshot.Store(res.Snapshot)
	s.statuses.Store(&st)
	s.objects.Set(objectCounts(res.Statuses))
	changed, err := s.book.setPools(res.Snapshot)
	if err != nil {
		// config.Build never gives overlapping or malformed pools; if it
		// did, keep allocating from the pools in use.
		s.log.Error("the new configuration's pools were refused; keeping the previous ones", "error", err)
	}
	if changed {
		s.log.Info("configuration changed", "pools", len(res.Snapshot.Pools), "problems", len(res.Problems()))
	}
	s.reportLegacy(cm, read.LegacyKeyMissing, res.Statuses)
	for kind, q := range s.statusQueues {
		q.add(s.requestsOf(kind)...)
	}
	gen, err := s.record(ctx, read.Accepted, res.Snapshot)
	if err != nil {
		return err
	}
	s.metrics.Observe(gen, res.Snapshot)
	return nil
}

// objectCounts counts the verdicts of one build by kind and state, for
// ironlb_config_objects. Objects converted from the legacy ConfigMap count
// under their kind (their problems are Events on the ConfigMap), the
// ConfigMap itself under config.KindConfigMap.
func objectCounts(statuses []config.ObjectStatus) map[metrics.ObjectCount]int {
	out := map[metrics.ObjectCount]int{}
	for _, o := range statuses {
		state := metrics.StateValid
		switch {
		case o.Condition.Status == metav1.ConditionTrue:
		case o.Stale:
			state = metrics.StateStale
		default:
			state = metrics.StateInvalid
		}
		out[metrics.ObjectCount{Kind: o.Kind, State: state}]++
	}
	return out
}

// record writes snap as the accepted configuration unless the record
// already holds it, and returns the record's generation.
func (s *configSource) record(ctx context.Context, acc configread.Accepted, snap *config.Snapshot) (int64, error) {
	if acc.Snapshot != nil && acc.Digest == snap.Digest() {
		return acc.Generation, nil
	}
	gen := acc.Generation + 1
	sec, err := configread.AcceptedRecord(s.namespace, gen, snap)
	if err != nil {
		return 0, err
	}
	if acc.Secret == nil {
		err = s.writer.Create(ctx, sec)
	} else {
		sec.ResourceVersion = acc.Secret.ResourceVersion
		err = s.writer.Update(ctx, sec)
	}
	switch {
	case apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err):
		return 0, errRecordRaced
	case err != nil:
		return 0, fmt.Errorf("recording the accepted configuration in Secret %s/%s: %w", s.namespace, configread.AcceptedSecretName, err)
	}
	s.log.Info("recorded the accepted configuration", "generation", gen, "digest", sec.Annotations[configread.AnnotationDigest])
	return gen, nil
}

// reportUnreadableRecord says, once per version of the record, that the
// accepted configuration record cannot be read: the configuration is built
// as at a first start, and the record is replaced.
func (s *configSource) reportUnreadableRecord(read configread.Inputs) {
	sec := read.Accepted.Secret
	if sec == nil || s.unreadableReported == sec.ResourceVersion {
		return
	}
	s.unreadableReported = sec.ResourceVersion
	s.log.Error("the accepted configuration record cannot be read; building without it and replacing it", "error", read.AcceptedErr)
	s.recorder.Eventf(sec, nil, corev1.EventTypeWarning, reasonUnreadableRecord, actionValidate,
		"%v; invalid objects cannot fall back to their last valid versions until the controller replaces it", read.AcceptedErr)
}

// requestsOf lists every CR of a kind known to the last build, as
// requests in the ironlb namespace.
func (s *configSource) requestsOf(kind string) []reconcile.Request {
	m := s.statuses.Load()
	if m == nil {
		return nil
	}
	var out []reconcile.Request
	for key := range *m {
		if key.Kind == kind {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: s.namespace, Name: key.Name}})
		}
	}
	return out
}

// reportLegacy records an Event on the legacy ConfigMap for each problem of
// an object converted from it (or of the ConfigMap as a whole, such as a
// missing configuration key), once per distinct message.
func (s *configSource) reportLegacy(cm *corev1.ConfigMap, keyMissing bool, objs []config.ObjectStatus) {
	reported := map[config.ObjectKey]string{}
	if cm != nil && keyMissing {
		k := config.ObjectKey{Kind: config.KindConfigMap, Name: cm.Name}
		note := fmt.Sprintf("the legacy ConfigMap has no %q key: ironlb reads no configuration from it", config.LegacyConfigMapKey)
		reported[k] = note
		if s.legacyReported[k] != note {
			s.log.Warn("the legacy ConfigMap has no configuration key; ignoring it",
				"configMap", s.configMap.String(), "key", config.LegacyConfigMapKey)
			s.recorder.Eventf(cm, nil, corev1.EventTypeWarning, reasonMissingConfigKey, actionValidate, "%s", note)
		}
	}
	for _, o := range objs {
		if (!o.Legacy && o.Kind != config.KindConfigMap) || len(o.Problems) == 0 {
			continue
		}
		k := config.ObjectKey{Kind: o.Kind, Name: o.Name}
		note := legacyNote(o)
		reported[k] = note
		if cm != nil && s.legacyReported[k] != note {
			s.recorder.Eventf(cm, nil, corev1.EventTypeWarning, problemReason(o), actionValidate, "%s", note)
		}
	}
	s.legacyReported = reported
}

// legacyNote describes the problems of an object of the legacy ConfigMap.
func legacyNote(o config.ObjectStatus) string {
	what := o.Kind
	if o.Name != "" {
		what = fmt.Sprintf("%s %q", o.Kind, o.Name)
	}
	if o.Source != "" {
		what += " (" + o.Source + ")"
	}
	return what + ": " + o.Condition.Message
}

// problemReason is the Event reason for an object's problems: the
// condition's reason when it is False, else the first warning's.
func problemReason(o config.ObjectStatus) string {
	r := o.Condition.Reason
	if o.Condition.Status == metav1.ConditionTrue && len(o.Problems) > 0 {
		r = o.Problems[0].Reason
	}
	if r == "" {
		r = v1beta1.ReasonInvalidSpec
	}
	return r
}

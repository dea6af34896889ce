package controller

import (
	"context"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// queueRef lets one part of the controller put work on another
// controller's queue: the Service controller re-queues waiting Services,
// the allocator asks for pool status updates. It learns the queue when the
// controller starts (through the source it returns); requests made before
// that are dropped, which is safe because a starting controller lists every
// object anyway.
type queueRef struct {
	mu sync.Mutex
	q  workqueue.TypedRateLimitingInterface[reconcile.Request] // nil until started
}

// source returns the source to register with the controller whose queue
// this is (WatchesRawSource).
func (r *queueRef) source() source.Source {
	return source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		r.mu.Lock()
		r.q = q
		r.mu.Unlock()
		return nil
	})
}

func (r *queueRef) queue() workqueue.TypedRateLimitingInterface[reconcile.Request] {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.q
}

// add queues requests now. It never blocks.
func (r *queueRef) add(reqs ...reconcile.Request) {
	if q := r.queue(); q != nil {
		for _, req := range reqs {
			q.Add(req)
		}
	}
}

// addAfter queues a request after d; a request already waiting keeps its
// earlier time, so calls within d coalesce into one.
func (r *queueRef) addAfter(req reconcile.Request, d time.Duration) {
	if q := r.queue(); q != nil {
		q.AddAfter(req, d)
	}
}

// addKeys queues Services by "namespace/name" key.
func (r *queueRef) addKeys(keys ...string) {
	if q := r.queue(); q != nil {
		for _, k := range keys {
			q.Add(reconcile.Request{NamespacedName: splitKey(k)})
		}
	}
}

// splitKey turns "namespace/name" into a NamespacedName.
func splitKey(key string) types.NamespacedName {
	ns, name, _ := strings.Cut(key, "/")
	return types.NamespacedName{Namespace: ns, Name: name}
}

package controller

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// conflictRetry is when an object whose write hit a conflict (the cache
// was behind) is looked at again, should its newer version's watch event
// not queue it first.
const conflictRetry = 200 * time.Millisecond

// serviceStats count the Service controller's work, for tests and logs.
type serviceStats struct {
	reconciles atomic.Int64 // Reconcile calls finished after the start-up wait
	writes     atomic.Int64 // successful Service writes
}

// serviceReconciler allocates addresses to the LoadBalancer Services it
// manages and writes the outcome to each Service: status ingress,
// the ConditionIPAllocated condition, AnnotationAllocatedFromPool, and an
// Event when something changed.
type serviceReconciler struct {
	client   client.Client // reads from the cache
	book     *addressBook
	recorder events.EventRecorder
	class    string // spec.loadBalancerClass handled; "" means none
	primed   <-chan struct{}
	stats    *serviceStats
	// onReconciled, when set, is called after each reconcile (tests).
	onReconciled func(types.NamespacedName)
}

// manages reports whether the controller is responsible for svc.
func (r *serviceReconciler) manages(svc *corev1.Service) bool {
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return false
	}
	if r.class == "" {
		return svc.Spec.LoadBalancerClass == nil
	}
	return svc.Spec.LoadBalancerClass != nil && *svc.Spec.LoadBalancerClass == r.class
}

// Reconcile brings one Service in line with the allocator. It waits until
// the controller has recorded the addresses Services held before it
// started, so no address is handed out before its holder is known.
func (r *serviceReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	if !whenPrimed(ctx, r.primed) {
		return reconcile.Result{}, nil // stopping
	}
	defer func() {
		r.stats.reconciles.Add(1)
		if r.onReconciled != nil {
			r.onReconciled(req.NamespacedName)
		}
	}()
	key := req.String()
	svc := &corev1.Service{}
	if err := r.client.Get(ctx, req.NamespacedName, svc); err != nil {
		if apierrors.IsNotFound(err) {
			r.book.release(key)
			return reconcile.Result{}, nil
		}
		return reconcile.Result{}, unlessStopping(ctx, fmt.Errorf("reading Service %s: %w", key, err))
	}
	if !svc.DeletionTimestamp.IsZero() {
		// It keeps its addresses until it is gone, so they are not handed
		// to another Service while this one may still be announced.
		return reconcile.Result{}, nil
	}
	if !r.manages(svc) {
		return r.unmanage(ctx, svc)
	}

	var res allocResult
	in, err := serviceInput(svc, r.namespaceLabels(ctx, svc.Namespace))
	if err != nil {
		r.book.reject(key)
		res.Err = err
	} else {
		res = r.book.allocate(in)
	}
	updated := withResult(svc, res)
	if sameService(svc, updated) {
		return reconcile.Result{}, nil
	}
	if err := r.write(ctx, svc, updated); err != nil {
		if res.Lost != "" {
			r.book.keepLost(key, res.Lost)
		}
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return reconcile.Result{RequeueAfter: conflictRetry}, nil
		}
		return reconcile.Result{}, unlessStopping(ctx, err)
	}
	for _, e := range allocationEvents(svc, updated, res) {
		r.recorder.Eventf(updated, nil, e.Type, e.Reason, e.Action, "%s", e.Note)
	}
	return reconcile.Result{}, nil
}

// unmanage frees what a Service holds once the controller no longer
// manages it (its type or class changed) and removes what the controller
// wrote on it: always when it is no LoadBalancer any more, and from a
// LoadBalancer of another class only when this controller held its
// addresses until now (another controller may own the rest).
func (r *serviceReconciler) unmanage(ctx context.Context, svc *corev1.Service) (reconcile.Result, error) {
	key := svc.Namespace + "/" + svc.Name
	prev, _ := r.book.allocation(key)
	released := r.book.release(key)
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer && !released {
		// A LoadBalancer of another class that this controller did not
		// hold: whatever is written on it belongs to its own controller.
		return reconcile.Result{}, nil
	}
	updated := withoutResult(svc)
	if !sameService(svc, updated) {
		if err := r.write(ctx, svc, updated); err != nil {
			if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
				return reconcile.Result{RequeueAfter: conflictRetry}, nil
			}
			return reconcile.Result{}, unlessStopping(ctx, err)
		}
	}
	if released {
		why := "the Service is no longer of type LoadBalancer"
		if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			why = "the Service's loadBalancerClass is not handled by this controller"
		}
		r.recorder.Eventf(updated, nil, corev1.EventTypeNormal, ReasonIPReleased, actionRelease,
			"Released IP %s: %s", addrList(prev.IPs), why)
	}
	return reconcile.Result{}, nil
}

// write stores updated (status, condition and annotation) with one request
// to the status subresource, which for Services also applies metadata
// changes. The write fails with a conflict when old is not the latest
// version. Should an API server ignore the annotation there, it is written
// with a second request.
func (r *serviceReconciler) write(ctx context.Context, old, updated *corev1.Service) error {
	want, wantOK := updated.Annotations[AnnotationAllocatedFromPool]
	patch := client.MergeFromWithOptions(old, client.MergeFromWithOptimisticLock{})
	if err := r.client.Status().Patch(ctx, updated, patch); err != nil {
		return fmt.Errorf("writing the status of Service %s/%s: %w", old.Namespace, old.Name, err)
	}
	r.stats.writes.Add(1)
	if got, ok := updated.Annotations[AnnotationAllocatedFromPool]; ok == wantOK && got == want {
		return nil
	}
	base := updated.DeepCopy()
	if wantOK {
		if updated.Annotations == nil {
			updated.Annotations = map[string]string{}
		}
		updated.Annotations[AnnotationAllocatedFromPool] = want
	} else {
		delete(updated.Annotations, AnnotationAllocatedFromPool)
	}
	if err := r.client.Patch(ctx, updated, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("writing annotation %s of Service %s/%s: %w", AnnotationAllocatedFromPool, old.Namespace, old.Name, err)
	}
	return nil
}

// namespaceLabels returns the labels of a namespace (for pools'
// namespaceSelectors); nil when it cannot be read.
func (r *serviceReconciler) namespaceLabels(ctx context.Context, name string) map[string]string {
	ns := &corev1.Namespace{}
	if err := r.client.Get(ctx, types.NamespacedName{Name: name}, ns); err != nil {
		return nil
	}
	return ns.Labels
}

// sameService reports whether a and b agree on everything the controller
// writes.
func sameService(a, b *corev1.Service) bool {
	av, aok := a.Annotations[AnnotationAllocatedFromPool]
	bv, bok := b.Annotations[AnnotationAllocatedFromPool]
	return aok == bok && av == bv && equality.Semantic.DeepEqual(a.Status, b.Status)
}

// relevantService is the event filter of the Service controller: Services
// that are LoadBalancers or carry something the controller wrote.
// Deletions always pass, so the allocator frees what they held.
func relevantService() predicate.Funcs {
	rel := func(o client.Object) bool {
		svc, ok := o.(*corev1.Service)
		if !ok {
			return false
		}
		if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
			return true
		}
		if _, ok := svc.Annotations[AnnotationAllocatedFromPool]; ok {
			return true
		}
		return meta.FindStatusCondition(svc.Status.Conditions, ConditionIPAllocated) != nil
	}
	return predicate.Funcs{
		CreateFunc:  func(e event.CreateEvent) bool { return rel(e.Object) },
		UpdateFunc:  func(e event.UpdateEvent) bool { return rel(e.ObjectOld) || rel(e.ObjectNew) },
		DeleteFunc:  func(event.DeleteEvent) bool { return true },
		GenericFunc: func(event.GenericEvent) bool { return true },
	}
}

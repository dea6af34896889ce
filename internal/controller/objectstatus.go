package controller

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/ipam"
)

// kindInfo says how to read and write the status of one configuration
// kind.
type kindInfo struct {
	kind       string
	newObject  func() client.Object
	conditions func(client.Object) *[]metav1.Condition
}

// configKinds lists the configuration kinds whose status the controller
// writes.
func configKinds() []kindInfo {
	return []kindInfo{
		{config.KindIPAddressPool, func() client.Object { return &v1beta1.IPAddressPool{} },
			func(o client.Object) *[]metav1.Condition { return &o.(*v1beta1.IPAddressPool).Status.Conditions }},
		{config.KindL2Advertisement, func() client.Object { return &v1beta1.L2Advertisement{} },
			func(o client.Object) *[]metav1.Condition { return &o.(*v1beta1.L2Advertisement).Status.Conditions }},
		{config.KindBGPAdvertisement, func() client.Object { return &v1beta1.BGPAdvertisement{} },
			func(o client.Object) *[]metav1.Condition { return &o.(*v1beta1.BGPAdvertisement).Status.Conditions }},
		{config.KindBGPPeer, func() client.Object { return &v1beta1.BGPPeer{} },
			func(o client.Object) *[]metav1.Condition { return &o.(*v1beta1.BGPPeer).Status.Conditions }},
		{config.KindBFDProfile, func() client.Object { return &v1beta1.BFDProfile{} },
			func(o client.Object) *[]metav1.Condition { return &o.(*v1beta1.BFDProfile).Status.Conditions }},
		{config.KindCommunity, func() client.Object { return &v1beta1.Community{} },
			func(o client.Object) *[]metav1.Condition { return &o.(*v1beta1.Community).Status.Conditions }},
	}
}

// statusReconciler keeps the status of the CRs of one configuration kind
// current: the Valid condition from the last config.Build and, for
// IPAddressPools, the address counts and the Exhausted condition. It
// writes only when something changed, and records an Event on the object
// when its verdict changes.
type statusReconciler struct {
	kind     kindInfo
	client   client.Client
	source   *configSource
	book     *addressBook
	recorder events.EventRecorder
	primed   <-chan struct{}
}

func (r *statusReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	if !whenPrimed(ctx, r.primed) {
		return reconcile.Result{}, nil // stopping
	}
	obj := r.kind.newObject()
	if err := r.client.Get(ctx, req.NamespacedName, obj); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	st, ok := r.source.status(r.kind.kind, obj.GetName())
	if !ok {
		return reconcile.Result{}, nil // not built yet: the next build queues it
	}
	updated := obj.DeepCopyObject().(client.Object)
	conds := r.kind.conditions(updated)
	meta.SetStatusCondition(conds, st.Condition)
	if pool, isPool := updated.(*v1beta1.IPAddressPool); isPool {
		r.setPoolStatus(pool, st)
	}
	if equality.Semantic.DeepEqual(obj, updated) {
		return reconcile.Result{}, nil
	}
	patch := client.MergeFromWithOptions(obj, client.MergeFromWithOptimisticLock{})
	if err := r.client.Status().Patch(ctx, updated, patch); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			// A newer version is coming through the watch and queues
			// the object again.
			return reconcile.Result{RequeueAfter: conflictRetry}, nil
		}
		return reconcile.Result{}, unlessStopping(ctx, fmt.Errorf("writing the status of %s %s: %w", r.kind.kind, req.NamespacedName, err))
	}
	for _, e := range statusEvents(*r.kind.conditions(obj), *conds, st) {
		r.recorder.Eventf(updated, nil, e.Type, e.Reason, e.Action, "%s", e.Note)
	}
	return reconcile.Result{}, nil
}

// setPoolStatus fills a pool's counts and Exhausted condition from the
// allocator. A pool not in use (invalid, or excluded by an overlap) has
// zero counts and no Exhausted condition.
func (r *statusReconciler) setPoolStatus(p *v1beta1.IPAddressPool, st config.ObjectStatus) {
	var u ipam.PoolUsage
	inUse := false
	if st.InUse {
		u, inUse = r.book.usage(p.Name)
	}
	p.Status.AssignedIPv4, p.Status.AvailableIPv4 = u.IPv4.Assigned, u.IPv4.Available
	p.Status.AssignedIPv6, p.Status.AvailableIPv6 = u.IPv6.Assigned, u.IPv6.Available
	if !inUse {
		meta.RemoveStatusCondition(&p.Status.Conditions, v1beta1.ConditionExhausted)
		return
	}
	cond := metav1.Condition{
		Type: v1beta1.ConditionExhausted, ObservedGeneration: p.Generation,
		Status: metav1.ConditionFalse, Reason: v1beta1.ReasonAddressesAvailable,
		Message: "the pool has free addresses in every family it serves",
	}
	var full []string
	for _, f := range []struct {
		name string
		u    ipam.FamilyUsage
	}{{"IPv4", u.IPv4}, {"IPv6", u.IPv6}} {
		if f.u.Assigned > 0 && f.u.Available == 0 {
			full = append(full, f.name)
		}
	}
	if len(full) > 0 {
		cond.Status, cond.Reason = metav1.ConditionTrue, v1beta1.ReasonNoAddressesAvailable
		cond.Message = fmt.Sprintf("no free %s address left; Services asking for one wait until an address is freed or a range is added", strings.Join(full, " or "))
	}
	meta.SetStatusCondition(&p.Status.Conditions, cond)
}

// statusEvents returns the Events for a change of a configuration
// object's conditions from before to after: a Warning when it becomes
// invalid or its problems change, a Normal Accepted when it becomes valid
// again, and a Warning when a pool runs out of addresses.
func statusEvents(before, after []metav1.Condition, st config.ObjectStatus) []k8sEvent {
	var out []k8sEvent
	old := meta.FindStatusCondition(before, v1beta1.ConditionValid)
	cur := meta.FindStatusCondition(after, v1beta1.ConditionValid)
	if cur != nil && (old == nil || old.Status != cur.Status || old.Reason != cur.Reason || old.Message != cur.Message) {
		switch {
		case cur.Status != metav1.ConditionTrue || len(st.Problems) > 0:
			out = append(out, k8sEvent{corev1.EventTypeWarning, problemReason(st), actionValidate, cur.Message})
		case old != nil && old.Status != metav1.ConditionTrue:
			out = append(out, k8sEvent{corev1.EventTypeNormal, v1beta1.ReasonAccepted, actionValidate, "the object is valid again and in use"})
		}
	}
	oldEx := meta.FindStatusCondition(before, v1beta1.ConditionExhausted)
	curEx := meta.FindStatusCondition(after, v1beta1.ConditionExhausted)
	if curEx != nil && curEx.Status == metav1.ConditionTrue && (oldEx == nil || oldEx.Status != metav1.ConditionTrue) {
		out = append(out, k8sEvent{corev1.EventTypeWarning, v1beta1.ReasonNoAddressesAvailable, actionAllocate, curEx.Message})
	}
	return out
}

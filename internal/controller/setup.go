package controller

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/configread"
	"github.com/ironlb/ironlb/internal/metrics"
)

// EventSource is the reporting controller of the Events ironlb's
// controller records.
const EventSource = "ironlb-controller"

// Controller is the controller's shared state. Setup creates it and
// registers its parts with a manager, which runs them.
type Controller struct {
	opts    Options
	source  *configSource
	book    *addressBook
	primed  chan struct{}
	stats   serviceStats
	metrics *metrics.Allocator
}

// Snapshot returns the configuration in use: the last one config.Build
// returned. It is nil until the controller first leads. The Snapshot is
// immutable (see config.Snapshot).
func (c *Controller) Snapshot() *config.Snapshot { return c.source.Snapshot() }

// Primed is closed once the controller leads and has recorded the
// addresses Services held; allocation starts then.
func (c *Controller) Primed() <-chan struct{} { return c.primed }

// Setup registers with mgr the controller's parts: the configuration
// source, the Service controller, the status controllers of the
// configuration kinds and the start-up step that records the addresses
// Services already hold. All of them run only while mgr leads.
//
// mgr's scheme must hold client-go's types and ironlb's API; its cache
// should be configured with CacheOptions, which keeps Secrets, ConfigMaps
// and the configuration CRs to the namespaces the controller reads.
// NewManager does both.
func Setup(mgr manager.Manager, opts Options) (*Controller, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("controller options: %w", err)
	}
	cm, _ := opts.LegacyConfigMapName()
	reg := opts.Registry
	if reg == nil {
		reg = ctrlmetrics.Registry
	}
	m, err := metrics.NewAllocator(reg)
	if err != nil {
		return nil, err
	}
	log := slog.Default()
	recorder := mgr.GetEventRecorder(EventSource)
	c := &Controller{opts: opts, primed: make(chan struct{}), metrics: m}

	servicesQ := &queueRef{}
	statusQ := map[string]*queueRef{}
	for _, k := range configKinds() {
		statusQ[k.kind] = &queueRef{}
	}
	c.book = newAddressBook(opts.Namespace, servicesQ, statusQ[config.KindIPAddressPool], m)
	cfgMetrics, err := configread.NewMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("registering the configuration metrics: %w", err)
	}
	kinds := []string{config.KindConfigMap}
	for _, k := range configKinds() {
		kinds = append(kinds, k.kind)
	}
	objMetrics, err := metrics.NewConfigStatus(reg, kinds)
	if err != nil {
		return nil, err
	}
	c.source = &configSource{
		reader: mgr.GetClient(), writer: mgr.GetClient(), metrics: cfgMetrics, objects: objMetrics, namespace: opts.Namespace, configMap: cm,
		book: c.book, recorder: recorder, log: log.With("part", "configuration"),
		statusQueues: statusQ, primed: c.primed,
	}
	svc := &serviceReconciler{
		client: mgr.GetClient(), book: c.book, recorder: recorder,
		class: opts.LoadBalancerClass, primed: c.primed, stats: &c.stats,
		onReconciled: opts.onReconciled,
	}
	ctrlOpts := func(workers int) controller.Options {
		return controller.Options{MaxConcurrentReconciles: workers, SkipNameValidation: ptr.To(opts.skipNameValidation)}
	}
	inNamespace := builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetNamespace() == opts.Namespace
	}))

	err = builder.ControllerManagedBy(mgr).Named("service").
		For(&corev1.Service{}, builder.WithPredicates(relevantService())).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(svc.servicesInNamespace),
			builder.WithPredicates(predicate.LabelChangedPredicate{})).
		WatchesRawSource(servicesQ.source()).
		WithOptions(ctrlOpts(opts.MaxConcurrentReconciles)).
		Complete(svc)
	if err != nil {
		return nil, fmt.Errorf("setting up the Service controller: %w", err)
	}

	toConfig := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{configRequest}
	})
	specChanged := predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{})
	cb := builder.ControllerManagedBy(mgr).Named("configuration")
	for _, k := range configKinds() {
		cb = cb.Watches(k.newObject(), toConfig, builder.WithPredicates(specChanged), inNamespace)
	}
	err = cb.Watches(&corev1.Secret{}, toConfig, inNamespace).
		Watches(&corev1.ConfigMap{}, toConfig, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return o.GetNamespace() == cm.Namespace && o.GetName() == cm.Name
		}))).
		WithOptions(ctrlOpts(1)).
		Complete(c.source)
	if err != nil {
		return nil, fmt.Errorf("setting up the configuration controller: %w", err)
	}

	for _, k := range configKinds() {
		r := &statusReconciler{
			kind: k, client: mgr.GetClient(), source: c.source, book: c.book,
			recorder: recorder, primed: c.primed,
		}
		err = builder.ControllerManagedBy(mgr).Named(strings.ToLower(k.kind)+"-status").
			For(k.newObject(), inNamespace).
			WatchesRawSource(statusQ[k.kind].source()).
			WithOptions(ctrlOpts(1)).
			Complete(r)
		if err != nil {
			return nil, fmt.Errorf("setting up the %s status controller: %w", k.kind, err)
		}
	}

	warm := []client.Object{&corev1.Secret{}, &corev1.ConfigMap{}, &corev1.Namespace{}}
	for _, k := range configKinds() {
		warm = append(warm, k.newObject())
	}
	p := &primer{
		live: mgr.GetAPIReader(), cache: mgr.GetCache(), objects: warm,
		source: c.source, book: c.book, service: svc,
		primed: c.primed, log: log.With("part", "start-up"),
	}
	if err := mgr.Add(p); err != nil {
		return nil, fmt.Errorf("adding the start-up step: %w", err)
	}
	if !opts.KeepMemberlistSecret {
		name, _ := opts.memberlistSecretName() // validated
		ms := &memberlistSecret{live: mgr.GetAPIReader(), writer: mgr.GetClient(), name: name, log: log.With("part", "memberlist-secret")}
		if err := mgr.Add(ms); err != nil {
			return nil, fmt.Errorf("adding the memberlist Secret step: %w", err)
		}
	}
	return c, nil
}

// servicesInNamespace maps a namespace whose labels changed to its
// Services: a pool's namespaceSelectors may now admit or exclude them.
func (r *serviceReconciler) servicesInNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	var list corev1.ServiceList
	if err := r.client.List(ctx, &list, client.InNamespace(o.GetName())); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		if r.manages(&list.Items[i]) {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: o.GetName(), Name: list.Items[i].Name}})
		}
	}
	return out
}

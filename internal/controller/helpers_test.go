package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/testenv"
)

// waitTimeout bounds every wait for the controller; generous, because a
// busy 2-core CI machine can be slow. Tests never assert on durations.
const waitTimeout = 60 * time.Second

// extraServiceCIDR widens the API server's ClusterIP range (envtest's
// default /24 holds 254 Services) for the tests that create a thousand.
const extraServiceCIDR = "10.96.0.0/16"

// harness is one test's view of the shared control plane: a namespace
// for ironlb's configuration, one for the test's Services, and a
// loadBalancerClass of its own, so that the controllers of earlier tests'
// Services (still in the cluster) never interfere.
type harness struct {
	t     *testing.T
	env   *testenv.Env
	c     client.Client
	ns    string // ironlb's namespace (configuration, Lease)
	app   string // the Services' namespace
	class string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	env := testenv.Shared(t)
	h := &harness{t: t, env: env, c: env.Client, ns: env.NewNamespace(t), app: env.NewNamespace(t)}
	h.class = "test.ironlb.io/" + h.app
	cidr := &networkingv1.ServiceCIDR{
		ObjectMeta: metav1.ObjectMeta{Name: "ironlb-tests"},
		Spec:       networkingv1.ServiceCIDRSpec{CIDRs: []string{extraServiceCIDR}},
	}
	if err := h.c.Create(t.Context(), cidr); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating ServiceCIDR %s: %v", extraServiceCIDR, err)
	}
	return h
}

// running is a controller manager started by a test.
type running struct {
	ctrl *Controller
	reg  *prometheus.Registry
	stop func() error // stops the manager and returns its error; idempotent
}

// options returns the Options a test controller runs with: the harness's
// namespaces and class, no listeners, its own metrics registry.
func (h *harness) options() Options {
	return Options{
		Namespace:              h.ns,
		ConfigMap:              h.ns + "/config",
		LoadBalancerClass:      h.class,
		MetricsBindAddress:     "0",
		HealthProbeBindAddress: "0",
		Registry:               prometheus.NewRegistry(),
		skipNameValidation:     true,
	}
}

// start runs a controller with opts (see options) until the test ends or
// stop is called, and waits until it leads and has primed when wait is set.
func (h *harness) start(opts Options, wait bool) *running {
	h.t.Helper()
	return h.startAs(h.env.Config, opts, wait)
}

// startAs is start with the API server configuration cfg.
func (h *harness) startAs(cfg *rest.Config, opts Options, wait bool) *running {
	h.t.Helper()
	mgr, err := NewManager(cfg, opts)
	if err != nil {
		h.t.Fatal(err)
	}
	c, err := Setup(mgr, opts)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	var stopErr error
	r := &running{ctrl: c, reg: opts.Registry.(*prometheus.Registry)}
	r.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(waitTimeout):
				stopErr = errors.New("the manager did not stop")
			}
		})
		return stopErr
	}
	h.t.Cleanup(func() {
		if err := r.stop(); err != nil {
			h.t.Errorf("stopping the controller: %v", err)
		}
	})
	if wait {
		select {
		case <-c.Primed():
		case err := <-done:
			h.t.Fatalf("the manager stopped before leading: %v", err)
		case <-time.After(waitTimeout):
			h.t.Fatal("the controller did not start allocating")
		}
	}
	return r
}

// eventually polls cond until it reports true, failing the test with the
// last detail it gave after waitTimeout.
func (h *harness) eventually(what string, cond func() (bool, string)) {
	h.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s: %s", what, detail)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pool creates an IPAddressPool in ironlb's namespace.
func (h *harness) pool(name string, addrs ...string) *v1beta1.IPAddressPool {
	h.t.Helper()
	p := &v1beta1.IPAddressPool{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: name},
		Spec:       v1beta1.IPAddressPoolSpec{Addresses: addrs},
	}
	if err := h.c.Create(h.t.Context(), p); err != nil {
		h.t.Fatalf("creating IPAddressPool %s: %v", name, err)
	}
	return p
}

// setPoolAddresses replaces a pool's addresses.
func (h *harness) setPoolAddresses(name string, addrs ...string) {
	h.t.Helper()
	h.update(&v1beta1.IPAddressPool{}, name, h.ns, func(o client.Object) {
		o.(*v1beta1.IPAddressPool).Spec.Addresses = addrs
	})
}

// update reads an object, applies f and writes it, retrying conflicts.
func (h *harness) update(obj client.Object, name, ns string, f func(client.Object)) {
	h.t.Helper()
	for range 10 {
		if err := h.c.Get(h.t.Context(), types.NamespacedName{Namespace: ns, Name: name}, obj); err != nil {
			h.t.Fatalf("reading %s/%s: %v", ns, name, err)
		}
		f(obj)
		err := h.c.Update(h.t.Context(), obj)
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) {
			h.t.Fatalf("updating %s/%s: %v", ns, name, err)
		}
	}
	h.t.Fatalf("updating %s/%s: conflicts", ns, name)
}

// newService returns a LoadBalancer Service of the harness's class
// (without NodePorts) in the app namespace, changed by mods.
func (h *harness) newService(name string, mods ...func(*corev1.Service)) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.app, Name: name},
		Spec: corev1.ServiceSpec{
			Type:                          corev1.ServiceTypeLoadBalancer,
			LoadBalancerClass:             ptr.To(h.class),
			AllocateLoadBalancerNodePorts: ptr.To(false),
			Ports:                         []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}},
			Selector:                      map[string]string{"app": name},
		},
	}
	for _, m := range mods {
		m(svc)
	}
	return svc
}

// service creates a Service (see newService).
func (h *harness) service(name string, mods ...func(*corev1.Service)) {
	h.t.Helper()
	if err := h.c.Create(h.t.Context(), h.newService(name, mods...)); err != nil {
		h.t.Fatalf("creating Service %s: %v", name, err)
	}
}

// get reads a Service from the API server.
func (h *harness) get(name string) *corev1.Service {
	h.t.Helper()
	svc := &corev1.Service{}
	if err := h.c.Get(h.t.Context(), types.NamespacedName{Namespace: h.app, Name: name}, svc); err != nil {
		h.t.Fatalf("reading Service %s: %v", name, err)
	}
	return svc
}

// ips returns the ingress addresses of a Service as strings.
func ips(svc *corev1.Service) []string {
	var out []string
	for _, in := range svc.Status.LoadBalancer.Ingress {
		out = append(out, in.IP)
	}
	return out
}

// waitIPs waits until a Service's status shows addresses and returns them.
func (h *harness) waitIPs(name string) []string {
	h.t.Helper()
	var got []string
	h.eventually("Service "+name+" to get an address", func() (bool, string) {
		got = ips(h.get(name))
		return len(got) > 0, fmt.Sprintf("ingress %v", got)
	})
	return got
}

// waitCondition waits until the Service's ConditionIPAllocated has the
// given status and reason and returns it.
func (h *harness) waitCondition(name string, status metav1.ConditionStatus, reason string) metav1.Condition {
	h.t.Helper()
	var got metav1.Condition
	h.eventually(fmt.Sprintf("Service %s condition %s=%s (%s)", name, ConditionIPAllocated, status, reason), func() (bool, string) {
		c := meta.FindStatusCondition(h.get(name).Status.Conditions, ConditionIPAllocated)
		if c == nil {
			return false, "no condition"
		}
		got = *c
		return c.Status == status && c.Reason == reason, fmt.Sprintf("%s %s: %s", c.Status, c.Reason, c.Message)
	})
	return got
}

// events returns the Events about the object kind/name in namespace ns,
// oldest first.
func (h *harness) events(ns, kind, name string) []corev1.Event {
	h.t.Helper()
	var list corev1.EventList
	if err := h.c.List(h.t.Context(), &list, client.InNamespace(ns)); err != nil {
		h.t.Fatalf("listing Events: %v", err)
	}
	var out []corev1.Event
	for _, e := range list.Items {
		// Only the controller's own Events: the API server's ClusterIP
		// repair loop may report a Service it races with
		// (ClusterIPNotAllocated), which is not ours to count.
		if e.ReportingController != EventSource && e.Source.Component != EventSource {
			continue
		}
		if e.InvolvedObject.Kind == kind && e.InvolvedObject.Name == name {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b corev1.Event) int { return a.CreationTimestamp.Compare(b.CreationTimestamp.Time) })
	return out
}

// waitEvent waits for an Event with reason about the object and returns
// its message.
func (h *harness) waitEvent(ns, kind, name, reason string) string {
	h.t.Helper()
	var msg string
	h.eventually(fmt.Sprintf("an Event %s on %s %s", reason, kind, name), func() (bool, string) {
		var seen []string
		for _, e := range h.events(ns, kind, name) {
			if e.Reason == reason {
				msg = e.Message
				return true, ""
			}
			seen = append(seen, e.Reason)
		}
		return false, fmt.Sprintf("events %v", seen)
	})
	return msg
}

// reasons lists the reasons of the Events about a Service.
func (h *harness) reasons(name string) []string {
	var out []string
	for _, e := range h.events(h.app, "Service", name) {
		out = append(out, e.Reason)
	}
	return out
}

// poolStatus waits until the pool's status satisfies ok and returns it.
func (h *harness) poolStatus(name, what string, ok func(v1beta1.IPAddressPoolStatus) bool) v1beta1.IPAddressPoolStatus {
	h.t.Helper()
	var st v1beta1.IPAddressPoolStatus
	h.eventually("pool "+name+" status: "+what, func() (bool, string) {
		p := &v1beta1.IPAddressPool{}
		if err := h.c.Get(h.t.Context(), types.NamespacedName{Namespace: h.ns, Name: name}, p); err != nil {
			return false, err.Error()
		}
		st = p.Status
		return ok(st), fmt.Sprintf("%+v", st)
	})
	return st
}

// hasCondition reports whether conds hold a condition of that type,
// status and reason.
func hasCondition(conds []metav1.Condition, typ string, status metav1.ConditionStatus, reason string) bool {
	c := meta.FindStatusCondition(conds, typ)
	return c != nil && c.Status == status && c.Reason == reason
}

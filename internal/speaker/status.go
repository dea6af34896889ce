package speaker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// Events the speaker records on Services.
const (
	// ReasonAnnouncingNodeChanged: another node answers ARP/NDP for the
	// Service's addresses now. Recorded once, by the new node.
	ReasonAnnouncingNodeChanged = "AnnouncingNodeChanged"
	actionAnnounce              = "Announce"
)

// wantStatus is what this node announces for one Service.
type wantStatus struct {
	namespace, name string
	uid             types.UID
	ips             []netip.Addr
	// details are the status list of the kind: the interfaces answered on
	// (ServiceL2Status) or the peers announced to (ServiceBGPStatus),
	// sorted.
	details []string
}

// statusTarget is the state the status writer works towards.
type statusTarget struct {
	// services this node announces, by Service key.
	services map[string]wantStatus
	// members are the live speakers: objects of other nodes that are not
	// members are left over from a crash, and the node now announcing
	// removes them (exclusive kinds only).
	members map[string]bool
}

// statusKind is what differs between the status kinds one statusWriter
// may write: ServiceL2Status (one node per Service, the default) and
// ServiceBGPStatus (every announcing node).
type statusKind struct {
	// name is the kind, for messages; prefix starts object names.
	name, prefix string
	// list lists objects of the kind.
	list func(ctx context.Context, r client.Reader, opts ...client.ListOption) ([]client.Object, error)
	// newObject returns an empty object of the kind.
	newObject func() client.Object
	// details reads the status list of an object; setStatus writes the
	// whole status of an object.
	details   func(client.Object) []string
	setStatus func(obj client.Object, node string, s wantStatus)
	// exclusive kinds have one announcing node per Service: the writer
	// records ReasonAnnouncingNodeChanged when this node takes a Service
	// over, and deletes the objects of nodes that are no members.
	exclusive bool
}

// listObjects lists into l and returns its items.
func listObjects(ctx context.Context, r client.Reader, l client.ObjectList, opts ...client.ListOption) ([]client.Object, error) {
	if err := r.List(ctx, l, opts...); err != nil {
		return nil, err
	}
	items, err := apimeta.ExtractList(l)
	if err != nil {
		return nil, err
	}
	out := make([]client.Object, len(items))
	for i, it := range items {
		o, ok := it.(client.Object)
		if !ok {
			return nil, fmt.Errorf("listing %T: item %T is no client.Object", l, it)
		}
		out[i] = o
	}
	return out, nil
}

// l2Kind writes ServiceL2Statuses.
var l2Kind = &statusKind{
	name: "ServiceL2Status", prefix: "l2-", exclusive: true,
	list: func(ctx context.Context, r client.Reader, opts ...client.ListOption) ([]client.Object, error) {
		return listObjects(ctx, r, &v1beta1.ServiceL2StatusList{}, opts...)
	},
	newObject: func() client.Object { return &v1beta1.ServiceL2Status{} },
	details:   func(o client.Object) []string { return interfaceNames(o.(*v1beta1.ServiceL2Status).Status.Interfaces) },
	setStatus: func(o client.Object, node string, s wantStatus) {
		st := v1beta1.L2AnnouncementStatus{Node: node, ServiceName: s.name, ServiceNamespace: s.namespace}
		for _, ifc := range s.details {
			st.Interfaces = append(st.Interfaces, v1beta1.InterfaceInfo{Name: ifc})
		}
		o.(*v1beta1.ServiceL2Status).Status = st
	},
}

// statusWriter keeps one ServiceL2Status (or, with bgpKind, one
// ServiceBGPStatus) per Service this node announces,
// named statusName(Service UID, node), labelled with the node and the
// Service, owned by the Service (so the garbage collector removes it with
// the Service). It deletes them when the node stops announcing and
// records ReasonAnnouncingNodeChanged on a Service when this node starts
// announcing it. Writes happen on their own goroutine so a slow API server
// never delays the layer 2 failover.
type statusWriter struct {
	client   client.Client // writes go to the API server
	cache    client.Reader // ServiceL2Statuses of every node
	node     string
	recorder events.EventRecorder
	log      *slog.Logger
	// kind is what the writer writes; nil means l2Kind.
	kind *statusKind

	// target is the latest state to reach; nil before the first sync.
	target atomic.Pointer[statusTarget]

	goneMu sync.Mutex // guards gone
	// gone are own objects deleted by someone else ("namespace/name").
	gone []string

	mu sync.Mutex // serializes write and deleteAll; guards the fields below
	// mine are the objects this node wrote (or found at start), by name,
	// with the details in their status.
	mine map[string]ownStatus
	// announcing are the Service keys this node announces, to record the
	// change Event once per takeover.
	announcing map[string]bool
}

// ownStatus is one object this node wrote.
type ownStatus struct {
	serviceKey string
	details    []string
}

// k returns the writer's kind.
func (w *statusWriter) k() *statusKind {
	if w.kind == nil {
		return l2Kind
	}
	return w.kind
}

// statusName is the name of the ServiceL2Status of a Service on a node:
// "l2-" and 16 hex digits of SHA-256(uid "/" node), stable across restarts
// and distinct per node, so two nodes never contend for one object while
// an announcement moves.
func statusName(uid types.UID, node string) string { return kindStatusName(l2Kind, uid, node) }

// kindStatusName is statusName with the kind's prefix.
func kindStatusName(k *statusKind, uid types.UID, node string) string {
	sum := sha256.Sum256([]byte(string(uid) + "/" + node))
	return k.prefix + hex.EncodeToString(sum[:8])
}

// adopt records the objects this node already has (from a previous run),
// read from the API server, so a restart records no Event and rewrites
// nothing that is still right.
func (w *statusWriter) adopt(ctx context.Context, live client.Reader) error {
	k := w.k()
	list, err := k.list(ctx, live, client.MatchingLabels{v1beta1.LabelStatusNode: w.node})
	if err != nil {
		return fmt.Errorf("listing the %ses of node %s: %w", k.name, w.node, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.mine = map[string]ownStatus{}
	w.announcing = map[string]bool{}
	for _, o := range list {
		key := serviceKey(o.GetNamespace(), o.GetLabels()[v1beta1.LabelStatusServiceName])
		w.mine[o.GetNamespace()+"/"+o.GetName()] = ownStatus{serviceKey: key, details: k.details(o)}
		w.announcing[key] = true
	}
	return nil
}

// what names what the writer writes, for messages.
func (w *statusWriter) what() string { return w.k().name + "es" }

// setTarget replaces the state to reach.
func (w *statusWriter) setTarget(t *statusTarget) { w.target.Store(t) }

// forget drops an own object deleted by someone else, so the next write
// creates it again.
func (w *statusWriter) forget(namespace, name string) {
	w.goneMu.Lock()
	w.gone = append(w.gone, namespace+"/"+name)
	w.goneMu.Unlock()
}

// write brings the objects in line with the target; it returns every
// failure and is called again to retry.
func (w *statusWriter) write(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.goneMu.Lock()
	for _, id := range w.gone {
		delete(w.mine, id)
	}
	w.gone = nil
	w.goneMu.Unlock()
	target := w.target.Load()
	if target == nil {
		return nil
	}
	k := w.k()
	others := map[string][]client.Object{} // by Service key
	if k.exclusive {
		// Read only (labels), so the cache's objects are not copied: with
		// thousands of Services this list is most of a write's cost.
		all, err := k.list(ctx, w.cache, client.UnsafeDisableDeepCopy)
		if err != nil {
			return fmt.Errorf("listing %ses: %w", k.name, err)
		}
		for _, o := range all {
			if n := o.GetLabels()[v1beta1.LabelStatusNode]; n != "" && n != w.node {
				key := serviceKey(o.GetNamespace(), o.GetLabels()[v1beta1.LabelStatusServiceName])
				others[key] = append(others[key], o)
			}
		}
	}

	var errs []error
	wanted := map[string]bool{}
	keys := make([]string, 0, len(target.services))
	for key := range target.services {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	for _, key := range keys {
		s := target.services[key]
		id := s.namespace + "/" + kindStatusName(k, s.uid, w.node)
		wanted[id] = true
		if err := w.ensure(ctx, id, key, s, others[key]); err != nil {
			errs = append(errs, err)
			continue
		}
		// Objects left by nodes that crashed while announcing.
		for _, o := range others[key] {
			if n := o.GetLabels()[v1beta1.LabelStatusNode]; !target.members[n] {
				if err := w.delete(ctx, o.GetNamespace(), o.GetName()); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	for id, o := range w.mine {
		if wanted[id] {
			continue
		}
		ns, name, _ := strings.Cut(id, "/")
		if err := w.delete(ctx, ns, name); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(w.mine, id)
		if _, still := target.services[o.serviceKey]; !still {
			delete(w.announcing, o.serviceKey)
		}
	}
	return errors.Join(errs...)
}

// ensure creates or updates the object id ("namespace/name") for one
// Service, and records the Event when this node starts announcing it.
func (w *statusWriter) ensure(ctx context.Context, id, key string, s wantStatus, others []client.Object) error {
	if cur, ok := w.mine[id]; ok && slices.Equal(cur.details, s.details) {
		return nil
	}
	k := w.k()
	ns, name, _ := strings.Cut(id, "/")
	obj := k.newObject()
	obj.SetNamespace(ns)
	obj.SetName(name)
	obj.SetLabels(map[string]string{
		v1beta1.LabelStatusNode:             w.node,
		v1beta1.LabelStatusServiceName:      s.name,
		v1beta1.LabelStatusServiceNamespace: s.namespace,
	})
	obj.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "v1", Kind: "Service", Name: s.name, UID: s.uid}})
	err := w.client.Create(ctx, obj)
	switch {
	case apierrors.IsAlreadyExists(err):
		if err := w.client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return fmt.Errorf("reading %s %s: %w", k.name, id, err)
		}
	case err != nil:
		return fmt.Errorf("creating %s %s for Service %s: %w", k.name, id, key, err)
	}
	k.setStatus(obj, w.node, s)
	if err := w.client.Status().Update(ctx, obj); err != nil {
		return fmt.Errorf("writing the status of %s %s: %w", k.name, id, err)
	}
	w.mine[id] = ownStatus{serviceKey: key, details: slices.Clone(s.details)}
	if !w.announcing[key] {
		w.announcing[key] = true
		if k.exclusive {
			w.recordTakeover(s, others)
		}
	}
	return nil
}

// recordTakeover records ReasonAnnouncingNodeChanged on the Service.
func (w *statusWriter) recordTakeover(s wantStatus, others []client.Object) {
	var before []string
	for _, o := range others {
		before = append(before, o.GetLabels()[v1beta1.LabelStatusNode])
	}
	slices.Sort(before)
	was := "no node"
	if len(before) > 0 {
		was = strings.Join(slices.Compact(before), ", ")
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: s.namespace, Name: s.name, UID: s.uid}}
	w.recorder.Eventf(svc, nil, corev1.EventTypeNormal, ReasonAnnouncingNodeChanged, actionAnnounce,
		"node %s answers ARP/NDP for %s on %s (before: %s)", w.node, addrList(s.ips), strings.Join(s.details, ", "), was)
	w.log.Info("announcing a Service", "service", s.namespace+"/"+s.name, "ips", addrList(s.ips),
		"interfaces", s.details, "before", was)
}

// delete removes one object; a missing one is no error.
func (w *statusWriter) delete(ctx context.Context, ns, name string) error {
	k := w.k()
	obj := k.newObject()
	obj.SetNamespace(ns)
	obj.SetName(name)
	if err := w.client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting %s %s/%s: %w", k.name, ns, name, err)
	}
	return nil
}

// deleteAll removes every object this node wrote: the speaker stops.
func (w *statusWriter) deleteAll(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var errs []error
	for id := range w.mine {
		ns, name, _ := strings.Cut(id, "/")
		if err := w.delete(ctx, ns, name); err != nil {
			errs = append(errs, err)
			continue
		}
		delete(w.mine, id)
	}
	w.target.Store(nil)
	return errors.Join(errs...)
}

func interfaceNames(ifs []v1beta1.InterfaceInfo) []string {
	out := make([]string, 0, len(ifs))
	for _, i := range ifs {
		out = append(out, i.Name)
	}
	return out
}

// addrList formats addresses as "a, b".
func addrList(as []netip.Addr) string {
	s := make([]string, len(as))
	for i, a := range as {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

package speaker

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/ironlb/ironlb/api/v1beta1"
)

func l2status(ns, name, node, svc string) *v1beta1.ServiceL2Status {
	return &v1beta1.ServiceL2Status{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{
		v1beta1.LabelStatusNode: node, v1beta1.LabelStatusServiceName: svc, v1beta1.LabelStatusServiceNamespace: ns,
	}}}
}

func newTestWriter(t *testing.T, c client.Client, node string) (*statusWriter, *events.FakeRecorder) {
	t.Helper()
	rec := events.NewFakeRecorder(10)
	w := &statusWriter{client: c, cache: c, node: node, recorder: rec, log: slog.New(slog.DiscardHandler)}
	if err := w.adopt(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return w, rec
}

// drainEvents returns the events recorded so far.
func drainEvents(rec *events.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func statuses(t *testing.T, c client.Client) map[string]*v1beta1.ServiceL2Status {
	t.Helper()
	var list v1beta1.ServiceL2StatusList
	if err := c.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]*v1beta1.ServiceL2Status{}
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out
}

func TestStatusWriter(t *testing.T) {
	ctx := context.Background()
	scheme, err := newScheme()
	if err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithStatusSubresource(&v1beta1.ServiceL2Status{}).
		WithObjects(l2status("app", "crashed", "node9", "web"), l2status("app", "alive", "node2", "web")).Build()
	w, rec := newTestWriter(t, c, "node1")

	web := wantStatus{namespace: "app", name: "web", uid: types.UID("u-1"), ips: addrs("10.0.0.1"), details: []string{"eth0"}}
	target := func(ifaces ...string) *statusTarget {
		s := web
		s.details = ifaces
		return &statusTarget{services: map[string]wantStatus{"app/web": s}, members: map[string]bool{"node1": true, "node2": true}}
	}
	w.setTarget(target("eth0"))
	if err := w.write(ctx); err != nil {
		t.Fatal(err)
	}
	name := statusName("u-1", "node1")
	got := statuses(t, c)
	mine := got[name]
	if mine == nil {
		t.Fatalf("no ServiceL2Status %s: %v", name, got)
	}
	if mine.Status.Node != "node1" || mine.Status.ServiceName != "web" || mine.Status.ServiceNamespace != "app" ||
		len(mine.Status.Interfaces) != 1 || mine.Status.Interfaces[0].Name != "eth0" {
		t.Errorf("status %+v", mine.Status)
	}
	if mine.Labels[v1beta1.LabelStatusNode] != "node1" || mine.Labels[v1beta1.LabelStatusServiceName] != "web" ||
		len(mine.OwnerReferences) != 1 || mine.OwnerReferences[0].UID != "u-1" || mine.OwnerReferences[0].Kind != "Service" {
		t.Errorf("metadata %+v", mine.ObjectMeta)
	}
	if _, ok := got["crashed"]; ok {
		t.Error("the object of a node that is no member was kept")
	}
	if _, ok := got["alive"]; !ok {
		t.Error("the object of a live node was deleted")
	}
	evs := drainEvents(rec)
	if len(evs) != 1 || !strings.Contains(evs[0], ReasonAnnouncingNodeChanged) || !strings.Contains(evs[0], "node1 answers ARP/NDP for 10.0.0.1 on eth0") ||
		!strings.Contains(evs[0], "before: node2, node9") {
		t.Errorf("events %q", evs)
	}

	// Again, then with another interface: no Event.
	if err := w.write(ctx); err != nil {
		t.Fatal(err)
	}
	w.setTarget(target("eth0", "eth1"))
	if err := w.write(ctx); err != nil {
		t.Fatal(err)
	}
	if ifs := interfaceNames(statuses(t, c)[name].Status.Interfaces); !slices.Equal(ifs, []string{"eth0", "eth1"}) {
		t.Errorf("interfaces %v", ifs)
	}
	if evs := drainEvents(rec); len(evs) != 0 {
		t.Errorf("events without a takeover: %q", evs)
	}

	// A restarted speaker adopts its object: no Event, no write.
	w2, rec2 := newTestWriter(t, c, "node1")
	w2.setTarget(target("eth0", "eth1"))
	if err := w2.write(ctx); err != nil {
		t.Fatal(err)
	}
	if evs := drainEvents(rec2); len(evs) != 0 {
		t.Errorf("events after a restart: %q", evs)
	}

	// Stops announcing: deleted; announcing again: a new Event.
	w.setTarget(&statusTarget{services: map[string]wantStatus{}, members: map[string]bool{"node1": true}})
	if err := w.write(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := statuses(t, c)[name]; ok {
		t.Error("the object stayed after the node stopped announcing")
	}
	w.setTarget(target("eth0"))
	if err := w.write(ctx); err != nil {
		t.Fatal(err)
	}
	if evs := drainEvents(rec); len(evs) != 1 {
		t.Errorf("events after taking over again: %q", evs)
	}

	// Someone deletes it: written again, no Event.
	if err := c.Delete(ctx, l2status("app", name, "", "")); err != nil {
		t.Fatal(err)
	}
	w.forget("app", name)
	if err := w.write(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := statuses(t, c)[name]; !ok {
		t.Error("a deleted object was not written again")
	}
	if evs := drainEvents(rec); len(evs) != 0 {
		t.Errorf("events after a rewrite: %q", evs)
	}

	if err := w.deleteAll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := statuses(t, c); len(got) != 1 || got["alive"] == nil {
		t.Errorf("after deleteAll: %v", got)
	}
}

func TestStatusName(t *testing.T) {
	a, b := statusName("u-1", "node1"), statusName("u-1", "node2")
	if a == b || !strings.HasPrefix(a, "l2-") || len(a) != 19 || a != statusName("u-1", "node1") {
		t.Errorf("names %s, %s", a, b)
	}
}

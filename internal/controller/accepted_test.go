package controller

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/configread"
)

// TestRestartDuringInvalidEditBuildsOnTheRecord: the controller records the
// accepted configuration; a controller started while an invalid edit of a
// pool is pending builds on that record, so the pool's last valid version
// stays in use — the Service keeps its address and a new Service still
// gets one — and the record's generation does not move.
//
// Seen failing with the record ignored (configread.Read leaving
// Input.Previous nil): the second controller excluded the pool, so the new
// Service got no address ("timed out waiting for Service after to get an
// address").
func TestRestartDuringInvalidEditBuildsOnTheRecord(t *testing.T) {
	h := newHarness(t)
	h.pool("p", "10.41.0.0/29")
	first := h.start(h.options(), true)
	h.service("before")
	ipBefore := h.waitIPs("before")
	gen1, digest1 := h.waitRecord(func(int64, string) bool { return true })

	// An IPv6 range written backwards: the API server stores it (CEL
	// cannot order IPv6 addresses), internal/config refuses it.
	h.setPoolAddresses("p", "10.41.0.0/29", "fd00:41::9-fd00:41::1")
	h.eventually("pool p judged invalid, its last valid version in use", func() (bool, string) {
		p := &v1beta1.IPAddressPool{}
		if err := h.c.Get(h.t.Context(), types.NamespacedName{Namespace: h.ns, Name: "p"}, p); err != nil {
			return false, err.Error()
		}
		c := meta.FindStatusCondition(p.Status.Conditions, v1beta1.ConditionValid)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == v1beta1.ReasonInvalidSpec &&
			c.ObservedGeneration == p.Generation, fmt.Sprintf("%+v", p.Status.Conditions)
	})
	// The stale pool differs from the valid one only in its Origin (stale,
	// with the problem): a new record.
	gen2, digest2 := h.waitRecord(func(g int64, _ string) bool { return g > gen1 })
	if digest2 == digest1 {
		t.Errorf("the record's digest stayed %s after the pool went stale", digest1)
	}
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}

	opts := h.options()
	second := h.start(opts, true)
	h.service("after")
	if ip := h.waitIPs("after"); len(ip) != 1 {
		t.Fatalf("after: %v", ip)
	}
	if got := h.waitIPs("before"); got[0] != ipBefore[0] {
		t.Errorf("before moved from %v to %v across the restart", ipBefore, got)
	}
	h.eventually("the restarted controller on the record", func() (bool, string) {
		g, err := gathered(second.reg, configread.MetricAcceptedGeneration)
		return err == nil && g == float64(gen2), fmt.Sprintf("generation %v (%v), record %d", g, err, gen2)
	})
	if snap := second.ctrl.source.Snapshot(); snap == nil || snap.Digest() != digest2 {
		t.Errorf("the restarted controller runs another configuration than the record's %s", digest2)
	}
	if g, d := h.readRecord(); g != gen2 || d != digest2 {
		t.Errorf("the restarted controller wrote generation %d (%s) over %d (%s)", g, d, gen2, digest2)
	}
}

// TestUnreadableRecordIsReplaced: a record that cannot be read is reported
// with an Event and replaced by the next generation.
func TestUnreadableRecordIsReplaced(t *testing.T) {
	h := newHarness(t)
	h.pool("p", "10.42.0.0/29")
	h.start(h.options(), true)
	gen, _ := h.waitRecord(func(int64, string) bool { return true })
	h.update(&corev1.Secret{}, configread.AcceptedSecretName, h.ns, func(o client.Object) {
		o.(*corev1.Secret).Data[configread.AcceptedDataKey] = []byte("not gzip")
	})
	h.waitEvent(h.ns, "Secret", configread.AcceptedSecretName, reasonUnreadableRecord)
	h.waitRecord(func(g int64, _ string) bool { return g > gen })
}

// waitRecord waits for an accepted configuration record that ok accepts
// and returns its generation and digest.
func (h *harness) waitRecord(ok func(gen int64, digest string) bool) (int64, string) {
	h.t.Helper()
	var gen int64
	var digest string
	h.eventually("the accepted configuration record", func() (bool, string) {
		gen, digest = h.readRecord()
		return gen > 0 && ok(gen, digest), fmt.Sprintf("generation %d digest %q", gen, digest)
	})
	return gen, digest
}

// readRecord returns the record's generation and digest, 0 and "" when it
// cannot be read.
func (h *harness) readRecord() (int64, string) {
	h.t.Helper()
	sec := &corev1.Secret{}
	if err := h.c.Get(h.t.Context(), types.NamespacedName{Namespace: h.ns, Name: configread.AcceptedSecretName}, sec); err != nil {
		return 0, ""
	}
	gen, _ := strconv.ParseInt(sec.Annotations[configread.AnnotationGeneration], 10, 64)
	return gen, sec.Annotations[configread.AnnotationDigest]
}

// gathered returns the value of the unlabelled gauge name in reg.
func gathered(reg *prometheus.Registry, name string) (float64, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, err
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue(), nil
		}
	}
	return 0, fmt.Errorf("no gauge %s", name)
}

package controller

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// TestPoolEdits edits a pool so that one Service's address leaves it (that
// Service alone gets a new address, with a Warning), then breaks the pool
// by making it overlap another one in use (its last valid version stays in
// use), adds a new overlapping pool (it is excluded) and advertisements,
// and finally fixes the pool.
func TestPoolEdits(t *testing.T) {
	h := newHarness(t)
	h.pool("p1", "10.30.0.0/29")
	h.pool("zz", "10.30.5.0/29") // sorts after p1: Services get p1's addresses
	h.start(h.options(), true)

	h.service("s1")
	if got := h.waitIPs("s1"); !slices.Equal(got, []string{"10.30.0.0"}) {
		t.Fatalf("s1: %v", got)
	}
	h.service("s2")
	if got := h.waitIPs("s2"); !slices.Equal(got, []string{"10.30.0.1"}) {
		t.Fatalf("s2: %v", got)
	}
	h.waitEvent(h.app, "Service", "s2", ReasonIPAllocated)
	rv2 := h.get("s2").ResourceVersion

	// 10.30.0.0 leaves the pool: s1 moves, s2 stays.
	h.setPoolAddresses("p1", "10.30.0.1/32", "10.30.1.0/29")
	h.eventually("s1 to move to 10.30.1.0", func() (bool, string) {
		got := ips(h.get("s1"))
		return slices.Equal(got, []string{"10.30.1.0"}), strings.Join(got, ",")
	})
	msg := h.waitEvent(h.app, "Service", "s1", ReasonIPChanged)
	for _, want := range []string{"10.30.0.0", "10.30.1.0", "p1", "no longer in an address pool"} {
		if !strings.Contains(msg, want) {
			t.Errorf("IPChanged Event %q: want %q in it", msg, want)
		}
	}
	for _, e := range h.events(h.app, "Service", "s1") {
		if e.Reason == ReasonIPChanged && e.Type != corev1.EventTypeWarning {
			t.Errorf("IPChanged after a pool edit is %s, want Warning", e.Type)
		}
	}

	// An edit that makes p1 overlap zz (in use) is refused; p1's last
	// valid version stays in use.
	h.setPoolAddresses("p1", "10.30.0.1/32", "10.30.1.0/29", "10.30.5.4/30")
	st := h.poolStatus("p1", "Valid=False Overlap", func(s v1beta1.IPAddressPoolStatus) bool {
		return hasCondition(s.Conditions, v1beta1.ConditionValid, metav1.ConditionFalse, v1beta1.ReasonOverlap)
	})
	if st.AssignedIPv4 != 2 {
		t.Errorf("stale pool p1: %d assigned, want 2 (s1, s2)", st.AssignedIPv4)
	}
	if msg := h.waitEvent(h.ns, "IPAddressPool", "p1", v1beta1.ReasonOverlap); !strings.Contains(msg, "zz") {
		t.Errorf("Overlap Event %q does not name the pool kept", msg)
	}
	h.service("s3") // allocates from the last valid version
	if got := h.waitIPs("s3"); !slices.Equal(got, []string{"10.30.1.1"}) {
		t.Errorf("s3: %v, want 10.30.1.1 from p1's last valid version", got)
	}

	// The newer of two overlapping pools is excluded.
	h.pool("p2", "10.30.1.0/28")
	h.poolStatus("p2", "Valid=False Overlap", func(s v1beta1.IPAddressPoolStatus) bool {
		return hasCondition(s.Conditions, v1beta1.ConditionValid, metav1.ConditionFalse, v1beta1.ReasonOverlap) && s.AssignedIPv4 == 0
	})
	if msg := h.waitEvent(h.ns, "IPAddressPool", "p2", v1beta1.ReasonOverlap); !strings.Contains(msg, `"p1"`) {
		t.Errorf("Overlap Event %q does not name the pool kept", msg)
	}

	// Other kinds get their Valid condition and Events too.
	for name, pools := range map[string][]string{"adv-good": {"p1"}, "adv-bad": {"nope"}} {
		adv := &v1beta1.L2Advertisement{
			ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: name},
			Spec:       v1beta1.L2AdvertisementSpec{IPAddressPools: pools},
		}
		if err := h.c.Create(t.Context(), adv); err != nil {
			t.Fatal(err)
		}
	}
	h.waitValid(&v1beta1.L2Advertisement{}, "adv-good", metav1.ConditionTrue, v1beta1.ReasonAccepted)
	h.waitValid(&v1beta1.L2Advertisement{}, "adv-bad", metav1.ConditionFalse, v1beta1.ReasonMissingReference)
	if msg := h.waitEvent(h.ns, "L2Advertisement", "adv-bad", v1beta1.ReasonMissingReference); !strings.Contains(msg, "nope") {
		t.Errorf("MissingReference Event %q does not name the pool", msg)
	}

	// Fixing p1 makes it valid again, with a Normal Event.
	h.setPoolAddresses("p1", "10.30.0.1/32", "10.30.1.0/29")
	h.poolStatus("p1", "Valid=True again", func(s v1beta1.IPAddressPoolStatus) bool {
		return hasCondition(s.Conditions, v1beta1.ConditionValid, metav1.ConditionTrue, v1beta1.ReasonAccepted)
	})
	h.waitEvent(h.ns, "IPAddressPool", "p1", v1beta1.ReasonAccepted)

	// s2 was never touched through all of this.
	if got := h.get("s2"); got.ResourceVersion != rv2 || !slices.Equal(ips(got), []string{"10.30.0.1"}) {
		t.Errorf("s2 changed: version %s -> %s, ingress %v", rv2, got.ResourceVersion, ips(got))
	}
	if r := h.reasons("s2"); !slices.Equal(r, []string{ReasonIPAllocated}) {
		t.Errorf("s2 Events: %v", r)
	}
}

// TestLegacyConfigMap allocates from a pool of the legacy ConfigMap and
// reports the ConfigMap's broken entry as an Event on it.
func TestLegacyConfigMap(t *testing.T) {
	h := newHarness(t)
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "config"},
		Data: map[string]string{"config": `
address-pools:
- name: legacy
  protocol: layer2
  addresses:
  - 10.31.0.0/30
- name: broken
  protocol: layer2
  addresses:
  - 10.31.9.9-10.31.9.1
`},
	}
	if err := h.c.Create(t.Context(), cm); err != nil {
		t.Fatal(err)
	}
	h.start(h.options(), true)

	h.service("old-style")
	if got := h.waitIPs("old-style"); !slices.Equal(got, []string{"10.31.0.0"}) {
		t.Errorf("ingress %v, want 10.31.0.0 from the legacy pool", got)
	}
	if p := h.get("old-style").Annotations[AnnotationAllocatedFromPool]; p != "legacy" {
		t.Errorf("pool annotation %q, want legacy", p)
	}
	msg := h.waitEvent(h.ns, "ConfigMap", "config", v1beta1.ReasonInvalidSpec)
	if !strings.Contains(msg, "broken") || !strings.Contains(msg, "10.31.9.9-10.31.9.1") {
		t.Errorf("ConfigMap Event %q should name the entry and the bad range", msg)
	}
}

// TestLegacyConfigMapWithoutKey: a legacy ConfigMap without the "config"
// key is read as no configuration, and said so by a Warning Event on it
// (not only a log line).
func TestLegacyConfigMapWithoutKey(t *testing.T) {
	h := newHarness(t)
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "config"},
		Data:       map[string]string{"conifg": "address-pools: []\n"},
	}
	if err := h.c.Create(t.Context(), cm); err != nil {
		t.Fatal(err)
	}
	h.start(h.options(), true)
	msg := h.waitEvent(h.ns, "ConfigMap", "config", reasonMissingConfigKey)
	if !strings.Contains(msg, `"config"`) {
		t.Errorf("ConfigMap Event %q should name the missing key", msg)
	}
}

// TestNamespaceSelector re-allocates a waiting Service when its
// namespace's labels change so that a pool admits it.
func TestNamespaceSelector(t *testing.T) {
	h := newHarness(t)
	p := &v1beta1.IPAddressPool{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "prod-only"},
		Spec: v1beta1.IPAddressPoolSpec{
			Addresses: []string{"10.32.0.0/30"},
			ServiceAllocation: &v1beta1.ServiceAllocation{
				NamespaceSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"env": "prod"}}},
			},
		},
	}
	if err := h.c.Create(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	h.start(h.options(), true)

	h.service("waiting")
	h.waitCondition("waiting", metav1.ConditionFalse, ReasonAllocationFailed)
	h.update(&corev1.Namespace{}, h.app, "", func(o client.Object) { o.SetLabels(map[string]string{"env": "prod"}) })
	if got := h.waitIPs("waiting"); !slices.Equal(got, []string{"10.32.0.0"}) {
		t.Errorf("ingress %v, want 10.32.0.0 once the namespace matches", got)
	}
}

// waitValid waits for an object's Valid condition.
func (h *harness) waitValid(obj client.Object, name string, status metav1.ConditionStatus, reason string) {
	h.t.Helper()
	h.eventually(name+" Valid="+string(status)+" "+reason, func() (bool, string) {
		if err := h.c.Get(h.t.Context(), types.NamespacedName{Namespace: h.ns, Name: name}, obj); err != nil {
			return false, err.Error()
		}
		var conds []metav1.Condition
		switch o := obj.(type) {
		case *v1beta1.L2Advertisement:
			conds = o.Status.Conditions
		case *v1beta1.IPAddressPool:
			conds = o.Status.Conditions
		}
		return hasCondition(conds, v1beta1.ConditionValid, status, reason), ""
	})
}

// TestSecretReference marks a BGPPeer whose password Secret is missing as
// invalid, and valid again once the Secret appears: Secrets are watched.
func TestSecretReference(t *testing.T) {
	h := newHarness(t)
	h.start(h.options(), true)
	peer := &v1beta1.BGPPeer{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "router"},
		Spec: v1beta1.BGPPeerSpec{
			MyASN: 64500, PeerASN: 64501, PeerAddress: "192.0.2.1",
			PasswordSecret: &v1beta1.SecretReference{Name: "bgp-password"},
		},
	}
	if err := h.c.Create(t.Context(), peer); err != nil {
		t.Fatal(err)
	}
	waitPeer := func(status metav1.ConditionStatus, reason string) {
		h.eventually("BGPPeer router Valid="+string(status)+" "+reason, func() (bool, string) {
			p := &v1beta1.BGPPeer{}
			if err := h.c.Get(t.Context(), types.NamespacedName{Namespace: h.ns, Name: "router"}, p); err != nil {
				return false, err.Error()
			}
			return hasCondition(p.Status.Conditions, v1beta1.ConditionValid, status, reason), fmt.Sprintf("%+v", p.Status.Conditions)
		})
	}
	waitPeer(metav1.ConditionFalse, v1beta1.ReasonMissingReference)
	if msg := h.waitEvent(h.ns, "BGPPeer", "router", v1beta1.ReasonMissingReference); !strings.Contains(msg, "bgp-password") {
		t.Errorf("MissingReference Event %q does not name the Secret", msg)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "bgp-password"},
		Type:       corev1.SecretTypeBasicAuth,
		StringData: map[string]string{"password": "s3cret"},
	}
	if err := h.c.Create(t.Context(), secret); err != nil {
		t.Fatal(err)
	}
	waitPeer(metav1.ConditionTrue, v1beta1.ReasonAccepted)
}

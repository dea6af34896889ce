package controller

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// TestBadInputLeavesOthersAlone asks for an address outside every pool,
// an address another Service holds, an address from an exhausted pool and
// a malformed one. Each gets an AllocationFailed condition and Event saying
// why, and the Services that hold addresses are not touched. When an
// address is freed, the Service waiting on the exhausted pool gets it.
func TestBadInputLeavesOthersAlone(t *testing.T) {
	h := newHarness(t)
	h.pool("small", "10.20.0.0/31") // two addresses
	run := h.start(h.options(), true)

	h.service("good1")
	h.service("good2")
	ip1, ip2 := h.waitIPs("good1"), h.waitIPs("good2")
	h.waitEvent(h.app, "Service", "good2", ReasonIPAllocated)
	rv1, rv2 := h.get("good1").ResourceVersion, h.get("good2").ResourceVersion
	writes := run.ctrl.stats.writes.Load()

	tests := []struct {
		name    string
		mod     func(map[string]string)
		wantMsg []string // substrings of the condition message and Event
	}{
		{"outside", func(a map[string]string) { a["ironlb.io/loadBalancerIPs"] = "192.0.2.1" },
			[]string{"192.0.2.1", "not in any address pool"}},
		{"taken", func(a map[string]string) { a["ironlb.io/loadBalancerIPs"] = ip1[0] },
			[]string{ip1[0], h.app + "/good1"}},
		{"full", func(map[string]string) {}, []string{"no free IPv4 address", "small"}},
		{"malformed", func(a map[string]string) { a["ironlb.io/loadBalancerIPs"] = "not-an-ip" },
			[]string{"loadBalancerIPs", "not-an-ip"}},
	}
	for _, tt := range tests {
		ann := map[string]string{}
		tt.mod(ann)
		h.service(tt.name, func(s *corev1.Service) { s.Annotations = ann })
	}
	for _, tt := range tests {
		cond := h.waitCondition(tt.name, metav1.ConditionFalse, ReasonAllocationFailed)
		msg := h.waitEvent(h.app, "Service", tt.name, ReasonAllocationFailed)
		for _, want := range tt.wantMsg {
			if !strings.Contains(cond.Message, want) || !strings.Contains(msg, want) {
				t.Errorf("Service %s: condition %q / Event %q should contain %q", tt.name, cond.Message, msg, want)
			}
		}
		if got := ips(h.get(tt.name)); len(got) > 0 {
			t.Errorf("Service %s: ingress %v, want none", tt.name, got)
		}
	}
	st := h.poolStatus("small", "exhausted", func(s v1beta1.IPAddressPoolStatus) bool {
		return hasCondition(s.Conditions, v1beta1.ConditionExhausted, metav1.ConditionTrue, v1beta1.ReasonNoAddressesAvailable)
	})
	if st.AssignedIPv4 != 2 || st.AvailableIPv4 != 0 {
		t.Errorf("pool small: %+v", st)
	}
	h.waitEvent(h.ns, "IPAddressPool", "small", v1beta1.ReasonNoAddressesAvailable)

	// The good Services were never written again.
	if g1, g2 := h.get("good1"), h.get("good2"); g1.ResourceVersion != rv1 || g2.ResourceVersion != rv2 {
		t.Errorf("good Services were rewritten: %s->%s, %s->%s", rv1, g1.ResourceVersion, rv2, g2.ResourceVersion)
	}
	if r := h.reasons("good1"); !slices.Equal(r, []string{ReasonIPAllocated}) {
		t.Errorf("good1 Events: %v", r)
	}
	if w := run.ctrl.stats.writes.Load() - writes; w != int64(len(tests)) {
		t.Errorf("%d Service writes for %d failing Services, want one each", w, len(tests))
	}

	// Freeing good2's address lets the waiting Service have it.
	if err := h.c.Delete(t.Context(), h.get("good2")); err != nil {
		t.Fatal(err)
	}
	if got := h.waitIPs("full"); !slices.Equal(got, ip2) {
		t.Errorf("Service full: ingress %v, want the freed %v", got, ip2)
	}
	h.waitCondition("full", metav1.ConditionTrue, ReasonIPAllocated)
	h.waitEvent(h.app, "Service", "full", ReasonIPAllocated)
	// Only one could have it: the other failures stand.
	for _, n := range []string{"outside", "taken", "malformed"} {
		h.waitCondition(n, metav1.ConditionFalse, ReasonAllocationFailed)
	}
}

// TestSharing lets two Services with one sharing key and different ports
// share an address, and refuses a third whose port clashes, naming the
// Service it clashes with.
func TestSharing(t *testing.T) {
	h := newHarness(t)
	h.pool("shared", "10.33.0.0/30")
	h.start(h.options(), true)

	withPort := func(key string, port int32, ip string) func(*corev1.Service) {
		return func(s *corev1.Service) {
			s.Annotations = map[string]string{"ironlb.io/allow-shared-ip": key}
			if ip != "" {
				s.Annotations["ironlb.io/loadBalancerIPs"] = ip
			}
			s.Spec.Ports[0].Port = port
		}
	}
	h.service("http", withPort("web", 80, ""))
	ip := h.waitIPs("http")
	h.service("https", withPort("web", 443, ""))
	if got := h.waitIPs("https"); !slices.Equal(got, ip) {
		t.Errorf("https: %v, want the shared %v", got, ip)
	}
	h.service("clash", withPort("web", 80, ip[0]))
	cond := h.waitCondition("clash", metav1.ConditionFalse, ReasonAllocationFailed)
	msg := h.waitEvent(h.app, "Service", "clash", ReasonAllocationFailed)
	for _, s := range []string{cond.Message, msg} {
		if !strings.Contains(s, h.app+"/http") || !strings.Contains(s, ip[0]) {
			t.Errorf("sharing conflict %q should name the address and Service %s/http", s, h.app)
		}
	}
	h.poolStatus("shared", "one address for two Services", func(s v1beta1.IPAddressPoolStatus) bool {
		return s.AssignedIPv4 == 1 && s.AvailableIPv4 == 3
	})
}

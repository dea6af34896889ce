package controller

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestDualStack allocates from a pool of both families on a dual-stack API
// server: each ipFamilyPolicy gets the families it asks for, in the order of
// spec.ipFamilies, from one pool.
func TestDualStack(t *testing.T) {
	h := newHarness(t)
	h.pool("mixed", "10.40.0.0/30", "fd00:40::/126")
	h.pool("v4only", "10.41.0.0/30")
	h.start(h.options(), true)

	family := func(policy corev1.IPFamilyPolicy, families ...corev1.IPFamily) func(*corev1.Service) {
		return func(s *corev1.Service) {
			s.Spec.IPFamilyPolicy = ptr.To(policy)
			s.Spec.IPFamilies = families
		}
	}
	pool := func(name string) func(*corev1.Service) {
		return func(s *corev1.Service) {
			s.Annotations = map[string]string{"ironlb.io/address-pool": name}
		}
	}
	tests := []struct {
		name string
		mods []func(*corev1.Service)
		want []string
	}{
		{"require-v4-first", []func(*corev1.Service){family(corev1.IPFamilyPolicyRequireDualStack, corev1.IPv4Protocol, corev1.IPv6Protocol)},
			[]string{"10.40.0.0", "fd00:40::"}},
		{"require-v6-first", []func(*corev1.Service){family(corev1.IPFamilyPolicyRequireDualStack, corev1.IPv6Protocol, corev1.IPv4Protocol)},
			[]string{"fd00:40::1", "10.40.0.1"}},
		{"single-v6", []func(*corev1.Service){family(corev1.IPFamilyPolicySingleStack, corev1.IPv6Protocol)},
			[]string{"fd00:40::2"}},
		// The MetalLB-compatible annotation picks a pool that has IPv4
		// only: PreferDualStack settles for the one family it offers.
		{"prefer-in-v4-pool", []func(*corev1.Service){family(corev1.IPFamilyPolicyPreferDualStack, corev1.IPv4Protocol, corev1.IPv6Protocol), pool("v4only")},
			[]string{"10.41.0.0"}},
	}
	for _, tt := range tests {
		h.service(tt.name, tt.mods...)
		got := h.waitIPs(tt.name)
		if !slices.Equal(got, tt.want) {
			t.Errorf("Service %s: ingress %v, want %v", tt.name, got, tt.want)
		}
	}

	// RequireDualStack where no pool permitted to it has both families:
	// an Event and a condition, nothing in status, the others untouched.
	h.service("require-in-v4-pool", family(corev1.IPFamilyPolicyRequireDualStack, corev1.IPv4Protocol, corev1.IPv6Protocol), pool("v4only"))
	h.waitEvent(h.app, "Service", "require-in-v4-pool", ReasonAllocationFailed)
	if got := ips(h.get("require-in-v4-pool")); len(got) != 0 {
		t.Errorf("Service require-in-v4-pool: ingress %v, want none", got)
	}
	for _, tt := range tests {
		if got := ips(h.get(tt.name)); !slices.Equal(got, tt.want) {
			t.Errorf("Service %s: ingress %v after another Service failed, want %v", tt.name, got, tt.want)
		}
	}
}

// TestDualStackPoolLosesFamily: when a dual-stack pool loses a family, a
// RequireDualStack Service moves to another pool offering both (MetalLB
// does this); when no pool can, it keeps the address of the family that
// remains — condition False, a Warning Event — instead of losing it too,
// also across a controller restart, and is completed from its pool when
// the family comes back. A PreferDualStack Service keeps what remains.
//
// Seen failing with ipam's keep of the remaining family switched off:
// "timed out waiting for Service req to hold 10.43.0.0: ingress []".
func TestDualStackPoolLosesFamily(t *testing.T) {
	h := newHarness(t)
	h.pool("dual", "10.42.0.0/30", "fd00:42::/126")
	run := h.start(h.options(), true)
	family := func(policy corev1.IPFamilyPolicy) func(*corev1.Service) {
		return func(s *corev1.Service) {
			s.Spec.IPFamilyPolicy = ptr.To(policy)
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
		}
	}
	waitFor := func(name string, want ...string) {
		t.Helper()
		h.eventually("Service "+name+" to hold "+strings.Join(want, ", "), func() (bool, string) {
			got := ips(h.get(name))
			return slices.Equal(got, want), fmt.Sprintf("ingress %v", got)
		})
	}
	// One after the other: the workers may take two new Services in
	// either order, and the addresses below depend on it.
	h.service("req", family(corev1.IPFamilyPolicyRequireDualStack))
	waitFor("req", "10.42.0.0", "fd00:42::")
	h.service("pref", family(corev1.IPFamilyPolicyPreferDualStack))
	waitFor("pref", "10.42.0.1", "fd00:42::1")

	// Another dual-stack pool exists: req moves there, both families.
	h.pool("spare", "10.43.0.0/30", "fd00:43::/126")
	h.setPoolAddresses("dual", "10.42.0.0/30")
	waitFor("req", "10.43.0.0", "fd00:43::")
	waitFor("pref", "10.42.0.1")
	h.waitCondition("req", metav1.ConditionTrue, ReasonIPAllocated)

	// No pool can give both: req keeps its IPv4 address, with a Warning.
	h.setPoolAddresses("spare", "10.43.0.0/30")
	waitFor("req", "10.43.0.0")
	c := h.waitCondition("req", metav1.ConditionFalse, ReasonAllocationFailed)
	if !strings.Contains(c.Message, "keeping 10.43.0.0") {
		t.Errorf("condition message %q does not say what is kept", c.Message)
	}
	if note := h.waitEvent(h.app, "Service", "req", ReasonAllocationFailed); !strings.Contains(note, "IPv6") {
		t.Errorf("Event %q does not name the missing family", note)
	}
	// The kept address is not handed out again.
	h.service("single")
	waitFor("single", "10.42.0.0")

	// A restart reads the kept address back instead of dropping it.
	if err := run.stop(); err != nil {
		t.Fatalf("stopping the controller: %v", err)
	}
	h.start(h.options(), true)
	h.waitCondition("req", metav1.ConditionFalse, ReasonAllocationFailed)
	if got := ips(h.get("req")); !slices.Equal(got, []string{"10.43.0.0"}) {
		t.Errorf("after a restart req holds %v, want [10.43.0.0]", got)
	}

	// The family comes back: completed from the same pool, IPv4 kept.
	h.setPoolAddresses("spare", "10.43.0.0/30", "fd00:43::/126")
	waitFor("req", "10.43.0.0", "fd00:43::")
	h.waitCondition("req", metav1.ConditionTrue, ReasonIPAllocated)
}

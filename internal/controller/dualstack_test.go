package controller

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
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

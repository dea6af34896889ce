package testenv_test

import (
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ironlbv1beta1 "github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/testenv"
)

// TestIPAddressPoolValidation checks that the CRDs installed from
// config/crd/bases carry their validation into a real API server: bad
// addresses are refused with a message naming the field and the value.
func TestIPAddressPoolValidation(t *testing.T) {
	t.Parallel()
	e := testenv.Shared(t)
	ns := e.NewNamespace(t)

	tests := []struct {
		name      string
		addresses []string
		wantErr   []string // substrings of the API server's message; nil: accepted
	}{
		{"CIDR and IPv4 range", []string{"10.0.0.0/24", "10.0.1.10-10.0.1.20"}, nil},
		{"IPv6 CIDR", []string{"fd00:200::/120"}, nil},
		{"octet out of range", []string{"10.0.0.300/24"},
			[]string{"spec.addresses[0]", `"10.0.0.300/24"`, "neither a CIDR"}},
		{"reversed range", []string{"10.0.0.0/24", "10.0.1.20-10.0.1.10"},
			[]string{"spec.addresses[1]", "10.0.1.20-10.0.1.10", "starts above where it ends"}},
		{"bits after prefix", []string{"10.0.0.1/24"},
			[]string{"spec.addresses[0]", "bits set after its prefix length"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := &ironlbv1beta1.IPAddressPool{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pool-%d", i), Namespace: ns},
				Spec:       ironlbv1beta1.IPAddressPoolSpec{Addresses: tt.addresses},
			}
			err := e.Client.Create(t.Context(), pool)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("creating IPAddressPool with addresses %q: %v", tt.addresses, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("IPAddressPool with addresses %q was accepted, want it refused", tt.addresses)
			}
			for _, s := range tt.wantErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("refusal %q does not mention %q", err, s)
				}
			}
		})
	}
}

package controller

import (
	"path/filepath"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// roleFile is the generated RBAC of the controller (make generate).
var roleFile = filepath.Join("..", "..", "config", "rbac", "controller", "role.yaml")

// TestGeneratedRBACIsEnough runs the controller as a ServiceAccount that
// holds exactly the generated ClusterRole and Role, with leader election:
// it must read its configuration, allocate, write the Service and pool
// status and record Events.
func TestGeneratedRBACIsEnough(t *testing.T) {
	h := newHarness(t)
	cfg := h.env.AsServiceAccount(t, h.ns, "ironlb-controller", []string{roleFile}, nil)
	h.pool("default", "10.80.0.0/30")
	opts := h.options()
	opts.LeaderElection = true
	h.startAs(cfg, opts, true)

	h.service("web")
	h.waitIPs("web")
	h.waitEvent(h.app, "Service", "web", ReasonIPAllocated)
	h.poolStatus("default", "counts and Valid", func(s v1beta1.IPAddressPoolStatus) bool {
		return s.AssignedIPv4 == 1 && hasCondition(s.Conditions, v1beta1.ConditionValid, metav1.ConditionTrue, v1beta1.ReasonAccepted)
	})
}

package controller

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

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
	data, err := os.ReadFile(roleFile)
	if err != nil {
		t.Fatalf("%v (run make generate)", err)
	}
	const sa = "ironlb-controller"
	unique := "ironlb-controller-" + h.ns // ClusterRoles are cluster-wide: one per test
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: h.ns}}
	objs := []client.Object{&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: sa}}}
	for doc := range bytes.SplitSeq(data, []byte("\n---\n")) {
		var head metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &head); err != nil || head.Kind == "" {
			continue
		}
		switch head.Kind {
		case "ClusterRole":
			var r rbacv1.ClusterRole
			if err := yaml.Unmarshal(doc, &r); err != nil {
				t.Fatal(err)
			}
			r.Name = unique
			objs = append(objs, &r, &rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: unique},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: unique},
				Subjects:   subject,
			})
		case "Role":
			var r rbacv1.Role
			if err := yaml.Unmarshal(doc, &r); err != nil {
				t.Fatal(err)
			}
			r.Namespace = h.ns
			objs = append(objs, &r, &rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: r.Name},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: r.Name},
				Subjects:   subject,
			})
		default:
			t.Fatalf("%s: unexpected kind %s", roleFile, head.Kind)
		}
	}
	for _, o := range objs {
		if err := h.c.Create(t.Context(), o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}

	cfg := rest.CopyConfig(h.env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + h.ns + ":" + sa}
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

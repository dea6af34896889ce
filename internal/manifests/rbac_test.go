package manifests

import (
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

// access is one request an authorizer would decide: verb on group/resource
// (resource may carry a "/subresource"), cluster-wide or in namespace.
type access struct {
	verb, group, resource string
	namespaced            bool
}

func (a access) String() string {
	scope := "cluster-wide"
	if a.namespaced {
		scope = "in " + namespace
	}
	g := a.group
	if g == "" {
		g = "core"
	}
	return a.verb + " " + g + "/" + a.resource + " " + scope
}

// allows reports whether any rule grants a, matching the way RBAC does for
// resource requests (no resourceNames here: ironlb's roles use none).
func allows(rules []rbacv1.PolicyRule, a access) bool {
	has := func(list []string, v string) bool {
		return slices.Contains(list, v) || slices.Contains(list, rbacv1.ResourceAll)
	}
	for _, r := range rules {
		if has(r.Verbs, a.verb) && has(r.APIGroups, a.group) && has(r.Resources, a.resource) && len(r.ResourceNames) == 0 {
			return true
		}
	}
	return false
}

func can(cluster, namespaced []rbacv1.PolicyRule, a access) bool {
	if allows(cluster, a) {
		return true
	}
	return a.namespaced && allows(namespaced, a)
}

func TestRBACLeastPrivilege(t *testing.T) {
	t.Parallel()
	checkRBAC(t, loadFile(t, distManifest))
}

// checkRBAC checks what each ServiceAccount of b may and may not do.
func checkRBAC(t *testing.T, b *bundle) {
	t.Helper()
	tests := []struct {
		sa      string
		allowed []access
		denied  []access
	}{{
		sa: "ironlb-controller",
		allowed: []access{
			{verb: "patch", resource: "services/status"},
			{verb: "watch", resource: "services"},
			{verb: "create", group: "coordination.k8s.io", resource: "leases", namespaced: true},
			{verb: "update", group: "coordination.k8s.io", resource: "leases", namespaced: true},
			{verb: "list", group: "ironlb.io", resource: "ipaddresspools", namespaced: true},
			{verb: "patch", group: "ironlb.io", resource: "ipaddresspools/status", namespaced: true},
			{verb: "create", resource: "events"},
			// the memberlist Secret, when missing
			{verb: "create", resource: "secrets", namespaced: true},
		},
		denied: []access{
			{verb: "update", resource: "services"},
			{verb: "delete", resource: "services"},
			{verb: "create", group: "coordination.k8s.io", resource: "leases"},
			{verb: "list", resource: "secrets"},
			{verb: "create", resource: "secrets"},
			{verb: "delete", resource: "secrets", namespaced: true},
			{verb: "patch", group: "ironlb.io", resource: "ipaddresspools", namespaced: true},
			{verb: "patch", resource: "nodes"},
			{verb: "create", resource: "pods"},
		},
	}, {
		sa: "ironlb-speaker",
		allowed: []access{
			{verb: "patch", resource: "nodes"},
			{verb: "watch", resource: "services"},
			{verb: "watch", group: "discovery.k8s.io", resource: "endpointslices"},
			{verb: "create", group: "ironlb.io", resource: "servicel2statuses"},
			{verb: "get", resource: "secrets", namespaced: true},
			{verb: "create", resource: "events"},
			// The ironlb.io/Announced condition (a merge patch).
			{verb: "patch", resource: "services/status"},
			// leaseFencing: a Lease per fenced address, in ironlb's
			// namespace only.
			{verb: "create", group: "coordination.k8s.io", resource: "leases", namespaced: true},
			{verb: "update", group: "coordination.k8s.io", resource: "leases", namespaced: true},
		},
		denied: []access{
			{verb: "update", resource: "services/status"},
			{verb: "patch", resource: "services"},
			{verb: "patch", group: "ironlb.io", resource: "ipaddresspools", namespaced: true},
			{verb: "patch", group: "ironlb.io", resource: "ipaddresspools/status", namespaced: true},
			{verb: "create", group: "ironlb.io", resource: "ipaddresspools", namespaced: true},
			{verb: "list", resource: "secrets"},
			{verb: "create", resource: "secrets", namespaced: true},
			{verb: "create", group: "coordination.k8s.io", resource: "leases"},
			{verb: "delete", resource: "nodes"},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.sa, func(t *testing.T) {
			t.Parallel()
			cluster, namespaced := rulesOf(t, b, namespace, tc.sa)
			if len(cluster)+len(namespaced) == 0 {
				t.Fatalf("no role is bound to ServiceAccount %s/%s", namespace, tc.sa)
			}
			for _, a := range tc.allowed {
				if !can(cluster, namespaced, a) {
					t.Errorf("%s cannot %s; it needs to", tc.sa, a)
				}
			}
			for _, a := range tc.denied {
				if can(cluster, namespaced, a) {
					t.Errorf("%s can %s; it must not", tc.sa, a)
				}
			}
		})
	}
}

// TestRBACHasNoWildcards keeps every rule explicit, so a new permission is
// a visible change to a marker.
func TestRBACHasNoWildcards(t *testing.T) {
	t.Parallel()
	b := loadFile(t, distManifest)
	for _, kind := range []string{"ClusterRole", "Role"} {
		for _, o := range b.ofKind(kind) {
			var rules []rbacv1.PolicyRule
			if kind == "ClusterRole" {
				rules = typed[rbacv1.ClusterRole](t, b, kind, o.GetName()).Rules
			} else {
				rules = typed[rbacv1.Role](t, b, kind, o.GetName()).Rules
			}
			for _, r := range rules {
				all := strings.Join(slices.Concat(r.Verbs, r.APIGroups, r.Resources), ",")
				if strings.Contains(all, "*") {
					t.Errorf("%s %s has a wildcard rule %+v", kind, o.GetName(), r)
				}
			}
		}
	}
}

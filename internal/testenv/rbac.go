package testenv

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// AsServiceAccount creates ServiceAccount sa in ns holding exactly the
// ClusterRoles and Roles of roleFiles (multi-document YAML, such as the
// RBAC `make generate` writes; their bindings are ignored: every role is
// bound to sa), and returns a configuration impersonating it. Roles move to
// ns; every role gets a name unique to ns and its file, as ClusterRoles
// are cluster-wide. edit, when set, may change each rule (for example a
// resource name) before it is created.
func (e *Env) AsServiceAccount(t testing.TB, ns, sa string, roleFiles []string, edit func(*rbacv1.PolicyRule)) *rest.Config {
	t.Helper()
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: ns}}
	objs := []client.Object{&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa}}}
	editAll := func(rules []rbacv1.PolicyRule) {
		for i := range rules {
			if edit != nil {
				edit(&rules[i])
			}
		}
	}
	for i, f := range roleFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("%v (run make generate)", err)
		}
		unique := fmt.Sprintf("%s-%s-%d", sa, ns, i)
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
				editAll(r.Rules)
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
				r.Namespace, r.Name = ns, unique
				editAll(r.Rules)
				objs = append(objs, &r, &rbacv1.RoleBinding{
					ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: unique},
					RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: unique},
					Subjects:   subject,
				})
			case "ClusterRoleBinding", "RoleBinding":
				// bound above, to sa
			default:
				t.Fatalf("%s: unexpected kind %s", f, head.Kind)
			}
		}
	}
	for _, o := range objs {
		if err := e.Client.Create(t.Context(), o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
	cfg := rest.CopyConfig(e.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + ns + ":" + sa}
	return cfg
}

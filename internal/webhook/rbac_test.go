package webhook

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

	"github.com/ironlb/ironlb/internal/testenv"
)

// The controller's generated roles and the webhook component's own.
var roleFiles = []string{
	filepath.Join("..", "..", "config", "rbac", "controller", "role.yaml"),
	filepath.Join("..", "..", "config", "webhook", "rbac.yaml"),
}

// asController grants a ServiceAccount of ns exactly the roles of the
// install manifests (the controller's and the webhook component's), moved
// to ns and with the webhook configuration's name replaced by
// configuration, and returns a config impersonating it.
func asController(t *testing.T, env *testenv.Env, ns, configuration string) *rest.Config {
	t.Helper()
	const sa = "ironlb-controller"
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: ns}}
	objs := []client.Object{&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa}}}
	for i, f := range roleFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("%v (run make generate)", err)
		}
		for doc := range bytes.SplitSeq(data, []byte("\n---\n")) {
			var head metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &head); err != nil || head.Kind == "" {
				continue
			}
			unique := ns + "-" + string(rune('a'+i)) // cluster-wide names: one per test and file
			switch head.Kind {
			case "ClusterRole":
				var r rbacv1.ClusterRole
				if err := yaml.Unmarshal(doc, &r); err != nil {
					t.Fatal(err)
				}
				r.Name = unique
				for j := range r.Rules {
					for k, n := range r.Rules[j].ResourceNames {
						if n == DefaultConfiguration {
							r.Rules[j].ResourceNames[k] = configuration
						}
					}
				}
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
				objs = append(objs, &r, &rbacv1.RoleBinding{
					ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: unique},
					RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: unique},
					Subjects:   subject,
				})
			case "ClusterRoleBinding", "RoleBinding":
				// bound above, to the test's ServiceAccount
			default:
				t.Fatalf("%s: unexpected kind %s", f, head.Kind)
			}
		}
	}
	for _, o := range objs {
		if err := env.Client.Create(t.Context(), o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + ns + ":" + sa}
	return cfg
}

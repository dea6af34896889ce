package manifests

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

const (
	namespace = "ironlb-system"
	// repoRoot is the checkout's top, seen from this package's directory
	// (where `go test` runs).
	repoRoot = "../.."
)

var (
	distManifest  = filepath.Join(repoRoot, "dist", "ironlb.yaml")
	distNamespace = filepath.Join(repoRoot, "dist", "ironlb-namespace.yaml")
)

// bundle is a parsed multi-document manifest.
type bundle struct {
	objs []*unstructured.Unstructured
}

// loadFile parses every YAML document of path.
func loadFile(t *testing.T, path string) *bundle {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s (run `make generate` to render it): %v", path, err)
	}
	b, err := parseBundle(data)
	if err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	return b
}

// parseBundle splits a multi-document YAML stream into objects, skipping
// empty documents.
func parseBundle(data []byte) (*bundle, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	b := &bundle{}
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return b, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		b.objs = append(b.objs, &unstructured.Unstructured{Object: m})
	}
}

// ofKind returns the objects of one kind, in file order.
func (b *bundle) ofKind(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range b.objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// get returns the one object of kind and name, failing t when absent.
func (b *bundle) get(t *testing.T, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range b.ofKind(kind) {
		if o.GetName() == name {
			return o
		}
	}
	t.Fatalf("the manifest has no %s %q", kind, name)
	return nil
}

// typed converts the object of kind and name into out (a typed API struct).
func typed[T any](t *testing.T, b *bundle, kind, name string) *T {
	t.Helper()
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(b.get(t, kind, name).Object, out); err != nil {
		t.Fatalf("converting %s %q: %v", kind, name, err)
	}
	return out
}

func deployment(t *testing.T, b *bundle, name string) *appsv1.Deployment {
	t.Helper()
	return typed[appsv1.Deployment](t, b, "Deployment", name)
}

func daemonSet(t *testing.T, b *bundle, name string) *appsv1.DaemonSet {
	t.Helper()
	return typed[appsv1.DaemonSet](t, b, "DaemonSet", name)
}

// rulesOf gathers the policy rules granted to the ServiceAccount
// namespace/name by the bundle's bindings: cluster-wide ones (from
// ClusterRoleBindings) and those valid in namespace only (RoleBindings).
func rulesOf(t *testing.T, b *bundle, saNamespace, saName string) (cluster, namespaced []rbacv1.PolicyRule) {
	t.Helper()
	bound := func(subjects []rbacv1.Subject) bool {
		for _, s := range subjects {
			if s.Kind == rbacv1.ServiceAccountKind && s.Name == saName && s.Namespace == saNamespace {
				return true
			}
		}
		return false
	}
	for _, o := range b.ofKind("ClusterRoleBinding") {
		crb := typed[rbacv1.ClusterRoleBinding](t, b, "ClusterRoleBinding", o.GetName())
		if bound(crb.Subjects) {
			cluster = append(cluster, typed[rbacv1.ClusterRole](t, b, "ClusterRole", crb.RoleRef.Name).Rules...)
		}
	}
	for _, o := range b.ofKind("RoleBinding") {
		rb := typed[rbacv1.RoleBinding](t, b, "RoleBinding", o.GetName())
		if !bound(rb.Subjects) {
			continue
		}
		switch rb.RoleRef.Kind {
		case "ClusterRole":
			namespaced = append(namespaced, typed[rbacv1.ClusterRole](t, b, "ClusterRole", rb.RoleRef.Name).Rules...)
		default:
			namespaced = append(namespaced, typed[rbacv1.Role](t, b, "Role", rb.RoleRef.Name).Rules...)
		}
	}
	return cluster, namespaced
}

// unstructuredString reads a string field of obj at path.
func unstructuredString(obj map[string]any, path ...string) (string, bool, error) {
	return unstructured.NestedString(obj, path...)
}

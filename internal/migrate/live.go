package migrate

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/config"
)

// metallbResources are MetalLB's configuration resources, each with the
// versions to try in order (a BGPPeer is stored as v1beta2 from MetalLB
// 0.13.x on, v1beta1 before); addresspools is MetalLB's removed kind, read
// so that Convert can say it is not converted.
var metallbResources = []struct {
	resource string
	versions []string
}{
	{"ipaddresspools", []string{"v1beta1"}},
	{"l2advertisements", []string{"v1beta1"}},
	{"bgpadvertisements", []string{"v1beta1"}},
	{"bgppeers", []string{"v1beta2", "v1beta1"}},
	{"bfdprofiles", []string{"v1beta1"}},
	{"communities", []string{"v1beta1"}},
	{"addresspools", []string{"v1beta1"}},
}

// Read gathers what MetalLB holds in namespace ns: its legacy ConfigMap,
// its CRs (a resource whose CRD is not installed counts as empty), the
// Secrets its BGPPeers name, its Deployments and DaemonSets, and every
// LoadBalancer Service.
func Read(ctx context.Context, cs kubernetes.Interface, dyn dynamic.Interface, ns string) (*Source, error) {
	src := &Source{Namespace: ns}
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, LegacyConfigMap, metav1.GetOptions{})
	switch {
	case err == nil:
		if _, ok := cm.Data[LegacyConfigMap]; ok {
			src.ConfigMap = cm
		}
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("reading ConfigMap %s/%s: %w", ns, LegacyConfigMap, err)
	}
	for _, r := range metallbResources {
		for _, v := range r.versions {
			gvr := schema.GroupVersionResource{Group: "metallb.io", Version: v, Resource: r.resource}
			list, err := dyn.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
			if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
				continue // no such CRD, or not this version
			}
			if err != nil {
				return nil, fmt.Errorf("listing %s: %w", gvr.GroupResource(), err)
			}
			src.CRs = append(src.CRs, list.Items...)
			break
		}
	}
	for _, name := range SecretNames(src.CRs, ns) {
		s, err := cs.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue // Convert reports the BGPPeer's missing Secret
		}
		if err != nil {
			return nil, fmt.Errorf("reading Secret %s/%s: %w", ns, name, err)
		}
		src.Secrets = append(src.Secrets, *s)
	}
	deps, err := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing Deployments in %s: %w", ns, err)
	}
	for _, d := range deps.Items {
		src.Workloads = append(src.Workloads, "deployment/"+d.Name)
	}
	dss, err := cs.AppsV1().DaemonSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing DaemonSets in %s: %w", ns, err)
	}
	for _, d := range dss.Items {
		src.Workloads = append(src.Workloads, "daemonset/"+d.Name)
	}
	svcs, err := cs.CoreV1().Services("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing Services: %w", err)
	}
	for _, s := range svcs.Items {
		if s.Spec.Type == corev1.ServiceTypeLoadBalancer {
			src.Services = append(src.Services, s)
		}
	}
	return src, nil
}

// Change is what applying one object would do.
type Change struct {
	Kind, Namespace, Name string
	// Action is "create", "update" or "unchanged".
	Action string
	// Diff shows an update (- what exists, + what would be applied), for
	// spec, labels and annotations; Secrets' data are never shown.
	Diff string
}

// FieldManager is the server-side apply field manager of --apply.
const FieldManager = "ironlb-migrate"

// Manifests are the plan's objects as they are applied: the Secrets
// first (BGPPeers name them), then the CRs.
func (p *Plan) Manifests() ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for i := range p.Secrets {
		b, err := json.Marshal(&p.Secrets[i])
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(b); err != nil {
			return nil, err
		}
		unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
		out = append(out, u)
	}
	for _, o := range p.Objects.All() {
		m, err := config.Manifest(o)
		if err != nil {
			return nil, err
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out, nil
}

// Diff compares each manifest with what the cluster holds.
func Diff(ctx context.Context, dyn dynamic.Interface, manifests []*unstructured.Unstructured) ([]Change, error) {
	var out []Change
	for _, u := range manifests {
		c := Change{Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()}
		cur, err := dyn.Resource(gvr(u)).Namespace(u.GetNamespace()).Get(ctx, u.GetName(), metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
			c.Action = "create"
		case err != nil:
			return nil, fmt.Errorf("reading %s %s/%s: %w", c.Kind, c.Namespace, c.Name, err)
		default:
			want, have := compared(u), compared(cur)
			// What the API server defaults shows up only on the cluster's
			// side: compare what the manifest sets.
			have = restrictTo(have, want)
			if d := cmp.Diff(have, want); d != "" {
				c.Action, c.Diff = "update", d
				if c.Kind == "Secret" {
					c.Diff = "(Secret data differ; not shown)"
				}
			} else {
				c.Action = "unchanged"
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// compared is the part of an object migrate owns.
func compared(u *unstructured.Unstructured) map[string]any {
	out := map[string]any{}
	for _, k := range []string{"spec", "data", "type"} {
		if v, ok := u.Object[k]; ok {
			out[k] = v
		}
	}
	if l := u.GetLabels(); len(l) > 0 {
		out["labels"] = anyMap(l)
	}
	ann := u.GetAnnotations()
	delete(ann, lastApplied)
	if len(ann) > 0 {
		out["annotations"] = anyMap(ann)
	}
	return out
}

// restrictTo keeps, recursively, only the map keys of have that want has
// (lists are compared whole).
func restrictTo(have, want map[string]any) map[string]any {
	out := map[string]any{}
	for k, w := range want {
		h, ok := have[k]
		if !ok {
			continue
		}
		hm, hok := h.(map[string]any)
		wm, wok := w.(map[string]any)
		if hok && wok {
			out[k] = restrictTo(hm, wm)
			continue
		}
		out[k] = h
	}
	return out
}

func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Apply server-side applies each manifest (field manager FieldManager,
// conflicts refused, not forced), in order, calling done after each.
func Apply(ctx context.Context, dyn dynamic.Interface, manifests []*unstructured.Unstructured, done func(i int, u *unstructured.Unstructured)) error {
	force := false
	for i, u := range manifests {
		b, err := json.Marshal(u)
		if err != nil {
			return err
		}
		_, err = dyn.Resource(gvr(u)).Namespace(u.GetNamespace()).Patch(ctx, u.GetName(), types.ApplyPatchType, b,
			metav1.PatchOptions{FieldManager: FieldManager, Force: &force})
		if err != nil {
			return fmt.Errorf("applying %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
		if done != nil {
			done(i, u)
		}
	}
	return nil
}

// gvr is the resource of a manifest the plan holds: a Secret or an
// ironlb.io/v1beta1 kind.
func gvr(u *unstructured.Unstructured) schema.GroupVersionResource {
	if u.GetKind() == "Secret" {
		return corev1.SchemeGroupVersion.WithResource("secrets")
	}
	return v1beta1.GroupVersion.WithResource(plurals[u.GetKind()])
}

// plurals are the resources of the kinds a plan holds.
var plurals = map[string]string{
	config.KindIPAddressPool:    "ipaddresspools",
	config.KindL2Advertisement:  "l2advertisements",
	config.KindBGPAdvertisement: "bgpadvertisements",
	config.KindBGPPeer:          "bgppeers",
	config.KindBFDProfile:       "bfdprofiles",
	config.KindCommunity:        "communities",
}

// crdResource is the resource of CustomResourceDefinitions.
var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// EnsureNamespaceAndCRDs creates namespace ns and every ironlb CRD of crds
// (this binary's, config/crd) that the cluster lacks, and waits until each
// is Established, so the plan's objects can be applied before ironlb
// itself is installed. CRDs already there are left as they are. It returns
// what it created.
func EnsureNamespaceAndCRDs(ctx context.Context, cs kubernetes.Interface, dyn dynamic.Interface, ns string, crds []*unstructured.Unstructured) ([]string, error) {
	var made []string
	if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
		if _, err := cs.CoreV1().Namespaces().Create(ctx, n, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return made, fmt.Errorf("creating namespace %s: %w", ns, err)
		}
		made = append(made, "Namespace "+ns)
	} else if err != nil {
		return made, fmt.Errorf("reading namespace %s: %w", ns, err)
	}
	for _, crd := range crds {
		_, err := dyn.Resource(crdResource).Get(ctx, crd.GetName(), metav1.GetOptions{})
		if err == nil {
			continue
		}
		if !apierrors.IsNotFound(err) {
			return made, fmt.Errorf("reading CRD %s: %w", crd.GetName(), err)
		}
		if _, err := dyn.Resource(crdResource).Create(ctx, crd, metav1.CreateOptions{FieldManager: FieldManager}); err != nil {
			return made, fmt.Errorf("creating CRD %s: %w", crd.GetName(), err)
		}
		made = append(made, "CustomResourceDefinition "+crd.GetName())
	}
	for _, crd := range crds {
		if err := waitEstablished(ctx, dyn, crd.GetName()); err != nil {
			return made, err
		}
	}
	return made, nil
}

// waitEstablished polls a CRD until its Established condition is True.
func waitEstablished(ctx context.Context, dyn dynamic.Interface, name string) error {
	for {
		u, err := dyn.Resource(crdResource).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("reading CRD %s: %w", name, err)
		}
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("CRD %s not Established: %w", name, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

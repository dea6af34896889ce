// Package migrate moves a running MetalLB installation to ironlb: it reads
// what MetalLB holds (its legacy ConfigMap of v0.10–v0.12, its metallb.io
// CRs of v0.13–v0.16, the Secrets its BGPPeers name and the LoadBalancer
// Services), turns it into ironlb objects judged exactly as `ironlb config
// validate` judges files, tells which Service keeps which address, and
// shows or applies the difference to what a cluster already holds.
//
// Convert is pure; Read and Apply talk to the API server.
package migrate

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/ipam"
)

// DefaultSourceNamespace is where MetalLB runs unless told otherwise.
const DefaultSourceNamespace = "metallb-system"

// LegacyConfigMap is the name (and data key) of MetalLB's legacy
// configuration.
const LegacyConfigMap = "config"

// Source is what a MetalLB installation holds.
type Source struct {
	// Namespace is MetalLB's namespace.
	Namespace string
	// ConfigMap is MetalLB's legacy configuration, nil when there is none.
	ConfigMap *corev1.ConfigMap
	// CRs are MetalLB's configuration objects (metallb.io), as read.
	CRs []unstructured.Unstructured
	// Secrets are the Secrets of Namespace that BGPPeers name.
	Secrets []corev1.Secret
	// Services are the cluster's LoadBalancer Services.
	Services []corev1.Service
	// Workloads are MetalLB's Deployments and DaemonSets
	// ("deployment/controller", "daemonset/speaker"), for the plan.
	Workloads []string
}

// Plan is the outcome of Convert: the ironlb objects, the Secrets to copy,
// what is wrong, and what happens to each Service's addresses.
type Plan struct {
	// From and To are MetalLB's namespace and ironlb's.
	From, To string
	// Objects are ironlb.io/v1beta1 CRs in To.
	Objects config.Objects
	// Secrets are copies, in To, of the Secrets the BGPPeers name.
	Secrets []corev1.Secret
	// Problems are what ironlb would refuse; nothing may be applied while
	// there are any.
	Problems []config.FieldError
	// Notes are things the operator should know that are no problem.
	Notes []string
	// Services says, for every LoadBalancer Service with addresses,
	// whether ironlb keeps them.
	Services []ServicePlan
	// Workloads are MetalLB's, to remove at the switch.
	Workloads []string
}

// ServicePlan is what becomes of one Service's addresses.
type ServicePlan struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Addresses are its current addresses (status.loadBalancer.ingress).
	Addresses []string `json:"addresses"`
	// Pools name the converted pool holding each address ("" if none).
	Pools []string `json:"pools"`
	// Keeps is true when ironlb will keep every address.
	Keeps bool `json:"keeps"`
	// Why explains a Service that does not keep its addresses.
	Why string `json:"why,omitempty"`
}

// KeepsAll reports whether every Service keeps every address.
func (p *Plan) KeepsAll() bool {
	for _, s := range p.Services {
		if !s.Keeps {
			return false
		}
	}
	return true
}

// lastApplied is kubectl's annotation, which would carry MetalLB's own
// manifest over; it is dropped.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// Convert turns src into ironlb objects in namespace to. Each MetalLB CR
// becomes the ironlb CR of the same kind, name, labels and spec (MetalLB's
// kinds and fields are ironlb's); the legacy ConfigMap becomes CRs as
// `ironlb config convert` makes them; Secrets named by BGPPeers are copied
// to the same name in to, and the references follow. Every CR is judged as
// ironlb's API server would judge it, then the whole set by ironlb's rules.
func Convert(src *Source, to string) *Plan {
	if to == "" {
		to = config.DefaultNamespace
	}
	p := &Plan{From: src.Namespace, To: to, Workloads: src.Workloads}
	m := &config.Manifests{Input: config.Input{Namespace: to}}
	for i := range src.CRs {
		cr := &src.CRs[i]
		doc, err := yaml.Marshal(cleanCR(cr, src.Namespace, to))
		if err != nil {
			p.Problems = append(p.Problems, config.FieldError{Kind: cr.GetKind(), Name: cr.GetName(), Message: err.Error(), Reason: v1beta1.ReasonInvalidSpec})
			continue
		}
		m.Add(fmt.Sprintf("%s %s/%s", cr.GetAPIVersion(), cr.GetNamespace(), cr.GetName()), doc)
	}
	for _, s := range m.Skipped {
		p.Notes = append(p.Notes, "not converted: "+s)
	}
	p.Problems = append(p.Problems, m.Problems...)
	p.Objects = m.Input.Objects
	if cm := src.ConfigMap; cm != nil {
		legacy := config.LegacySource{Namespace: cm.Namespace, Name: cm.Name, Config: cm.Data[LegacyConfigMap]}
		objs, problems := config.Convert(legacy, to)
		p.Problems = append(p.Problems, problems...)
		p.Objects = merge(p.Objects, objs)
		if len(src.CRs) > 0 {
			p.Notes = append(p.Notes, fmt.Sprintf("both the ConfigMap %s/%s and metallb.io CRs exist: both are converted (MetalLB 0.13 and later read only the CRs)", cm.Namespace, cm.Name))
		}
	}
	for _, s := range src.Secrets {
		p.Secrets = append(p.Secrets, corev1.Secret{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: to, Labels: s.Labels},
			Type:       s.Type,
			Data:       s.Data,
		})
	}
	res := config.Build(config.Input{Namespace: to, Objects: p.Objects, Secrets: p.Secrets})
	p.Problems = append(p.Problems, res.Problems()...)
	p.Services = planServices(src.Services, res.Snapshot)
	p.allowSharingAcrossNamespaces(src.Services, res.Snapshot)
	return p
}

// allowSharingAcrossNamespaces sets allowCrossNamespaceSharing on every
// converted pool one of whose addresses Services of several namespaces
// share under one allow-shared-ip key. MetalLB lets any namespace share;
// ironlb does only where the pool allows it. ironlb would keep the shares
// that exist anyway (it refuses only new ones), but a Service of the group
// that is recreated, or a new member, would be refused: the switch must
// not change what works. A note names each pool so the operator can take
// the permission away deliberately.
func (p *Plan) allowSharingAcrossNamespaces(svcs []corev1.Service, snap *config.Snapshot) {
	if snap == nil {
		return
	}
	type group struct{ pool, ip, key string }
	namespaces := map[group][]string{}
	for i := range svcs {
		svc := &svcs[i]
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
			continue
		}
		req, err := ipam.ParseServiceRequest(svc.Annotations, svc.Spec.LoadBalancerIP)
		if err != nil || req.SharingKey == "" {
			continue
		}
		for _, in := range svc.Status.LoadBalancer.Ingress {
			a, err := netip.ParseAddr(in.IP)
			if err != nil {
				continue
			}
			if pool, ok := snap.PoolFor(a); ok {
				g := group{pool.Name, a.String(), req.SharingKey}
				if !slices.Contains(namespaces[g], svc.Namespace) {
					namespaces[g] = append(namespaces[g], svc.Namespace)
				}
			}
		}
	}
	why := map[string][]string{}
	for g, nss := range namespaces {
		if len(nss) > 1 {
			slices.Sort(nss)
			why[g.pool] = append(why[g.pool], fmt.Sprintf("%s (namespaces %s)", g.ip, strings.Join(nss, ", ")))
		}
	}
	for i := range p.Objects.IPAddressPools {
		pool := &p.Objects.IPAddressPools[i]
		shared := why[pool.Name]
		if len(shared) == 0 || pool.Spec.AllowCrossNamespaceSharing {
			continue
		}
		slices.Sort(shared)
		pool.Spec.AllowCrossNamespaceSharing = true
		p.Notes = append(p.Notes, fmt.Sprintf("IPAddressPool %s: allowCrossNamespaceSharing set, because Services of several namespaces share %s as MetalLB allows; without it ironlb would refuse new shares across namespaces (the existing ones are kept)",
			pool.Name, strings.Join(shared, "; ")))
	}
}

// cleanCR is the manifest of cr as it will be created in namespace to:
// kind, name, labels, annotations (but kubectl's copy of the old manifest)
// and spec; MetalLB's apiVersion stays, so the judgement names it, and
// becomes ironlb's in the judgement. A passwordSecret in MetalLB's
// namespace follows the Secret to to.
func cleanCR(cr *unstructured.Unstructured, from, to string) map[string]any {
	ann := cr.GetAnnotations()
	delete(ann, lastApplied)
	md := map[string]any{"name": cr.GetName(), "namespace": to}
	if l := cr.GetLabels(); len(l) > 0 {
		md["labels"] = l
	}
	if len(ann) > 0 {
		md["annotations"] = ann
	}
	out := map[string]any{"apiVersion": cr.GetAPIVersion(), "kind": cr.GetKind(), "metadata": md}
	if spec, ok := cr.Object["spec"]; ok {
		spec = runtime.DeepCopyJSONValue(spec)
		if s, ok := spec.(map[string]any); ok {
			if ref, ok := s["passwordSecret"].(map[string]any); ok {
				if ns, _ := ref["namespace"].(string); ns == "" || ns == from {
					ref["namespace"] = to
				}
			}
		}
		out["spec"] = spec
	}
	return out
}

// SecretNames returns the Secrets of namespace ns that the CRs' BGPPeers
// name in spec.passwordSecret, sorted; Read copies those.
func SecretNames(crs []unstructured.Unstructured, ns string) []string {
	var out []string
	for i := range crs {
		if crs[i].GetKind() != config.KindBGPPeer {
			continue
		}
		name, _, _ := unstructured.NestedString(crs[i].Object, "spec", "passwordSecret", "name")
		refNS, _, _ := unstructured.NestedString(crs[i].Object, "spec", "passwordSecret", "namespace")
		if name != "" && (refNS == "" || refNS == ns) && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// planServices tells for every LoadBalancer Service with addresses which
// converted pool holds each, and whether ironlb keeps them all: an address
// outside every pool is taken away, and a pool the Service's pool
// annotation does not name is left for the named one.
func planServices(svcs []corev1.Service, snap *config.Snapshot) []ServicePlan {
	var out []ServicePlan
	for i := range svcs {
		svc := &svcs[i]
		if svc.Spec.Type != corev1.ServiceTypeLoadBalancer || len(svc.Status.LoadBalancer.Ingress) == 0 {
			continue
		}
		sp := ServicePlan{Namespace: svc.Namespace, Name: svc.Name, Keeps: true}
		var why []string
		if c := svc.Spec.LoadBalancerClass; c != nil {
			sp.Keeps = false
			why = append(why, fmt.Sprintf("loadBalancerClass %q: ironlb serves it only when started with --lb-class %s", *c, *c))
		}
		req, err := ipam.ParseServiceRequest(svc.Annotations, svc.Spec.LoadBalancerIP)
		if err != nil {
			sp.Keeps = false
			why = append(why, "its request is invalid: "+err.Error())
		}
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if in.IP == "" {
				continue
			}
			sp.Addresses = append(sp.Addresses, in.IP)
			a, err := netip.ParseAddr(in.IP)
			var pool *config.Pool
			ok := false
			if err == nil && snap != nil {
				pool, ok = snap.PoolFor(a)
			}
			switch {
			case !ok:
				sp.Pools = append(sp.Pools, "")
				sp.Keeps = false
				why = append(why, in.IP+" is in no converted pool")
			case req.Pool != "" && req.Pool != pool.Name:
				sp.Pools = append(sp.Pools, pool.Name)
				sp.Keeps = false
				why = append(why, fmt.Sprintf("%s is in pool %s but the Service asks for pool %s", in.IP, pool.Name, req.Pool))
			default:
				sp.Pools = append(sp.Pools, pool.Name)
			}
		}
		sp.Why = strings.Join(why, "; ")
		out = append(out, sp)
	}
	slices.SortFunc(out, func(a, b ServicePlan) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	return out
}

func merge(a, b config.Objects) config.Objects {
	a.IPAddressPools = append(a.IPAddressPools, b.IPAddressPools...)
	a.L2Advertisements = append(a.L2Advertisements, b.L2Advertisements...)
	a.BGPAdvertisements = append(a.BGPAdvertisements, b.BGPAdvertisements...)
	a.BGPPeers = append(a.BGPPeers, b.BGPPeers...)
	a.BFDProfiles = append(a.BFDProfiles, b.BFDProfiles...)
	a.Communities = append(a.Communities, b.Communities...)
	return a
}

package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/configread"
	"github.com/ironlb/ironlb/internal/controller"
	"github.com/ironlb/ironlb/internal/doctor"
)

// doctorRBAC is what `ironlb doctor` reads from a cluster; it writes
// nothing. Shown in the command's help and in docs/install.md.
const doctorRBAC = `  get, list  ironlb.io: ipaddresspools, l2advertisements, bgpadvertisements, bgppeers,
             bfdprofiles, communities (in --namespace)
  list       secrets (in --namespace: BGP passwords and the accepted configuration
             record, read as the controller reads them; never printed)
  get        configmaps (the legacy ConfigMap, and kube-system/kube-proxy)
  list       nodes, services, pods, events, deployments.apps, daemonsets.apps,
             servicecidrs.networking.k8s.io (all namespaces)
  list       customresourcedefinitions.apiextensions.k8s.io, and the objects of
             other load balancers' CRDs (metallb.io, cilium.io
             ciliumloadbalancerippools, network.kubesphere.io)`

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// gatherLive reads the doctor's Input from the cluster. Listing the
// configuration must succeed; a part that cannot be listed (forbidden,
// or an API the server lacks) is left out and said in the returned notes.
// progress, when not nil, is told each part read (the configuration
// first), out of gatherParts.
func gatherLive(ctx context.Context, cfg *rest.Config, namespace, legacy string, progress func(done, total int, what string)) (*doctor.Input, []string, error) {
	step := 0
	report := func(what string) {
		step++
		if progress != nil {
			progress(step, gatherParts, what)
		}
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 50, 100
	scheme, err := controller.NewScheme()
	if err != nil {
		return nil, nil, err
	}
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	legacyName, err := config.ParseNamespacedName("--config-map", legacy, "ironlb-system/config")
	if err != nil {
		return nil, nil, err
	}
	read, err := configread.Read(ctx, cl, namespace, legacyName)
	if err != nil {
		return nil, nil, err
	}
	report("the configuration")
	in := &doctor.Input{Config: read.Input, Gathered: map[doctor.Part]bool{}, Now: time.Now()}
	if read.LegacyKeyMissing {
		in.ConfigProblems = append(in.ConfigProblems, config.FieldError{Kind: config.KindConfigMap, Name: legacyName.Name,
			Message: fmt.Sprintf("the ConfigMap %s has no key %q, so ironlb reads no configuration from it", legacyName, config.LegacyConfigMapKey), Warning: true})
	}
	var notes []string
	part := func(p doctor.Part, err error) {
		report(string(p))
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s not read: %v", p, err))
			return
		}
		in.Gathered[p] = true
	}
	all := metav1.ListOptions{}
	if l, err := cs.CoreV1().Nodes().List(ctx, all); err == nil {
		in.Nodes = l.Items
		part(doctor.PartNodes, nil)
	} else {
		part(doctor.PartNodes, err)
	}
	switch cm, err := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, "kube-proxy", metav1.GetOptions{}); {
	case err == nil:
		in.KubeProxy = cm
		part(doctor.PartKubeProxy, nil)
	case apierrors.IsNotFound(err):
		part(doctor.PartKubeProxy, nil)
	default:
		part(doctor.PartKubeProxy, err)
	}
	switch l, err := cs.NetworkingV1().ServiceCIDRs().List(ctx, all); {
	case err == nil:
		in.ServiceCIDRs = l.Items
		part(doctor.PartServiceCIDRs, nil)
	case apierrors.IsNotFound(err): // a server before ServiceCIDR: the range is unknown
		part(doctor.PartServiceCIDRs, nil)
	default:
		part(doctor.PartServiceCIDRs, err)
	}
	if l, err := cs.CoreV1().Services("").List(ctx, all); err == nil {
		in.Services = l.Items
		part(doctor.PartServices, nil)
	} else {
		part(doctor.PartServices, err)
	}
	deps, err := cs.AppsV1().Deployments("").List(ctx, all)
	if err == nil {
		in.Deployments = deps.Items
		var dss *appsv1.DaemonSetList
		if dss, err = cs.AppsV1().DaemonSets("").List(ctx, all); err == nil {
			in.DaemonSets = dss.Items
		}
	}
	part(doctor.PartWorkloads, err)
	speakers, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(doctor.SpeakerLabels).String()})
	if err == nil {
		in.Pods = speakers.Items
		var sys *corev1.PodList
		if sys, err = cs.CoreV1().Pods("kube-system").List(ctx, all); err == nil {
			for _, p := range sys.Items {
				if !slices.ContainsFunc(in.Pods, func(q corev1.Pod) bool { return q.UID == p.UID }) {
					in.Pods = append(in.Pods, p)
				}
			}
		}
	}
	part(doctor.PartPods, err)
	if ev, err := cs.CoreV1().Events("").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.kind=Node"}); err == nil {
		in.Events = ev.Items
		part(doctor.PartEvents, nil)
	} else {
		part(doctor.PartEvents, err)
	}
	crds, err := listCRDs(ctx, dyn)
	in.CRDs = crds
	part(doctor.PartCRDs, err)
	return in, notes, nil
}

// gatherParts is how many steps gatherLive reports: the configuration and
// eight parts.
const gatherParts = 9

// doctorProgress returns a progress function for gatherLive that keeps one
// line on w (a terminal) up to date, and a function that clears it.
func doctorProgress(w io.Writer) (progress func(done, total int, what string), finish func()) {
	progress = func(done, total int, what string) {
		_, _ = fmt.Fprintf(w, "\r\x1b[Kdoctor: read %s (%d/%d)", what, done, total)
	}
	finish = func() { _, _ = fmt.Fprint(w, "\r\x1b[K") }
	return progress, finish
}

// otherLBCRD reports whether the doctor counts the objects of a CRD: those
// of other load balancers' groups.
func otherLBCRD(name, group string) bool {
	return group == "metallb.io" || group == "network.kubesphere.io" || name == "ciliumloadbalancerippools.cilium.io"
}

// listCRDs lists the CRDs, counting the objects of other load balancers'
// (-1 when they cannot be listed).
func listCRDs(ctx context.Context, dyn dynamic.Interface) ([]doctor.CRD, error) {
	l, err := dyn.Resource(crdGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []doctor.CRD
	for _, u := range l.Items {
		group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
		plural, _, _ := unstructured.NestedString(u.Object, "spec", "names", "plural")
		crd := doctor.CRD{Name: u.GetName(), Group: group}
		if otherLBCRD(crd.Name, group) {
			crd.Objects = countObjects(ctx, dyn, u, group, plural)
		}
		out = append(out, crd)
	}
	slices.SortFunc(out, func(a, b doctor.CRD) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// countObjects counts the objects of a CRD in its first served version;
// -1 when they cannot be listed.
func countObjects(ctx context.Context, dyn dynamic.Interface, crd unstructured.Unstructured, group, plural string) int {
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	for _, v := range versions {
		m, ok := v.(map[string]any)
		if !ok || m["served"] != true {
			continue
		}
		name, _ := m["name"].(string)
		l, err := dyn.Resource(schema.GroupVersionResource{Group: group, Version: name, Resource: plural}).List(ctx, metav1.ListOptions{})
		if err != nil {
			return -1
		}
		return len(l.Items)
	}
	return -1
}

package doctor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/ironlb/ironlb/internal/config"
)

// Files gathers an Input from files for an offline run (ironlb doctor -f):
// the configuration exactly as `ironlb config validate` reads it
// (config.Manifests: CRs, Secrets, the legacy ConfigMap, Helm values,
// Lists), plus dumps of the cluster objects the checks read — Nodes, the
// ConfigMap kube-system/kube-proxy, ServiceCIDRs, Services, Deployments,
// DaemonSets, Pods, CustomResourceDefinitions and Events — as single
// documents, multi-document YAML or v1 Lists (`kubectl get ... -o yaml`).
// A part is gathered when the files hold at least one object of it.
type Files struct {
	m  config.Manifests
	in Input
	// skipped describes documents that are neither configuration nor a
	// dump the checks read.
	skipped []string
}

// NewFiles starts an offline Input; namespace is where ironlb runs (CRs
// that name none are judged there).
func NewFiles(namespace string) *Files {
	return &Files{m: config.Manifests{Input: config.Input{Namespace: namespace}}, in: Input{Gathered: map[Part]bool{}}}
}

// dumpKinds are the kinds of the dumps, with the part each belongs to.
var dumpKinds = map[string]Part{
	"Node": PartNodes, "ConfigMap": PartKubeProxy, "ServiceCIDR": PartServiceCIDRs, "Service": PartServices,
	"Deployment": PartWorkloads, "DaemonSet": PartWorkloads, "Pod": PartPods,
	"CustomResourceDefinition": PartCRDs, "Event": PartEvents,
}

// Add reads every document of one file; name is used in messages.
func (f *Files) Add(name string, data []byte) {
	f.m.Add(name, data)
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			return // config.Manifests reports it
		}
		f.addDocument(fmt.Sprintf("%s document %d", name, i), doc)
	}
}

type head struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
}

func (f *Files) addDocument(where string, doc []byte) {
	var h head
	if yaml.Unmarshal(doc, &h) != nil || h.Kind == "" {
		return // configuration, or what config.Manifests reports
	}
	if h.Kind == "List" || (strings.HasSuffix(h.Kind, "List") && h.APIVersion == "v1") {
		var list struct {
			Items []map[string]any `json:"items"`
		}
		if yaml.Unmarshal(doc, &list) != nil {
			return
		}
		for i, item := range list.Items {
			b, err := yaml.Marshal(item)
			if err == nil {
				f.addDocument(fmt.Sprintf("%s items[%d]", where, i), b)
			}
		}
		return
	}
	part, ok := dumpKinds[h.Kind]
	if !ok {
		return
	}
	var err error
	switch h.Kind {
	case "Node":
		err = decodeAppend(doc, &f.in.Nodes)
	case "ConfigMap":
		var cm corev1.ConfigMap
		if err = yaml.Unmarshal(doc, &cm); err == nil {
			if cm.Name != "kube-proxy" || (cm.Namespace != "" && cm.Namespace != "kube-system") {
				return // the legacy configuration, or none the checks read
			}
			f.in.KubeProxy = &cm
		}
	case "ServiceCIDR":
		err = decodeAppend(doc, &f.in.ServiceCIDRs)
	case "Service":
		err = decodeAppend(doc, &f.in.Services)
	case "Deployment":
		err = decodeAppend(doc, &f.in.Deployments)
	case "DaemonSet":
		err = decodeAppend(doc, &f.in.DaemonSets)
	case "Pod":
		err = decodeAppend(doc, &f.in.Pods)
	case "Event":
		err = decodeAppend(doc, &f.in.Events)
	case "CustomResourceDefinition":
		var crd struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Spec struct {
				Group string `json:"group"`
			} `json:"spec"`
		}
		if err = yaml.Unmarshal(doc, &crd); err == nil {
			f.in.CRDs = append(f.in.CRDs, CRD{Name: crd.Metadata.Name, Group: crd.Spec.Group, Objects: -1})
		}
	}
	if err != nil {
		f.skipped = append(f.skipped, fmt.Sprintf("%s (%s %s: %v)", where, h.Kind, h.Metadata.Name, err))
		return
	}
	f.in.Gathered[part] = true
}

func decodeAppend[T any](doc []byte, list *[]T) error {
	var v T
	if err := yaml.Unmarshal(doc, &v); err != nil {
		return err
	}
	*list = append(*list, v)
	return nil
}

// Input returns what the files held, and the documents that were neither
// configuration nor a dump the checks read.
func (f *Files) Input() (*Input, []string) {
	in := f.in
	in.Config = f.m.Input
	in.ConfigProblems = f.m.Problems
	skipped := slices.Clone(f.skipped)
	for _, s := range f.m.Skipped {
		dump := false
		for k := range dumpKinds {
			dump = dump || strings.HasSuffix(s, " "+k+")")
		}
		if !dump && !strings.Contains(s, "without a \"config\" key") {
			skipped = append(skipped, s)
		}
	}
	return &in, skipped
}

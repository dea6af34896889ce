package config

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// Manifests gathers configuration from YAML files for offline validation
// (ironlb config validate): ironlb.io CRs (and the same kinds under
// MetalLB's metallb.io/v1beta1 and v1beta2 apiVersions), Secrets, v1 Lists of
// those, the legacy configuration as a ConfigMap or a bare document, and a
// Helm values file of the chart (configInline as the legacy ConfigMap,
// ipAddressPools and l2Advertisements as CRs, as the chart renders them).
// Input is ready for Build once every file is added.
//
// Each CR is first judged as the API server would judge it on create
// (CheckCR). A CR the API server would refuse is reported in Problems and
// left out of Input, as it could never be in a cluster; the CRs that pass
// go to Input, for Build's rules. Check does both.
type Manifests struct {
	// Input collects what was read. Set Input.Namespace before Add: CRs
	// that name no namespace are judged as created there.
	Input Input
	// Problems are documents that could not be read and the API server's
	// errors about CRs.
	Problems []FieldError
	// Skipped describes documents of kinds that are no configuration.
	Skipped []string
}

// Add reads every YAML document of one file; name is used in messages.
func (m *Manifests) Add(name string, data []byte) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		where := fmt.Sprintf("%s document %d", name, i)
		if err != nil {
			m.Problems = append(m.Problems, FieldError{Kind: "document", Source: where, Message: "cannot read: " + err.Error(), Reason: v1beta1.ReasonInvalidSpec})
			return
		}
		m.addDocument(where, doc)
	}
}

// Check returns what `ironlb config validate` reports: every document
// that could not be read, every error the API server would return for a
// CR, then the Result of Build on the rest and its problems.
func (m *Manifests) Check() (Result, []FieldError) {
	res := Build(m.Input)
	return res, append(slices.Clone(m.Problems), res.Problems()...)
}

// metallbGroup is MetalLB's API group, whose kinds ironlb reads as its own.
const metallbGroup = "metallb.io"

type docHead struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
}

func (m *Manifests) addDocument(where string, doc []byte) {
	var generic any
	if err := yaml.Unmarshal(doc, &generic); err != nil {
		m.problem("document", "", where, "not valid YAML: "+trimYAMLError(err))
		return
	}
	if generic == nil {
		return // empty or comments only
	}
	var head docHead
	if _, ok := generic.(map[string]any); !ok || yaml.Unmarshal(doc, &head) != nil {
		m.problem("document", "", where, "not a mapping; expected a Kubernetes object or a legacy configuration")
		return
	}
	group, version, _ := strings.Cut(head.APIVersion, "/")
	if version == "" {
		group, version = "", group
	}
	name := head.Metadata.Name
	switch {
	case head.Kind == "" && isHelmValues(generic.(map[string]any)):
		m.addHelmValues(where, generic.(map[string]any))
	case head.Kind == "":
		m.addLegacy(where, LegacyDocument{Config: string(doc)})
	case head.Kind == "List" && group == "":
		m.addList(where, doc)
	case head.Kind == KindConfigMap && group == "":
		var cm corev1.ConfigMap
		if err := yaml.Unmarshal(doc, &cm); err == nil && cm.Data[LegacyConfigMapKey] == "" && name != DefaultLegacyName {
			m.Skipped = append(m.Skipped, fmt.Sprintf("%s (ConfigMap %s without a %q key)", where, name, LegacyConfigMapKey))
			return
		}
		ld, err := ParseLegacyDocument(doc)
		if err != nil {
			m.problem(KindConfigMap, name, where, err.Error())
			return
		}
		m.addLegacy(where, ld)
	case head.Kind == "Secret" && group == "":
		var s corev1.Secret
		if err := yaml.UnmarshalStrict(doc, &s); err != nil {
			m.problem("Secret", name, where, trimYAMLError(err))
			return
		}
		if len(s.StringData) > 0 {
			if s.Data == nil {
				s.Data = map[string][]byte{}
			}
			for k, v := range s.StringData {
				s.Data[k] = []byte(v)
			}
		}
		m.Input.Secrets = append(m.Input.Secrets, s)
	case group == v1beta1.Group || group == metallbGroup:
		if (group == metallbGroup && version != "v1beta1" && version != "v1beta2") || (group == v1beta1.Group && version != v1beta1.Version) {
			m.problem(head.Kind, name, where, fmt.Sprintf("apiVersion %s is not supported; use %s (MetalLB's metallb.io/v1beta1 and v1beta2 are read too)", head.APIVersion, v1beta1.GroupVersion))
			return
		}
		m.addCR(where, head.Kind, name, doc)
	default:
		m.Skipped = append(m.Skipped, fmt.Sprintf("%s (%s %s)", where, cmp.Or(head.APIVersion, "no apiVersion"), head.Kind))
	}
}

// helmValueKeys are the top-level keys of the chart's values
// (charts/ironlb/values.yaml); legacyKeys those of the legacy
// configuration.
var (
	helmValueKeys = []string{"image", "imagePullSecrets", "crds", "configInline", "ipAddressPools", "l2Advertisements", "controller", "webhook", "speaker"}
	legacyKeys    = []string{"address-pools", "peers", "bgp-communities", "bfd-profiles"}
)

// isHelmValues reports whether a document without kind is a Helm values
// file of the chart (MetalLB's chart has configInline too) rather than a
// bare legacy configuration: it has a chart key and no legacy key.
func isHelmValues(doc map[string]any) bool {
	helm := false
	for k := range doc {
		if slices.Contains(legacyKeys, k) {
			return false
		}
		helm = helm || slices.Contains(helmValueKeys, k)
	}
	return helm
}

// addHelmValues reads the configuration a Helm values file gives the
// chart, as the chart renders it (templates/config.yaml): configInline as
// the legacy ConfigMap "config", ipAddressPools and l2Advertisements
// ({name, spec} items) as CRs in Input.Namespace.
func (m *Manifests) addHelmValues(where string, values map[string]any) {
	found := false
	switch v := values["configInline"].(type) {
	case nil:
	case string:
		if strings.TrimSpace(v) != "" {
			found = true
			m.addLegacy(where+" configInline", LegacyDocument{Namespace: m.Input.Namespace, Name: DefaultLegacyName, Config: v})
		}
	case map[string]any:
		if len(v) > 0 {
			b, err := yaml.Marshal(v)
			if err != nil {
				m.problem(KindConfigMap, DefaultLegacyName, where+" configInline", err.Error())
				return
			}
			found = true
			m.addLegacy(where+" configInline", LegacyDocument{Namespace: m.Input.Namespace, Name: DefaultLegacyName, Config: string(b)})
		}
	default:
		m.problem(KindConfigMap, DefaultLegacyName, where+" configInline", fmt.Sprintf("is a %T; write the legacy configuration as a mapping (address-pools: ...) or a string", v))
	}
	for _, kv := range []struct{ key, kind string }{{"ipAddressPools", KindIPAddressPool}, {"l2Advertisements", KindL2Advertisement}} {
		items, ok := values[kv.key].([]any)
		if values[kv.key] != nil && !ok {
			m.problem(kv.kind, "", where+" "+kv.key, "is not a list of {name, spec} items")
			continue
		}
		for i, raw := range items {
			itemWhere := fmt.Sprintf("%s %s[%d]", where, kv.key, i)
			item, ok := raw.(map[string]any)
			name, _ := item["name"].(string)
			if !ok || name == "" {
				m.problem(kv.kind, "", itemWhere, "each item is {name, spec} with a name")
				continue
			}
			for k := range item {
				if k != "name" && k != "spec" {
					m.problem(kv.kind, name, itemWhere, fmt.Sprintf("unknown key %q; each item is {name, spec}", k))
				}
			}
			spec := item["spec"]
			if spec == nil {
				spec = map[string]any{}
			}
			doc, err := yaml.Marshal(map[string]any{
				"apiVersion": v1beta1.GroupVersion.String(), "kind": kv.kind,
				"metadata": map[string]any{"name": name, "namespace": cmp.Or(m.Input.Namespace, DefaultNamespace)},
				"spec":     spec,
			})
			if err != nil {
				m.problem(kv.kind, name, itemWhere, err.Error())
				continue
			}
			found = true
			m.addCR(itemWhere, kv.kind, name, doc)
		}
	}
	if !found {
		m.Skipped = append(m.Skipped, where+" (Helm values without configInline, ipAddressPools or l2Advertisements)")
	}
}

func (m *Manifests) addList(where string, doc []byte) {
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if err := yaml.Unmarshal(doc, &list); err != nil {
		m.problem("List", "", where, trimYAMLError(err))
		return
	}
	for i, item := range list.Items {
		b, err := yaml.Marshal(item)
		if err != nil {
			m.problem("List", "", where, err.Error())
			continue
		}
		m.addDocument(fmt.Sprintf("%s items[%d]", where, i), b)
	}
}

func (m *Manifests) addLegacy(where string, ld LegacyDocument) {
	if m.Input.Legacy != nil {
		m.problem(KindConfigMap, ld.Name, where, "a second legacy configuration; ironlb reads one (the ConfigMap ironlb-system/config), so validate them one at a time")
		return
	}
	m.Input.Legacy = &LegacySource{Namespace: ld.Namespace, Name: ld.Name, Config: ld.Config}
}

func (m *Manifests) addCR(where, kind, name string, doc []byte) {
	in := &m.Input
	var add func([]byte) error
	switch kind {
	case KindIPAddressPool:
		add = func(b []byte) error { return decodeInto(b, &in.IPAddressPools) }
	case KindL2Advertisement:
		add = func(b []byte) error { return decodeInto(b, &in.L2Advertisements) }
	case KindBGPAdvertisement:
		add = func(b []byte) error { return decodeInto(b, &in.BGPAdvertisements) }
	case KindBGPPeer:
		add = func(b []byte) error { return decodeInto(b, &in.BGPPeers) }
	case KindBFDProfile:
		add = func(b []byte) error { return decodeInto(b, &in.BFDProfiles) }
	case KindCommunity:
		add = func(b []byte) error { return decodeInto(b, &in.Communities) }
	case "AddressPool":
		m.problem(kind, name, where, "AddressPool is MetalLB's removed kind; write an IPAddressPool plus an L2Advertisement or BGPAdvertisement instead")
		return
	default:
		m.Skipped = append(m.Skipped, fmt.Sprintf("%s (%s)", where, kind))
		return
	}
	// What the API server refuses never exists in a cluster: report the
	// API server's errors and leave the object out, as if never applied.
	// What it accepts goes to Build as the API server would store it
	// (unknown fields pruned, defaults set, status dropped), which is what
	// the controller and the webhook see.
	obj, list := m.checkCR(doc)
	if len(list) > 0 {
		for _, p := range list {
			p.Source = where
			m.Problems = append(m.Problems, p)
		}
		return
	}
	stored, err := json.Marshal(obj)
	if err == nil {
		err = add(stored)
	}
	if err != nil {
		m.problem(kind, name, where, err.Error())
		return
	}
	if in.Sources == nil {
		in.Sources = map[ObjectKey]string{}
	}
	in.Sources[ObjectKey{Kind: kind, Name: name}] = where
}

// checkCR judges a CR as the API server would (CheckCR) and returns it as
// the API server would store it. MetalLB's apiVersions are judged as
// ironlb.io/v1beta1, which they become when applied to an ironlb cluster.
func (m *Manifests) checkCR(doc []byte) (map[string]any, []FieldError) {
	obj, err := decodeUnstructured(doc)
	if err != nil {
		return nil, []FieldError{{Kind: "document", Message: err.Error(), Reason: v1beta1.ReasonInvalidSpec}}
	}
	if group, _, _ := strings.Cut(fmt.Sprint(obj["apiVersion"]), "/"); group == metallbGroup {
		obj["apiVersion"] = v1beta1.GroupVersion.String()
	}
	return obj, checkCR(obj, m.Input.Namespace)
}

// decodeInto decodes a document strictly (unknown fields are errors) and
// appends it to list.
func decodeInto[T any](doc []byte, list *[]T) error {
	var v T
	if err := yaml.UnmarshalStrict(doc, &v); err != nil {
		return errors.New(trimYAMLError(err))
	}
	*list = append(*list, v)
	return nil
}

func (m *Manifests) problem(kind, name, where, msg string) {
	m.Problems = append(m.Problems, FieldError{Kind: kind, Name: name, Source: where, Message: msg, Reason: v1beta1.ReasonInvalidSpec})
}

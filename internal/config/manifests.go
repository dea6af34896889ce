package config

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// Manifests gathers configuration from YAML files for offline validation
// (ironlb config validate): ironlb.io CRs (and the same kinds under
// MetalLB's metallb.io/v1beta1 and v1beta2 apiVersions), Secrets, v1 Lists of
// those, and the legacy configuration as a ConfigMap or a bare document.
// Input is ready for Build once every file is added.
type Manifests struct {
	Input Input
	// Problems are documents that could not be read.
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
	var err error
	switch kind {
	case KindIPAddressPool:
		err = decodeInto(doc, &in.IPAddressPools)
	case KindL2Advertisement:
		err = decodeInto(doc, &in.L2Advertisements)
	case KindBGPAdvertisement:
		err = decodeInto(doc, &in.BGPAdvertisements)
	case KindBGPPeer:
		err = decodeInto(doc, &in.BGPPeers)
	case KindBFDProfile:
		err = decodeInto(doc, &in.BFDProfiles)
	case KindCommunity:
		err = decodeInto(doc, &in.Communities)
	case "AddressPool":
		err = errors.New("AddressPool is MetalLB's removed kind; write an IPAddressPool plus an L2Advertisement or BGPAdvertisement instead")
	default:
		m.Skipped = append(m.Skipped, fmt.Sprintf("%s (%s)", where, kind))
		return
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

package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Defaults of the legacy ConfigMap: where ironlb looks for it and which key
// holds the configuration.
const (
	DefaultNamespace     = "ironlb-system"
	DefaultLegacyName    = "config"
	LegacyConfigMapKey   = "config"
	LegacyProtocolLayer2 = "layer2"
	LegacyProtocolBGP    = "bgp"
)

// LegacyConfig is the configuration format of MetalLB v0.10 to v0.12: the
// text under the "config" key of a ConfigMap (Helm's configInline renders
// exactly this). ironlb reads it as a second source next to the CRs. The
// field names and types are MetalLB's, so existing ConfigMaps keep working.
type LegacyConfig struct {
	Peers          []LegacyPeer        `json:"peers,omitempty"`
	BGPCommunities map[string]string   `json:"bgp-communities,omitempty"`
	Pools          []LegacyAddressPool `json:"address-pools,omitempty"`
	BFDProfiles    []LegacyBFDProfile  `json:"bfd-profiles,omitempty"`
}

// LegacyPeer is one entry of "peers": a BGP session to open.
type LegacyPeer struct {
	MyASN         uint32               `json:"my-asn,omitempty"`
	PeerASN       uint32               `json:"peer-asn,omitempty"`
	PeerAddress   string               `json:"peer-address,omitempty"`
	PeerPort      uint16               `json:"peer-port,omitempty"`
	SourceAddress string               `json:"source-address,omitempty"`
	HoldTime      string               `json:"hold-time,omitempty"`
	KeepaliveTime string               `json:"keepalive-time,omitempty"`
	RouterID      string               `json:"router-id,omitempty"`
	Password      string               `json:"password,omitempty"`
	BFDProfile    string               `json:"bfd-profile,omitempty"`
	EBGPMultiHop  bool                 `json:"ebgp-multihop,omitempty"`
	NodeSelectors []LegacyNodeSelector `json:"node-selectors,omitempty"`
}

// LegacyNodeSelector selects nodes by labels; a node matches when it
// matches every label and every expression.
type LegacyNodeSelector struct {
	MatchLabels      map[string]string           `json:"match-labels,omitempty"`
	MatchExpressions []LegacySelectorRequirement `json:"match-expressions,omitempty"`
}

// LegacySelectorRequirement is one label expression: Operator is In,
// NotIn, Exists or DoesNotExist.
type LegacySelectorRequirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// LegacyAddressPool is one entry of "address-pools".
type LegacyAddressPool struct {
	Name          string   `json:"name,omitempty"`
	Protocol      string   `json:"protocol,omitempty"`
	Addresses     []string `json:"addresses,omitempty"`
	AutoAssign    *bool    `json:"auto-assign,omitempty"`
	AvoidBuggyIPs bool     `json:"avoid-buggy-ips,omitempty"`
	// AllowCrossNamespaceSharing is ironlb's: MetalLB's format has no such
	// key (and MetalLB shares across namespaces).
	AllowCrossNamespaceSharing bool                     `json:"allow-cross-namespace-sharing,omitempty"`
	BGPAdvertisements          []LegacyBGPAdvertisement `json:"bgp-advertisements,omitempty"`
}

// LegacyBGPAdvertisement is one entry of a bgp pool's "bgp-advertisements".
type LegacyBGPAdvertisement struct {
	AggregationLength   *int32   `json:"aggregation-length,omitempty"`
	AggregationLengthV6 *int32   `json:"aggregation-length-v6,omitempty"`
	LocalPref           *uint32  `json:"localpref,omitempty"`
	Communities         []string `json:"communities,omitempty"`
}

// LegacyBFDProfile is one entry of "bfd-profiles". Intervals are in
// milliseconds.
type LegacyBFDProfile struct {
	Name             string  `json:"name,omitempty"`
	ReceiveInterval  *uint32 `json:"receive-interval,omitempty"`
	TransmitInterval *uint32 `json:"transmit-interval,omitempty"`
	DetectMultiplier *uint32 `json:"detect-multiplier,omitempty"`
	EchoInterval     *uint32 `json:"echo-interval,omitempty"`
	EchoMode         *bool   `json:"echo-mode,omitempty"`
	PassiveMode      *bool   `json:"passive-mode,omitempty"`
	MinimumTTL       *uint32 `json:"minimum-ttl,omitempty"`
}

// LegacyParseError is a problem that keeps a legacy document from parsing:
// an unknown key, a value of the wrong type, or broken YAML. Field is the
// path of the problem ("address-pools[1].adresses"), empty for YAML syntax.
type LegacyParseError struct {
	Field   string
	Message string
}

func (e *LegacyParseError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// ParseLegacy parses the legacy configuration text strictly: unknown keys,
// duplicate keys and values of the wrong type are errors, as they were in
// MetalLB. It checks the shape only; Build checks the values. The error, if
// any, joins one *LegacyParseError per problem (errors.Join).
func ParseLegacy(text []byte) (LegacyConfig, error) {
	var cfg LegacyConfig
	var generic any
	if err := yaml.Unmarshal(text, &generic); err != nil {
		return cfg, &LegacyParseError{Message: "not valid YAML: " + trimYAMLError(err)}
	}
	var errs []error
	checkKeys(generic, reflect.TypeFor[LegacyConfig](), "", &errs)
	if len(errs) > 0 {
		return LegacyConfig{}, errors.Join(errs...)
	}
	if err := yaml.UnmarshalStrict(text, &cfg); err != nil {
		return LegacyConfig{}, legacyTypeError(err)
	}
	return cfg, nil
}

// LegacyDocument is a legacy configuration as found in a file: either a
// whole ConfigMap (Namespace and Name set) or the bare configuration text.
type LegacyDocument struct {
	Namespace string
	Name      string
	Config    string
}

// ParseLegacyDocument accepts a ConfigMap manifest holding the legacy
// configuration under data.config, or the bare configuration document
// itself (a mapping with address-pools, peers, bgp-communities or
// bfd-profiles). It extracts the text; ParseLegacy parses it.
func ParseLegacyDocument(doc []byte) (LegacyDocument, error) {
	var head struct {
		Kind string `json:"kind"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return LegacyDocument{}, &LegacyParseError{Message: "not valid YAML: " + trimYAMLError(err)}
	}
	if head.Kind == "" {
		return LegacyDocument{Config: string(doc)}, nil
	}
	if head.Kind != "ConfigMap" {
		return LegacyDocument{}, &LegacyParseError{Field: "kind", Message: fmt.Sprintf("%q is not a ConfigMap; the legacy configuration is a ConfigMap with the key data.%s", head.Kind, LegacyConfigMapKey)}
	}
	var cm corev1.ConfigMap
	if err := yaml.Unmarshal(doc, &cm); err != nil {
		return LegacyDocument{}, &LegacyParseError{Message: "not a valid ConfigMap: " + trimYAMLError(err)}
	}
	text, ok := cm.Data[LegacyConfigMapKey]
	if !ok {
		keys := make([]string, 0, len(cm.Data))
		for k := range cm.Data {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return LegacyDocument{}, &LegacyParseError{Field: "data", Message: fmt.Sprintf("ConfigMap %s/%s has no key %q (it has %v); ironlb reads the legacy configuration from data.%s", cm.Namespace, cm.Name, LegacyConfigMapKey, keys, LegacyConfigMapKey)}
	}
	return LegacyDocument{Namespace: cm.Namespace, Name: cm.Name, Config: text}, nil
}

// checkKeys walks a generic YAML value next to the Go type it will be
// decoded into and reports every mapping key that type does not have,
// listing the valid ones. Wrong value types are left to the decoder.
func checkKeys(v any, t reflect.Type, path string, errs *[]error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			fields[name] = f.Type
			names = append(names, name)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			ft, ok := fields[k]
			if !ok {
				*errs = append(*errs, &LegacyParseError{Field: joinPath(path, k), Message: fmt.Sprintf("unknown key %q; valid keys here are %s", k, strings.Join(names, ", "))})
				continue
			}
			checkKeys(m[k], ft, joinPath(path, k), errs)
		}
	case reflect.Slice:
		s, ok := v.([]any)
		if !ok {
			return
		}
		for i, e := range s {
			checkKeys(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// legacyTypeError turns a decoding error into a LegacyParseError naming the
// field and the expected type.
func legacyTypeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return &LegacyParseError{Field: te.Field, Message: fmt.Sprintf("a %s cannot go here; this key takes %s", te.Value, describeType(te.Type))}
	}
	return &LegacyParseError{Message: trimYAMLError(err)}
}

func describeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Uint16:
		return "a whole number from 0 to 65535"
	case reflect.Uint32:
		return "a whole number from 0 to 4294967295"
	case reflect.Int32:
		return "a whole number"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return t.String()
}

// trimYAMLError drops the decoder's layered prefixes, which name Go
// internals rather than the user's document.
func trimYAMLError(err error) string {
	s := err.Error()
	for _, p := range []string{"error converting YAML to JSON: ", "error unmarshaling JSON: ", "while decoding JSON: ", "json: "} {
		s = strings.ReplaceAll(s, p, "")
	}
	return s
}

// Package crdfields lists the fields a CustomResourceDefinition's schema
// accepts, as dotted paths ("spec.nodeSelectors[]", "status.assignedIPv4"),
// so two APIs can be compared field by field: docs/metallb-fields.md keeps
// MetalLB v0.16.2's fields with their ironlb status, and a test compares
// that table with both APIs' generated CRDs.
package crdfields

import (
	"fmt"
	"maps"
	"slices"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// Kind is one CRD's fields, in the version that is stored.
type Kind struct {
	Group   string
	Kind    string
	Version string
	// Fields are the paths under spec and status, sorted. A label
	// selector and a map (a string-keyed object with any keys) are one
	// field each: their inner keys are Kubernetes', not the API's.
	Fields []string
}

// Read returns the fields of the CRD in data (YAML or JSON), in its
// storage version.
func Read(data []byte) (Kind, error) {
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(data, &crd); err != nil {
		return Kind{}, fmt.Errorf("reading a CustomResourceDefinition: %w", err)
	}
	for _, v := range crd.Spec.Versions {
		if !v.Storage {
			continue
		}
		out := Kind{Group: crd.Spec.Group, Kind: crd.Spec.Names.Kind, Version: v.Name}
		if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			return out, fmt.Errorf("CRD %s: version %s has no schema", crd.Name, v.Name)
		}
		root := v.Schema.OpenAPIV3Schema.Properties
		for _, top := range []string{"spec", "status"} {
			if p, ok := root[top]; ok {
				walk(top, &p, &out.Fields)
			}
		}
		slices.Sort(out.Fields)
		return out, nil
	}
	return Kind{}, fmt.Errorf("CRD %s: no storage version", crd.Name)
}

// walk appends the paths below path.
func walk(path string, s *apiextensionsv1.JSONSchemaProps, out *[]string) {
	switch {
	case s.Type == "array" && s.Items != nil && s.Items.Schema != nil:
		walk(path+"[]", s.Items.Schema, out)
	case len(s.Properties) > 0 && !isLabelSelector(s):
		for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
			p := s.Properties[name]
			walk(path+"."+name, &p, out)
		}
	default:
		*out = append(*out, path)
	}
}

// isLabelSelector reports whether s is a metav1.LabelSelector.
func isLabelSelector(s *apiextensionsv1.JSONSchemaProps) bool {
	_, exprs := s.Properties["matchExpressions"]
	_, labels := s.Properties["matchLabels"]
	return len(s.Properties) == 2 && exprs && labels
}

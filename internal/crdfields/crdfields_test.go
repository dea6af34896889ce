package crdfields

import (
	"slices"
	"testing"
)

func TestRead(t *testing.T) {
	crd := `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.io}
spec:
  group: example.io
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1alpha1
    served: true
    storage: false
    schema:
      openAPIV3Schema: {type: object, properties: {spec: {type: object, properties: {old: {type: string}}}}}
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              tags: {type: object, additionalProperties: {type: string}}
              nodeSelectors:
                type: array
                items:
                  type: object
                  properties:
                    matchLabels: {type: object, additionalProperties: {type: string}}
                    matchExpressions: {type: array, items: {type: object, properties: {key: {type: string}}}}
              parts:
                type: array
                items: {type: object, properties: {name: {type: string}, weight: {type: integer}}}
          status:
            type: object
            properties:
              count: {type: integer}
`
	k, err := Read([]byte(crd))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"spec.nodeSelectors[]", "spec.parts[].name", "spec.parts[].weight", "spec.size", "spec.tags", "status.count"}
	if k.Kind != "Widget" || k.Version != "v1" || k.Group != "example.io" || !slices.Equal(k.Fields, want) {
		t.Errorf("Read = %+v, want fields %v", k, want)
	}
	if _, err := Read([]byte("kind: [")); err == nil {
		t.Error("Read of bad YAML: nil error")
	}
}

/*
Copyright The ironlb Authors.

Licensed under the Apache License, Version 2.0.
*/

package v1beta1_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// crdDir is where `make generate` writes the CRDs, relative to this package.
const crdDir = "../../config/crd/bases"

// loadedCRD is one generated CRD in the forms the tests need.
type loadedCRD struct {
	file     string
	v1       *apiextensionsv1.CustomResourceDefinition
	internal *apiextensions.CustomResourceDefinition
}

// loadCRDs reads every CRD YAML in crdDir, strictly (an unknown field is an
// error), keyed by kind.
func loadCRDs(t *testing.T) map[string]loadedCRD {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(crdDir, "*.yaml"))
	if err != nil {
		t.Fatalf("glob %s: %v", crdDir, err)
	}
	if len(files) == 0 {
		t.Fatalf("no CRD YAML in %s: run make generate", crdDir)
	}
	crds := make(map[string]loadedCRD, len(files))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("read %s: %v", f, err)
		}
		var v1 apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(data, &v1); err != nil {
			t.Fatalf("%s: not a CustomResourceDefinition: %v", f, err)
		}
		var internal apiextensions.CustomResourceDefinition
		if err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(&v1, &internal, nil); err != nil {
			t.Fatalf("%s: convert to the internal CRD type: %v", f, err)
		}
		if _, dup := crds[v1.Spec.Names.Kind]; dup {
			t.Fatalf("%s: kind %s defined twice", f, v1.Spec.Names.Kind)
		}
		crds[v1.Spec.Names.Kind] = loadedCRD{file: filepath.Base(f), v1: &v1, internal: &internal}
	}
	return crds
}

// schema returns the CRD's only version's OpenAPI schema. The internal CRD
// type keeps a schema shared by all versions in spec.validation, so look
// there too.
func (c loadedCRD) schema(t *testing.T) *apiextensions.JSONSchemaProps {
	t.Helper()
	if len(c.internal.Spec.Versions) != 1 {
		t.Fatalf("%s: want exactly one version, got %d", c.file, len(c.internal.Spec.Versions))
	}
	if v := c.internal.Spec.Versions[0]; v.Schema != nil && v.Schema.OpenAPIV3Schema != nil {
		return v.Schema.OpenAPIV3Schema
	}
	if c.internal.Spec.Validation == nil || c.internal.Spec.Validation.OpenAPIV3Schema == nil {
		t.Fatalf("%s: no OpenAPI schema", c.file)
	}
	return c.internal.Spec.Validation.OpenAPIV3Schema
}

// objectValidator checks a custom resource the way the API server does on
// create and update: apply schema defaults, validate against the OpenAPI
// schema and the list types (duplicates in sets and map keys), then run the
// CEL rules.
type objectValidator struct {
	structural *structuralschema.Structural
	openAPI    apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

func newObjectValidator(t *testing.T, crd loadedCRD) *objectValidator {
	t.Helper()
	props := crd.schema(t)
	structural, err := structuralschema.NewStructural(props)
	if err != nil {
		t.Fatalf("%s: structural schema: %v", crd.file, err)
	}
	openAPI, _, err := apiservervalidation.NewSchemaValidator(props)
	if err != nil {
		t.Fatalf("%s: OpenAPI validator: %v", crd.file, err)
	}
	return &objectValidator{
		structural: structural,
		openAPI:    openAPI,
		cel:        cel.NewValidator(structural, true, celconfig.PerCallLimit),
	}
}

// decode turns YAML into the untyped form the API server validates (JSON
// numbers as int64 where they are integers).
func decode(t *testing.T, doc string) map[string]any {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatalf("YAML to JSON: %v\n%s", err, doc)
	}
	var obj map[string]any
	if err := utiljson.Unmarshal(js, &obj); err != nil {
		t.Fatalf("decode JSON: %v\n%s", err, js)
	}
	return obj
}

// validate defaults obj in place and returns every error the API server would
// report when creating it (old == nil) or updating old to obj.
func (v *objectValidator) validate(obj, old map[string]any) field.ErrorList {
	structuraldefaulting.Default(obj, v.structural)
	var errs field.ErrorList
	if old == nil {
		errs = apiservervalidation.ValidateCustomResource(nil, obj, v.openAPI)
	} else {
		errs = apiservervalidation.ValidateCustomResourceUpdate(nil, obj, old, v.openAPI)
	}
	var oldObj any
	if old != nil {
		oldObj = old
	}
	errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, v.structural, obj)...)
	celErrs, _ := v.cel.Validate(context.Background(), nil, v.structural, obj, oldObj, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...)
}

// errorText joins the errors as the API server would print them.
func errorText(errs field.ErrorList) string {
	if len(errs) == 0 {
		return ""
	}
	return errs.ToAggregate().Error()
}

// ruleCase is one object to validate and what should come of it.
type ruleCase struct {
	name string
	// spec is the YAML of the object's spec (or status, see below),
	// indented as a mapping.
	spec string
	// want lists substrings every one of which the error text must contain;
	// empty means the object must be accepted.
	want []string
}

// runRuleCases validates one object per case, built as kind with the given
// top-level field (spec or status) set to the case's YAML.
func runRuleCases(t *testing.T, kind, topField string, cases []ruleCase) {
	t.Helper()
	crds := loadCRDs(t)
	crd, ok := crds[kind]
	if !ok {
		t.Fatalf("no CRD for kind %s", kind)
	}
	v := newObjectValidator(t, crd)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := decode(t, objectYAML(kind, topField, tc.spec))
			got := errorText(v.validate(obj, nil))
			if len(tc.want) == 0 {
				if got != "" {
					t.Fatalf("want accepted, got: %s", got)
				}
				return
			}
			if got == "" {
				t.Fatalf("want rejected with %q, got accepted", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("error does not mention %q:\n%s", w, got)
				}
			}
		})
	}
}

// objectYAML builds a complete object of kind around body.
func objectYAML(kind, topField, body string) string {
	var b strings.Builder
	b.WriteString("apiVersion: ironlb.io/v1beta1\nkind: " + kind + "\n")
	b.WriteString("metadata:\n  name: sample\n  namespace: ironlb-system\n")
	if strings.TrimSpace(body) == "" {
		b.WriteString(topField + ": {}\n")
		return b.String()
	}
	b.WriteString(topField + ":\n")
	for _, line := range strings.Split(strings.Trim(body, "\n"), "\n") {
		b.WriteString("  " + line + "\n")
	}
	return b.String()
}

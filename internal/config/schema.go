package config

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/api/operation"
	"k8s.io/apimachinery/pkg/api/validate/content"
	metavalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/features"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"sigs.k8s.io/yaml"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/config/crd"
)

// CheckCR judges one ironlb custom resource, given as YAML or JSON, the way
// an API server with ironlb's CRDs (config/crd/bases, embedded in the
// binary) judges it on create with strict field validation (kubectl's
// default). It returns nil when the API server would store the object, and
// otherwise the API server's errors as FieldErrors (Kind, Name, Field,
// Value, Message; Source is left to the caller).
//
// It runs the API server's own code from k8s.io/apiextensions-apiserver,
// driven by the generated CRDs, in the API server's order: unknown fields
// (strict decoding, which ends the check as it ends the request), schema
// defaults, the metadata rules (name, labels, ...), the OpenAPI schema
// (types, required fields, limits, enums), the list types (a repeated entry
// of a set, a repeated key of a map) and the CEL rules. An object whose
// metadata names no namespace is judged as if created in namespace
// (DefaultNamespace when empty), as kubectl sends it.
//
// The rules that need other objects (overlaps, references) are not the API
// server's; Build checks them.
func CheckCR(doc []byte, namespace string) []FieldError {
	obj, err := decodeUnstructured(doc)
	if err != nil {
		return []FieldError{{Kind: "document", Message: err.Error(), Reason: v1beta1.ReasonInvalidSpec}}
	}
	return checkCR(obj, namespace)
}

// decodeUnstructured decodes YAML or JSON into the form the API server
// validates: JSON types, whole numbers as int64.
func decodeUnstructured(doc []byte) (map[string]any, error) {
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return nil, fmt.Errorf("not valid YAML: %s", trimYAMLError(err))
	}
	var obj map[string]any
	if err := utiljson.Unmarshal(js, &obj); err != nil {
		return nil, fmt.Errorf("not a mapping: %s", trimYAMLError(err))
	}
	if obj == nil {
		return nil, fmt.Errorf("empty document")
	}
	return obj, nil
}

// unstructuredOf turns a typed object into the form CheckCR judges, as
// written by `ironlb config convert`: no status, no creationTimestamp.
func unstructuredOf(o any) (map[string]any, error) {
	b, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := utiljson.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	return m, nil
}

// crdSchema is what the API server derives from one CRD to serve its only
// version.
type crdSchema struct {
	gvk        schema.GroupVersionKind
	namespaced bool
	status     bool // the status subresource is on: create drops status
	structural *structuralschema.Structural
	openAPI    apiservervalidation.SchemaValidator
	cel        *cel.Validator // nil when the schema has no CEL rules
}

// crdSchemas loads the embedded CRDs once, keyed by kind. Compiling the CEL
// rules takes a moment, so it waits for the first CheckCR: the controller
// and the speaker never pay for it.
var crdSchemas = sync.OnceValues(func() (map[string]*crdSchema, error) {
	files, err := fs.Glob(crd.Bases, "bases/*.yaml")
	if err != nil {
		return nil, err
	}
	out := map[string]*crdSchema{}
	for _, f := range files {
		data, err := crd.Bases.ReadFile(f)
		if err != nil {
			return nil, err
		}
		s, err := loadCRDSchema(data)
		if err != nil {
			return nil, fmt.Errorf("embedded CRD %s: %w", f, err)
		}
		out[s.gvk.Kind] = s
	}
	return out, nil
})

// loadCRDSchema prepares a CRD's schema as the API server's CRD handler
// does: the CRD defaulted as on its own create, the internal schema, the
// structural schema with defaults pruned, the OpenAPI validator and the CEL
// validator.
func loadCRDSchema(data []byte) (*crdSchema, error) {
	var c apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, err
	}
	apiextensionsv1.SetObjectDefaults_CustomResourceDefinition(&c)
	if len(c.Spec.Versions) != 1 || c.Spec.Versions[0].Schema == nil {
		return nil, fmt.Errorf("want one version with a schema, got %d versions", len(c.Spec.Versions))
	}
	v := c.Spec.Versions[0]
	var internal apiextensions.CustomResourceValidation
	if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(v.Schema, &internal, nil); err != nil {
		return nil, err
	}
	s, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
	if err != nil {
		return nil, err
	}
	s = s.DeepCopy()
	if err := structuraldefaulting.PruneDefaults(s); err != nil {
		return nil, err
	}
	openAPI, _, err := apiservervalidation.NewSchemaValidator(internal.OpenAPIV3Schema)
	if err != nil {
		return nil, err
	}
	return &crdSchema{
		gvk:        schema.GroupVersionKind{Group: c.Spec.Group, Version: v.Name, Kind: c.Spec.Names.Kind},
		namespaced: c.Spec.Scope == apiextensionsv1.NamespaceScoped,
		status:     v.Subresources != nil && v.Subresources.Status != nil,
		structural: s,
		openAPI:    openAPI,
		cel:        cel.NewValidator(s, true, celconfig.PerCallLimit),
	}, nil
}

// checkCR judges obj and, when the API server would accept it, leaves it
// as the API server would store it: unknown fields pruned (none, or it is
// refused), defaults set, the namespace filled in, status dropped.
func checkCR(obj map[string]any, namespace string) []FieldError {
	u := &unstructured.Unstructured{Object: obj}
	kind, name := u.GetKind(), u.GetName()
	toFieldErrors := func(errs field.ErrorList) []FieldError {
		out := make([]FieldError, 0, len(errs))
		for _, e := range errs {
			out = append(out, schemaFieldError(kind, name, obj, e))
		}
		return out
	}
	schemas, err := crdSchemas()
	if err != nil {
		return []FieldError{{Kind: kind, Name: name, Message: "cannot check against the CRDs: " + err.Error(), Reason: v1beta1.ReasonInvalidSpec}}
	}
	s, ok := schemas[kind]
	if !ok || u.GroupVersionKind().Group != s.gvk.Group {
		return []FieldError{{Kind: kind, Name: name, Field: "kind", Value: kind, Message: fmt.Sprintf("%s/%s is not a kind of %s", u.GetAPIVersion(), kind, v1beta1.GroupVersion), Reason: v1beta1.ReasonInvalidSpec}}
	}

	// Decoding, as the CRD handler's schema-coercing decoder does it under
	// strict field validation: an unknown field fails the request before
	// any validation.
	unknown, err := coerce(obj, s)
	if err != nil {
		return []FieldError{{Kind: kind, Name: name, Message: "cannot decode: " + err.Error(), Reason: v1beta1.ReasonInvalidSpec}}
	}
	if len(unknown) > 0 {
		out := make([]FieldError, 0, len(unknown))
		for _, path := range unknown {
			out = append(out, FieldError{Kind: kind, Name: name, Field: path, Message: unknownFieldMessage(s.structural, path), Reason: v1beta1.ReasonInvalidSpec})
		}
		return out
	}
	structuraldefaulting.Default(obj, s.structural)
	// The conversion to the storage version (the same one) coerces again.
	if _, err := coerce(obj, s); err != nil {
		return []FieldError{{Kind: kind, Name: name, Message: "cannot decode: " + err.Error(), Reason: v1beta1.ReasonInvalidSpec}}
	}

	// rest.BeforeCreate: the namespace of the request, a generated name,
	// then the strategy's PrepareForCreate.
	if s.namespaced && u.GetNamespace() == "" {
		u.SetNamespace(cmp.Or(namespace, DefaultNamespace))
	}
	if u.GetName() == "" && u.GetGenerateName() != "" {
		u.SetName(u.GetGenerateName() + "x2x2x") // five characters, as the name generator adds
	}
	if s.status {
		delete(obj, "status")
	}
	u.SetGeneration(1)

	errs := validateCreate(u, s)
	return toFieldErrors(errs)
}

// coerce prunes unknown fields and checks ObjectMeta as the API server's
// schema-coercing decoder does, and returns the paths of the unknown fields.
func coerce(obj map[string]any, s *crdSchema) ([]string, error) {
	u := &unstructured.Unstructured{Object: obj}
	kind, foundKind, err := unstructured.NestedString(obj, "kind")
	if err != nil {
		return nil, err
	}
	apiVersion, foundAPIVersion, err := unstructured.NestedString(obj, "apiVersion")
	if err != nil {
		return nil, err
	}
	meta, foundMeta, unknown, err := schemaobjectmeta.GetObjectMetaWithOptions(obj, schemaobjectmeta.ObjectMetaOptions{ReturnUnknownFieldPaths: true})
	if err != nil {
		return nil, err
	}
	structuralPaths := structuralpruning.PruneWithOptions(obj, s.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	unknown = append(unknown, structuralPaths...)
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(obj, s.structural)
	ferr, paths := schemaobjectmeta.CoerceWithOptions(nil, obj, s.structural, false, schemaobjectmeta.CoerceOptions{ReturnUnknownFieldPaths: true})
	if ferr != nil {
		return nil, ferr
	}
	unknown = append(unknown, paths...)
	if foundKind {
		u.SetKind(kind)
	}
	if foundAPIVersion {
		u.SetAPIVersion(apiVersion)
	}
	if foundMeta {
		if err := schemaobjectmeta.SetObjectMeta(obj, meta); err != nil {
			return nil, err
		}
	}
	return unknown, nil
}

// validateCreate is rest.ValidateCreate with the custom resource strategy's
// Validate: type and object metadata, OpenAPI schema, embedded resources,
// list types, then CEL unless an earlier error makes the rules meaningless;
// when all of that passes, the generic object metadata rules.
func validateCreate(u *unstructured.Unstructured, s *crdSchema) field.ErrorList {
	ctx := context.Background()
	var errs field.ErrorList
	if u.GetKind() != s.gvk.Kind {
		errs = append(errs, field.Invalid(field.NewPath("kind"), u.GetKind(), "must be "+s.gvk.Kind))
	}
	if want := s.gvk.GroupVersion().String(); u.GetAPIVersion() != want {
		errs = append(errs, field.Invalid(field.NewPath("apiVersion"), u.GetAPIVersion(), "must be "+want))
	}
	if len(errs) > 0 {
		return errs
	}
	// Each stage walks maps, so its errors come in no fixed order: sort
	// them by field, so that a file always gives the same report.
	meta, metaErrs := objectMetaOf(u)
	if len(metaErrs) == 0 {
		metaErrs = metavalidation.ValidateObjectMetaDeclaratively(ctx, operation.Create, meta, nil, s.namespaced,
			metavalidation.NameIsDNSSubdomain, field.NewPath("metadata"), utilfeature.DefaultFeatureGate.Enabled(features.DeclarativeValidationBeta))
	}
	errs = append(errs, byField(metaErrs)...)
	errs = append(errs, byField(apiservervalidation.ValidateCustomResource(nil, u.Object, s.openAPI))...)
	errs = append(errs, byField(schemaobjectmeta.Validate(ctx, nil, u.Object, s.structural, false))...)
	errs = append(errs, byField(structurallisttype.ValidateListSetsAndMaps(nil, s.structural, u.Object))...)
	if s.cel != nil {
		if blocking(errs) {
			errs = append(errs, field.Invalid(nil, nil, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"))
		} else {
			celErrs, _ := s.cel.Validate(ctx, nil, s.structural, u.Object, nil, celconfig.RuntimeCELCostBudget)
			errs = append(errs, byField(celErrs)...)
		}
	}
	if len(errs) == 0 {
		errs = metavalidation.ValidateObjectMetaAccessor(u, s.namespaced, func(name string, prefix bool) []string {
			if prefix {
				return content.IsPathSegmentPrefix(name)
			}
			return content.IsPathSegmentName(name)
		}, field.NewPath("metadata"))
	}
	return errs
}

func byField(errs field.ErrorList) field.ErrorList {
	slices.SortStableFunc(errs, func(a, b *field.Error) int { return strings.Compare(a.Field, b.Field) })
	return errs
}

// blocking reports whether errs hold an error after which the API server
// skips the CEL rules: a wrong type, a missing required field, a value not
// in an enum, or a string or list over its limit.
func blocking(errs field.ErrorList) bool {
	for _, e := range errs {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return true
		}
	}
	return false
}

func objectMetaOf(u *unstructured.Unstructured) (*metav1.ObjectMeta, field.ErrorList) {
	raw, ok := u.Object["metadata"]
	if !ok || raw == nil {
		return &metav1.ObjectMeta{}, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, field.ErrorList{field.Invalid(field.NewPath("metadata"), raw, fmt.Sprintf("expected map[string]interface{}, got %T", raw))}
	}
	meta := &metav1.ObjectMeta{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, meta); err != nil {
		return nil, field.ErrorList{field.Invalid(field.NewPath("metadata"), raw, err.Error())}
	}
	return meta, nil
}

// schemaFieldError turns one of the API server's errors into a FieldError:
// the value is read from the object where the error points (CEL errors
// carry the value's type, not the value), the message keeps the API
// server's wording.
func schemaFieldError(kind, name string, obj map[string]any, e *field.Error) FieldError {
	fe := FieldError{Kind: kind, Name: name, Field: e.Field, Reason: v1beta1.ReasonInvalidSpec}
	if fe.Field == "<nil>" {
		fe.Field = ""
	}
	if v, ok := valueAt(obj, fe.Field); ok {
		fe.Value = scalarText(v)
	} else if e.Type != field.ErrorTypeDuplicate {
		fe.Value = scalarText(e.BadValue)
	}
	switch e.Type {
	case field.ErrorTypeInvalid:
		fe.Message = cmp.Or(e.Detail, "Invalid value")
	case field.ErrorTypeDuplicate:
		if keys, ok := e.BadValue.(map[string]any); ok && len(keys) > 0 {
			var kv []string
			for k, v := range keys {
				kv = append(kv, fmt.Sprintf("%s %q", k, scalarText(v)))
			}
			slices.Sort(kv)
			fe.Value = ""
			fe.Message = fmt.Sprintf("Duplicate value: an earlier entry has the same %s; each entry of this list needs its own", strings.Join(kv, " and "))
		} else {
			fe.Message = "Duplicate value: this list is a set; list each value once"
		}
	default:
		fe.Message = e.Type.String()
		if e.Detail != "" {
			fe.Message += ": " + e.Detail
		}
	}
	return fe
}

// scalarText writes a string, number or boolean as text; other values
// (lists, mappings, nothing) give "".
func scalarText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case int:
		return strconv.Itoa(v)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return ""
}

// valueAt returns the value at a field path such as
// "spec.addresses[1]" or "metadata.labels[app]".
func valueAt(obj map[string]any, path string) (any, bool) {
	if path == "" {
		return nil, false
	}
	var cur any = obj
	for path != "" {
		var key string
		switch path[0] {
		case '[':
			end := strings.IndexByte(path, ']')
			if end < 0 {
				return nil, false
			}
			key, path = path[1:end], path[end+1:]
			switch c := cur.(type) {
			case []any:
				i, err := strconv.Atoi(key)
				if err != nil || i < 0 || i >= len(c) {
					return nil, false
				}
				cur = c[i]
			case map[string]any:
				v, ok := c[key]
				if !ok {
					return nil, false
				}
				cur = v
			default:
				return nil, false
			}
			continue
		case '.':
			path = path[1:]
			continue
		}
		end := strings.IndexAny(path, ".[")
		if end < 0 {
			end = len(path)
		}
		key, path = path[:end], path[end:]
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[key]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// unknownFieldMessage says that the field at path is unknown and, when the
// schema says, which fields are valid there.
func unknownFieldMessage(s *structuralschema.Structural, path string) string {
	parent := ""
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		parent = path[:i]
	}
	node := s
	for _, part := range strings.FieldsFunc(parent, func(r rune) bool { return r == '.' || r == '[' }) {
		if strings.HasSuffix(part, "]") {
			if node.Items == nil {
				return "unknown field"
			}
			node = node.Items
			continue
		}
		next, ok := node.Properties[part]
		if !ok {
			return "unknown field"
		}
		node = &next
	}
	if len(node.Properties) == 0 {
		return "unknown field"
	}
	names := make([]string, 0, len(node.Properties))
	for n := range node.Properties {
		names = append(names, n)
	}
	slices.Sort(names)
	return "unknown field; valid fields here are " + strings.Join(names, ", ")
}

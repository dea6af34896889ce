/*
Copyright The ironlb Authors.

Licensed under the Apache License, Version 2.0.
*/

package v1beta1_test

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel/model"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/version"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/cel/environment"

	ironlbv1beta1 "github.com/ironlb/ironlb/api/v1beta1"
)

// oldestKubernetes is the oldest Kubernetes minor release whose API server
// must accept ironlb's CRDs. CRDs are compiled there with the CEL
// environment of the previous minor (its compatibility version), and the IP
// and CIDR libraries the address rules use arrived in the 1.30 environment.
var oldestKubernetes = version.MajorMinor(1, 31)

// TestCRDsAreAcceptedByTheAPIServer runs the API server's own validation of a
// CustomResourceDefinition on each generated CRD: structural schema, defaults,
// list types, printer columns, and every CEL rule compiled with its cost
// estimated against the per-rule and per-CRD budgets. A CRD that fails here
// would be refused by kubectl apply.
func TestCRDsAreAcceptedByTheAPIServer(t *testing.T) {
	for kind, crd := range loadCRDs(t) {
		t.Run(kind, func(t *testing.T) {
			c := crd.internal.DeepCopy()
			// The API server fills storedVersions itself on create.
			c.Status.StoredVersions = []string{ironlbv1beta1.Version}
			if errs := validation.ValidateCustomResourceDefinition(context.Background(), c); len(errs) > 0 {
				t.Fatalf("%s is invalid:\n%s", crd.file, strings.ReplaceAll(errorText(errs), ", ", "\n"))
			}
		})
	}
}

// TestCRDRulesCompileOnOldestKubernetes compiles every x-kubernetes-validations
// rule with the CEL environment of the oldest supported API server, so a
// rule using a newer library fails here rather than at install time. It also
// reports each rule's estimated cost, which must stay within the per-call
// limit.
func TestCRDRulesCompileOnOldestKubernetes(t *testing.T) {
	compat := version.MajorMinor(oldestKubernetes.Major(), oldestKubernetes.Minor()-1)
	envSet := environment.MustBaseEnvSet(compat)
	for kind, crd := range loadCRDs(t) {
		t.Run(kind, func(t *testing.T) {
			s, err := structuralschema.NewStructural(crd.schema(t))
			if err != nil {
				t.Fatalf("%s: structural schema: %v", crd.file, err)
			}
			rules := 0
			walkStructural(s, "", true, func(path string, node *structuralschema.Structural, root bool) {
				if len(node.XValidations) == 0 {
					return
				}
				results, err := cel.Compile(node, model.SchemaDeclType(node, root), celconfig.PerCallLimit, envSet, cel.NewExpressionsEnvLoader())
				if err != nil {
					t.Errorf("%s %s: compile: %v", crd.file, path, err)
					return
				}
				for i, r := range results {
					rules++
					rule := node.XValidations[i].Rule
					if r.Error != nil {
						t.Errorf("%s %s: rule %q: %v", crd.file, path, rule, r.Error)
					}
					if r.MessageExpressionError != nil {
						t.Errorf("%s %s: messageExpression of rule %q: %v", crd.file, path, rule, r.MessageExpressionError)
					}
					if r.MaxCost > celconfig.PerCallLimit {
						t.Errorf("%s %s: rule %q costs up to %d, over the per-call limit %d", crd.file, path, rule, r.MaxCost, celconfig.PerCallLimit)
					}
					t.Logf("%s: cost %d (message %d), cardinality %d", path, r.MaxCost, r.MessageExpressionMaxCost, r.MaxCardinality)
				}
			})
			t.Logf("%s: %d rules", crd.file, rules)
		})
	}
}

// walkStructural calls fn on node and every schema below it, depth first,
// with a JSON-path-like location.
func walkStructural(node *structuralschema.Structural, path string, root bool, fn func(string, *structuralschema.Structural, bool)) {
	if node == nil {
		return
	}
	fn(path, node, root)
	names := make([]string, 0, len(node.Properties))
	for name := range node.Properties {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		prop := node.Properties[name]
		walkStructural(&prop, path+"."+name, false, fn)
	}
	walkStructural(node.Items, path+"[*]", false, fn)
	if node.AdditionalProperties != nil {
		walkStructural(node.AdditionalProperties.Structural, path+"{*}", false, fn)
	}
}

// TestCRDsMatchTheScheme checks that every kind registered by AddToScheme has
// a generated CRD of the right group, version and scope, and the other way
// round, so a type added without running make generate is caught.
func TestCRDsMatchTheScheme(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := ironlbv1beta1.AddToScheme(scheme); err != nil {
		t.Fatalf("AddToScheme: %v", err)
	}
	var schemeKinds []string
	for kind := range scheme.KnownTypes(ironlbv1beta1.GroupVersion) {
		if strings.HasSuffix(kind, "List") || isMetaKind(kind) {
			continue
		}
		schemeKinds = append(schemeKinds, kind)
	}
	sort.Strings(schemeKinds)

	crds := loadCRDs(t)
	var crdKinds []string
	for kind, crd := range crds {
		crdKinds = append(crdKinds, kind)
		spec := crd.v1.Spec
		if spec.Group != ironlbv1beta1.Group {
			t.Errorf("%s: group %q, want %q", crd.file, spec.Group, ironlbv1beta1.Group)
		}
		if spec.Scope != "Namespaced" {
			t.Errorf("%s: scope %q, want Namespaced", crd.file, spec.Scope)
		}
		if len(spec.Versions) != 1 || spec.Versions[0].Name != ironlbv1beta1.Version || !spec.Versions[0].Served || !spec.Versions[0].Storage {
			t.Errorf("%s: want one served, stored version %s", crd.file, ironlbv1beta1.Version)
		}
		if v := spec.Versions[0]; v.Subresources == nil || v.Subresources.Status == nil {
			t.Errorf("%s: no status subresource", crd.file)
		}
		if !contains(spec.Names.Categories, "ironlb") {
			t.Errorf("%s: not in category ironlb (kubectl get ironlb)", crd.file)
		}
		if len(spec.Names.ShortNames) == 0 {
			t.Errorf("%s: no short name", crd.file)
		}
	}
	sort.Strings(crdKinds)
	if diff := cmp.Diff(schemeKinds, crdKinds); diff != "" {
		t.Errorf("kinds in the scheme (-) and in %s (+) differ:\n%s", crdDir, diff)
	}
}

// isMetaKind reports whether kind is one metav1.AddToGroupVersion registers in
// every group (options and status kinds), not one of ours.
func isMetaKind(kind string) bool {
	switch kind {
	case "WatchEvent", "Status", "ListOptions", "GetOptions", "DeleteOptions", "CreateOptions", "UpdateOptions", "PatchOptions":
		return true
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

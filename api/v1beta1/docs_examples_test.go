/*
Copyright The ironlb Authors.

Licensed under the Apache License, Version 2.0.
*/

package v1beta1_test

import (
	"os"
	"strings"
	"testing"

	ironlbv1beta1 "github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/testkit"
)

// docsFile is the user reference whose examples must stay valid.
const docsFile = "../../docs/configuration.md"

// TestDocsExamplesAreValid validates every ironlb.io object in the YAML code
// blocks of the configuration reference against the generated CRDs, so the
// documentation cannot drift from the schema. Objects of other groups (the
// Secret and legacy ConfigMap examples) are skipped.
func TestDocsExamplesAreValid(t *testing.T) {
	data, err := os.ReadFile(docsFile)
	if err != nil {
		t.Fatalf("read %s: %v", docsFile, err)
	}
	crds := loadCRDs(t)
	seen := map[string]bool{}
	for i, block := range testkit.YAMLBlocks(string(data)) {
		for _, doc := range strings.Split(block, "\n---\n") {
			obj := decode(t, doc)
			if obj["apiVersion"] != ironlbv1beta1.GroupVersion.String() {
				continue
			}
			kind, _ := obj["kind"].(string)
			crd, ok := crds[kind]
			if !ok {
				t.Errorf("YAML block %d: no CRD for kind %q", i+1, kind)
				continue
			}
			seen[kind] = true
			if errs := newObjectValidator(t, crd).validate(obj, nil); len(errs) > 0 {
				t.Errorf("YAML block %d (%s) is rejected: %s\n%s", i+1, kind, errorText(errs), doc)
			}
		}
	}
	for kind := range crds {
		if !seen[kind] {
			t.Errorf("%s has no example of kind %s", docsFile, kind)
		}
	}
}

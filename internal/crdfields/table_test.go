package crdfields

import (
	"bufio"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestMetalLBFieldTable keeps docs/metallb-fields.md true: it lists every
// field of MetalLB v0.16.2's CRDs (testdata, from hack/metallb-fields.sh)
// once; a field marked yes or partly is in ironlb's generated CRD schema
// (config/crd/bases) at the same path, and a field marked no is not, so
// the API server refuses it as unknown.
//
// Seen failing: with serviceSelectors marked yes (not in ironlb's schema),
// and with a row removed from the table.
func TestMetalLBFieldTable(t *testing.T) {
	metallb := map[string]bool{}
	f, err := os.Open("testdata/metallb-v0.16.2.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			metallb[line] = true
		}
	}
	if len(metallb) < 50 {
		t.Fatalf("only %d MetalLB fields in testdata: rerun hack/metallb-fields.sh", len(metallb))
	}

	ironlb := map[string][]string{}
	crds, err := filepath.Glob("../../config/crd/bases/*.yaml")
	if err != nil || len(crds) == 0 {
		t.Fatalf("no CRDs in config/crd/bases (%v)", err)
	}
	for _, file := range crds {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		k, err := Read(data)
		if err != nil {
			t.Fatal(err)
		}
		ironlb[k.Kind] = k.Fields
	}
	has := func(kind, path string) bool {
		return slices.ContainsFunc(ironlb[kind], func(f string) bool {
			return f == path || strings.HasPrefix(f, path+".") || strings.HasPrefix(f, path+"[]")
		})
	}

	doc, err := os.ReadFile("../../docs/metallb-fields.md")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for i, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 6 || !strings.HasPrefix(strings.TrimSpace(cells[2]), "`") {
			continue
		}
		kind := strings.TrimSpace(cells[1])
		path := strings.Trim(strings.TrimSpace(cells[2]), "`")
		status, note := strings.TrimSpace(cells[3]), strings.TrimSpace(cells[4])
		key := kind + " " + path
		where := func() string { return "docs/metallb-fields.md:" + strconv.Itoa(i+1) + " " + key }
		if listed[key] {
			t.Errorf("%s: listed twice", where())
		}
		listed[key] = true
		if !metallb[key] {
			t.Errorf("%s: not a field of MetalLB v0.16.2's CRDs", where())
		}
		switch status {
		case "yes":
			if !has(kind, path) {
				t.Errorf("%s: marked yes, but ironlb's %s CRD has no such field (the API server refuses it)", where(), kind)
			}
		case "partly":
			if !has(kind, path) {
				t.Errorf("%s: marked partly, but ironlb's %s CRD has no such field (the API server refuses it)", where(), kind)
			}
			if note == "" {
				t.Errorf("%s: marked partly without a note saying how", where())
			}
		case "no":
			if has(kind, path) {
				t.Errorf("%s: marked no, but ironlb's %s CRD accepts it", where(), kind)
			}
		default:
			t.Errorf("%s: status %q, want yes, partly or no", where(), status)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(metallb)) {
		if !listed[key] {
			t.Errorf("MetalLB field %s is missing from docs/metallb-fields.md", key)
		}
	}
}

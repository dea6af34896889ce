package main

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

func TestVersionCommand(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var out bytes.Buffer
		root := newRootCommand()
		root.SetOut(&out)
		root.SetArgs([]string{"version", "-o", format})
		if err := root.Execute(); err != nil {
			t.Fatalf("version -o %s: %v", format, err)
		}
		if format == "json" {
			var v map[string]string
			if err := json.Unmarshal(out.Bytes(), &v); err != nil {
				t.Fatalf("version -o json: %v in %q", err, out.String())
			}
			if v["goVersion"] != runtime.Version() || v["version"] == "" || v["commit"] == "" {
				t.Errorf("version -o json = %v", v)
			}
			continue
		}
		if !strings.Contains(out.String(), runtime.Version()) {
			t.Errorf("version = %q, want the Go version in it", out.String())
		}
	}
}

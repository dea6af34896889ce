package testkit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDeclaresModule(t *testing.T) {
	tests := []struct {
		name, gomod string
		want        bool
	}{
		{"plain", "module github.com/ironlb/ironlb\n\ngo 1.26\n", true},
		{"quoted", "// c\nmodule \"github.com/ironlb/ironlb\"\n", true},
		{"other module", "module github.com/ironlb/ironlb/hack/tools\n", false},
		{"no module line", "go 1.26\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := declaresModule(tt.gomod, modulePath); got != tt.want {
				t.Errorf("declaresModule(%q) = %v, want %v", tt.gomod, got, tt.want)
			}
		})
	}
}

func TestInCI(t *testing.T) {
	for v, want := range map[string]bool{"": false, "true": true, "1": true, "TRUE": true, "false": false, "0": false, "yes": false} {
		t.Setenv("CI", v)
		if got := InCI(); got != want {
			t.Errorf("CI=%q: InCI() = %v, want %v", v, got, want)
		}
	}
}

func TestBudget(t *testing.T) {
	t.Setenv("CI", "")
	t.Setenv(FactorEnv, "")
	if got := Budget(5 * time.Second); got != 20*time.Second {
		t.Errorf("Budget(5s) outside CI = %v, want 20s", got)
	}
	if got := Budget(time.Second); got != minBudget {
		t.Errorf("Budget(1s) = %v, want the minimum %v", got, minBudget)
	}
	t.Setenv("CI", "true")
	if got := Budget(5 * time.Second); got != 40*time.Second {
		t.Errorf("Budget(5s) under CI = %v, want 40s", got)
	}
	t.Setenv(FactorEnv, "2.5")
	if got := Budget(10 * time.Second); got != 25*time.Second {
		t.Errorf("Budget(10s) with factor 2.5 = %v, want 25s", got)
	}
}

// TestToolPath: a tool is usable only with a stamp naming the current pins;
// the messages name the step that builds it.
func TestToolPath(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	hash, err := ToolsHash(root)
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	t.Setenv("IRONLB_CACHE", cache)
	dir := filepath.Join(cache, "tools")
	if _, err := ToolPath("helm"); err == nil || !strings.Contains(err.Error(), BuildToolsCommand) {
		t.Fatalf("no tool: err = %v, want one naming %s", err, BuildToolsCommand)
	}
	write := func(path, content string, mode os.FileMode) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "helm"), "#!/bin/sh\n", 0o755)
	if _, err := ToolPath("helm"); err == nil || !strings.Contains(err.Error(), "no stamp") {
		t.Fatalf("no stamp: err = %v", err)
	}
	write(filepath.Join(dir, ".stamps", "helm"), "helm 0000000000000000\n", 0o644)
	if _, err := ToolPath("helm"); err == nil || !strings.Contains(err.Error(), "other pins") {
		t.Fatalf("stale stamp: err = %v", err)
	}
	write(filepath.Join(dir, ".stamps", "helm"), "helm "+hash+"\n", 0o644)
	if got, err := ToolPath("helm"); err != nil || got != filepath.Join(dir, "helm") {
		t.Fatalf("ToolPath = %q, %v", got, err)
	}
}

func TestYAMLBlocks(t *testing.T) {
	md := "text\n```yaml\na: 1\nb: 2\n```\n```sh\nls\n```\n  ```yaml\nc: 3\n  ```\n```yaml\nunclosed: 1\n"
	got := YAMLBlocks(md)
	if len(got) != 2 || got[0] != "a: 1\nb: 2" || got[1] != "c: 3" {
		t.Errorf("YAMLBlocks = %q", got)
	}
}

package manifests

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/testkit"
)

var chartDir = filepath.Join(repoRoot, "charts", "ironlb")

// helm runs the helm pinned in hack/tools/go.mod (built by
// hack/build-tools.sh) with args and returns its standard output; it fails
// t with helm's standard error otherwise.
func helm(t *testing.T, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testkit.Budget(10*time.Second))
	defer cancel()
	cmd := exec.CommandContext(ctx, testkit.Tool(t, "helm"), args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// helmTemplate renders the chart into ironlb-system with extra helm flags.
func helmTemplate(t *testing.T, flags ...string) *bundle {
	t.Helper()
	out := helm(t, append([]string{"template", "ironlb", chartDir, "--namespace", namespace}, flags...)...)
	b, err := parseBundle(out)
	if err != nil {
		t.Fatalf("parsing helm template output: %v", err)
	}
	return b
}

func TestChartLints(t *testing.T) {
	t.Parallel()
	helm(t, "lint", "--strict", chartDir)
}

// TestChartMatchesManifest: the chart's pods and RBAC pass the same checks
// as dist/ironlb.yaml, and it installs the same CRDs.
func TestChartMatchesManifest(t *testing.T) {
	t.Parallel()
	b := helmTemplate(t)
	checkControllerPod(t, b)
	checkSpeakerPod(t, b)
	checkRBAC(t, b)

	names := func(b *bundle) []string {
		var out []string
		for _, o := range b.ofKind("CustomResourceDefinition") {
			out = append(out, o.GetName())
		}
		slices.Sort(out)
		return out
	}
	if diff := cmp.Diff(names(loadFile(t, distManifest)), names(b)); diff != "" {
		t.Errorf("chart CRDs differ from dist/ironlb.yaml (-dist +chart):\n%s", diff)
	}
	for _, o := range b.ofKind("CustomResourceDefinition") {
		if o.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
			t.Errorf("chart CRD %s lacks helm.sh/resource-policy: keep", o.GetName())
		}
	}
	sec := b.get(t, "Secret", "ironlb-memberlist")
	if key, _, _ := unstructuredString(sec.Object, "data", "secretkey"); len(key) < 64 {
		t.Errorf("memberlist Secret key %q is too short", key)
	}
	if len(b.ofKind("ConfigMap")) != 0 {
		t.Error("the chart renders a ConfigMap without configInline; it would overwrite one made by hand")
	}
}

func TestChartWithoutCRDs(t *testing.T) {
	t.Parallel()
	b := helmTemplate(t, "--set", "crds.enabled=false")
	if n := len(b.ofKind("CustomResourceDefinition")); n != 0 {
		t.Errorf("crds.enabled=false renders %d CRDs, want 0", n)
	}
}

// TestChartConfigInline feeds the ConfigMap the chart renders from
// configInline to the legacy parser, in both accepted forms of the value.
func TestChartConfigInline(t *testing.T) {
	t.Parallel()
	want := []config.LegacyAddressPool{{Name: "default", Protocol: "layer2", Addresses: []string{"192.168.1.240-192.168.1.250", "fc00::/120"}}}
	tests := map[string][]string{
		"map":  {"--set-json", `configInline={"address-pools":[{"name":"default","protocol":"layer2","addresses":["192.168.1.240-192.168.1.250","fc00::/120"]}]}`},
		"text": {"--set-string", "configInline=address-pools:\n- name: default\n  protocol: layer2\n  addresses:\n  - 192.168.1.240-192.168.1.250\n  - fc00::/120\n"},
	}
	for name, flags := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cm := helmTemplate(t, flags...).get(t, "ConfigMap", "config")
			if cm.GetNamespace() != namespace {
				t.Errorf("ConfigMap namespace %q, want %q", cm.GetNamespace(), namespace)
			}
			text, ok, _ := unstructuredString(cm.Object, "data", "config")
			if !ok {
				t.Fatalf("ConfigMap config has no key config: %v", cm.Object)
			}
			lc, err := config.ParseLegacy([]byte(text))
			if err != nil {
				t.Fatalf("ParseLegacy(%q): %v", text, err)
			}
			if diff := cmp.Diff(want, lc.Pools); diff != "" {
				t.Errorf("pools (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChartPoolValues(t *testing.T) {
	t.Parallel()
	b := helmTemplate(t, "--set-json",
		`ipAddressPools=[{"name":"lan","spec":{"addresses":["10.0.0.0/28"]}}]`,
		"--set-json", `l2Advertisements=[{"name":"lan"}]`)
	pool := b.get(t, "IPAddressPool", "lan")
	if pool.GetNamespace() != namespace {
		t.Errorf("IPAddressPool namespace %q, want %q", pool.GetNamespace(), namespace)
	}
	b.get(t, "L2Advertisement", "lan")
}

// TestChartMemberlistSecret: with existingSecret the chart makes no Secret
// and points the speaker at the given one; with memberlist disabled it
// makes none and tells the speaker so.
func TestChartMemberlistSecret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		flags   []string
		wantArg string
	}{
		{"existing", []string{"--set", "speaker.memberlist.existingSecret=mine"}, "--memberlist-secret=" + namespace + "/mine"},
		{"disabled", []string{"--set", "speaker.memberlist.enabled=false"}, "--memberlist=false"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := helmTemplate(t, tc.flags...)
			if n := len(b.ofKind("Secret")); n != 0 {
				t.Errorf("%v renders %d Secrets, want 0", tc.flags, n)
			}
			args := daemonSet(t, b, "ironlb-speaker").Spec.Template.Spec.Containers[0].Args
			if !slices.Contains(args, tc.wantArg) {
				t.Errorf("%v: speaker args %v lack %s", tc.flags, args, tc.wantArg)
			}
		})
	}
}

// TestChartMetricsSecure: by default the controller and the speaker keep
// their secure metrics (no --metrics-secure flag: the commands' default is
// true) and the chart renders the readers' ClusterRole; metrics.secure=false
// passes --metrics-secure=false to both.
func TestChartMetricsSecure(t *testing.T) {
	t.Parallel()
	args := func(b *bundle) map[string][]string {
		return map[string][]string{
			"controller": deployment(t, b, "ironlb-controller").Spec.Template.Spec.Containers[0].Args,
			"speaker":    daemonSet(t, b, "ironlb-speaker").Spec.Template.Spec.Containers[0].Args,
		}
	}
	def := helmTemplate(t)
	def.get(t, "ClusterRole", "ironlb-metrics-reader")
	for c, a := range args(def) {
		if slices.ContainsFunc(a, func(s string) bool { return strings.HasPrefix(s, "--metrics-secure") }) {
			t.Errorf("%s args %q: want no --metrics-secure (secure by default)", c, a)
		}
	}
	for c, a := range args(helmTemplate(t, "--set", "metrics.secure=false")) {
		if !slices.Contains(a, "--metrics-secure=false") {
			t.Errorf("metrics.secure=false: %s args %q lack --metrics-secure=false", c, a)
		}
	}
}

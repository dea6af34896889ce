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

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/ironlb/ironlb/internal/testenv"
	"github.com/ironlb/ironlb/internal/testkit"
	"github.com/ironlb/ironlb/internal/webhook"
)

// webhookKinds are the kinds only the optional webhook adds.
var webhookKinds = []string{"ValidatingWebhookConfiguration"}

// kustomizeWithWebhook renders config/default with the config/webhook
// component, as docs/install.md tells operators to.
func kustomizeWithWebhook(t *testing.T) *bundle {
	t.Helper()
	b, err := parseBundle(renderWithWebhook(t))
	if err != nil {
		t.Fatalf("parsing kustomize output: %v", err)
	}
	return b
}

// renderWithWebhook returns the YAML of config/default with the
// config/webhook component.
func renderWithWebhook(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(dir, root) // kustomize refuses absolute paths
	if err != nil {
		t.Fatal(err)
	}
	k := "resources:\n- " + filepath.Join(rel, "config", "default") + "\ncomponents:\n- " + filepath.Join(rel, "config", "webhook") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), testkit.Budget(10*time.Second))
	defer cancel()
	cmd := exec.CommandContext(ctx, testkit.Tool(t, "kustomize"), "build", dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kustomize build: %v\n%s", err, stderr.String())
	}
	return stdout.Bytes()
}

// checkWebhook checks what enabling the webhook adds: the controller
// serves it on 9443, the Service reaches that port, the configuration
// sends the six kinds of the namespace to the controller's path, and the
// controller may write only its own configuration and certificate Secret.
func checkWebhook(t *testing.T, b *bundle, failurePolicy admissionregistrationv1.FailurePolicyType) {
	t.Helper()
	c := deployment(t, b, "ironlb-controller").Spec.Template.Spec.Containers[0]
	if !slices.Contains(c.Args, "--webhook-port=9443") {
		t.Errorf("controller args %v lack --webhook-port=9443", c.Args)
	}
	if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "webhook" && p.ContainerPort == 9443 }) {
		t.Errorf("controller ports %v lack webhook 9443", c.Ports)
	}
	svc := typed[corev1.Service](t, b, "Service", webhook.DefaultService)
	if svc.Namespace != namespace || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.StrVal != "webhook" ||
		svc.Spec.Selector["app.kubernetes.io/component"] != "controller" {
		t.Errorf("Service %s/%s: ports %v selector %v, want 443 -> the controller's webhook port", svc.Namespace, svc.Name, svc.Spec.Ports, svc.Spec.Selector)
	}
	vwc := typed[admissionregistrationv1.ValidatingWebhookConfiguration](t, b, "ValidatingWebhookConfiguration", webhook.DefaultConfiguration)
	if len(vwc.Webhooks) != 1 {
		t.Fatalf("%d webhooks, want 1", len(vwc.Webhooks))
	}
	w := vwc.Webhooks[0]
	ref := w.ClientConfig.Service
	if ref == nil || ref.Name != webhook.DefaultService || ref.Namespace != namespace || ref.Path == nil || *ref.Path != webhook.Path {
		t.Errorf("clientConfig.service %+v, want %s/%s path %s", ref, namespace, webhook.DefaultService, webhook.Path)
	}
	if w.FailurePolicy == nil || *w.FailurePolicy != failurePolicy || w.SideEffects == nil || *w.SideEffects != admissionregistrationv1.SideEffectClassNone ||
		w.MatchPolicy == nil || *w.MatchPolicy != admissionregistrationv1.Equivalent {
		t.Errorf("failurePolicy %v sideEffects %v matchPolicy %v, want %s None Equivalent", w.FailurePolicy, w.SideEffects, w.MatchPolicy, failurePolicy)
	}
	if w.NamespaceSelector == nil || w.NamespaceSelector.MatchLabels[corev1.LabelMetadataName] != namespace {
		t.Errorf("namespaceSelector %v, want the ironlb namespace only", w.NamespaceSelector)
	}
	want := []string{"ipaddresspools", "l2advertisements", "bgpadvertisements", "bgppeers", "bfdprofiles", "communities"}
	if len(w.Rules) != 1 || !slices.Equal(w.Rules[0].Resources, want) ||
		!slices.Equal(w.Rules[0].Operations, []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}) {
		t.Errorf("rules %+v, want CREATE and UPDATE of %v", w.Rules, want)
	}

	cluster, namespaced := rulesOf(t, b, namespace, "ironlb-controller")
	named := func(rules []rbacv1.PolicyRule, verb, group, resource, name string) bool {
		return slices.ContainsFunc(rules, func(r rbacv1.PolicyRule) bool {
			return slices.Contains(r.Verbs, verb) && slices.Contains(r.APIGroups, group) &&
				slices.Contains(r.Resources, resource) && slices.Equal(r.ResourceNames, []string{name})
		})
	}
	if !named(cluster, "update", "admissionregistration.k8s.io", "validatingwebhookconfigurations", webhook.DefaultConfiguration) ||
		!named(cluster, "get", "admissionregistration.k8s.io", "validatingwebhookconfigurations", webhook.DefaultConfiguration) {
		t.Error("the controller may not get and update its ValidatingWebhookConfiguration by name")
	}
	if allows(cluster, access{verb: "update", group: "admissionregistration.k8s.io", resource: "validatingwebhookconfigurations"}) {
		t.Error("the controller may update every ValidatingWebhookConfiguration; it must be limited to its own")
	}
	if !named(namespaced, "update", "", "secrets", webhook.DefaultSecret) && !named(cluster, "update", "", "secrets", webhook.DefaultSecret) {
		t.Errorf("the controller may not update the Secret %s", webhook.DefaultSecret)
	}
	if can(cluster, namespaced, access{verb: "update", resource: "secrets", namespaced: true}) {
		t.Error("the controller may update every Secret of the namespace; it must be limited to the certificate's")
	}
	// Everything else stays as without the webhook.
	checkControllerPod(t, b)
}

func TestWebhookComponent(t *testing.T) {
	t.Parallel()
	checkWebhook(t, kustomizeWithWebhook(t), admissionregistrationv1.Fail)
}

// TestApplyWebhookComponentToAPIServer applies the manifests with the
// webhook component to a real API server, which must accept every object,
// and asks its authorizer what the controller may do with them.
func TestApplyWebhookComponentToAPIServer(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if out, err := env.Kubectl(ctx, nil, "apply", "--server-side", "-f", distNamespace); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	if out, err := env.Kubectl(ctx, bytes.NewReader(renderWithWebhook(t)), "apply", "--server-side", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	sa := "--as=system:serviceaccount:" + namespace + ":ironlb-controller"
	tests := []struct {
		args []string
		want bool
	}{
		{[]string{"update", "validatingwebhookconfigurations/" + webhook.DefaultConfiguration}, true},
		{[]string{"get", "validatingwebhookconfigurations/" + webhook.DefaultConfiguration}, true},
		{[]string{"update", "validatingwebhookconfigurations/someone-elses"}, false},
		{[]string{"update", "secrets/" + webhook.DefaultSecret, "-n", namespace}, true},
		{[]string{"create", "secrets", "-n", namespace}, true},
		{[]string{"update", "secrets/ironlb-memberlist", "-n", namespace}, false},
	}
	for _, tc := range tests {
		args := append([]string{"auth", "can-i", sa}, tc.args...)
		out, _ := env.Kubectl(ctx, nil, args...) // exit status 1 means "no"
		// The answer is the last line; kubectl may warn before it.
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if got := lines[len(lines)-1] == "yes"; got != tc.want {
			t.Errorf("kubectl %s = %q, want allowed=%v", strings.Join(args, " "), strings.TrimSpace(string(out)), tc.want)
		}
	}
}

func TestDefaultManifestHasNoWebhook(t *testing.T) {
	t.Parallel()
	checkNoWebhook(t, loadFile(t, distManifest))
}

func TestChartWebhook(t *testing.T) {
	t.Parallel()
	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		checkNoWebhook(t, helmTemplate(t))
	})
	t.Run("enabled", func(t *testing.T) {
		t.Parallel()
		checkWebhook(t, helmTemplate(t, "--set", "webhook.enabled=true"), admissionregistrationv1.Fail)
	})
	t.Run("ignore", func(t *testing.T) {
		t.Parallel()
		checkWebhook(t, helmTemplate(t, "--set", "webhook.enabled=true", "--set", "webhook.failurePolicy=Ignore"), admissionregistrationv1.Ignore)
	})
}

func checkNoWebhook(t *testing.T, b *bundle) {
	t.Helper()
	for _, k := range webhookKinds {
		if n := len(b.ofKind(k)); n != 0 {
			t.Errorf("%d %s objects without the webhook, want none", n, k)
		}
	}
	for _, s := range b.ofKind("Service") {
		if s.GetName() == webhook.DefaultService {
			t.Errorf("Service %s rendered without the webhook", s.GetName())
		}
	}
	c := deployment(t, b, "ironlb-controller").Spec.Template.Spec.Containers[0]
	for _, a := range c.Args {
		if strings.HasPrefix(a, "--webhook") {
			t.Errorf("controller arg %s without the webhook", a)
		}
	}
}

//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/ironlb/ironlb/internal/lab"
	"github.com/ironlb/ironlb/internal/testkit"
)

const (
	installNamespace = "ironlb-system"
	// installPool is the configInline pool of the Helm path: a range of
	// the lab's LAN no other suite uses.
	installPool    = "helm-inline"
	installPoolV4  = "10.200.0.160-10.200.0.169"
	installPoolV6  = "fd00:200::160-fd00:200::169"
	installWebPort = 8080
)

// TestInstall runs both install paths against the lab's API server:
// dist/ironlb.yaml with server-side apply (the lab itself installed it at
// `up` and runs ironlb with its ServiceAccounts), and `helm template` of
// charts/ironlb with a configInline override, whose ConfigMap the running
// controller then allocates from, answered through the speakers.
func TestInstall(t *testing.T) {
	requireLab(t)
	t.Run("manifests accepted by server-side apply", testManifestsAccepted)
	t.Run("ironlb runs with the manifests' ServiceAccounts", testServiceAccountCredentials)
	t.Run("helm template with configInline", testHelmConfigInline)
}

// testManifestsAccepted applies dist/ once more with the lab's field
// manager (a server-side dry run: every object, workloads included, goes
// through validation and admission; nothing changes), then checks that
// `up` really created every object except the workloads.
func testManifestsAccepted(t *testing.T) {
	var files []string
	var objs []*unstructured.Unstructured
	for _, f := range lab.ManifestFiles {
		path := filepath.Join(repoRoot(), f)
		files = append(files, "-f", path)
		objs = append(objs, installParse(t, installRead(t, path))...)
	}
	out := installKubectl(t, nil, append([]string{"apply", "--server-side", "--dry-run=server", "--field-manager=ironlb-lab"}, files...)...)
	installCheckApplied(t, objs, out)

	var present []string
	var workloads []string
	for _, o := range objs {
		ref := strings.ToLower(o.GetKind()) + "/" + o.GetName()
		if lab.NeedsContainerRuntime(o.GetKind(), o.GetAPIVersion()) {
			workloads = append(workloads, ref)
			continue
		}
		present = append(present, ref)
	}
	got := installKubectl(t, nil, append([]string{"get", "-n", installNamespace, "-o", "name"}, present...)...)
	if n := len(strings.Fields(got)); n != len(present) {
		t.Errorf("the lab has %d of the %d objects it applied:\n%s", n, len(present), got)
	}
	if len(workloads) != 2 {
		t.Errorf("workloads in the manifests: %q, want the controller Deployment and the speaker DaemonSet", workloads)
	}
	if got := installKubectl(t, nil, append([]string{"get", "-n", installNamespace, "--ignore-not-found", "-o", "name"}, workloads...)...); strings.TrimSpace(got) != "" {
		t.Errorf("the lab created workloads it runs as processes:\n%s", got)
	}
	if got := installKubectl(t, nil, "get", "pods", "-n", installNamespace, "-o", "name"); strings.TrimSpace(got) != "" {
		t.Errorf("Pods in %s (the lab runs ironlb as processes):\n%s", installNamespace, got)
	}
	t.Logf("%d objects accepted (server dry run), %d present, workloads %v not created", len(objs), len(present), workloads)
}

// testServiceAccountCredentials checks that the lab's controller and
// speakers authenticate as the manifests' ServiceAccounts with their
// environment, and that these identities are not admins.
func testServiceAccountCredentials(t *testing.T) {
	ctx := context.Background()
	st, err := lab.LoadState(e2e.dir)
	if err != nil {
		t.Fatal(err)
	}
	procs := map[string]string{"controller": "ironlb-controller"}
	for name := range st.Procs {
		if strings.HasPrefix(name, "speaker/") {
			procs[name] = "ironlb-speaker"
		}
	}
	if len(procs) != 1+e2e.nodes {
		t.Fatalf("processes %v: want the controller and %d speakers", slices.Sorted(maps.Keys(procs)), e2e.nodes)
	}
	for name, sa := range procs {
		pr := st.Procs[name]
		if pr == nil || !pr.Alive() {
			t.Errorf("%s is not running", name)
			continue
		}
		// A permission the manifests lack shows as "forbidden" in the log
		// from the first list on; name it rather than a symptom later. A
		// log that cannot be read fails: it would hide the refusal.
		line, err := installFirstLine(pr.Log, "forbidden")
		if err != nil {
			t.Errorf("%s: reading its log to look for refusals: %v", name, err)
		} else if line != "" {
			t.Errorf("%s (%s) was refused by the API server: the manifests' RBAC lacks a permission:\n%s", name, sa, line)
		}
		kc := installFlagValue(pr.Args, "kubeconfig")
		if kc == "" || kc == st.Kubeconfig() {
			t.Errorf("%s runs with kubeconfig %q, want its ServiceAccount's", name, kc)
			continue
		}
		if !slices.Contains(pr.Env, "IRONLB_NAMESPACE="+installNamespace) {
			t.Errorf("%s environment %q lacks the manifests' IRONLB_NAMESPACE", name, pr.Env)
		}
		cfg, err := clientcmd.BuildConfigFromFlags("", kc)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("%s: SelfSubjectReview: %v", name, err)
		}
		if want := "system:serviceaccount:" + installNamespace + ":" + sa; review.Status.UserInfo.Username != want {
			t.Errorf("%s authenticates as %q, want %q", name, review.Status.UserInfo.Username, want)
		}
		for _, c := range []struct {
			attr  authorizationv1.ResourceAttributes
			allow bool
		}{
			{authorizationv1.ResourceAttributes{Verb: "delete", Resource: "namespaces"}, false},
			{authorizationv1.ResourceAttributes{Verb: "create", Resource: "clusterrolebindings", Group: "rbac.authorization.k8s.io"}, false},
			// Both write Service status: the controller its addresses and
			// ironlb.io/IPAllocated, the speakers ironlb.io/Announced; only
			// the controller writes the Service itself (an annotation).
			{authorizationv1.ResourceAttributes{Verb: "patch", Resource: "services", Subresource: "status"}, true},
			{authorizationv1.ResourceAttributes{Verb: "patch", Resource: "services"}, sa == "ironlb-controller"},
			{authorizationv1.ResourceAttributes{Verb: "create", Resource: "servicel2statuses", Group: "ironlb.io", Namespace: installNamespace}, sa == "ironlb-speaker"},
		} {
			r, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
				Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &c.attr},
			}, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("%s: SelfSubjectAccessReview: %v", name, err)
			}
			if r.Status.Allowed != c.allow {
				t.Errorf("%s (%s) may %s %s/%s: %v, want %v", name, sa, c.attr.Verb, c.attr.Resource, c.attr.Subresource, r.Status.Allowed, c.allow)
			}
		}
	}
}

// testHelmConfigInline renders the chart with a configInline pool,
// applies it (the workloads and the memberlist Secret as a server dry run:
// the lab runs ironlb itself, and a new gossip key would split the running
// speakers), and checks the quick start on that configuration: a
// LoadBalancer Service gets an address of the configInline pool, allocated
// by the controller and announced by the speakers with their ServiceAccount
// credentials, and answers from the client.
func testHelmConfigInline(t *testing.T) {
	ctx := context.Background()
	cs := clientset(t)
	values := filepath.Join(t.TempDir(), "values.yaml")
	installWriteFile(t, values, fmt.Sprintf(`configInline:
  address-pools:
  - name: %s
    protocol: layer2
    addresses:
    - %s
    - %s
`, installPool, installPoolV4, installPoolV6))
	start := time.Now()
	rendered := installHelm(t, "template", "ironlb", filepath.Join(repoRoot(), "charts", "ironlb"), "--namespace", installNamespace, "-f", values)
	t.Logf("helm template in %s", time.Since(start).Round(100*time.Millisecond))
	objs := installParse(t, rendered)

	var real, dry []*unstructured.Unstructured
	var configMap *unstructured.Unstructured
	for _, o := range objs {
		switch {
		case lab.NeedsContainerRuntime(o.GetKind(), o.GetAPIVersion()), o.GetKind() == "Secret":
			dry = append(dry, o)
		default:
			real = append(real, o)
		}
		if o.GetKind() == "ConfigMap" && o.GetName() == "config" {
			configMap = o
		}
	}
	if configMap == nil {
		t.Fatal("the chart rendered no ConfigMap config for configInline")
	}
	if data, _, _ := unstructured.NestedString(configMap.Object, "data", "config"); !strings.Contains(data, installPoolV4) {
		t.Fatalf("ConfigMap config holds %q, want the configInline pool", data)
	}

	// Every object is accepted (--force-conflicts: the lab's own Secret
	// holds another key; this is a dry run).
	out := installKubectl(t, rendered, "apply", "--server-side", "--dry-run=server", "--force-conflicts", "--field-manager=helm", "-f", "-")
	installCheckApplied(t, objs, out)

	restore := installSetAsideConfigMap(t, cs)
	t.Cleanup(restore)
	out = installKubectl(t, installEncode(t, real), "apply", "--server-side", "--field-manager=helm", "-f", "-")
	installCheckApplied(t, real, out)
	t.Logf("applied %d objects of the chart, %d as a server dry run only", len(real), len(dry))

	ns := "e2e-install-" + randomHex(2)
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	installCreateWorkload(t, cs, ns)
	start = time.Now()
	var ips []netip.Addr
	// Expected: the controller reads the new ConfigMap and allocates within
	// a few seconds of the Service's creation.
	eventually(t, testkit.Budget(10*time.Second), "the Service gets addresses of the configInline pool", func() error {
		svc, err := cs.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		ips = ips[:0]
		for _, in := range svc.Status.LoadBalancer.Ingress {
			a, err := netip.ParseAddr(in.IP)
			if err != nil {
				return err
			}
			if !installInRange(a, installPoolV4) && !installInRange(a, installPoolV6) {
				return fmt.Errorf("ingress %s is outside the configInline pool", a)
			}
			ips = append(ips, a)
		}
		if len(ips) != len(svc.Spec.IPFamilies) {
			return fmt.Errorf("ingress %v for families %v", svc.Status.LoadBalancer.Ingress, svc.Spec.IPFamilies)
		}
		return nil
	})
	t.Logf("Service web got %v in %s", ips, time.Since(start).Round(100*time.Millisecond))
	for _, ip := range ips {
		target := netip.AddrPortFrom(ip, 80).String()
		// Expected: the pod Ready, the address announced and programmed by
		// kube-proxy within a few seconds of the allocation.
		eventually(t, testkit.Budget(10*time.Second), "curl "+target+" from the client", func() error {
			body, err := httpGetFrom(ctx, "client", target)
			if err != nil {
				return err
			}
			if !strings.Contains(body, "pod="+ns+"/") {
				return fmt.Errorf("answer %q is not from a pod of %s", body, ns)
			}
			return nil
		})
		t.Logf("%s answers from the client %s after the Service was created", target, time.Since(start).Round(100*time.Millisecond))
	}
}

// installSetAsideConfigMap removes an existing ironlb-system/config (a reused
// lab's quick start) so the chart's can be applied, and returns the
// function that deletes the chart's and puts the old one back.
func installSetAsideConfigMap(t *testing.T, cs kubernetes.Interface) func() {
	t.Helper()
	ctx := context.Background()
	old, err := cs.CoreV1().ConfigMaps(installNamespace).Get(ctx, "config", metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		old = nil
	case err != nil:
		t.Fatal(err)
	default:
		if err := cs.CoreV1().ConfigMaps(installNamespace).Delete(ctx, "config", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return func() {
		if err := cs.CoreV1().ConfigMaps(installNamespace).Delete(ctx, "config", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting the chart's ConfigMap: %v", err)
		}
		if old == nil {
			return
		}
		old.ResourceVersion, old.UID, old.ManagedFields = "", "", nil
		if _, err := cs.CoreV1().ConfigMaps(installNamespace).Create(ctx, old, metav1.CreateOptions{}); err != nil {
			t.Errorf("restoring ConfigMap %s/config: %v", installNamespace, err)
		}
	}
}

// installCreateWorkload creates a namespace with a one-replica Deployment
// and a dual-stack LoadBalancer Service asking for the configInline pool.
func installCreateWorkload(t *testing.T, cs kubernetes.Interface, ns string) {
	t.Helper()
	ctx := context.Background()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "web"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "web", Image: "nginx:1",
					Ports: []corev1.ContainerPort{{ContainerPort: installWebPort}},
				}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Annotations: map[string]string{"ironlb.io/address-pool": installPool}},
		Spec: corev1.ServiceSpec{
			Type:           corev1.ServiceTypeLoadBalancer,
			IPFamilyPolicy: ptr.To(corev1.IPFamilyPolicyPreferDualStack),
			Selector:       labels,
			Ports:          []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(installWebPort)}},
		},
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// installInRange reports whether a is in the range "first-last".
func installInRange(a netip.Addr, r string) bool {
	first, last, _ := strings.Cut(r, "-")
	f, err1 := netip.ParseAddr(first)
	l, err2 := netip.ParseAddr(last)
	return err1 == nil && err2 == nil && f.Compare(a) <= 0 && a.Compare(l) <= 0
}

// installCheckApplied wants kubectl apply's output to name every object.
func installCheckApplied(t *testing.T, objs []*unstructured.Unstructured, out string) {
	t.Helper()
	for _, o := range objs {
		if !strings.Contains(out, "/"+o.GetName()+" serverside-applied") {
			t.Errorf("kubectl apply did not accept %s %s:\n%s", o.GetKind(), o.GetName(), out)
		}
	}
}

// installKubectl runs the lab's kubectl (admin) with stdin and returns its
// standard output; it fails t on error.
func installKubectl(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	// Expected: a server-side apply of the manifests takes a few seconds.
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Budget(10*time.Second))
	defer cancel()
	cmd, err := lab.KubectlCommand(ctx, e2e.dir, args)
	if err != nil {
		t.Fatal(err)
	}
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// installHelm runs the helm pinned in hack/tools/go.mod, as
// hack/build-tools.sh built it (testkit.Tool: missing, t skips — fails
// under CI — naming that step; a test never builds a tool itself), and
// returns its standard output.
func installHelm(t *testing.T, args ...string) []byte {
	t.Helper()
	helm := testkit.Tool(t, "helm")
	// Expected: `helm template` of the chart renders in about a second.
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Budget(5*time.Second))
	defer cancel()
	cmd := exec.CommandContext(ctx, helm, args...)
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// installParse splits multi-document YAML into objects.
func installParse(t *testing.T, b []byte) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(m) > 0 {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}

// installEncode joins objects into multi-document YAML.
func installEncode(t *testing.T, objs []*unstructured.Unstructured) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, o := range objs {
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		buf.WriteString("---\n")
		buf.Write(b)
	}
	return buf.Bytes()
}

func installRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func installWriteFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// installFlagValue returns the value of --name=value in args.
func installFlagValue(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

// installFirstLine returns the first line of the file at path containing
// substr, or "" when none does; an error when the file cannot be read.
func installFirstLine(path, substr string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(b)) {
		if strings.Contains(line, substr) {
			return strings.TrimSpace(line), nil
		}
	}
	return "", nil
}

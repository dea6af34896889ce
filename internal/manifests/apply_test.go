package manifests

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ironlb/ironlb/internal/testenv"
)

// TestApplyToAPIServer applies the install manifests the way docs/install.md
// does (server-side) to a real API server, which validates every object
// against its schema, then asks the server's authorizer what each
// ServiceAccount may do.
func TestApplyToAPIServer(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	out, err := env.Kubectl(ctx, nil, "apply", "--server-side", "--field-manager=ironlb-install",
		"-f", distNamespace, "-f", distManifest)
	if err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	b := loadFile(t, distManifest)
	applied := string(out)
	for _, o := range b.objs {
		if !strings.Contains(applied, "/"+o.GetName()+" ") {
			t.Errorf("kubectl apply did not report %s %s:\n%s", o.GetKind(), o.GetName(), out)
		}
	}
	// The optional NetworkPolicy overlay (the PodMonitor one needs the
	// Prometheus Operator's CRDs, which this API server lacks).
	if out, err := env.Kubectl(ctx, nil, "apply", "--server-side", "-k", filepath.Join(repoRoot, "config", "networkpolicy")); err != nil {
		t.Errorf("kubectl apply -k config/networkpolicy: %v\n%s", err, out)
	}
	// Applying again changes nothing and is accepted: the upgrade path.
	if out, err := env.Kubectl(ctx, nil, "apply", "--server-side", "--field-manager=ironlb-install",
		"-f", distNamespace, "-f", distManifest); err != nil {
		t.Fatalf("second kubectl apply: %v\n%s", err, out)
	}

	tests := []struct {
		sa, verb, resource string
		namespaced, want   bool
	}{
		{"ironlb-controller", "patch", "services/status", false, true},
		{"ironlb-controller", "create", "leases.coordination.k8s.io", true, true},
		{"ironlb-controller", "patch", "nodes", false, false},
		{"ironlb-speaker", "patch", "services/status", false, false},
		{"ironlb-speaker", "patch", "ipaddresspools.ironlb.io", true, false},
		{"ironlb-speaker", "create", "servicel2statuses.ironlb.io", true, true},
		{"ironlb-speaker", "patch", "nodes", false, true},
		{"ironlb-speaker", "get", "secrets", true, true},
		{"ironlb-speaker", "get", "secrets", false, false},
	}
	for _, tc := range tests {
		args := []string{"auth", "can-i", tc.verb, tc.resource, "--as=system:serviceaccount:" + namespace + ":" + tc.sa}
		if tc.namespaced {
			args = append(args, "-n", namespace)
		} else {
			args = append(args, "--all-namespaces")
		}
		out, _ := env.Kubectl(ctx, nil, args...) // exit status 1 means "no"
		got := strings.TrimSpace(string(out)) == "yes"
		if got != tc.want {
			t.Errorf("kubectl %s = %q, want allowed=%v", strings.Join(args, " "), strings.TrimSpace(string(out)), tc.want)
		}
	}
}

// TestApplyChartToAPIServer applies what the chart renders, with a legacy
// configInline and pool values, to a real API server: every object,
// including the CRs and the generated Secret, must be accepted.
func TestApplyChartToAPIServer(t *testing.T) {
	t.Parallel()
	rendered := helm(t, "template", "ironlb", chartDir, "--namespace", namespace,
		"--set-json", `configInline={"address-pools":[{"name":"legacy","protocol":"layer2","addresses":["192.168.1.240/29"]}]}`,
		"--set-json", `ipAddressPools=[{"name":"lan","spec":{"addresses":["10.0.0.0/28"]}}]`,
		"--set-json", `l2Advertisements=[{"name":"lan","spec":{"ipAddressPools":["lan"]}}]`)
	env := testenv.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	if out, err := env.Kubectl(ctx, nil, "create", "namespace", namespace); err != nil {
		t.Fatalf("kubectl create namespace: %v\n%s", err, out)
	}
	out, err := env.Kubectl(ctx, bytes.NewReader(rendered), "apply", "--server-side", "--field-manager=helm", "-f", "-")
	if err != nil {
		t.Fatalf("kubectl apply of the chart: %v\n%s", err, out)
	}
	for _, want := range []string{"ipaddresspool.ironlb.io/lan", "l2advertisement.ironlb.io/lan", "configmap/config", "secret/ironlb-memberlist", "daemonset.apps/ironlb-speaker"} {
		if !strings.Contains(string(out), want+" ") {
			t.Errorf("kubectl apply did not report %s:\n%s", want, out)
		}
	}
}

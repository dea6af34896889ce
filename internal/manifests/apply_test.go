package manifests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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
	checkRBACMatrix(ctx, t, env)
}

// checkRBACMatrix compares, for each ServiceAccount, `kubectl auth can-i
// --list` in ironlb's namespace and in another one with
// testdata/rbac/<sa>.txt: any permission added to or removed from the
// manifests shows up as a diff here, to be reviewed and checked in (set
// IRONLB_UPDATE_RBAC=1 to rewrite the files). Seen failing with "delete"
// dropped from the speaker's ClusterRole rule for its status kinds in
// dist/ironlb.yaml: the diff named both kinds' lines in both namespaces.
func checkRBACMatrix(ctx context.Context, t *testing.T, env *testenv.Env) {
	t.Helper()
	for _, sa := range []string{"ironlb-controller", "ironlb-speaker"} {
		var got strings.Builder
		for _, ns := range []string{namespace, "default"} {
			out, err := env.Kubectl(ctx, nil, "auth", "can-i", "--list", "--as=system:serviceaccount:"+namespace+":"+sa, "-n", ns)
			if err != nil {
				t.Fatalf("kubectl auth can-i --list as %s -n %s: %v\n%s", sa, ns, err, out)
			}
			fmt.Fprintf(&got, "# kubectl auth can-i --list --as=system:serviceaccount:%s:%s -n %s\n%s", namespace, sa, ns, canIList(string(out)))
		}
		file := filepath.Join("testdata", "rbac", sa+".txt")
		if os.Getenv("IRONLB_UPDATE_RBAC") != "" {
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(got.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%v (IRONLB_UPDATE_RBAC=1 writes it)", err)
		}
		if got.String() != string(want) {
			t.Errorf("what %s may do differs from %s; review the change and rewrite the file with IRONLB_UPDATE_RBAC=1:\n%s",
				sa, file, lineDiff(string(want), got.String()))
		}
	}
}

// canIList normalizes kubectl auth can-i --list's table: columns (two or
// more spaces apart) joined by " | ", rows sorted under the header.
func canIList(out string) string {
	var rows []string
	header := ""
	for i, line := range strings.Split(strings.TrimSpace(out), "\n") {
		cells := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(line), -1)
		if strings.HasPrefix(line, " ") {
			cells = append([]string{"-"}, cells...) // no resource: a non-resource URL
		}
		row := strings.Join(cells, " | ")
		if i == 0 {
			header = row
			continue
		}
		rows = append(rows, row)
	}
	slices.Sort(rows)
	return header + "\n" + strings.Join(rows, "\n") + "\n"
}

// lineDiff lists the lines only in want ("-") or only in got ("+").
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	for _, l := range w {
		if !slices.Contains(g, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
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

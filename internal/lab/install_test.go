package lab

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/tools/clientcmd"
)

// distFiles are the paths of the checkout's install manifests.
func distFiles(t *testing.T) []string {
	t.Helper()
	wd, _ := os.Getwd()
	root := FindRepoRoot(wd)
	if root == "" {
		t.Fatal("no checkout above the working directory")
	}
	var files []string
	for _, f := range ManifestFiles {
		files = append(files, filepath.Join(root, f))
	}
	return files
}

func TestPlanInstallFromDist(t *testing.T) {
	var total int
	var plan *installPlan
	{
		var all []byte
		for _, f := range distFiles(t) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			all = append(append(all, b...), []byte("\n---\n")...)
		}
		objs, err := parseManifest(all)
		if err != nil {
			t.Fatal(err)
		}
		total = len(objs)
		if plan, err = planInstall(objs, false); err != nil {
			t.Fatal(err)
		}
		// As Pods (real kubelets): everything applied, workloads last.
		pods, err := planInstall(objs, true)
		if err != nil {
			t.Fatal(err)
		}
		var workloads []string
		for _, o := range pods.workloads {
			workloads = append(workloads, o.GetKind()+" "+o.GetName())
		}
		slices.Sort(workloads)
		if want := []string{"DaemonSet ironlb-speaker", "Deployment ironlb-controller"}; !slices.Equal(workloads, want) ||
			pods.inst.Applied != total || len(pods.inst.NotCreated) != 0 {
			t.Errorf("as Pods: workloads %q (want %q), %d of %d applied, not created %q", workloads, want,
				pods.inst.Applied, total, pods.inst.NotCreated)
		}
	}
	inst := plan.inst
	wantNotCreated := []string{"DaemonSet ironlb-system/ironlb-speaker", "Deployment ironlb-system/ironlb-controller"}
	got := slices.Sorted(slices.Values(inst.NotCreated))
	if !slices.Equal(got, wantNotCreated) {
		t.Errorf("NotCreated = %q, want %q", got, wantNotCreated)
	}
	if inst.Applied != total-len(wantNotCreated) {
		t.Errorf("Applied = %d of %d objects, want all but the workloads", inst.Applied, total)
	}
	if len(plan.namespaces) != 1 || plan.namespaces[0].GetName() != ironlbNamespace {
		t.Errorf("namespaces = %d objects, want %s", len(plan.namespaces), ironlbNamespace)
	}
	if len(plan.crds) == 0 {
		t.Error("no CRDs in the manifests")
	}
	for _, o := range plan.objects {
		if o.GetKind() == "Namespace" || o.GetKind() == "CustomResourceDefinition" || needsContainerRuntime(o) {
			t.Errorf("%s %s in the last stage", o.GetKind(), o.GetName())
		}
	}

	ctrl, sp := inst.component("controller"), inst.component("speaker")
	if ctrl.ServiceAccount != "ironlb-controller" || sp.ServiceAccount != "ironlb-speaker" {
		t.Errorf("ServiceAccounts %q, %q; want ironlb-controller, ironlb-speaker", ctrl.ServiceAccount, sp.ServiceAccount)
	}
	if ctrl.Args[0] != "controller" || sp.Args[0] != "speaker" {
		t.Errorf("args %q, %q: want the subcommands first", ctrl.Args, sp.Args)
	}
	if v, _ := argValue(ctrl.Args, "leader-elect"); v != "true" {
		t.Errorf("controller args %q: want --leader-elect=true", ctrl.Args)
	}
	if diff := cmp.Diff([]string{"IRONLB_NAMESPACE=ironlb-system"}, ctrl.environ("")); diff != "" {
		t.Errorf("controller environment (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"NODE_NAME=node2", "IRONLB_NAMESPACE=ironlb-system"}, sp.environ("node2")); diff != "" {
		t.Errorf("speaker environment (-want +got):\n%s", diff)
	}
	if b, err := encodeManifest(plan.crds); err != nil {
		t.Error(err)
	} else if again, err := parseManifest(b); err != nil || len(again) != len(plan.crds) {
		t.Errorf("re-encoded CRDs: %d objects (%v), want %d", len(again), err, len(plan.crds))
	}
}

// testFlags stand for the flags cmd/ironlb takes from its commands'
// definitions (cmd/ironlb's TestLabCommandFlags checks the real ones).
var testFlags = CommandFlags{
	"controller": flagSet("health-probe-bind-address", "kubeconfig", "leader-elect", "metrics-bind-address", "metrics-secure", "namespace", "log-format", "log-level"),
	"speaker": flagSet("health-probe-bind-address", "kubeconfig", "memberlist-bind-address", "metrics-bind-address", "metrics-secure", "namespace",
		"node-name", "log-format", "log-level", "pprof-bind-address"),
}

func flagSet(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

func TestSetArgs(t *testing.T) {
	flags := testFlags["controller"]
	base := []string{"controller", "--health-probe-bind-address=:8081", "--metrics-bind-address", ":7472", "--leader-elect", "--log-level=info"}
	got, err := setArgs(base, flags,
		[2]string{"kubeconfig", "/lab/install/controller.kubeconfig"},
		[2]string{"health-probe-bind-address", "127.0.0.1:40001"},
		[2]string{"metrics-bind-address", "127.0.0.1:40002"},
		[2]string{"log-format", "text"},
	)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := setArgs(base, flags, [2]string{"not-a-flag", "x"}); err == nil || !strings.Contains(err.Error(), "--not-a-flag") {
		t.Errorf("setArgs with an unknown flag: err = %v, want one naming --not-a-flag", err)
	}
	want := []string{"controller", "--health-probe-bind-address=127.0.0.1:40001", "--metrics-bind-address=127.0.0.1:40002",
		"--leader-elect", "--log-level=info", "--kubeconfig=/lab/install/controller.kubeconfig", "--log-format=text"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("setArgs (-want +got):\n%s", diff)
	}
	if base[1] != "--health-probe-bind-address=:8081" {
		t.Errorf("setArgs changed its input: %q", base)
	}
	for _, tc := range []struct {
		args       []string
		name, want string
		ok         bool
	}{
		{[]string{"speaker", "--memberlist-bind-address=:7946"}, "memberlist-bind-address", ":7946", true},
		{[]string{"speaker", "--memberlist-bind-address", "10.0.0.1:7000"}, "memberlist-bind-address", "10.0.0.1:7000", true},
		{[]string{"speaker", "--memberlist-bind-address-x=1"}, "memberlist-bind-address", "", false},
		{[]string{"speaker"}, "node-name", "", false},
	} {
		if v, ok := argValue(tc.args, tc.name); v != tc.want || ok != tc.ok {
			t.Errorf("argValue(%q, %s) = %q, %v; want %q, %v", tc.args, tc.name, v, ok, tc.want, tc.ok)
		}
	}
	for addr, want := range map[string]int{":7946": 7946, "10.0.0.1:7000": 7000, "[fd00::1]:80": 80, "bad": 7946} {
		if got := bindPort(addr, memberlistPort); got != want {
			t.Errorf("bindPort(%q) = %d, want %d", addr, got, want)
		}
	}
}

func TestPlanInstallRejects(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"no speaker": {`apiVersion: apps/v1
kind: Deployment
metadata: {name: c, namespace: ns}
spec:
  template:
    spec:
      containers: [{name: c, image: ironlb:dev, args: [controller]}]
`, "no workload runs `ironlb speaker`"},
		"secret env": {`apiVersion: apps/v1
kind: DaemonSet
metadata: {name: s, namespace: ns}
spec:
  template:
    spec:
      containers:
      - name: s
        image: ironlb:dev
        command: [/ironlb, speaker]
        env: [{name: X, valueFrom: {secretKeyRef: {name: a, key: b}}}]
`, "only values and fieldRefs"},
		"no kind": {"metadata: {name: x}\n", "no kind or apiVersion"},
	} {
		t.Run(name, func(t *testing.T) {
			objs, err := parseManifest([]byte(tc.yaml))
			if err == nil {
				_, err = planInstall(objs, false)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestContainerArgsWithCommand(t *testing.T) {
	objs, err := parseManifest([]byte(`apiVersion: apps/v1
kind: DaemonSet
metadata: {name: s, namespace: ns}
spec:
  template:
    spec:
      containers:
      - {name: sidecar, image: other, args: [run]}
      - {name: s, image: ironlb:dev, command: [/ironlb, speaker], args: [--log-level=debug]}
`))
	if err != nil {
		t.Fatal(err)
	}
	comps, err := workloadComponents(objs[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(comps) != 1 || comps["speaker"] == nil {
		t.Fatalf("components %v, want the speaker only", comps)
	}
	c := comps["speaker"]
	if diff := cmp.Diff([]string{"speaker", "--log-level=debug"}, c.Args); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
	if c.ServiceAccount != "default" || c.Workload != "DaemonSet ns/s" {
		t.Errorf("ServiceAccount %q, Workload %q", c.ServiceAccount, c.Workload)
	}
}

func TestTokenKubeconfig(t *testing.T) {
	ca := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	b, err := tokenKubeconfig("https://127.0.0.1:6443", ca, "ironlb-system", "ironlb-speaker", "tok3n")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(b)
	if err != nil {
		t.Fatal(err)
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	if ctx == nil || ctx.Namespace != "ironlb-system" {
		t.Fatalf("current context %q: %+v", cfg.CurrentContext, ctx)
	}
	user, cluster := cfg.AuthInfos[ctx.AuthInfo], cfg.Clusters[ctx.Cluster]
	if ctx.AuthInfo != "system:serviceaccount:ironlb-system:ironlb-speaker" || user.Token != "tok3n" ||
		len(user.ClientCertificateData) != 0 {
		t.Errorf("user %q: %+v", ctx.AuthInfo, user)
	}
	if cluster.Server != "https://127.0.0.1:6443" || string(cluster.CertificateAuthorityData) != string(ca) {
		t.Errorf("cluster %+v", cluster)
	}
}

func TestLoadInstallationMissing(t *testing.T) {
	inst := loadInstallation(t.TempDir())
	if inst != nil || inst.component("controller") != nil {
		t.Errorf("installation %+v from an empty directory", inst)
	}
}

// TestProcsFromInstallation checks the command lines the lab runs ironlb
// with: the manifests' arguments and environment, the token kubeconfigs,
// and the lab's own flags; the admin kubeconfig without an installation.
func TestProcsFromInstallation(t *testing.T) {
	dir := t.TempDir()
	s := &State{Dir: dir, Ironlb: "/usr/local/bin/ironlb", Ports: Ports{ControllerHealth: 40001, ControllerMetrics: 40002}}
	p, err := NewPlan("t-", 2, DualStack)
	if err != nil {
		t.Fatal(err)
	}

	// No installation: the admin kubeconfig and the usual flags.
	ctrl, err := controllerProc(s, testFlags["controller"])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{s.Ironlb, "controller", "--namespace=ironlb-system", "--leader-elect=true", "--kubeconfig=" + s.Kubeconfig(),
		"--health-probe-bind-address=127.0.0.1:40001", "--metrics-bind-address=127.0.0.1:40002", "--metrics-secure=false", "--log-format=text"}
	if diff := cmp.Diff(want, ctrl.Args); diff != "" {
		t.Errorf("controller without an installation (-want +got):\n%s", diff)
	}

	// With the installation of dist/.
	var all []byte
	for _, f := range distFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(append(all, b...), "\n---\n"...)
	}
	objs, err := parseManifest(all)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := planInstall(objs, false)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range plan.inst.Components {
		c.Kubeconfig = filepath.Join(dir, installDir, name+".kubeconfig")
	}
	if err := os.MkdirAll(filepath.Join(dir, installDir), 0o700); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(plan.inst)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, installDir, installFile), b, 0o600); err != nil {
		t.Fatal(err)
	}

	if ctrl, err = controllerProc(s, testFlags["controller"]); err != nil {
		t.Fatal(err)
	}
	manifestArgs := plan.inst.Components["controller"].Args
	if got, _ := argValue(ctrl.Args, "kubeconfig"); got != filepath.Join(dir, installDir, "controller.kubeconfig") {
		t.Errorf("controller --kubeconfig=%s, want the token kubeconfig", got)
	}
	if got, _ := argValue(ctrl.Args, "health-probe-bind-address"); got != "127.0.0.1:40001" {
		t.Errorf("controller --health-probe-bind-address=%s", got)
	}
	if v, _ := argValue(manifestArgs, "log-level"); v != "" {
		if got, _ := argValue(ctrl.Args, "log-level"); got != v {
			t.Errorf("controller --log-level=%s, want the manifests' %s", got, v)
		}
	}
	if len(ctrl.Args) < 2 || ctrl.Args[1] != "controller" {
		t.Errorf("controller args %q do not start with the manifests' %q", ctrl.Args, manifestArgs)
	}
	if !slices.Contains(ctrl.Env, "IRONLB_NAMESPACE=ironlb-system") {
		t.Errorf("controller environment %q", ctrl.Env)
	}

	speakers, err := speakerProcs(s, p, testFlags["speaker"])
	if err != nil {
		t.Fatal(err)
	}
	if len(speakers) != 2 {
		t.Fatalf("%d speakers, want 2", len(speakers))
	}
	sp := speakers[1]
	checks := map[string]string{
		"node-name":                 "node2",
		"kubeconfig":                filepath.Join(dir, installDir, "speaker.kubeconfig"),
		"memberlist-bind-address":   netipAddrPort(p.NodeIPs(p.Nodes[1])[0].String(), "7946"),
		"health-probe-bind-address": ":7474", // the manifests' port, inside the node's namespace
		"log-format":                "text",
		"pprof-bind-address":        "127.0.0.1:6060",
	}
	for flag, want := range checks {
		if got, _ := argValue(sp.Args, flag); got != want {
			t.Errorf("speaker/node2 --%s=%q, want %q (args %q)", flag, got, want, sp.Args)
		}
	}
	if sp.Host != "node2" || !slices.Contains(sp.Env, "NODE_NAME=node2") {
		t.Errorf("speaker/node2: host %q, environment %q", sp.Host, sp.Env)
	}
}

func netipAddrPort(addr, port string) string { return net.JoinHostPort(addr, port) }

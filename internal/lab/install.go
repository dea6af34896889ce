package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/yaml"
)

// The lab installs ironlb the way an operator does: `up` applies the
// install manifests (dist/ironlb-namespace.yaml, dist/ironlb.yaml) to its
// API server with server-side apply, except the workloads, which need a
// container runtime the lab does not have. It reads the controller
// Deployment and the speaker DaemonSet for their containers' arguments,
// environment and ServiceAccounts instead, asks the API server for a token
// of each ServiceAccount (TokenRequest) and runs `ironlb controller` and
// one `ironlb speaker` per node as processes with those arguments and a
// kubeconfig holding that token: ironlb in the lab has exactly the
// permissions the manifests grant it.

const (
	// installDir (inside the lab directory) holds what `up` applied, the
	// components' kubeconfigs and installFile.
	installDir  = "install"
	installFile = "install.json"
	// installFieldManager owns the fields `up` applies.
	installFieldManager = "ironlb-lab"
	// tokenLifetime is what `up` asks for the ServiceAccount tokens; the
	// API server may grant less (status.expirationTimestamp, recorded).
	tokenLifetime = 365 * 24 * time.Hour
)

// ManifestFiles are the install manifests relative to the checkout, in the
// order an operator applies them.
var ManifestFiles = []string{"dist/ironlb-namespace.yaml", "dist/ironlb.yaml"}

// installation is what `up` installed, saved as <dir>/install/install.json
// for controllerProc and speakerProcs.
type installation struct {
	// Files are the manifests read.
	Files []string `json:"files"`
	// Applied counts the objects applied; NotCreated names the workloads
	// read but not created ("Deployment ironlb-system/ironlb-controller").
	Applied    int      `json:"applied"`
	NotCreated []string `json:"notCreated"`
	// Workloads name the workloads applied (ironlb as Pods).
	Workloads []string `json:"workloads,omitempty"`
	// Components are keyed by subcommand: "controller", "speaker".
	Components map[string]*component `json:"components"`
}

// component is an ironlb container of the manifests, run by the lab as a
// process.
type component struct {
	// Workload is "Deployment ironlb-system/ironlb-controller".
	Workload       string `json:"workload"`
	Namespace      string `json:"namespace"`
	ServiceAccount string `json:"serviceAccount"`
	// Args are the ironlb arguments: the container's command after the
	// binary, then its args; Args[0] is the subcommand.
	Args []string `json:"args"`
	Env  []envVar `json:"env,omitempty"`
	// Kubeconfig holds the ServiceAccount token, valid until TokenExpiry.
	Kubeconfig  string    `json:"kubeconfig"`
	TokenExpiry time.Time `json:"tokenExpiry"`
}

// envVar is a container environment variable: a literal Value, or the
// FieldPath of a Downward API reference resolved per process.
type envVar struct {
	Name      string `json:"name"`
	Value     string `json:"value,omitempty"`
	FieldPath string `json:"fieldPath,omitempty"`
}

// findManifestDir returns the checkout holding every ManifestFiles, found
// from the working directory or the ironlb binary; "" when none does.
func findManifestDir(ironlb string) string {
	wd, _ := os.Getwd()
	root := FindRepoRoot(wd, filepath.Dir(ironlb))
	if root == "" {
		return ""
	}
	for _, f := range ManifestFiles {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			return ""
		}
	}
	return root
}

// installManifests is the `up` step that installs ironlb from the
// manifests of the checkout; without them the lab runs ironlb with its
// admin kubeconfig, as it says.
func installManifests(ctx context.Context, s *State) (string, error) {
	root := findManifestDir(s.Ironlb)
	if root == "" {
		return "no install manifests (" + strings.Join(ManifestFiles, ", ") +
			" of a checkout): the ironlb controller and speakers use the admin kubeconfig", nil
	}
	cs, err := Clientset(s.Dir)
	if err != nil {
		return "", err
	}
	var files []string
	for _, f := range ManifestFiles {
		files = append(files, filepath.Join(root, f))
	}
	inst, err := install(ctx, s, cs, files)
	if err != nil {
		return "", err
	}
	if s.IronlbPods {
		return fmt.Sprintf("%d objects of %s applied, the workloads too (%s): ironlb runs as their Pods",
			inst.Applied, strings.Join(ManifestFiles, ", "), strings.Join(inst.Workloads, ", ")), nil
	}
	var sas []string
	for _, name := range slices.Sorted(maps.Keys(inst.Components)) {
		c := inst.Components[name]
		sas = append(sas, fmt.Sprintf("%s (%s, token until %s)", c.ServiceAccount, name, c.TokenExpiry.Format(time.DateOnly)))
	}
	return fmt.Sprintf("%d objects of %s applied; not created (no container runtime): %s; ServiceAccounts %s",
		inst.Applied, strings.Join(ManifestFiles, ", "), strings.Join(inst.NotCreated, ", "), strings.Join(sas, ", ")), nil
}

// install applies files (namespaces and CRDs first, then the rest; the
// workloads not at all), then writes a token kubeconfig per ironlb
// component and saves the installation.
func install(ctx context.Context, s *State, cs kubernetes.Interface, files []string) (*installation, error) {
	var objs []*unstructured.Unstructured
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("install manifests: %w", err)
		}
		o, err := parseManifest(b)
		if err != nil {
			return nil, fmt.Errorf("install manifests: %s: %w", f, err)
		}
		objs = append(objs, o...)
	}
	plan, err := planInstall(objs, s.IronlbPods)
	if err != nil {
		return nil, err
	}
	plan.inst.Files = files
	dir := filepath.Join(s.Dir, installDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("install: %w", err)
	}
	if err := applyStages(ctx, s, dir, plan); err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(pki{dir: filepath.Join(s.Dir, "pki")}.caCert())
	if err != nil {
		return nil, fmt.Errorf("install: %w", err)
	}
	for name, c := range plan.inst.Components {
		if s.IronlbPods {
			break // the kubelets mount the Pods' tokens
		}
		token, expiry, err := requestToken(ctx, cs, c.Namespace, c.ServiceAccount, tokenLifetime)
		if err != nil {
			return nil, err
		}
		c.Kubeconfig, c.TokenExpiry = filepath.Join(dir, name+".kubeconfig"), expiry
		kc, err := tokenKubeconfig(s.apiServerURL(), ca, c.Namespace, c.ServiceAccount, token)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(c.Kubeconfig, kc, 0o600); err != nil {
			return nil, fmt.Errorf("install: writing %s: %w", c.Kubeconfig, err)
		}
	}
	b, err := json.MarshalIndent(plan.inst, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("install: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, installFile), append(b, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("install: %w", err)
	}
	return plan.inst, nil
}

// applyStages writes each stage of plan to dir and applies it with
// kubectl's server-side apply, waiting for the CRDs to be established
// before the objects that may need them.
func applyStages(ctx context.Context, s *State, dir string, plan *installPlan) error {
	kubectl := []string{"--kubeconfig", s.Kubeconfig()}
	for _, st := range []struct {
		file string
		objs []*unstructured.Unstructured
		crds bool
	}{
		{"namespaces.yaml", plan.namespaces, false},
		{"crds.yaml", plan.crds, true},
		{"objects.yaml", plan.objects, false},
		{"workloads.yaml", plan.workloads, false},
	} {
		if len(st.objs) == 0 {
			continue
		}
		path := filepath.Join(dir, st.file)
		b, err := encodeManifest(st.objs)
		if err != nil {
			return err
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return fmt.Errorf("install: %w", err)
		}
		// --force-conflicts: the manifests win over what `up` applied
		// before them (the CRDs of --crds).
		if _, err := run(ctx, s.bin("kubectl"), append(kubectl, "apply", "--server-side", "--force-conflicts",
			"--field-manager="+installFieldManager, "-f", path)...); err != nil {
			return fmt.Errorf("applying %s: %w", path, err)
		}
		if st.crds {
			if _, err := run(ctx, s.bin("kubectl"), append(kubectl, "wait", "--for=condition=Established",
				"--timeout=60s", "-f", path)...); err != nil {
				return fmt.Errorf("waiting for the CRDs of %s: %w", path, err)
			}
		}
	}
	return nil
}

// installPlan sorts the manifests' objects into what `up` applies, in
// order, and the components it runs itself.
type installPlan struct {
	namespaces, crds, objects []*unstructured.Unstructured
	// workloads are applied last, and only when the lab runs ironlb as
	// Pods.
	workloads []*unstructured.Unstructured
	inst      *installation
}

// planInstall sorts objs: Namespaces, CRDs and every other object are
// applied; a workload (anything that needs a container runtime) is
// applied only with pods (real kubelets run it), and each of its
// containers running the ironlb controller or speaker becomes a
// component. Both components must be found.
func planInstall(objs []*unstructured.Unstructured, pods bool) (*installPlan, error) {
	p := &installPlan{inst: &installation{Components: map[string]*component{}}}
	for _, o := range objs {
		switch {
		case o.GetKind() == "Namespace" && o.GroupVersionKind().Group == "":
			p.namespaces = append(p.namespaces, o)
		case o.GetKind() == "CustomResourceDefinition":
			p.crds = append(p.crds, o)
		case needsContainerRuntime(o):
			desc := fmt.Sprintf("%s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName())
			if pods {
				p.workloads = append(p.workloads, o)
				p.inst.Workloads = append(p.inst.Workloads, desc)
			} else {
				p.inst.NotCreated = append(p.inst.NotCreated, desc)
			}
			comps, err := workloadComponents(o)
			if err != nil {
				return nil, fmt.Errorf("install manifests: %s: %w", desc, err)
			}
			for name, c := range comps {
				if prev, dup := p.inst.Components[name]; dup {
					return nil, fmt.Errorf("install manifests: both %s and %s run `ironlb %s`", prev.Workload, c.Workload, name)
				}
				p.inst.Components[name] = c
			}
		default:
			p.objects = append(p.objects, o)
		}
	}
	p.inst.Applied = len(p.namespaces) + len(p.crds) + len(p.objects) + len(p.workloads)
	for _, name := range []string{"controller", "speaker"} {
		if p.inst.Components[name] == nil {
			return nil, fmt.Errorf("install manifests: no workload runs `ironlb %s`", name)
		}
	}
	return p, nil
}

// NeedsContainerRuntime tells whether an object of the install manifests
// makes Pods (or is one): the lab reads those and runs their ironlb
// containers as processes instead of creating them.
func NeedsContainerRuntime(kind, apiVersion string) bool {
	switch apiVersion + "/" + kind {
	case "v1/Pod", "v1/ReplicationController",
		"apps/v1/Deployment", "apps/v1/DaemonSet", "apps/v1/StatefulSet", "apps/v1/ReplicaSet",
		"batch/v1/Job", "batch/v1/CronJob":
		return true
	}
	return false
}

func needsContainerRuntime(o *unstructured.Unstructured) bool {
	return NeedsContainerRuntime(o.GetKind(), o.GetAPIVersion())
}

// ironlbSubcommands are the long-running subcommands the lab runs.
var ironlbSubcommands = map[string]bool{"controller": true, "speaker": true}

// workloadComponents returns the ironlb components among the containers of
// a workload's Pod template, keyed by subcommand.
func workloadComponents(o *unstructured.Unstructured) (map[string]*component, error) {
	raw, found, err := unstructured.NestedMap(o.Object, "spec", "template")
	if o.GetKind() == "Pod" {
		raw, found, err = o.Object, true, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the Pod template: %w", err)
	}
	if !found {
		return nil, errors.New("no Pod template")
	}
	var tmpl corev1.PodTemplateSpec
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &tmpl); err != nil {
		return nil, fmt.Errorf("reading the Pod template: %w", err)
	}
	sa := tmpl.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	out := map[string]*component{}
	for _, c := range tmpl.Spec.Containers {
		args := containerArgs(c)
		if len(args) == 0 || !ironlbSubcommands[args[0]] {
			continue
		}
		comp := &component{
			Workload:  fmt.Sprintf("%s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName()),
			Namespace: o.GetNamespace(), ServiceAccount: sa, Args: args,
		}
		for _, e := range c.Env {
			switch {
			case e.ValueFrom == nil:
				comp.Env = append(comp.Env, envVar{Name: e.Name, Value: e.Value})
			case e.ValueFrom.FieldRef != nil:
				comp.Env = append(comp.Env, envVar{Name: e.Name, FieldPath: e.ValueFrom.FieldRef.FieldPath})
			default:
				return nil, fmt.Errorf("container %s: env %s: only values and fieldRefs are supported by the lab", c.Name, e.Name)
			}
		}
		out[args[0]] = comp
	}
	return out, nil
}

// containerArgs is what the container passes to the image's ironlb: its
// command after the binary, then its args (the image's entrypoint is the
// binary, so usually just args).
func containerArgs(c corev1.Container) []string {
	var out []string
	if len(c.Command) > 0 {
		out = append(out, c.Command[1:]...)
	}
	return append(out, c.Args...)
}

// environ resolves the component's environment for a process: the
// Downward API's metadata.namespace and spec.nodeName (node, empty for
// the controller); other field paths are left out.
func (c *component) environ(node string) []string {
	var out []string
	for _, e := range c.Env {
		switch e.FieldPath {
		case "":
			out = append(out, e.Name+"="+e.Value)
		case "metadata.namespace":
			out = append(out, e.Name+"="+c.Namespace)
		case "spec.nodeName":
			if node != "" {
				out = append(out, e.Name+"="+node)
			}
		}
	}
	return out
}

// parseManifest splits a multi-document YAML file into objects, skipping
// empty documents.
func parseManifest(b []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		o := &unstructured.Unstructured{Object: m}
		if o.GetKind() == "" || o.GetAPIVersion() == "" {
			return nil, fmt.Errorf("object %d has no kind or apiVersion", len(out)+1)
		}
		out = append(out, o)
	}
}

// encodeManifest joins objects into one multi-document YAML file.
func encodeManifest(objs []*unstructured.Unstructured) ([]byte, error) {
	var buf bytes.Buffer
	for _, o := range objs {
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, fmt.Errorf("encoding %s %s: %w", o.GetKind(), o.GetName(), err)
		}
		buf.WriteString("---\n")
		buf.Write(b)
	}
	return buf.Bytes(), nil
}

// requestToken asks the API server for a token of a ServiceAccount
// (TokenRequest) valid for lifetime, or as long as the server grants.
func requestToken(ctx context.Context, cs kubernetes.Interface, ns, sa string, lifetime time.Duration) (string, time.Time, error) {
	secs := int64(lifetime / time.Second)
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs}}
	got, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, tr, metav1.CreateOptions{})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("requesting a token for ServiceAccount %s/%s: %w", ns, sa, err)
	}
	return got.Status.Token, got.Status.ExpirationTimestamp.Time, nil
}

// tokenKubeconfig is a kubeconfig for server (trusting ca) that
// authenticates as ServiceAccount ns/sa with token.
func tokenKubeconfig(server string, ca []byte, ns, sa, token string) ([]byte, error) {
	user := "system:serviceaccount:" + ns + ":" + sa
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["ironlb-lab"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["ironlb-lab"] = &clientcmdapi.Context{Cluster: "ironlb-lab", AuthInfo: user, Namespace: ns}
	cfg.CurrentContext = "ironlb-lab"
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig for %s: %w", user, err)
	}
	return b, nil
}

// loadInstallation reads what `up` installed; nil when it installed
// nothing (no manifests, or a lab of an earlier ironlb).
func loadInstallation(dir string) *installation {
	b, err := os.ReadFile(filepath.Join(dir, installDir, installFile))
	if err != nil {
		return nil
	}
	var inst installation
	if err := json.Unmarshal(b, &inst); err != nil {
		return nil
	}
	return &inst
}

// component returns the installed component name; nil when there is none.
func (i *installation) component(name string) *component {
	if i == nil {
		return nil
	}
	return i.Components[name]
}

// setArgs returns args with each --name=value of set replaced in place or
// appended; a name the subcommand does not accept is an error. A flag of
// args given as "--name value" is replaced with both words.
func setArgs(args []string, accepted map[string]bool, set ...[2]string) ([]string, error) {
	out := slices.Clone(args)
	for _, kv := range set {
		if !accepted[kv[0]] {
			return nil, fmt.Errorf("ironlb has no --%s flag", kv[0])
		}
		flag := "--" + kv[0] + "=" + kv[1]
		i, n := findFlag(out, kv[0])
		if i < 0 {
			out = append(out, flag)
			continue
		}
		out = slices.Replace(out, i, i+n, flag)
	}
	return out, nil
}

// argValue returns the value of --name in args ("--name=v" or "--name v").
func argValue(args []string, name string) (string, bool) {
	i, n := findFlag(args, name)
	if i < 0 {
		return "", false
	}
	if n == 2 {
		return args[i+1], true
	}
	_, v, _ := strings.Cut(args[i], "=")
	return v, true
}

// findFlag locates --name (or -name) in args: its index and how many
// words it takes (1 for --name=v, 2 for --name v); -1 when absent.
func findFlag(args []string, name string) (int, int) {
	for i, a := range args {
		if a == "--" {
			break
		}
		trimmed := strings.TrimLeft(a, "-")
		if len(trimmed) == len(a) {
			continue
		}
		if trimmed == name {
			if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				return i, 2
			}
			return i, 1
		}
		if strings.HasPrefix(trimmed, name+"=") {
			return i, 1
		}
	}
	return -1, 0
}

// bindPort is the port of a host:port bind address, or def.
func bindPort(addr string, def int) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return def
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return def
	}
	return n
}

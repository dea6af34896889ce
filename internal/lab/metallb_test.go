package lab

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestParseLB(t *testing.T) {
	for _, in := range []string{"ironlb", "metallb"} {
		if lb, err := ParseLB(in); err != nil || string(lb) != in {
			t.Errorf("ParseLB(%q) = %q, %v", in, lb, err)
		}
	}
	if _, err := ParseLB("MetalLB"); err == nil || !strings.Contains(err.Error(), "want ironlb or metallb") {
		t.Errorf("ParseLB(MetalLB) = %v, want a refusal naming the choices", err)
	}
	if LB("").orDefault() != LBIronlb || LB("").MetalLB() || LB("").Name() != "ironlb" || LBMetalLB.Name() != "MetalLB" {
		t.Error("the empty LB (an older state) must mean ironlb")
	}
}

// TestMetalLBPods: the speakers find each other by listing the speaker
// Pods by label and joining their IPs, so each must be hostNetwork on its
// node, labelled as --ml-labels says, and carry the node's address before
// any speaker starts.
func TestMetalLBPods(t *testing.T) {
	p, err := NewPlan("t-", 2, DualStack)
	if err != nil {
		t.Fatal(err)
	}
	h := p.Nodes[1]
	pod := metallbPod(p, h, h.Name)
	if pod.Name != "speaker-node2" || pod.Namespace != metallbNamespace || pod.Spec.NodeName != "node2" || !pod.Spec.HostNetwork {
		t.Errorf("speaker Pod %s/%s on %q hostNetwork %v", pod.Namespace, pod.Name, pod.Spec.NodeName, pod.Spec.HostNetwork)
	}
	for _, kv := range strings.Split(metallbSpeakerLabels, ",") {
		k, v, _ := strings.Cut(kv, "=")
		if pod.Labels[k] != v {
			t.Errorf("speaker Pod labels %v do not match --ml-labels %s", pod.Labels, metallbSpeakerLabels)
		}
	}
	if pod.Status.PodIP != "10.200.0.12" || len(pod.Status.PodIPs) != 2 || pod.Status.Phase != corev1.PodRunning {
		t.Errorf("speaker Pod status %+v, want Running with node2's addresses", pod.Status)
	}
	if ctrl := metallbPod(p, p.Nodes[0], ""); ctrl.Name != "controller" || ctrl.Labels["component"] != "controller" {
		t.Errorf("controller Pod %s labels %v", ctrl.Name, ctrl.Labels)
	}
}

func TestMetalLBProcs(t *testing.T) {
	p, err := NewPlan("t-", 2, DualStack)
	if err != nil {
		t.Fatal(err)
	}
	s := &State{Dir: "/lab", MetalLBDir: "/mlb", Ports: Ports{ControllerHealth: 4242}}
	ctrl := metallbControllerProc(s)
	for _, want := range []string{"/mlb/controller", "--webhook-mode=disabled", "--health-probe-port=4242", "--port=0", "--pod-name=controller", "--kubeconfig=/lab/kubeconfig"} {
		if !slices.Contains(ctrl.Args, want) {
			t.Errorf("controller args %q lack %s", ctrl.Args, want)
		}
	}
	speakers := metallbSpeakerProcs(s, p)
	if len(speakers) != 2 || speakers[1].Name != "speaker/node2" || speakers[1].Host != "node2" {
		t.Fatalf("speakers %+v", speakers)
	}
	for _, want := range []string{"/mlb/speaker", "--node-name=node2", "--pod-name=speaker-node2", "--ml-bindaddr=10.200.0.12",
		"--ml-labels=" + metallbSpeakerLabels, "--ml-secret-key-path=/lab/metallb/memberlist"} {
		if !slices.Contains(speakers[1].Args, want) {
			t.Errorf("speaker args %q lack %s", speakers[1].Args, want)
		}
	}
	if !slices.Contains(speakers[1].Env, "METALLB_BGP_TYPE=native") {
		t.Errorf("speaker env %q: want native BGP", speakers[1].Env)
	}
}

func TestFindMetalLBDir(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("IRONLB_CACHE", cache)
	t.Setenv("IRONLB_METALLB_DIR", "")
	if _, err := FindMetalLBDir(""); err == nil || !strings.Contains(err.Error(), "hack/build-metallb.sh") {
		t.Errorf("FindMetalLBDir with an empty cache = %v, want the build script named", err)
	}
	dir := filepath.Join(cache, "metallb-v0.16.2")
	for _, f := range []string{"controller", "speaker", "crds/metallb.io_ipaddresspools.yaml"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := FindMetalLBDir(""); err != nil || got != dir {
		t.Errorf("FindMetalLBDir = %q, %v, want %q", got, err, dir)
	}
	if err := os.Remove(filepath.Join(dir, "speaker")); err != nil {
		t.Fatal(err)
	}
	if _, err := FindMetalLBDir(dir); err == nil || !strings.Contains(err.Error(), "speaker is missing") {
		t.Errorf("FindMetalLBDir without a speaker = %v", err)
	}
}

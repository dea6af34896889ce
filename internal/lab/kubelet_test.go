package lab

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	toml "github.com/pelletier/go-toml/v2"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	"sigs.k8s.io/yaml"
)

func TestParseKubeletMode(t *testing.T) {
	for _, s := range []string{"stand-in", "real"} {
		if m, err := ParseKubeletMode(s); err != nil || string(m) != s {
			t.Errorf("ParseKubeletMode(%q) = %q, %v", s, m, err)
		}
	}
	if _, err := ParseKubeletMode("fake"); err == nil || !strings.Contains(err.Error(), "stand-in or real") {
		t.Errorf("ParseKubeletMode(fake): %v, want an error naming the valid modes", err)
	}
	if KubeletMode("").Real() {
		t.Error("the empty mode (an older state) must be the stand-in")
	}
}

// TestKubeletYAML: the written file holds only what the lab chose, and
// reads back (strictly, as the kubelet does) into exactly the
// configuration the lab built — pointer fields set to false or "" included.
func TestKubeletYAML(t *testing.T) {
	p, err := NewPlan("t-", 2, DualStack)
	if err != nil {
		t.Fatal(err)
	}
	n := realNodePaths("/lab", "node2")
	want := kubeletConfiguration(p, p.Nodes[1], n, "/lab/pki/ca.crt")
	b, err := kubeletYAML(want)
	if err != nil {
		t.Fatal(err)
	}
	var got kubeletv1beta1.KubeletConfiguration
	if err := yaml.UnmarshalStrict(b, &got); err != nil {
		t.Fatalf("reading back:\n%s\n%v", b, err)
	}
	if diff := cmp.Diff(want, &got); diff != "" {
		t.Errorf("round trip (-built +read):\n%s", diff)
	}
	s := string(b)
	for _, line := range []string{
		"failCgroupV1: false", `resolvConf: ""`, "failSwapOn: false", "cgroupRoot: /t-node2",
		"containerRuntimeEndpoint: unix:///lab/nodes/node2/containerd.sock", "kind: KubeletConfiguration",
	} {
		if !strings.Contains(s, line) {
			t.Errorf("missing %q in:\n%s", line, s)
		}
	}
	for _, noise := range []string{"syncFrequency", "cpuManagerPolicy", "null"} {
		if strings.Contains(s, noise) {
			t.Errorf("zero-valued %q written:\n%s", noise, s)
		}
	}
}

func TestContainerdTOML(t *testing.T) {
	n := realNodePaths("/lab", "node1")
	b, err := containerdTOML(n)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := toml.Unmarshal(b, &got); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	cri := dig(t, got, "plugins", "io.containerd.grpc.v1.cri")
	checks := map[string][2]any{
		"version":                 {got["version"], int64(2)},
		"grpc address":            {dig(t, got, "grpc")["address"], "/lab/nodes/node1/containerd.sock"},
		"root":                    {got["root"], "/lab/nodes/node1/containerd/root"},
		"restrict_oom_score_adj":  {cri["restrict_oom_score_adj"], true},
		"netns under state dir":   {cri["netns_mounts_under_state_dir"], true},
		"sandbox_image":           {cri["sandbox_image"], SandboxImage},
		"CNI conf_dir":            {dig(t, cri, "cni")["conf_dir"], "/lab/nodes/node1/cni/net.d"},
		"runc Root":               {dig(t, cri, "containerd", "runtimes", "runc", "options")["Root"], "/lab/nodes/node1/containerd/runc"},
		"opt path (not /opt/...)": {dig(t, got, "plugins", "io.containerd.internal.v1.opt")["path"], "/lab/nodes/node1/containerd/opt"},
	}
	for what, c := range checks {
		if c[0] != c[1] {
			t.Errorf("%s = %v, want %v\n%s", what, c[0], c[1], b)
		}
	}
}

func dig(t *testing.T, m map[string]any, keys ...string) map[string]any {
	t.Helper()
	for _, k := range keys {
		next, ok := m[k].(map[string]any)
		if !ok {
			t.Fatalf("no table %q in %v", k, m)
		}
		m = next
	}
	return m
}

func TestCNIConfList(t *testing.T) {
	for _, tc := range []struct {
		family IPFamily
		ranges []string
		routes []string
	}{
		{DualStack, []string{"10.244.2.0/24", "fd00:10:244:2::/64"}, []string{"0.0.0.0/0", "::/0"}},
		{IPv4Only, []string{"10.244.2.0/24"}, []string{"0.0.0.0/0"}},
		{IPv6Only, []string{"fd00:10:244:2::/64"}, []string{"::/0"}},
	} {
		p, err := NewPlan("t-", 2, tc.family)
		if err != nil {
			t.Fatal(err)
		}
		b, err := cniConfList(p, p.Nodes[1], realNodePaths("/lab", "node2"))
		if err != nil {
			t.Fatal(err)
		}
		var conf struct {
			Name    string `json:"name"`
			Plugins []struct {
				Type string `json:"type"`
				IPAM struct {
					Ranges  [][]struct{ Subnet string } `json:"ranges"`
					Routes  []struct{ Dst string }      `json:"routes"`
					DataDir string                      `json:"dataDir"`
				} `json:"ipam"`
			} `json:"plugins"`
		}
		if err := json.Unmarshal(b, &conf); err != nil {
			t.Fatal(err)
		}
		var ranges, routes []string
		for _, r := range conf.Plugins[0].IPAM.Ranges {
			ranges = append(ranges, r[0].Subnet)
		}
		for _, r := range conf.Plugins[0].IPAM.Routes {
			routes = append(routes, r.Dst)
		}
		if conf.Name != "t-node2" || conf.Plugins[0].Type != "bridge" || conf.Plugins[0].IPAM.DataDir != "/lab/nodes/node2/cni/ipam" {
			t.Errorf("%s: name %q, first plugin %q, dataDir %q", tc.family, conf.Name, conf.Plugins[0].Type, conf.Plugins[0].IPAM.DataDir)
		}
		if diff := cmp.Diff(tc.ranges, ranges); diff != "" {
			t.Errorf("%s ranges (-want +got):\n%s", tc.family, diff)
		}
		if diff := cmp.Diff(tc.routes, routes); diff != "" {
			t.Errorf("%s routes (-want +got):\n%s", tc.family, diff)
		}
	}
}

func TestParseMountInfoLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		want mountEntry
		ok   bool
	}{
		{"36 35 98:0 /mnt1 /mnt/a\\040b rw,noatime master:1 - ext3 /dev/root rw,errors=continue", mountEntry{"/mnt/a b", "ext3"}, true},
		{"30 25 0:26 / /sys/fs/cgroup/cpu rw,relatime shared:9 - cgroup cgroup rw,cpu", mountEntry{"/sys/fs/cgroup/cpu", "cgroup"}, true},
		{"garbage", mountEntry{}, false},
	} {
		got, ok := parseMountInfoLine(tc.line)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseMountInfoLine(%q) = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

package lab

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	toml "github.com/pelletier/go-toml/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// KubeletMode selects what plays the kubelet on the lab's nodes.
type KubeletMode string

// The kubelet modes.
const (
	// KubeletStandIn is `ironlb lab agent`: no container runtime, Pods
	// answered by built-in servers (the default).
	KubeletStandIn KubeletMode = "stand-in"
	// KubeletReal is the pinned kubelet with one containerd per node and
	// the bridge CNI plugin.
	KubeletReal KubeletMode = "real"
)

// ParseKubeletMode accepts stand-in or real.
func ParseKubeletMode(s string) (KubeletMode, error) {
	switch m := KubeletMode(s); m {
	case KubeletStandIn, KubeletReal:
		return m, nil
	}
	return "", fmt.Errorf("--kubelet %q: want %s or %s", s, KubeletStandIn, KubeletReal)
}

// Real reports whether m runs real kubelets. The empty mode (a state
// written before the mode existed) is the stand-in.
func (m KubeletMode) Real() bool { return m == KubeletReal }

// SandboxImage is the pause image containerd starts every Pod sandbox
// from; the lab imports it into every node's containerd, since nothing
// can be pulled here.
const SandboxImage = "registry.k8s.io/pause:3.10"

// cniBinDir is where Debian's containernetworking-plugins installs the
// plugins.
const cniBinDir = "/usr/lib/cni"

// kubeletPorts: the kubelet's API and health ports, each in its node's own
// namespace, so every node uses the defaults.
const (
	kubeletPort        = 10250
	kubeletHealthzPort = 10248
)

// nodePaths are the files and directories of one node's containerd and
// kubelet, all under <dir>/nodes/<node>. The paths are short on purpose:
// containerd's socket path must fit a sockaddr_un (108 bytes).
type nodePaths struct{ base string }

func realNodePaths(dir, node string) nodePaths {
	return nodePaths{base: filepath.Join(dir, nodesDir, node)}
}

// nodesDir is the lab directory's entry holding every node's runtime
// files; `down` unmounts everything below it before removing it.
const nodesDir = "nodes"

func (n nodePaths) path(elem ...string) string {
	return filepath.Join(append([]string{n.base}, elem...)...)
}
func (n nodePaths) containerdConfig() string { return n.path("containerd.toml") }
func (n nodePaths) containerdSocket() string { return n.path("containerd.sock") }
func (n nodePaths) containerdRoot() string   { return n.path("containerd", "root") }
func (n nodePaths) containerdState() string  { return n.path("containerd", "state") }
func (n nodePaths) runcRoot() string         { return n.path("containerd", "runc") }
func (n nodePaths) cniConfDir() string       { return n.path("cni", "net.d") }
func (n nodePaths) cniIPAMDir() string       { return n.path("cni", "ipam") }
func (n nodePaths) kubeletConfig() string    { return n.path("kubelet.yaml") }
func (n nodePaths) kubeletRoot() string      { return n.path("kubelet") }
func (n nodePaths) kubeletCerts() string     { return n.path("kubelet-pki") }
func (n nodePaths) volumePlugins() string    { return n.path("volume-plugins") }
func (n nodePaths) podLogs() string          { return n.path("pod-logs") }

// taskDir is where containerd's runc v2 shims keep one directory per task
// (a sandbox or a container) of the CRI's namespace.
func (n nodePaths) taskDir() string {
	return filepath.Join(n.containerdState(), "io.containerd.runtime.v2.task", "k8s.io")
}

// cgroupRoot is a node's kubelet cgroup root: named like its network
// namespace, so `down` finds the cgroups of a lab whose state is lost by
// the same pattern as its namespaces.
func cgroupRoot(p Plan, h Host) string { return "/" + p.Namespace(h.Name) }

// cniNetwork names a node's CNI network. libcni keeps its results cache in
// the machine-wide /var/lib/cni/results/<network>-<container>-<ifname>
// (containerd 1.6 cannot move it), so the name carries the namespace
// prefix and `down` removes the files a killed sandbox left.
func cniNetwork(p Plan, h Host) string { return p.Namespace(h.Name) }

// containerdConfig is a node's containerd configuration (version 2, as
// containerd 1.6 reads it). Every directory and socket is the node's own;
// only the shims' sockets stay in the machine-wide /run/containerd/s
// (containerd has no setting for it).
type containerdConfig struct {
	Version         int      `toml:"version"`
	Root            string   `toml:"root"`
	State           string   `toml:"state"`
	DisabledPlugins []string `toml:"disabled_plugins"`
	GRPC            struct {
		Address string `toml:"address"`
	} `toml:"grpc"`
	Plugins map[string]any `toml:"plugins"`
}

type criPlugin struct {
	SandboxImage string `toml:"sandbox_image"`
	// RestrictOOMScoreAdj: the lab's machines give root no
	// CAP_SYS_RESOURCE, so runc fails every sandbox that asks for a lower
	// oom_score_adj than its own (-998 for pause) without it.
	RestrictOOMScoreAdj bool `toml:"restrict_oom_score_adj"`
	// NetnsMountsUnderStateDir keeps the Pods' network namespaces out of
	// the machine-wide /var/run/netns, under the node's state directory.
	NetnsMountsUnderStateDir bool          `toml:"netns_mounts_under_state_dir"`
	Containerd               criContainerd `toml:"containerd"`
	CNI                      criCNI        `toml:"cni"`
}

type criContainerd struct {
	Snapshotter        string                `toml:"snapshotter"`
	DefaultRuntimeName string                `toml:"default_runtime_name"`
	Runtimes           map[string]criRuntime `toml:"runtimes"`
}

type criRuntime struct {
	RuntimeType string `toml:"runtime_type"`
	Options     struct {
		// Root is runc's state directory, per node so two nodes' runc
		// never share it.
		Root          string `toml:"Root"`
		SystemdCgroup bool   `toml:"SystemdCgroup"`
	} `toml:"options"`
}

type criCNI struct {
	BinDir     string `toml:"bin_dir"`
	ConfDir    string `toml:"conf_dir"`
	MaxConfNum int    `toml:"max_conf_num"`
}

// containerdTOML renders a node's containerd configuration.
func containerdTOML(n nodePaths) ([]byte, error) {
	c := containerdConfig{
		Version: 2, Root: n.containerdRoot(), State: n.containerdState(),
		// Snapshotters the lab never uses; they only log load errors.
		DisabledPlugins: []string{
			"io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
			"io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
		},
	}
	c.GRPC.Address = n.containerdSocket()
	runc := criRuntime{RuntimeType: "io.containerd.runc.v2"}
	runc.Options.Root = n.runcRoot()
	c.Plugins = map[string]any{
		"io.containerd.grpc.v1.cri": criPlugin{
			SandboxImage: SandboxImage, RestrictOOMScoreAdj: true, NetnsMountsUnderStateDir: true,
			Containerd: criContainerd{Snapshotter: "overlayfs", DefaultRuntimeName: "runc",
				Runtimes: map[string]criRuntime{"runc": runc}},
			CNI: criCNI{BinDir: cniBinDir, ConfDir: n.cniConfDir(), MaxConfNum: 1},
		},
		// containerd's default is the machine-wide /opt/containerd.
		"io.containerd.internal.v1.opt": map[string]string{"path": n.path("containerd", "opt")},
	}
	b, err := toml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("containerd config: %w", err)
	}
	return b, nil
}

// cniConfList is a node's CNI network: the bridge plugin on cni0 with
// host-local addresses from the node's pod CIDRs (the gateway, .1, on the
// bridge), and portmap for hostPort. No masquerading: the lab's nodes
// route every node's pod CIDR (hostBatch), so Pods reach each other with
// their own addresses; kube-proxy masquerades what it must.
func cniConfList(p Plan, h Host, n nodePaths) ([]byte, error) {
	var ranges [][]map[string]string
	var routes []map[string]string
	for _, c := range p.PodCIDRs(h) {
		ranges = append(ranges, []map[string]string{{"subnet": c.String()}})
		def := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		if c.Addr().Is6() {
			def = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
		routes = append(routes, map[string]string{"dst": def.String()})
	}
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       cniNetwork(p, h),
		"plugins": []map[string]any{
			{
				"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
				"ipam": map[string]any{"type": "host-local", "ranges": ranges, "routes": routes, "dataDir": n.cniIPAMDir()},
			},
			{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("CNI config: %w", err)
	}
	return b, nil
}

// kubeletConfiguration is a node's KubeletConfiguration. What differs
// from the defaults, and why:
//   - failCgroupV1: false — the lab's machines run cgroup v1 (hybrid);
//     kubelet 1.35+ refuses v1 without it.
//   - cgroupfs driver and a cgroup root of the node's own, so nodes (and
//     labs) never share cgroups and `down` can remove them.
//   - every directory under the node's own path; ports are the defaults,
//     each in its node's network namespace.
//   - authentication by the lab's CA and webhook, authorization by
//     webhook: the API server decides, as in a cluster.
//   - node status every 2 s: Ready in ~4 s instead of ~11 s.
//   - no DNS configuration for Pods (resolvConf ""): nothing outside the
//     lab is reachable anyway.
//   - eviction thresholds and image GC that a shared, busy development
//     machine does not trip: an evicted test Pod or a collected pause image
//     is a failure the lab made, not the code under test.
//
// protectKernelDefaults stays false: true makes kubelet refuse to start
// unless the machine already has its sysctls; the lab records and restores
// them instead (hostSysctls).
func kubeletConfiguration(p Plan, h Host, n nodePaths, caFile string) *kubeletv1beta1.KubeletConfiguration {
	c := &kubeletv1beta1.KubeletConfiguration{
		TypeMeta:                  metav1.TypeMeta{APIVersion: kubeletv1beta1.SchemeGroupVersion.String(), Kind: "KubeletConfiguration"},
		FailCgroupV1:              ptr.To(false),
		CgroupDriver:              "cgroupfs",
		CgroupRoot:                cgroupRoot(p, h),
		ContainerRuntimeEndpoint:  "unix://" + n.containerdSocket(),
		Address:                   "::",
		Port:                      kubeletPort,
		HealthzBindAddress:        "127.0.0.1",
		HealthzPort:               ptr.To[int32](kubeletHealthzPort),
		ReadOnlyPort:              0,
		VolumePluginDir:           n.volumePlugins(),
		PodLogsDir:                n.podLogs(),
		StaticPodPath:             "",
		ResolverConfig:            ptr.To(""),
		FailSwapOn:                ptr.To(false),
		ProtectKernelDefaults:     false,
		NodeStatusUpdateFrequency: metav1.Duration{Duration: 2 * time.Second},
		NodeStatusReportFrequency: metav1.Duration{Duration: time.Minute},
		EvictionHard: map[string]string{
			"memory.available": "100Mi", "nodefs.available": "1%", "nodefs.inodesFree": "1%", "imagefs.available": "1%",
		},
		ImageGCHighThresholdPercent: ptr.To[int32](100),
		ImageGCLowThresholdPercent:  ptr.To[int32](99),
		Authentication: kubeletv1beta1.KubeletAuthentication{
			X509:      kubeletv1beta1.KubeletX509Authentication{ClientCAFile: caFile},
			Webhook:   kubeletv1beta1.KubeletWebhookAuthentication{Enabled: ptr.To(true)},
			Anonymous: kubeletv1beta1.KubeletAnonymousAuthentication{Enabled: ptr.To(false)},
		},
		Authorization: kubeletv1beta1.KubeletAuthorization{Mode: kubeletv1beta1.KubeletAuthorizationModeWebhook},
	}
	return c
}

// kubeletYAML renders kubeletConfiguration without the entries an empty
// KubeletConfiguration writes too (encoding/json writes non-pointer
// structs and fields without omitempty at their zero value): those decode
// to the same zero value the kubelet then defaults, so the file shows only
// what the lab chose. A field the lab set through a pointer, even to false
// or "", is kept.
func kubeletYAML(c *kubeletv1beta1.KubeletConfiguration) ([]byte, error) {
	m, err := jsonMap(c)
	if err != nil {
		return nil, fmt.Errorf("kubelet config: %w", err)
	}
	zero, err := jsonMap(&kubeletv1beta1.KubeletConfiguration{})
	if err != nil {
		return nil, fmt.Errorf("kubelet config: %w", err)
	}
	pruneLike(m, zero)
	out, err := yaml.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("kubelet config: %w", err)
	}
	return out, nil
}

func jsonMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

// pruneLike deletes from m every entry equal to the same entry of zero,
// descending into objects and dropping those left empty.
func pruneLike(m, zero map[string]any) {
	for k, v := range m {
		z, ok := zero[k]
		if !ok {
			continue
		}
		if vm, isMap := v.(map[string]any); isMap {
			if zm, zIsMap := z.(map[string]any); zIsMap {
				pruneLike(vm, zm)
				if len(vm) == 0 {
					delete(m, k)
				}
			}
			continue
		}
		if reflect.DeepEqual(v, z) {
			delete(m, k)
		}
	}
}

// kubeletArgs are a node's kubelet flags beyond its configuration file:
// what the configuration cannot hold (root and certificate directories)
// and the node's identity. The kubelet uses the lab's admin kubeconfig,
// reaching the API server through the supervisor's forwarder on the
// node's loopback, like kube-proxy.
func kubeletArgs(s *State, p Plan, h Host, n nodePaths) []string {
	ips := make([]string, 0, 2)
	for _, a := range p.NodeIPs(h) {
		ips = append(ips, a.String())
	}
	return []string{
		s.bin("kubelet"), "--config=" + n.kubeletConfig(), "--kubeconfig=" + s.Kubeconfig(),
		"--root-dir=" + n.kubeletRoot(), "--cert-dir=" + n.kubeletCerts(),
		"--hostname-override=" + h.Name, "--node-ip=" + strings.Join(ips, ","),
	}
}

// containerdProc is a node's containerd; kubeletProc its kubelet. Both
// enter only the node's network namespace (NetOnly): `ip netns exec`
// remounts /sys, hiding the cgroup hierarchies both need. kubelet stops
// first (higher Order), so it never restarts a container containerd is
// stopping.
func containerdProc(h Host, n nodePaths) *Proc {
	return &Proc{
		Name: "containerd/" + h.Name, Host: h.Name, NetOnly: true, Order: 75, Supervised: true,
		Args: []string{"containerd", "--config=" + n.containerdConfig()},
	}
}

func kubeletProc(s *State, p Plan, h Host, n nodePaths) *Proc {
	return &Proc{
		Name: "kubelet/" + h.Name, Host: h.Name, NetOnly: true, Order: 80, Supervised: true,
		Args: kubeletArgs(s, p, h, n),
	}
}

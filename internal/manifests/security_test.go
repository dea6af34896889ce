package manifests

import (
	"slices"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// effective merges a container's security context over its pod's, the way
// the kubelet does for the fields both define.
type effective struct {
	runAsNonRoot, readOnlyRoot, noEscalation bool
	runAsUser                                *int64
	seccomp                                  corev1.SeccompProfileType
	drop, add                                []corev1.Capability
}

func securityOf(pod *corev1.PodSpec, c *corev1.Container) effective {
	var e effective
	if ps := pod.SecurityContext; ps != nil {
		e.runAsNonRoot = ps.RunAsNonRoot != nil && *ps.RunAsNonRoot
		e.runAsUser = ps.RunAsUser
		if ps.SeccompProfile != nil {
			e.seccomp = ps.SeccompProfile.Type
		}
	}
	if cs := c.SecurityContext; cs != nil {
		if cs.RunAsNonRoot != nil {
			e.runAsNonRoot = *cs.RunAsNonRoot
		}
		if cs.RunAsUser != nil {
			e.runAsUser = cs.RunAsUser
		}
		if cs.SeccompProfile != nil {
			e.seccomp = cs.SeccompProfile.Type
		}
		e.readOnlyRoot = cs.ReadOnlyRootFilesystem != nil && *cs.ReadOnlyRootFilesystem
		e.noEscalation = cs.AllowPrivilegeEscalation != nil && !*cs.AllowPrivilegeEscalation
		if cs.Privileged != nil && *cs.Privileged {
			e.add = append(e.add, "PRIVILEGED")
		}
		if caps := cs.Capabilities; caps != nil {
			e.drop = caps.Drop
			e.add = append(e.add, caps.Add...)
		}
	}
	return e
}

func envFrom(c *corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			return e.ValueFrom.FieldRef.FieldPath
		}
	}
	return ""
}

func TestControllerPodIsLockedDown(t *testing.T) {
	t.Parallel()
	checkControllerPod(t, loadFile(t, distManifest))
}

func TestSpeakerPodHasOnlyNetRaw(t *testing.T) {
	t.Parallel()
	checkSpeakerPod(t, loadFile(t, distManifest))
}

// checkControllerPod checks the controller Deployment of b: non-root,
// read-only, no capabilities, leader election, probes and resources.
func checkControllerPod(t *testing.T, b *bundle) {
	t.Helper()
	d := deployment(t, b, "ironlb-controller")
	if d.Namespace != namespace {
		t.Errorf("Deployment namespace = %q, want %q", d.Namespace, namespace)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("Deployment replicas = %v, want at least 2 (leader election keeps one standby)", d.Spec.Replicas)
	}
	pod := &d.Spec.Template.Spec
	if pod.ServiceAccountName != "ironlb-controller" {
		t.Errorf("serviceAccountName = %q, want ironlb-controller", pod.ServiceAccountName)
	}
	if pod.HostNetwork {
		t.Error("the controller runs on the host network; it needs no host access")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("the controller pod has %d containers, want 1", len(pod.Containers))
	}
	c := &pod.Containers[0]
	sec := securityOf(pod, c)
	if !sec.runAsNonRoot || (sec.runAsUser != nil && *sec.runAsUser == 0) {
		t.Errorf("controller: runAsNonRoot=%v runAsUser=%v, want non-root", sec.runAsNonRoot, sec.runAsUser)
	}
	checkCommon(t, "controller", sec)
	if len(sec.add) != 0 {
		t.Errorf("controller adds capabilities %v, want none", sec.add)
	}
	if got := envFrom(c, "IRONLB_NAMESPACE"); got != "metadata.namespace" {
		t.Errorf("controller env IRONLB_NAMESPACE from %q, want metadata.namespace", got)
	}
	checkProbes(t, "controller", c, 8081)
	if !slices.Contains(c.Args, "controller") || !slices.Contains(c.Args, "--leader-elect=true") {
		t.Errorf("controller args %v, want the controller subcommand with --leader-elect=true", c.Args)
	}
	checkResources(t, "controller", c)
}

// checkSpeakerPod checks the speaker DaemonSet of b: host network, NET_RAW
// as the only capability, read-only, node name, tolerations, probes, ports.
func checkSpeakerPod(t *testing.T, b *bundle) {
	t.Helper()
	ds := daemonSet(t, b, "ironlb-speaker")
	if ds.Namespace != namespace {
		t.Errorf("DaemonSet namespace = %q, want %q", ds.Namespace, namespace)
	}
	pod := &ds.Spec.Template.Spec
	if pod.ServiceAccountName != "ironlb-speaker" {
		t.Errorf("serviceAccountName = %q, want ironlb-speaker", pod.ServiceAccountName)
	}
	if !pod.HostNetwork {
		t.Error("the speaker must run on the host network to answer ARP/NDP on the node's interfaces")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("the speaker pod has %d containers, want 1", len(pod.Containers))
	}
	c := &pod.Containers[0]
	sec := securityOf(pod, c)
	checkCommon(t, "speaker", sec)
	if !slices.Equal(sec.add, []corev1.Capability{"NET_RAW"}) {
		t.Errorf("speaker adds capabilities %v, want exactly [NET_RAW]", sec.add)
	}
	if got := envFrom(c, "NODE_NAME"); got != "spec.nodeName" {
		t.Errorf("speaker env NODE_NAME from %q, want spec.nodeName", got)
	}
	if got := envFrom(c, "IRONLB_NAMESPACE"); got != "metadata.namespace" {
		t.Errorf("speaker env IRONLB_NAMESPACE from %q, want metadata.namespace", got)
	}
	for _, key := range []string{"node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master"} {
		if !tolerates(pod.Tolerations, key, corev1.TaintEffectNoSchedule) {
			t.Errorf("speaker does not tolerate %s:NoSchedule; control-plane nodes would not announce", key)
		}
	}
	checkProbes(t, "speaker", c, 7474)
	checkResources(t, "speaker", c)
	for _, want := range []corev1.ContainerPort{
		{Name: "memberlist-tcp", ContainerPort: 7946, Protocol: corev1.ProtocolTCP},
		{Name: "memberlist-udp", ContainerPort: 7946, Protocol: corev1.ProtocolUDP},
		{Name: "metrics", ContainerPort: 7473, Protocol: corev1.ProtocolTCP},
	} {
		if !slices.Contains(c.Ports, want) {
			t.Errorf("speaker ports %v lack %+v", c.Ports, want)
		}
	}
}

// checkCommon checks what both pods share: a read-only root, no privilege
// escalation, every capability dropped, the runtime's seccomp profile.
func checkCommon(t *testing.T, who string, sec effective) {
	t.Helper()
	if !sec.readOnlyRoot {
		t.Errorf("%s: readOnlyRootFilesystem is not true", who)
	}
	if !sec.noEscalation {
		t.Errorf("%s: allowPrivilegeEscalation is not false", who)
	}
	if !slices.Equal(sec.drop, []corev1.Capability{"ALL"}) {
		t.Errorf("%s: drops capabilities %v, want [ALL]", who, sec.drop)
	}
	if sec.seccomp != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: seccompProfile %q, want RuntimeDefault", who, sec.seccomp)
	}
}

func checkProbes(t *testing.T, who string, c *corev1.Container, port int32) {
	t.Helper()
	probes := map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe}
	for path, p := range probes {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s: no HTTP probe on %s", who, path)
			continue
		}
		if p.HTTPGet.Path != path {
			t.Errorf("%s: probe path %q, want %q", who, p.HTTPGet.Path, path)
		}
		if got := portNumber(c, p.HTTPGet.Port.StrVal, p.HTTPGet.Port.IntVal); got != port {
			t.Errorf("%s: probe %s on port %d, want %d", who, path, got, port)
		}
	}
	want := "--health-probe-bind-address=:" + strconv.Itoa(int(port))
	if !slices.Contains(c.Args, want) {
		t.Errorf("%s: args %v lack %s, which the probes need", who, c.Args, want)
	}
}

func checkResources(t *testing.T, who string, c *corev1.Container) {
	t.Helper()
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
		t.Errorf("%s: no CPU or memory request", who)
	}
	if c.Resources.Limits.Memory().IsZero() {
		t.Errorf("%s: no memory limit", who)
	}
}

// portNumber resolves a probe's named or numbered port.
func portNumber(c *corev1.Container, name string, number int32) int32 {
	if name == "" {
		return number
	}
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return -1
}

func tolerates(tols []corev1.Toleration, key string, effect corev1.TaintEffect) bool {
	for _, tol := range tols {
		keyOK := tol.Key == key || (tol.Key == "" && tol.Operator == corev1.TolerationOpExists)
		effectOK := tol.Effect == effect || tol.Effect == ""
		if keyOK && effectOK {
			return true
		}
	}
	return false
}

package main

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/internal/speaker"
	"github.com/ironlb/ironlb/internal/testenv"
)

func TestSpeakerFlagDefaults(t *testing.T) {
	t.Setenv(namespaceEnv, "from-env")
	t.Setenv(nodeNameEnv, "node-from-env")
	cmd := newSpeakerCommand()
	want := map[string]string{
		"node-name":                 "node-from-env",
		"namespace":                 "from-env",
		"kubeconfig":                "",
		"config-map":                "",
		"lb-class":                  "",
		"memberlist":                "true",
		"memberlist-secret":         "",
		"memberlist-bind-address":   ":7946",
		"memberlist-secret-wait":    "30s",
		"health-probe-bind-address": ":8081",
		"pprof-bind-address":        "0",
		"metrics-bind-address":      ":7473",
		"metrics-secure":            "true",
		"metrics-cert-dir":          "",
		"kube-api-qps":              "50",
		"kube-api-burst":            "100",
	}
	checkFlagDefaults(t, cmd, want)
}

func TestSpeakerNeedsNodeName(t *testing.T) {
	t.Setenv(nodeNameEnv, "")
	root := newRootCommand()
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"speaker", "--kubeconfig", testKubeconfig(t)})
	err := root.ExecuteContext(t.Context())
	if err == nil || !strings.Contains(err.Error(), "--node-name") {
		t.Fatalf("error %v, want one asking for --node-name", err)
	}
}

// testKubeconfig writes a kubeconfig pointing at nothing (the commands
// tested fail before they connect).
func testKubeconfig(t *testing.T) string {
	t.Helper()
	path := t.TempDir() + "/kubeconfig"
	cfg := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSpeakerCommand runs `ironlb speaker` against a real API server, as
// its ServiceAccount with the generated role, without memberlist's Secret
// (it falls back to Node readiness) and with nothing to announce: it
// publishes its node's interfaces, serves /readyz and /metrics (over
// HTTPS, to readers the API server allows: checkSecureMetrics), and
// removes the annotation when it stops.
//
// Seen failing with the speaker's role lacking subjectaccessreviews
// create: "waiting for metrics over HTTPS with the reader's token: status
// 500: Authorization for user system:serviceaccount:<ns>:scraper failed".
func TestSpeakerCommand(t *testing.T) {
	env := testenv.Start(t)
	ctx := t.Context()
	ns := env.NewNamespace(t)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "speaker-test"}}
	if err := env.Client.Create(ctx, node); err != nil {
		t.Fatal(err)
	}
	health, metrics, gossip := freeAddr(t), freeAddr(t), freeAddr(t)
	readers := newMetricsReaders(t, env, ns)
	kubeconfig := kubeconfigAs(t, env, env.AsServiceAccount(t, ns, "ironlb-speaker", []string{roleFile("speaker")}, nil))

	stop := startCommand(t, "speaker", "--log-level", "warn", "--kubeconfig", kubeconfig, "--namespace", ns,
		"--node-name", node.Name, "--memberlist-bind-address", gossip, "--memberlist-secret-wait", "-1s",
		"--health-probe-bind-address", health, "--metrics-bind-address", metrics)

	annotation := func() (string, bool, error) {
		var n corev1.Node
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(node), &n); err != nil {
			return "", false, err
		}
		v, ok := n.Annotations[speaker.AnnotationL2Subnets]
		return v, ok, nil
	}
	poll(t, "the subnets annotation", func() error {
		if _, ok, err := annotation(); err != nil || !ok {
			return errors.Join(err, errors.New("no annotation yet"))
		}
		return nil
	})
	for _, path := range []string{"/healthz", "/readyz"} {
		poll(t, path, func() error { _, err := get(ctx, "http://"+health+path); return err })
	}
	checkSecureMetrics(t, readers, metrics,
		`ironlb_layer2_announced_ips{family="IPv4"} 0`, `ironlb_layer2_requests_received_total{family="IPv6"} 0`, "ironlb_speaker_members 0")

	stop()
	if v, ok, err := annotation(); err != nil || ok {
		t.Errorf("after the stop: annotation %q present=%v (%v), want it removed", v, ok, err)
	}
}

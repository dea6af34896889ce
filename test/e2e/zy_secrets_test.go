//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/membership"
	"github.com/ironlb/ironlb/internal/testkit"
)

// TestNoSecretsInLogs runs after the suites that use the shared lab (Go
// runs a package's files in name order; only the lifecycle checks come
// later) and looks for secrets where they must never be: every log file of
// the lab (controller, speakers, API server, etcd, routers, the audit log)
// and every Event. The secrets: the memberlist Secret's content and the
// key derived from it (hex and base64), and two BGP passwords the test
// hands to a BGPPeer of its own — one inline (spec.password) and one in a
// Secret (spec.passwordSecret) — after the speakers have had the time to
// configure sessions with them and fail to reach the (absent) router.
//
// Seen failing with a log line added to the speaker's BGP apply printing
// the peers it configures (their Password fields included): "speaker-
// node1.log: the inline BGP password", "speaker-node1.log: the BGP
// password from its Secret", the same for node2 and node3. Without the
// guard that both peers are configured on every speaker first, a run
// where the speakers had not read them yet would pass proving nothing.
func TestNoSecretsInLogs(t *testing.T) {
	requireLab(t)
	ctx := context.Background()
	s := status(t)
	if !s.Speakers {
		t.Fatal("the lab runs no ironlb speakers (or one is down): `ironlb lab status` shows why")
	}
	l := newL2Env(t)

	inline := "inline-canary-" + randomHex(8)
	fromSecret := "secret-canary-" + randomHex(8)
	secretName := "e2e-leak-" + l.id
	secrets := l.cs.CoreV1().Secrets(ironlbNamespace)
	if _, err := secrets.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: secretName},
		Type:       corev1.SecretTypeBasicAuth,
		StringData: map[string]string{"password": fromSecret},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = secrets.Delete(context.Background(), secretName, metav1.DeleteOptions{}) })
	// Two peers at addresses nobody answers on, in the LAN's subnet: each
	// speaker configures the session (with its password) and keeps trying.
	peers := []*v1beta1.BGPPeer{
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: ironlbNamespace, Name: "e2e-leak-inline-" + l.id},
			Spec:       v1beta1.BGPPeerSpec{MyASN: 64513, PeerASN: 64599, PeerAddress: "10.200.0.98", Password: inline},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: ironlbNamespace, Name: "e2e-leak-secret-" + l.id},
			Spec: v1beta1.BGPPeerSpec{MyASN: 64513, PeerASN: 64599, PeerAddress: "10.200.0.97",
				PasswordSecret: &v1beta1.SecretReference{Name: secretName, Namespace: ironlbNamespace}},
		},
	}
	for _, p := range peers {
		if err := l.cl.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = l.cl.Delete(context.Background(), p) })
	}
	// The check must have something to look at: every speaker has
	// configured both sessions, passwords included (the session metric
	// exists once a peer is applied).
	// Expected: every speaker reads the peers within a second.
	eventually(t, testkit.Budget(5*time.Second), "both peers configured on every speaker", func() error {
		for _, n := range l.nodes {
			text, err := scrapeMetrics(ctx, e2e.prefix+n, speakerMetrics)
			if err != nil {
				return fmt.Errorf("speaker/%s: %w", n, err)
			}
			for _, p := range peers {
				found := false
				for _, line := range strings.Split(text, "\n") {
					if strings.HasPrefix(line, "ironlb_bgp_session_up{") && strings.Contains(line, p.Name+`"`) {
						found = true
					}
				}
				if !found {
					return fmt.Errorf("speaker/%s has no session to %s", n, p.Name)
				}
			}
		}
		return nil
	})
	time.Sleep(3 * time.Second) // GoBGP tries to connect, fails and logs
	for _, p := range peers {
		_ = l.cl.Delete(ctx, p)
	}
	time.Sleep(time.Second) // the session teardown logs too

	ml, err := secrets.Get(ctx, memberlistSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	content := ml.Data["secretkey"]
	key, err := membership.SecretKey(content)
	if err != nil {
		t.Fatal(err)
	}
	canaries := map[string][]byte{
		"the memberlist Secret's content":  content,
		"the memberlist key (hex)":         []byte(hex.EncodeToString(key)),
		"the inline BGP password":          []byte(inline),
		"the BGP password from its Secret": []byte(fromSecret),
	}

	logs, err := filepath.Glob(filepath.Join(e2e.dir, "logs", "*"))
	if err != nil || len(logs) == 0 {
		t.Fatalf("no lab logs in %s: %v", filepath.Join(e2e.dir, "logs"), err)
	}
	var read int64
	for _, f := range logs {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		read += int64(len(data))
		for what, c := range canaries {
			if bytes.Contains(data, c) {
				t.Errorf("%s: %s", filepath.Base(f), what)
			}
		}
	}
	events, err := l.cs.EventsV1().Events("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		text := fmt.Sprintf("%s %s %s", e.Reason, e.Note, e.Action)
		for what, c := range canaries {
			if strings.Contains(text, string(c)) {
				t.Errorf("Event %s/%s (%s): %s", e.Namespace, e.Name, e.Reason, what)
			}
		}
	}
	t.Logf("%d log files (%d bytes) and %d Events searched for %d secrets", len(logs), read, len(events.Items), len(canaries))
}

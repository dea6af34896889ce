//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/internal/membership"
	"github.com/ironlb/ironlb/internal/testkit"
)

const (
	metricKeyInfo   = "ironlb_memberlist_key_info"
	metricWrongKeys = "ironlb_memberlist_wrong_key_messages_total"
	// memberlistSecret is the lab's memberlist Secret (key secretkey).
	memberlistSecret = "ironlb-memberlist"
)

// testMemberlistKeyRotation rotates the memberlist Secret of the running
// lab under a 20 ms request stream to a dual-stack Service, with one
// speaker learning of it 3 s after the others: every speaker ends up
// encrypting with, and accepting only, the key derived from the new
// content (ironlb_memberlist_key_info), while no speaker ever sees fewer
// members (sampled every 50 ms), no address changes node
// (ServiceL2Status) and no request fails. Then a datagram that is not
// encrypted with the key, sent from the client to a speaker's memberlist
// port, is counted (ironlb_memberlist_wrong_key_messages_total).
//
// Seen failing, each time with the speakers built from a broken tree:
//   - no rotation (the speaker's keyLoop returning at once): "every
//     speaker on the new key only: not within ...: speaker/node1 has keys
//     [<old>] primary <old>, want only <new>";
//   - the new key used at once (membership.Gossip.SetKey calling UseKey
//     right after AddKey): "speakers lost each other during the rotation
//     (130 of 201 samples): [speaker/node3 saw 2 members speaker/node1
//     saw 2 members ...]". Without node3's stall that break passed: the
//     speakers saw the Secret within 270 ms of each other, faster than
//     memberlist notices a failure.
func (l *l2Env) testMemberlistKeyRotation(t *testing.T) {
	requireNodes(t, 2, "a key rotation among speakers")
	ctx := context.Background()
	svc := l.createLB(t, "keyrot", "web", "lan", corev1.IPFamilyPolicyRequireDualStack,
		[]corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, false)
	ips := l.waitIngress(t, svc, 2)
	l.waitAnnounced(t, svc, ips, nil)
	// The stream below starts only once kube-proxy serves the Service: its
	// first request, sent 20 ms after the announcement was seen, timed out
	// once in six runs before this wait was added.
	l.waitAnswers(t, svc, ips, "web", "")
	before, err := l.announcers(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}

	secrets := l.cs.CoreV1().Secrets(ironlbNamespace)
	sec, err := secrets.Get(ctx, memberlistSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	oldFP := secretFingerprint(t, sec.Data["secretkey"])
	// Expected: every speaker started from this Secret (or finished an
	// earlier rotation to it); the budget's minimum.
	l.waitKeys(t, oldFP, testkit.Budget(5*time.Second))

	// Sample every speaker's member count while the keys change.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var lost []string
	var samples int
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			for _, n := range l.nodes {
				m, err := speakerMembers(ctx, n)
				mu.Lock()
				samples++
				if err == nil && m != len(l.nodes) {
					lost = append(lost, fmt.Sprintf("speaker/%s saw %d members", n, m))
				}
				mu.Unlock()
			}
		}
	})
	traffic := startTraffic(ips)
	trafficStart := time.Now()

	// The last node's speaker learns of the change 3 s after the others:
	// its traffic to the API server (through the lab's forwarder on its
	// loopback) is dropped meanwhile, so its watch stalls — as a slow or
	// briefly cut-off node's would. Three seconds is several times
	// memberlist's failure detection: a speaker encrypting with the new
	// key before this one accepts it would be taken for failed.
	late := l.nodes[len(l.nodes)-1]
	stall := l.stallAPI(t, late)

	fresh := make([]byte, 96)
	_, _ = rand.Read(fresh)
	content := []byte(base64.StdEncoding.EncodeToString(fresh))
	sec.Data["secretkey"] = content
	start := time.Now()
	if _, err := secrets.Update(ctx, sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	newFP := secretFingerprint(t, content)
	time.Sleep(3 * time.Second)
	stall()
	// Expected: the stalled watch resumes within a second or two (TCP
	// retransmission after the drop), then the three steps take well under
	// a second (270 ms without the stall); a loaded machine slows the
	// watch and the metadata gossip.
	l.waitKeys(t, newFP, testkit.Budget(10*time.Second))
	took := time.Since(start)
	time.Sleep(time.Second) // a moment more of traffic and samples after the end
	sent, failed, firstErr := traffic.stop()
	close(stop)
	wg.Wait()
	after, err := l.announcers(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("key %s -> %s on every speaker after %v (speaker/%s's API traffic dropped for the first 3 s); %d requests, %d failed; %d member samples, %d short",
		oldFP, newFP, took.Round(10*time.Millisecond), late, sent, failed, samples, len(lost))
	if len(lost) > 0 {
		t.Errorf("speakers lost each other during the rotation (%d of %d samples): %v", len(lost), samples, lost[:min(5, len(lost))])
	}
	if failed > 0 {
		ff, _ := traffic.failures()
		t.Errorf("%d of %d requests failed during the rotation, the first (%v after the stream started; the Secret changed %v after it): %v", failed, sent, ff.Sub(trafficStart).Round(time.Millisecond), start.Sub(trafficStart).Round(time.Millisecond), firstErr)
	}
	if !slices.Equal(before, after) {
		t.Errorf("the announcers changed during the rotation: %v, then %v", before, after)
	}

	t.Run("a message under another key is counted", func(t *testing.T) {
		node := l.nodes[0]
		ip := l.nodeIP(t, node)
		read := func() float64 {
			text, err := scrapeMetrics(ctx, e2e.prefix+node, speakerMetrics)
			if err != nil {
				t.Fatal(err)
			}
			v, ok := metricValue(text, metricWrongKeys)
			if !ok {
				t.Fatalf("speaker/%s has no %s", node, metricWrongKeys)
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
		n0 := read()
		// Garbage long enough to be taken for an encrypted packet (version
		// byte, nonce, tag); no key decrypts it.
		junk := strings.Repeat("x", 64)
		out, err := exec.CommandContext(ctx, "ip", "netns", "exec", e2e.prefix+"client", "bash", "-c",
			fmt.Sprintf("printf %%s %s > /dev/udp/%s/%d", junk, ip, membership.DefaultPort)).CombinedOutput()
		if err != nil {
			t.Fatalf("sending the datagram from the client: %v: %s", err, out)
		}
		// Expected: memberlist reads the packet at once; the budget's minimum.
		eventually(t, testkit.Budget(time.Second), metricWrongKeys+" of speaker/"+node+" grows", func() error {
			if n := read(); n <= n0 {
				return fmt.Errorf("still %v", n)
			}
			return nil
		})
	})
}

// secretFingerprint is the fingerprint the speakers report for the key
// derived from a memberlist Secret's content.
func secretFingerprint(t *testing.T, content []byte) string {
	t.Helper()
	k, err := membership.SecretKey(content)
	if err != nil {
		t.Fatal(err)
	}
	return membership.KeyFingerprint(k)
}

// waitKeys waits until every speaker encrypts with, and accepts only, the
// key fp.
func (l *l2Env) waitKeys(t *testing.T, fp string, budget time.Duration) {
	t.Helper()
	eventually(t, budget, "every speaker on the key "+fp+" only", func() error {
		for _, n := range l.nodes {
			text, err := scrapeMetrics(context.Background(), e2e.prefix+n, speakerMetrics)
			if err != nil {
				return fmt.Errorf("speaker/%s: %w", n, err)
			}
			keys, primary := memberKeys(text)
			if primary != fp || !slices.Equal(keys, []string{fp}) {
				return fmt.Errorf("speaker/%s has keys %v primary %q, want only %s", n, keys, primary, fp)
			}
		}
		return nil
	})
}

// memberKeys reads ironlb_memberlist_key_info: the fingerprints, sorted,
// and the primary one.
func memberKeys(text string) (keys []string, primary string) {
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(line, metricKeyInfo+"{")
		if !ok {
			continue
		}
		labels, _, _ := strings.Cut(rest, "}")
		var fp string
		isPrimary := false
		for _, kv := range strings.Split(labels, ",") {
			k, v, _ := strings.Cut(kv, "=")
			v = strings.Trim(v, `"`)
			switch k {
			case "fingerprint":
				fp = v
			case "primary":
				isPrimary = v == "true"
			}
		}
		keys = append(keys, fp)
		if isPrimary {
			primary = fp
		}
	}
	slices.Sort(keys)
	return keys, primary
}

// stallAPI drops every packet to and from the API server's port in the
// node's namespace (the speaker's connections to the lab's forwarder on
// its loopback) until the returned function is called, or t ends.
func (l *l2Env) stallAPI(t *testing.T, node string) func() {
	t.Helper()
	p, err := l.state.Plan()
	if err != nil {
		t.Fatal(err)
	}
	ns := p.Namespace(node)
	table := "e2e-stall-" + l.id
	nft := func(script string) error { return nftIn(context.Background(), ns, script) }
	port := l.state.Ports.APIServer
	if err := nft(fmt.Sprintf("table inet %s {\n chain out { type filter hook output priority 0; tcp dport %d drop; tcp sport %d drop; }\n}\n",
		table, port, port)); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	undo := func() {
		once.Do(func() {
			if err := nft("delete table inet " + table); err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(undo)
	return undo
}

// nodeIP returns the node's InternalIP of the first family.
func (l *l2Env) nodeIP(t *testing.T, node string) netip.Addr {
	t.Helper()
	n, err := l.cs.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			if ip, err := netip.ParseAddr(a.Address); err == nil {
				return ip
			}
		}
	}
	t.Fatalf("node %s has no InternalIP", node)
	return netip.Addr{}
}

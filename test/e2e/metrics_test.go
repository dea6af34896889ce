//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/internal/testkit"
)

// l2PoolMetrics is the pool of the metrics check, in the LAN's subnet,
// clear of the other pools.
var l2PoolMetrics = []string{"10.200.0.236-10.200.0.237", "fd00:200::236-fd00:200::237"}

// The speaker metrics the check reads (internal/speaker names them too;
// spelled out here, as a dashboard would).
const (
	metricAnnounced         = "ironlb_speaker_announced"
	metricAddressRequests   = "ironlb_layer2_address_requests_received_total"
	metricAddressResponses  = "ironlb_layer2_address_responses_sent_total"
	metricsNeighborRequests = 5 // arping / ndisc6 runs per address
)

// testMetrics scrapes every speaker's /metrics over HTTP while a
// dual-stack Service is announced: ironlb_speaker_announced is 1 for each
// of its addresses on the node answering for it (the MAC the client sees)
// and absent on the others; asking for each address from the client N
// times makes the announcer's request and reply counters for that ip grow
// by at least N, and no other speaker has counters for it; once the
// Service is deleted, neither series is left on any speaker.
//
// Seen failing, each time with the production code broken on purpose
// (the lab's speakers were built from the broken tree):
//   - the sync loop not feeding the gauge (the call to
//     announcedMetrics.setLayer2 in internal/speaker/sync.go commented out):
//     "ironlb_speaker_announced of e2e-l2-<id>/metrics on every speaker: not
//     within 40s: fd00:200::236: 0 series on speaker/node1, which answers
//     for it, want one: []";
//   - the ARP responder not counting per address (the
//     st.ctr.RequestsReceived.Add call in internal/layer2/arp.go left out):
//     "after 5 ARP/NDP requests from the client: not within 16s:
//     10.200.0.236 on speaker/node2:
//     ironlb_layer2_address_requests_received_total grew by 0, want at
//     least 5";
//   - the layer 2 list not replaced when it becomes empty (setLayer2
//     returning early on no address): "no series of e2e-l2-<id>/metrics or
//     its addresses on any speaker: not within 40s: speaker/node1 still has
//     [ironlb_speaker_announcedmap[ip:fd00:200::236 node:node1
//     protocol:layer2 service:e2e-l2-<id>/metrics] 1]";
//   - the per-address counters never dropped (Counters.release not
//     deleting): "... not within 40s: speaker/node1 still has
//     [ironlb_layer2_address_requests_received_totalmap[interface:eth0
//     ip:fd00:200::236] 6]".
func (l *l2Env) testMetrics(t *testing.T) {
	l.createPool(t, "metrics", l2PoolMetrics)
	svc := l.createLB(t, "metrics", "web", "metrics", corev1.IPFamilyPolicyRequireDualStack,
		[]corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, false)
	ips := l.waitIngress(t, svc, 2)
	owners := l.waitAnnounced(t, svc, ips, nil)
	key := l.ns + "/" + svc
	t.Logf("%s: %v announced by %v", key, ips, owners)

	t.Run("announced gauge is 1 on the announcer only", func(t *testing.T) {
		// Expected: the speakers have decided before the client sees the
		// answer (waitAnnounced); the gauge is set by that same sync.
		eventually(t, testkit.Budget(5*time.Second), metricAnnounced+" of "+key+" on every speaker", func() error {
			for _, n := range l.nodes {
				text, err := scrapeMetrics(context.Background(), e2e.prefix+n, speakerMetrics)
				if err != nil {
					return fmt.Errorf("speaker/%s: %w", n, err)
				}
				all, err := samples(text, metricAnnounced)
				if err != nil {
					return fmt.Errorf("speaker/%s: %w", n, err)
				}
				for _, ip := range ips {
					got := withLabels(all, map[string]string{"service": key, "ip": ip.String()})
					switch {
					case owners[ip] != n && len(got) != 0:
						return fmt.Errorf("%s: speaker/%s, which does not answer for it (%s does), has %v", ip, n, owners[ip], got)
					case owners[ip] != n:
					case len(got) != 1:
						return fmt.Errorf("%s: %d series on speaker/%s, which answers for it, want one: %v", ip, len(got), n, got)
					case got[0].value != 1 || got[0].labels["protocol"] != "layer2" || got[0].labels["node"] != n:
						return fmt.Errorf("%s: speaker/%s has %v, want value 1, protocol layer2, node %s", ip, n, got[0], n)
					}
				}
			}
			return nil
		})
	})

	t.Run("request and reply counters per address grow on the announcer only", func(t *testing.T) {
		before := map[string]map[netip.Addr]addrCounts{}
		for _, n := range l.nodes {
			c, err := scrapeAddressCounts(n)
			if err != nil {
				t.Fatalf("speaker/%s: %v", n, err)
			}
			before[n] = c
		}
		for _, ip := range ips {
			for i := range metricsNeighborRequests {
				// Each run sends at least one request and is answered (a
				// failed tool or no answer is an error, not a pass).
				n, err := l.answerer(ip)
				if err != nil {
					t.Fatalf("%s, request %d: %v", ip, i+1, err)
				}
				if n != owners[ip] {
					t.Fatalf("%s answered by %s, want %s, the announcer", ip, n, owners[ip])
				}
			}
		}
		// Expected: the counters are read at scrape time; the replies were
		// counted before the client got them.
		what := fmt.Sprintf("after %d ARP/NDP requests from the client", metricsNeighborRequests)
		eventually(t, testkit.Budget(2*time.Second), what, func() error {
			for _, n := range l.nodes {
				after, err := scrapeAddressCounts(n)
				if err != nil {
					return fmt.Errorf("speaker/%s: %w", n, err)
				}
				for _, ip := range ips {
					a, ok := after[ip]
					if owners[ip] != n {
						if ok {
							return fmt.Errorf("%s: speaker/%s, which does not answer for it, has counters %+v", ip, n, a)
						}
						continue
					}
					if !ok {
						return fmt.Errorf("%s: no %s on speaker/%s, which answers for it", ip, metricAddressRequests, n)
					}
					b := before[n][ip] // zero when the series was not there yet
					if d := a.requests - b.requests; d < metricsNeighborRequests {
						return fmt.Errorf("%s on speaker/%s: %s grew by %v, want at least %d", ip, n, metricAddressRequests, d, metricsNeighborRequests)
					}
					if d := a.responses - b.responses; d < metricsNeighborRequests {
						return fmt.Errorf("%s on speaker/%s: %s grew by %v, want at least %d", ip, n, metricAddressResponses, d, metricsNeighborRequests)
					}
				}
			}
			return nil
		})
	})

	t.Run("series gone after the Service is deleted", func(t *testing.T) {
		if err := l.cs.CoreV1().Services(l.ns).Delete(context.Background(), svc, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		// Expected: the controller releases the addresses and every
		// speaker stops announcing them within a second or two.
		eventually(t, testkit.Budget(5*time.Second), "no series of "+key+" or its addresses on any speaker", func() error {
			for _, n := range l.nodes {
				text, err := scrapeMetrics(context.Background(), e2e.prefix+n, speakerMetrics)
				if err != nil {
					return fmt.Errorf("speaker/%s: %w", n, err)
				}
				all, err := samples(text, metricAnnounced)
				if err != nil {
					return fmt.Errorf("speaker/%s: %w", n, err)
				}
				if got := withLabels(all, map[string]string{"service": key}); len(got) != 0 {
					return fmt.Errorf("speaker/%s still has %v", n, got)
				}
				for _, name := range []string{metricAddressRequests, metricAddressResponses} {
					all, err := samples(text, name)
					if err != nil {
						return fmt.Errorf("speaker/%s: %w", n, err)
					}
					for _, ip := range ips {
						if got := withLabels(all, map[string]string{"ip": ip.String()}); len(got) != 0 {
							return fmt.Errorf("speaker/%s still has %v", n, got)
						}
					}
				}
			}
			return nil
		})
	})
}

// addrCounts are a speaker's request and reply counts for one address,
// summed over the interfaces it answers on.
type addrCounts struct{ requests, responses float64 }

// scrapeAddressCounts reads a node's speaker's per-address counters.
func scrapeAddressCounts(node string) (map[netip.Addr]addrCounts, error) {
	text, err := scrapeMetrics(context.Background(), e2e.prefix+node, speakerMetrics)
	if err != nil {
		return nil, err
	}
	out := map[netip.Addr]addrCounts{}
	for _, name := range []string{metricAddressRequests, metricAddressResponses} {
		all, err := samples(text, name)
		if err != nil {
			return nil, err
		}
		for _, s := range all {
			ip, err := netip.ParseAddr(s.labels["ip"])
			if err != nil {
				return nil, fmt.Errorf("%s: label ip: %w", s, err)
			}
			c := out[ip]
			if name == metricAddressRequests {
				c.requests += s.value
			} else {
				c.responses += s.value
			}
			out[ip] = c
		}
	}
	return out, nil
}

// sample is one labelled sample of the text exposition format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

func (s sample) String() string { return fmt.Sprintf("%s%v %v", s.name, s.labels, s.value) }

// samples returns the samples of name in text, the exposition format
// served on /metrics. Label values with escapes are refused: none of the
// labels read here can hold a quote, a backslash or a newline.
func samples(text, name string) ([]sample, error) {
	var out []sample
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(line, name+"{")
		if !ok {
			continue
		}
		s := sample{name: name, labels: map[string]string{}}
		for !strings.HasPrefix(rest, "}") {
			k, after, ok := strings.Cut(rest, `="`)
			if !ok {
				return nil, fmt.Errorf("malformed sample %q", line)
			}
			v, after, ok := strings.Cut(after, `"`)
			if !ok || strings.Contains(v, `\`) {
				return nil, fmt.Errorf("malformed or escaped label in %q", line)
			}
			s.labels[k] = v
			rest = strings.TrimPrefix(after, ",")
		}
		f := strings.Fields(strings.TrimPrefix(rest, "}"))
		if len(f) == 0 {
			return nil, fmt.Errorf("no value in %q", line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("value in %q: %w", line, err)
		}
		s.value = v
		out = append(out, s)
	}
	if len(out) == 0 && strings.Contains(text, "\n"+name+" ") {
		return nil, errors.New(name + " has no labels, want labelled samples")
	}
	return out, nil
}

// withLabels returns the samples carrying every label of want.
func withLabels(all []sample, want map[string]string) []sample {
	var out []sample
next:
	for _, s := range all {
		for k, v := range want {
			if s.labels[k] != v {
				continue next
			}
		}
		out = append(out, s)
	}
	return out
}

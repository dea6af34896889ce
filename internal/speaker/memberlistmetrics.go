package speaker

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ironlb/ironlb/internal/membership"
)

// Names of the speaker's memberlist metrics; none exists while the speaker
// runs without memberlist.
const (
	// MemberlistKeyInfo has one series per gossip key the speaker accepts,
	// labelled with the key's fingerprint and whether it encrypts.
	MemberlistKeyInfo = "ironlb_memberlist_key_info"
	// MemberlistWrongKeyMessagesTotal has no label.
	MemberlistWrongKeyMessagesTotal = "ironlb_memberlist_wrong_key_messages_total"
)

// memberlistCollector reads the gossip's keys and counters at scrape time.
type memberlistCollector struct {
	gossip   func() *membership.Gossip
	keyD     *prometheus.Desc
	wrongKey *prometheus.Desc
}

func newMemberlistCollector(gossip func() *membership.Gossip) *memberlistCollector {
	return &memberlistCollector{
		gossip: gossip,
		keyD: prometheus.NewDesc(MemberlistKeyInfo,
			"A memberlist key this speaker accepts, by fingerprint (the first 8 bytes of the key's SHA-256); primary is \"true\" for the one it encrypts with. "+
				"More than one series means a key rotation is in progress.",
			[]string{"fingerprint", "primary"}, nil),
		wrongKey: prometheus.NewDesc(MemberlistWrongKeyMessagesTotal,
			"memberlist messages dropped because no key this speaker accepts decrypts them, or they came unencrypted: "+
				"a speaker with another memberlist Secret, or something else talking to the memberlist port.",
			nil, nil),
	}
}

func (c *memberlistCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.keyD
	ch <- c.wrongKey
}

func (c *memberlistCollector) Collect(ch chan<- prometheus.Metric) {
	g := c.gossip()
	if g == nil {
		return
	}
	k := g.Keys()
	for _, fp := range k.Installed {
		primary := "false"
		if fp == k.Primary {
			primary = "true"
		}
		ch <- prometheus.MustNewConstMetric(c.keyD, prometheus.GaugeValue, 1, fp, primary)
	}
	ch <- prometheus.MustNewConstMetric(c.wrongKey, prometheus.CounterValue, float64(g.WrongKeyMessages()))
}

package speaker

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ironlb/ironlb/internal/bgp"
)

// Names of the speaker's BGP and BFD metrics. Every one has the label
// peer, the BGPPeer's name.
const (
	BGPSessionUp              = "ironlb_bgp_session_up"
	BGPAnnouncedPrefixes      = "ironlb_bgp_announced_prefixes"
	BGPUpdatesSentTotal       = "ironlb_bgp_updates_sent_total"
	BFDSessionUp              = "ironlb_bfd_session_up"
	BFDPacketsReceivedTotal   = "ironlb_bfd_control_packets_received_total"
	BFDPacketsSentTotal       = "ironlb_bfd_control_packets_sent_total"
	BFDSessionDownEventsTotal = "ironlb_bfd_session_down_events_total"
	BFDEchoSentTotal          = "ironlb_bfd_echo_packets_sent_total"
	BFDEchoReceivedTotal      = "ironlb_bfd_echo_packets_received_total"
)

// statsTimeout bounds the reading of GoBGP's counters during a scrape.
const statsTimeout = 2 * time.Second

// bgpPeerMetrics is what the metrics say of one peer.
type bgpPeerMetrics struct {
	name     string
	up       bool
	prefixes int
	// stats is nil when the counters could not be read.
	stats *bgp.PeerStats
}

// metrics returns the metrics of every peer of the last apply.
func (a *bgpAnnouncer) metrics() []bgpPeerMetrics {
	a.mu.Lock()
	out := make([]bgpPeerMetrics, 0, len(a.peers))
	for _, p := range a.peers {
		out = append(out, bgpPeerMetrics{name: p.Name, up: a.states[p.Name] == bgp.StateEstablished, prefixes: a.prefixes[p.Name]})
	}
	a.mu.Unlock()
	r, ok := a.sp.(bgp.StatsReader)
	if !ok || len(out) == 0 {
		return out
	}
	ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
	defer cancel()
	stats, err := r.Stats(ctx)
	if err != nil {
		a.log.Debug("reading the BGP counters", "error", err)
		return out
	}
	for i := range out {
		if st, ok := stats[out[i].name]; ok {
			out[i].stats = &st
		}
	}
	return out
}

// bgpCollector exposes the BGP and BFD metrics, read at scrape time.
type bgpCollector struct {
	read func() []bgpPeerMetrics

	sessionUp, prefixes, updatesSent           *prometheus.Desc
	bfdUp, bfdReceived, bfdSent, bfdDownEvents *prometheus.Desc
	bfdEchoSent, bfdEchoReceived               *prometheus.Desc
}

func newBGPCollector(read func() []bgpPeerMetrics) *bgpCollector {
	peer := []string{"peer"}
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, peer, nil) }
	return &bgpCollector{
		read:            read,
		sessionUp:       d(BGPSessionUp, "1 when the BGP session to the peer is Established, else 0."),
		prefixes:        d(BGPAnnouncedPrefixes, "Prefixes this node announces to the peer."),
		updatesSent:     d(BGPUpdatesSentTotal, "BGP UPDATE messages sent to the peer since its session was configured."),
		bfdUp:           d(BFDSessionUp, "1 when the BFD session to the peer is Up, else 0."),
		bfdReceived:     d(BFDPacketsReceivedTotal, "Valid BFD control packets received from the peer."),
		bfdSent:         d(BFDPacketsSentTotal, "BFD control packets sent to the peer."),
		bfdDownEvents:   d(BFDSessionDownEventsTotal, "Times the BFD session to the peer went down from Up."),
		bfdEchoSent:     d(BFDEchoSentTotal, "BFD echo packets sent to the peer to loop back (profiles with echoMode)."),
		bfdEchoReceived: d(BFDEchoReceivedTotal, "BFD echo packets of this node that the peer looped back."),
	}
}

// Describe implements prometheus.Collector.
func (c *bgpCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.sessionUp, c.prefixes, c.updatesSent, c.bfdUp, c.bfdReceived, c.bfdSent, c.bfdDownEvents, c.bfdEchoSent, c.bfdEchoReceived} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *bgpCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, peer string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, peer)
	}
	counter := func(d *prometheus.Desc, v uint64, peer string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), peer)
	}
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	for _, p := range c.read() {
		gauge(c.sessionUp, b(p.up), p.name)
		gauge(c.prefixes, float64(p.prefixes), p.name)
		if p.stats == nil {
			continue
		}
		counter(c.updatesSent, p.stats.UpdatesSent, p.name)
		if f := p.stats.BFD; f != nil {
			gauge(c.bfdUp, b(f.Up), p.name)
			counter(c.bfdReceived, f.PacketsReceived, p.name)
			counter(c.bfdSent, f.PacketsSent, p.name)
			counter(c.bfdDownEvents, f.Downs, p.name)
			counter(c.bfdEchoSent, f.EchoSent, p.name)
			counter(c.bfdEchoReceived, f.EchoReceived, p.name)
		}
	}
}

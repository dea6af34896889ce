package speaker

import (
	"cmp"
	"net/netip"
	"slices"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ironlb/ironlb/internal/speaker/decide"
)

// SpeakerAnnounced is the speaker's per-Service gauge: 1 for each address
// of a Service this node announces, with the labels service
// ("namespace/name"), ip, protocol (protocolLayer2 or protocolBGP) and
// node. MetalLB users know it as metallb_speaker_announced, with the same
// labels.
const SpeakerAnnounced = "ironlb_speaker_announced"

// The values of SpeakerAnnounced's protocol label, MetalLB's.
const (
	protocolLayer2 = "layer2"
	protocolBGP    = "bgp"
)

// announcedSeries is one series of SpeakerAnnounced (node aside).
type announcedSeries struct {
	service  string // "namespace/name"
	protocol string
	ip       netip.Addr
}

// announcedMetrics is what this node announces as the last sync decided
// it: the desired state, not a proof that neighbours or routers took it
// (as MetalLB's gauge). The sync loop replaces each protocol's list
// whole, with one atomic store; scrapes read the lists without a lock, so
// neither waits for the other. Each list holds only what is announced
// now: a Service deleted, moved to another node or no longer selected
// leaves no series behind.
type announcedMetrics struct {
	// layer2 and bgp are sorted and without repeats; nil means none.
	layer2, bgp atomic.Pointer[[]announcedSeries]
}

// setLayer2 records the layer 2 decision: every Service address this node
// is elected to answer for.
func (m *announcedMetrics) setLayer2(res decide.Result) {
	var out []announcedSeries
	for i := range res.IPs {
		ip := &res.IPs[i]
		if res.Self == "" || ip.Node != res.Self {
			continue
		}
		for _, key := range ip.Services {
			out = append(out, announcedSeries{service: key, protocol: protocolLayer2, ip: ip.Addr})
		}
	}
	m.layer2.Store(sortSeries(out))
}

// setBGP records the BGP decision: every address of a Service that a
// route this node announces (to at least one peer) covers. svcs are the
// Services the decision was made for, with their addresses.
func (m *announcedMetrics) setBGP(res *decide.BGPResult, svcs []decide.Service) {
	if len(res.Routes) == 0 {
		m.bgp.Store(nil)
		return
	}
	ips := make(map[string][]netip.Addr, len(res.Services))
	for i := range svcs {
		if _, ok := res.Services[svcs[i].Key]; ok {
			ips[svcs[i].Key] = svcs[i].IPs
		}
	}
	var out []announcedSeries
	for _, r := range res.Routes {
		for _, key := range r.Services {
			for _, a := range ips[key] {
				if r.Prefix.Contains(a) {
					out = append(out, announcedSeries{service: key, protocol: protocolBGP, ip: a})
				}
			}
		}
	}
	// A prefix is listed once per peer, and aggregated routes may cover
	// an address a /32 route also covers: sortSeries drops the repeats.
	m.bgp.Store(sortSeries(out))
}

// sortSeries sorts s, drops repeats, and returns a pointer to it (nil
// when empty).
func sortSeries(s []announcedSeries) *[]announcedSeries {
	if len(s) == 0 {
		return nil
	}
	slices.SortFunc(s, func(a, b announcedSeries) int {
		return cmp.Or(cmp.Compare(a.service, b.service), cmp.Compare(a.protocol, b.protocol), a.ip.Compare(b.ip))
	})
	s = slices.Compact(s)
	return &s
}

// announcedCollector exposes SpeakerAnnounced from an announcedMetrics.
type announcedCollector struct {
	m    *announcedMetrics
	desc *prometheus.Desc
}

func newAnnouncedCollector(m *announcedMetrics, node string) *announcedCollector {
	return &announcedCollector{m: m, desc: prometheus.NewDesc(SpeakerAnnounced,
		"1 for each address of a Service this node announces (layer 2: the node elected to answer for it; BGP: "+
			"every node sending a route covering it), absent otherwise. This is the decision, not a proof "+
			"that neighbours or routers have taken it.",
		[]string{"service", "protocol", "ip"}, prometheus.Labels{"node": node})}
}

// Describe implements prometheus.Collector.
func (c *announcedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *announcedCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range []*atomic.Pointer[[]announcedSeries]{&c.m.layer2, &c.m.bgp} {
		list := p.Load()
		if list == nil {
			continue
		}
		for _, s := range *list {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, 1, s.service, s.protocol, s.ip.String())
		}
	}
}

package speaker

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ironlb/ironlb/internal/layer2"
)

// Names of the speaker's layer 2 metrics. Every one has the label family,
// "IPv4" (ARP) or "IPv6" (NDP).
const (
	Layer2RequestsReceivedTotal = "ironlb_layer2_requests_received_total"
	Layer2ResponsesSentTotal    = "ironlb_layer2_responses_sent_total"
	Layer2GratuitousSentTotal   = "ironlb_layer2_gratuitous_sent_total"
	Layer2MalformedDroppedTotal = "ironlb_layer2_malformed_dropped_total"
	Layer2ConflictsSeenTotal    = "ironlb_layer2_conflicts_seen_total"
	Layer2ProbesSentTotal       = "ironlb_layer2_probes_sent_total"
	Layer2SendErrorsTotal       = "ironlb_layer2_send_errors_total"
	Layer2ReceiveErrorsTotal    = "ironlb_layer2_receive_errors_total"
	Layer2AnnouncedIPs          = "ironlb_layer2_announced_ips"
	// The per-address counters have the labels ip (an address this node
	// answers for now) and interface, instead of family. A series exists
	// only while the address is answered for on the interface, and starts
	// from zero when it is answered for again.
	Layer2AddressRequestsReceivedTotal = "ironlb_layer2_address_requests_received_total"
	Layer2AddressResponsesSentTotal    = "ironlb_layer2_address_responses_sent_total"
	Layer2AddressGratuitousSentTotal   = "ironlb_layer2_address_gratuitous_sent_total"
	// Layer2AddressConflictsTotal counts confirmed conflicts: frames from
	// another MAC address claiming the address (layer2.Conflict).
	Layer2AddressConflictsTotal = "ironlb_layer2_address_conflicts_total"
	// SpeakerMembers has no family label.
	SpeakerMembers = "ironlb_speaker_members"
	// SpeakerServicesNotAnnounced has no label.
	SpeakerServicesNotAnnounced = "ironlb_speaker_services_not_announced"
)

// newNotAnnouncedGauge exposes SpeakerServicesNotAnnounced, read at scrape
// time from count.
func newNotAnnouncedGauge(count func() int) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: SpeakerServicesNotAnnounced,
		Help: "Services this speaker reports (it writes their ironlb.io/Announced condition) with an address no node announces. " +
			"Summed over the speakers it is the cluster's count; a Service may count twice for a moment while membership changes.",
	}, func() float64 { return float64(count()) })
}

// layer2Collector exposes the responders' counters (read at scrape time
// from the layer2.Counters every responder of the speaker shares), per
// family and per address answered for, the number of addresses this node
// answers for, and the live speakers.
type layer2Collector struct {
	counters *layer2.Counters
	// addresses is counters.Addresses; tests replace it.
	addresses func() []layer2.AddressCount
	announced func() (v4, v6 int)
	members   func() int

	counterDescs []counterDesc
	addrDescs    []addrCounterDesc
	announcedD   *prometheus.Desc
	membersD     *prometheus.Desc
}

// addrCounterDesc is one per-address counter and how to read it.
type addrCounterDesc struct {
	desc *prometheus.Desc
	read func(layer2.AddressCount) uint64
}

// counterDesc is one counter and how to read it from FamilyCounts.
type counterDesc struct {
	desc *prometheus.Desc
	read func(layer2.FamilyCounts) uint64
}

func newLayer2Collector(c *layer2.Counters, announced func() (int, int), members func() int) *layer2Collector {
	fam := []string{"family"}
	counter := func(name, help string, read func(layer2.FamilyCounts) uint64) counterDesc {
		return counterDesc{prometheus.NewDesc(name, help, fam, nil), read}
	}
	addr := func(name, help string, read func(layer2.AddressCount) uint64) addrCounterDesc {
		return addrCounterDesc{prometheus.NewDesc(name, help, []string{"ip", "interface"}, nil), read}
	}
	return &layer2Collector{
		counters: c, addresses: c.Addresses, announced: announced, members: members,
		addrDescs: []addrCounterDesc{
			addr(Layer2AddressRequestsReceivedTotal, "ARP requests and neighbor solicitations received for an address this node answers for, on one interface.",
				func(a layer2.AddressCount) uint64 { return a.RequestsReceived }),
			addr(Layer2AddressResponsesSentTotal, "ARP replies and solicited neighbor advertisements sent for an address this node answers for, on one interface.",
				func(a layer2.AddressCount) uint64 { return a.ResponsesSent }),
			addr(Layer2AddressGratuitousSentTotal, "Gratuitous ARP and unsolicited neighbor advertisement frames sent for an address this node answers for, on one interface.",
				func(a layer2.AddressCount) uint64 { return a.GratuitousSent }),
			addr(Layer2AddressConflictsTotal, "Frames from another MAC address claiming an address this node answers for, on one interface "+
				"(gratuitous ARP, neighbor advertisements, answers to this node's probes), once the conflict outlasted the hand-over grace period.",
				func(a layer2.AddressCount) uint64 { return a.Conflicts }),
		},
		counterDescs: []counterDesc{
			counter(Layer2RequestsReceivedTotal, "ARP requests and neighbor solicitations received for an announced address.",
				func(f layer2.FamilyCounts) uint64 { return f.RequestsReceived }),
			counter(Layer2ResponsesSentTotal, "ARP replies and solicited neighbor advertisements sent.",
				func(f layer2.FamilyCounts) uint64 { return f.ResponsesSent }),
			counter(Layer2GratuitousSentTotal, "Gratuitous ARP and unsolicited neighbor advertisement frames sent.",
				func(f layer2.FamilyCounts) uint64 { return f.GratuitousSent }),
			counter(Layer2MalformedDroppedTotal, "Frames dropped because they failed to parse or validate.",
				func(f layer2.FamilyCounts) uint64 { return f.MalformedDropped }),
			counter(Layer2ConflictsSeenTotal, "Frames from another MAC address claiming an announced address, hand-overs included.",
				func(f layer2.FamilyCounts) uint64 { return f.ConflictsSeen }),
			counter(Layer2ProbesSentTotal, "Probes sent to find another holder of an announced address (ARP probes, neighbor solicitations from ::).",
				func(f layer2.FamilyCounts) uint64 { return f.ProbesSent }),
			counter(Layer2SendErrorsTotal, "Frames that could not be sent.",
				func(f layer2.FamilyCounts) uint64 { return f.SendErrors }),
			counter(Layer2ReceiveErrorsTotal, "Failed socket reads.",
				func(f layer2.FamilyCounts) uint64 { return f.ReceiveErrors }),
		},
		announcedD: prometheus.NewDesc(Layer2AnnouncedIPs, "Service addresses this node answers ARP/NDP for.", fam, nil),
		membersD:   prometheus.NewDesc(SpeakerMembers, "Live speakers this speaker sees, itself included.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (l *layer2Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range l.counterDescs {
		ch <- c.desc
	}
	for _, c := range l.addrDescs {
		ch <- c.desc
	}
	ch <- l.announcedD
	ch <- l.membersD
}

// Collect implements prometheus.Collector.
func (l *layer2Collector) Collect(ch chan<- prometheus.Metric) {
	arp, ndp := l.counters.ARP.Load(), l.counters.NDP.Load()
	for _, c := range l.counterDescs {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(c.read(arp)), "IPv4")
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(c.read(ndp)), "IPv6")
	}
	for _, a := range l.addresses() {
		ip := a.Addr.String()
		for _, c := range l.addrDescs {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(c.read(a)), ip, a.Interface)
		}
	}
	v4, v6 := l.announced()
	ch <- prometheus.MustNewConstMetric(l.announcedD, prometheus.GaugeValue, float64(v4), "IPv4")
	ch <- prometheus.MustNewConstMetric(l.announcedD, prometheus.GaugeValue, float64(v6), "IPv6")
	ch <- prometheus.MustNewConstMetric(l.membersD, prometheus.GaugeValue, float64(l.members()))
}

package layer2

import (
	"bytes"

	"github.com/mdlayher/arp"
)

// handleARP answers an ARP request for an address being answered for with
// a reply from our MAC, unicast to the asker (RFC 826; an RFC 5227 probe,
// sender 0.0.0.0, is answered the same way, which defends the address).
// Frames from our own MAC are ignored, gratuitous ones are never answered,
// and a packet from another MAC whose sender is one of our addresses is a
// conflict (see Conflict).
func (i *Interface) handleARP(b []byte) {
	ctr := &i.counters.ARP
	p, err := parseARP(b)
	if err != nil {
		ctr.MalformedDropped.Add(1)
		i.log.Debug("dropping malformed ARP frame", "error", err)
		return
	}
	if bytes.Equal(p.ethSrc, i.mac) || bytes.Equal(p.senderMAC, i.mac) {
		return
	}

	i.mu.RLock()
	defer i.mu.RUnlock()
	if st, ours := i.addrs[p.senderIP]; ours {
		src := SeenSender
		switch {
		case p.gratuitous():
			src = SeenAnnouncement
		case p.op == arp.OperationReply && bytes.Equal(p.targetMAC, i.mac):
			// We send ARP requests only as probes.
			src = SeenProbeReply
		}
		i.sawConflict(familyARP, p.senderIP, st, p.senderMAC, src)
	}
	if p.op != arp.OperationRequest || p.gratuitous() {
		return
	}
	st, ours := i.addrs[p.targetIP]
	if !ours {
		return
	}
	ctr.RequestsReceived.Add(1)
	st.ctr.RequestsReceived.Add(1)
	reply, err := buildARP(arp.OperationReply, i.mac, p.targetIP, p.senderMAC, p.senderIP, p.senderMAC)
	if err == nil {
		err = i.send(familyARP, reply, p.senderMAC, false, st.ctr)
	}
	if err != nil {
		i.log.Debug("answering ARP request", "address", p.targetIP, "asker", p.senderIP, "error", err)
	}
}

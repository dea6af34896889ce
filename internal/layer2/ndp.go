package layer2

import (
	"bytes"
)

// handleNDP answers a neighbor solicitation for an address being answered
// for — multicast to its solicited-node group or unicast to the address
// itself (a neighbour unreachability probe, which reaches us only because
// the socket is a packet socket: the kernel drops unicast solicitations
// for addresses it does not own before any ICMPv6 socket sees them).
//
// The advertisement goes from the target address itself, with Solicited
// and Override and our MAC as target link-layer address, to the asker at
// the link-layer address it gave (or the frame's source). A solicitation
// from :: (duplicate address detection by another host) is answered to
// all nodes without Solicited, defending the address (RFC 4861 7.2.4).
// Frames from our own MAC are ignored; an advertisement from another MAC
// for one of our addresses, or a solicitation from one of them, is a
// conflict (see Conflict).
func (i *Interface) handleNDP(b []byte) {
	ctr := &i.counters.NDP
	m, err := parseNDP(b)
	if err != nil {
		ctr.MalformedDropped.Add(1)
		i.log.Debug("dropping malformed neighbor discovery frame", "error", err)
		return
	}
	if bytes.Equal(m.ethSrc, i.mac) || bytes.Equal(m.linkAddr, i.mac) {
		return
	}

	i.mu.RLock()
	defer i.mu.RUnlock()
	claimer := m.linkAddr
	if claimer == nil {
		claimer = m.ethSrc
	}
	if st, ours := i.addrs[m.src]; ours && m.icmpType == icmpTypeNS {
		i.sawConflict(familyNDP, m.src, st, claimer, SeenSender)
	}
	st, ours := i.addrs[m.target]
	if !ours {
		return
	}
	if m.icmpType == icmpTypeNA {
		i.sawConflict(familyNDP, m.target, st, claimer, SeenAnnouncement)
		return
	}
	ctr.RequestsReceived.Add(1)
	st.ctr.RequestsReceived.Add(1)
	dst, dstMAC, solicited := m.src, m.linkAddr, true
	switch {
	case m.src.IsUnspecified():
		dst, dstMAC, solicited = allNodes, allNodesMAC, false
	case dstMAC == nil:
		dstMAC = m.ethSrc
	}
	na, err := buildNA(i.mac, dstMAC, m.target, dst, solicited)
	if err == nil {
		err = i.send(familyNDP, na, dstMAC, false, st.ctr)
	}
	if err != nil {
		i.log.Debug("answering neighbor solicitation", "address", m.target, "asker", m.src, "error", err)
	}
}

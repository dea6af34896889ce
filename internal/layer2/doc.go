// Package layer2 answers ARP (IPv4) and NDP (IPv6) for the service
// addresses a node announces in layer 2 mode, and announces them with
// gratuitous ARP and unsolicited neighbor advertisements when they move to
// the node.
//
// # Use
//
// One [Interface] per Ethernet interface, created with [New] in the
// network namespace of that interface. The speaker drives it with
// [Interface.SetAddresses]: the exact set of addresses this node answers
// for on this interface right now. Addresses it adds are announced at once
// and again on a short schedule ([DefaultAnnounceSchedule]); addresses it
// drops are not answered any more from the moment the call returns.
// [Interface.Close] stops everything.
//
// # What is answered
//
//   - ARP requests whose target is in the set, with a reply from the
//     interface's MAC unicast to the asker. Gratuitous ARPs are never
//     answered; frames from our own MAC are ignored.
//   - Neighbor solicitations whose target is in the set, both multicast
//     (the solicited-node group of each IPv6 address is joined) and
//     unicast to the address itself — the probes neighbours send to
//     confirm a cached entry. Those never reach an ICMPv6 socket on a node
//     that does not own the address, so both families are read from
//     AF_PACKET sockets with classic BPF filters, and advertisements are
//     built and checksummed here and sent from the target address itself
//     (with Solicited and Override, hop limit 255, our MAC as target
//     link-layer address). No address, sysctl or IPV6_FREEBIND is needed
//     on the node.
//
// # Conflicts
//
// Another MAC address claiming an address being answered for — by a
// gratuitous ARP or neighbor advertisement, by sending from it, or by
// answering the probes each address gets about every ProbeInterval (an
// ARP probe from 0.0.0.0, a solicitation from ::) — is a [Conflict]:
// counted per address and reported to Options.OnConflict, rate-limited
// per (address, MAC). Hand-overs are not conflicts (see ConflictGrace).
//
// Malformed frames are counted and dropped. [Counters] holds every count
// per family, and requests, answers and announcements per address while it
// is answered for; nothing is package-global.
//
// # Contract
//
// All methods are safe for concurrent use. [New], SetAddresses and
// Reannounce block only for system calls (opening sockets, joining
// multicast groups, writing the offset-0 announcements); later
// announcements and all answers happen on the Interface's own goroutines,
// which Close waits for. Ready and Counters never block.
//
// Ready means the responders are up: the Interface is open, its sockets
// are read, and the link is administratively and operationally up. A link
// going down makes Ready fail until it comes back, when every address is
// announced again. If the interface is deleted or replaced Ready fails for
// good: close the Interface and create a new one. The MAC address is read
// once, at New.
//
// The kernel of the node must not answer for the same addresses (if they
// are also on a local interface, set arp_ignore=1 and arp_announce=2).
package layer2

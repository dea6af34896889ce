package speaker

import (
	"fmt"
	"regexp"
)

// The notes of the BGPSessionUp and BGPSessionDown Events on a Node. They
// are read back by `ironlb status` (ParseSessionNote), so they are made
// here, in one place.

// sessionUpNote is the note of a BGPSessionUp Event.
func sessionUpNote(node, peer, addr string) string {
	return fmt.Sprintf("BGP session from node %s to peer %s (%s) is established", node, peer, addr)
}

// sessionDownNote is the note of a BGPSessionDown Event; state is the
// session's state now.
func sessionDownNote(node, peer, addr, state string) string {
	return fmt.Sprintf("BGP session from node %s to peer %s (%s) went down (now %s)", node, peer, addr, state)
}

var sessionNoteRE = regexp.MustCompile(`^BGP session from node (\S+) to peer (\S+) \(([^)]*)\) (?:is established|went down \(now ([^)]*)\))$`)

// ParseSessionNote reads the node, peer, peer address and (for a session
// that went down) its state from the note of a BGPSessionUp or
// BGPSessionDown Event; ok is false for any other text.
func ParseSessionNote(note string) (node, peer, addr, state string, ok bool) {
	m := sessionNoteRE.FindStringSubmatch(note)
	if m == nil {
		return "", "", "", "", false
	}
	return m[1], m[2], m[3], m[4], true
}

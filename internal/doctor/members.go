package doctor

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ironlb/ironlb/internal/speaker"
)

// checkMembers compares the live speakers each speaker sees (the
// speaker.AnnotationMembers annotation it keeps on its Node) with the
// nodes that run a speaker (the evidence of checkSpeakers). A speaker
// that misses others over memberlist — the port blocked between nodes,
// or a different memberlist Secret — counts them as failed, and in
// layer 2 both sides may then answer for the same address. A speaker
// that fell back to Node readiness moves addresses only once a crashed
// node is marked NotReady.
func checkMembers(c *checker) {
	var speakers []string
	for i := range c.in.Nodes {
		if c.runsSpeaker(&c.in.Nodes[i]) {
			speakers = append(speakers, c.in.Nodes[i].Name)
		}
	}
	var unread []string
	for i := range c.in.Nodes {
		n := &c.in.Nodes[i]
		if !slices.Contains(speakers, n.Name) {
			continue
		}
		obj := Object{Kind: "Node", Name: n.Name}
		raw, ok := n.Annotations[speaker.AnnotationMembers]
		if !ok {
			unread = append(unread, n.Name)
			continue
		}
		view, err := speaker.DecodeMembers(raw)
		if err != nil {
			c.add(Warning, "members", obj, "the speaker's view of the other speakers cannot be read: "+err.Error(),
				"run the same ironlb version on every node; the speaker rewrites the annotation at its next change")
			continue
		}
		if view.Via == speaker.ViaNodeReady {
			c.add(Warning, "members", obj,
				"the speaker does not use memberlist: it takes a speaker as alive while its Node is Ready, so after a node crash the node's addresses move only once the Node turns NotReady (40 s or more)",
				"read the speaker's log for \"NOT using memberlist\": the memberlist Secret missing or unreadable, its port taken, or memberlist switched off by the speaker's options")
			continue
		}
		var missing []string
		for _, s := range speakers {
			if !slices.Contains(view.Members, s) {
				missing = append(missing, s)
			}
		}
		if len(missing) == 0 {
			continue
		}
		c.add(Warning, "members", obj,
			fmt.Sprintf("the speaker sees %d of the %d speakers over memberlist (%s); it takes %s as failed, and in layer 2 two nodes may then answer for the same address",
				len(speakers)-len(missing), len(speakers), strings.Join(view.Members, ", "), joinAnd(missing)),
			fmt.Sprintf("allow TCP and UDP on the memberlist port (%s by default) between the nodes, and give every speaker the same memberlist Secret (a member with another key is refused); a speaker that stopped without cleaning up (a crash) also shows here until it runs again",
				strings.TrimPrefix(speaker.DefaultMemberlistBindAddress, ":")))
	}
	if len(unread) > 0 {
		c.notes = append(c.notes, "members: no "+speaker.AnnotationMembers+" annotation on "+joinAnd(unread)+" (a speaker older than this check, or one that has not synced yet): their view of the other speakers was not checked")
	}
}

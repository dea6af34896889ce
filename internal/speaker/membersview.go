package speaker

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// AnnotationMembers is the Node annotation in which each speaker keeps
// the live speakers it sees (MembersView as JSON), so that `ironlb
// doctor` can tell speakers that do not see each other (memberlist
// traffic blocked, different Secrets) without reaching the speakers. It
// is written only when the view changes, and removed when the speaker
// stops.
const AnnotationMembers = "ironlb.io/members"

// How a speaker judges which speakers are alive (MembersView.Via).
const (
	ViaMemberlist = "memberlist"
	// ViaNodeReady: memberlist is off or cannot run; a speaker counts
	// as alive while its Node is Ready.
	ViaNodeReady = "node-ready"
)

// MembersView is what AnnotationMembers holds.
type MembersView struct {
	Via     string   `json:"via"`
	Members []string `json:"members"`
}

// EncodeMembers renders a view as the value of AnnotationMembers; the
// members are sorted.
func EncodeMembers(v MembersView) string {
	v.Members = slices.Sorted(slices.Values(v.Members))
	if v.Members == nil {
		v.Members = []string{}
	}
	b, _ := json.Marshal(v) // strings only: cannot fail
	return string(b)
}

// DecodeMembers parses the value of AnnotationMembers.
func DecodeMembers(s string) (MembersView, error) {
	var v MembersView
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return MembersView{}, fmt.Errorf("annotation %s %q: not a JSON object with via and members: %w", AnnotationMembers, s, err)
	}
	switch v.Via {
	case ViaMemberlist, ViaNodeReady:
	default:
		return MembersView{}, fmt.Errorf("annotation %s %q: via %q is neither %q nor %q", AnnotationMembers, s, v.Via, ViaMemberlist, ViaNodeReady)
	}
	return v, nil
}

// membersWriter keeps AnnotationMembers of this node at the view of the
// last sync. It is an asyncWriter: sync sets the target, statusLoop
// writes it.
type membersWriter struct {
	s *Speaker

	mu     sync.Mutex
	target string // "" before the first sync
}

func (w *membersWriter) setTarget(v MembersView) {
	w.mu.Lock()
	w.target = EncodeMembers(v)
	w.mu.Unlock()
}

func (w *membersWriter) what() string { return "the " + AnnotationMembers + " annotation" }

// write patches the annotation when the Node's differs from the target.
func (w *membersWriter) write(ctx context.Context) error {
	w.mu.Lock()
	want := w.target
	w.mu.Unlock()
	if want == "" {
		return nil
	}
	var n corev1.Node
	if err := w.s.cache.Get(ctx, client.ObjectKey{Name: w.s.opts.NodeName}, &n); err != nil {
		return fmt.Errorf("reading Node %s: %w", w.s.opts.NodeName, err)
	}
	if n.Annotations[AnnotationMembers] == want {
		return nil
	}
	return w.s.patchAnnotations(ctx, map[string]*string{AnnotationMembers: &want})
}

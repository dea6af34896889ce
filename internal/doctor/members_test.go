package doctor

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/speaker"
)

func TestMembers(t *testing.T) {
	const sub = `{"eth0":["192.168.1.0/24"]}`
	view := func(n corev1.Node, via string, members ...string) corev1.Node {
		n.Annotations[speaker.AnnotationMembers] = speaker.EncodeMembers(speaker.MembersView{Via: via, Members: members})
		return n
	}
	ml := speaker.ViaMemberlist
	for _, tt := range []struct {
		name      string
		nodes     []corev1.Node
		pods      []corev1.Pod
		want      []string
		wantNotes string
	}{
		{"every speaker sees every other", []corev1.Node{
			view(node("n1", sub, nil, nil), ml, "n1", "n2"), view(node("n2", sub, nil, nil), ml, "n1", "n2"), node("n3", "", nil, nil)},
			nil, nil, ""},
		{"a partition: n1 alone, n2 and n3 together", []corev1.Node{
			view(node("n1", sub, nil, nil), ml, "n1"), view(node("n2", sub, nil, nil), ml, "n2", "n3"), view(node("n3", sub, nil, nil), ml, "n2", "n3")},
			nil, []string{
				"warning members Node/n1|sees 1 of the 3 speakers over memberlist (n1)|takes n2 and n3 as failed",
				"warning members Node/n2|sees 2 of the 3 speakers|takes n1 as failed",
				"warning members Node/n3|takes n1 as failed",
			}, ""},
		{"speaker Pods decide who runs a speaker: a member without a Ready Pod is not expected", []corev1.Node{
			view(node("n1", sub, nil, nil), ml, "n1"), view(node("n2", sub, nil, nil), ml, "n1", "n2")},
			[]corev1.Pod{speakerPod("n1", true), speakerPod("n2", false)}, nil, ""},
		{"Node readiness instead of memberlist", []corev1.Node{view(node("n1", sub, nil, nil), speaker.ViaNodeReady, "n1")},
			nil, []string{"warning members Node/n1|does not use memberlist|NotReady (40 s or more)"}, ""},
		{"an unreadable view", []corev1.Node{func() corev1.Node {
			n := node("n1", sub, nil, nil)
			n.Annotations[speaker.AnnotationMembers] = "node1,node2"
			return n
		}()}, nil, []string{"warning members Node/n1|cannot be read|not a JSON object"}, ""},
		{"a speaker without the annotation is noted, not judged", []corev1.Node{
			node("n1", sub, nil, nil), view(node("n2", sub, nil, nil), ml, "n1", "n2")},
			nil, nil, "no ironlb.io/members annotation on n1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := input(config.Objects{}, tt.nodes...)
			in.Pods = tt.pods
			match(t, only(t, checkMembers, in), tt.want)
			c := &checker{in: in, res: config.Build(in.Config)}
			checkMembers(c)
			notes := strings.Join(c.notes, "\n")
			if tt.wantNotes == "" && notes != "" || !strings.Contains(notes, tt.wantNotes) {
				t.Errorf("notes %q, want %q", notes, tt.wantNotes)
			}
		})
	}
}

func TestMembersAnnotation(t *testing.T) {
	v := speaker.MembersView{Via: speaker.ViaMemberlist, Members: []string{"b", "a"}}
	s := speaker.EncodeMembers(v)
	if s != `{"via":"memberlist","members":["a","b"]}` {
		t.Errorf("encoded %s", s)
	}
	if got, err := speaker.DecodeMembers(s); err != nil || strings.Join(got.Members, ",") != "a,b" {
		t.Errorf("decoded %+v, %v", got, err)
	}
	if _, err := speaker.DecodeMembers(`{"via":"gossip","members":[]}`); err == nil || !strings.Contains(err.Error(), `via "gossip"`) {
		t.Errorf("unknown via: error %v", err)
	}
}

package doctor

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/internal/speaker"
	"github.com/ironlb/ironlb/internal/speaker/decide"
)

// SpeakerLabels are the labels of ironlb's speaker Pods (the DaemonSet of
// config/speaker and of the Helm chart).
var SpeakerLabels = map[string]string{"app.kubernetes.io/name": "ironlb", "app.kubernetes.io/component": "speaker"}

// isSpeakerPod reports whether p carries SpeakerLabels.
func isSpeakerPod(p *corev1.Pod) bool {
	for k, v := range SpeakerLabels {
		if p.Labels[k] != v {
			return false
		}
	}
	return true
}

// podReady reports whether a Pod runs and is Ready.
func podReady(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// advertisedNodes returns the names of the nodes some L2Advertisement or
// BGPAdvertisement selects (excluded nodes left out), in the order of the
// Nodes.
func advertisedNodes(c *checker) []string {
	snap := c.res.Snapshot
	var out []string
	for i := range c.in.Nodes {
		n := &c.in.Nodes[i]
		if decide.Excluded(n.Labels) {
			continue
		}
		sel := false
		for _, a := range snap.L2Advertisements {
			sel = sel || decide.SelectorsMatch(a.NodeSelectors, n.Labels)
		}
		for _, a := range snap.BGPAdvertisements {
			sel = sel || decide.SelectorsMatch(a.NodeSelectors, n.Labels)
		}
		if sel {
			out = append(out, n.Name)
		}
	}
	return out
}

// checkSpeakers reports the nodes an advertisement selects that run no
// ironlb speaker: such a node never announces, and in layer 2 its
// addresses go to the others. The evidence is the speaker Pods (running
// and Ready) when there are any in the cluster; otherwise (speakers run
// outside Kubernetes, as in the lab, or are not installed) the
// ironlb.io/l2-subnets annotation every running speaker keeps on its
// Node. A note says which.
func checkSpeakers(c *checker) {
	nodes := advertisedNodes(c)
	if len(nodes) == 0 {
		return
	}
	var pods []*corev1.Pod
	for i := range c.in.Pods {
		if isSpeakerPod(&c.in.Pods[i]) {
			pods = append(pods, &c.in.Pods[i])
		}
	}
	if len(pods) > 0 {
		c.notes = append(c.notes, fmt.Sprintf("speakers: judged by the %d ironlb speaker Pods (running and Ready) on the nodes", len(pods)))
		for _, name := range nodes {
			var found *corev1.Pod
			for _, p := range pods {
				if p.Spec.NodeName == name {
					found = p
					if podReady(p) {
						break
					}
				}
			}
			obj := Object{Kind: "Node", Name: name}
			switch {
			case found == nil:
				c.add(Warning, "speaker-missing", obj, "an advertisement selects the node but no ironlb speaker Pod runs on it, so it never announces",
					"check the speaker DaemonSet's node selector and tolerations, and the node's taints (kubectl -n ironlb-system describe daemonset ironlb-speaker)")
			case !podReady(found):
				c.add(Warning, "speaker-missing", obj, fmt.Sprintf("an advertisement selects the node but its ironlb speaker Pod %s/%s is not running and Ready (phase %s)", found.Namespace, found.Name, found.Status.Phase),
					"read the Pod's Events and log (kubectl -n "+found.Namespace+" describe pod "+found.Name+")")
			}
		}
		return
	}
	c.notes = append(c.notes, "speakers: no ironlb speaker Pods found; the "+speaker.AnnotationL2Subnets+" annotation each running speaker keeps on its Node was taken as the sign of a speaker")
	byName := map[string]*corev1.Node{}
	for i := range c.in.Nodes {
		byName[c.in.Nodes[i].Name] = &c.in.Nodes[i]
	}
	for _, name := range nodes {
		if _, ok := byName[name].Annotations[speaker.AnnotationL2Subnets]; !ok {
			c.add(Warning, "speaker-missing", Object{Kind: "Node", Name: name},
				"an advertisement selects the node but no ironlb speaker runs on it (there are no speaker Pods, and the node lacks the "+speaker.AnnotationL2Subnets+" annotation a running speaker keeps), so it never announces",
				"run the ironlb speaker on the node (the DaemonSet ironlb-speaker), or label the node "+decide.LabelExcludeFromLoadBalancers)
		}
	}
}

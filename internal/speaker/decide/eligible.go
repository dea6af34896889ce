package decide

import (
	"net/netip"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/internal/config"
)

// The exported forms of the rules Decide applies node by node, for tools
// that explain a configuration (ironlb doctor) rather than decide with it.
// They apply exactly the rules of Decide and DecideBGP, so an explanation
// cannot drift from the decision.

// Excluded reports whether a node with these labels carries
// LabelExcludeFromLoadBalancers and so never announces anything.
func Excluded(nodeLabels map[string]string) bool {
	return excluded(&Node{Labels: nodeLabels})
}

// SelectorsMatch reports whether any of the node selectors (of an
// advertisement or a BGPPeer) selects a node with these labels; no
// selector selects every node, a selector that does not convert none.
func SelectorsMatch(sels []metav1.LabelSelector, nodeLabels map[string]string) bool {
	return matchesAny(compile(sels), nodeLabels)
}

// AnswersOn reports whether adv lets a node answer for a on ifc: ifc is
// named in adv's interfaces, or adv names none and a subnet of ifc holds a.
func AnswersOn(adv *config.L2Advertisement, ifc Interface, a netip.Addr) bool {
	return eligibleInterface(adv, &ifc, a)
}

package doctor

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/speaker"
	"github.com/ironlb/ironlb/internal/speaker/decide"
)

// nodeInterfaces returns the interfaces a node's speaker published
// (speaker.AnnotationL2Subnets); nil when the node has no annotation, or
// one that does not parse (err says why).
func nodeInterfaces(n *corev1.Node) ([]decide.Interface, error) {
	v, ok := n.Annotations[speaker.AnnotationL2Subnets]
	if !ok {
		return nil, nil
	}
	return speaker.DecodeL2Subnets(v)
}

// l2Nodes returns the nodes some L2Advertisement of pool selects, in the
// order of the Nodes: those that may answer for its addresses, interfaces
// aside. Excluded nodes are left out.
func l2Nodes(c *checker, advs []*config.L2Advertisement) []*corev1.Node {
	var out []*corev1.Node
	for i := range c.in.Nodes {
		n := &c.in.Nodes[i]
		if decide.Excluded(n.Labels) {
			continue
		}
		if slices.ContainsFunc(advs, func(a *config.L2Advertisement) bool { return decide.SelectorsMatch(a.NodeSelectors, n.Labels) }) {
			out = append(out, n)
		}
	}
	return out
}

// poolL2Advertisements returns, per pool name, the L2Advertisements
// announcing it.
func poolL2Advertisements(snap *config.Snapshot) map[string][]*config.L2Advertisement {
	out := map[string][]*config.L2Advertisement{}
	for i := range snap.L2Advertisements {
		a := &snap.L2Advertisements[i]
		for _, p := range a.Pools {
			out[p] = append(out[p], a)
		}
	}
	return out
}

// checkL2Subnets reports, per pool announced in layer 2, the nodes that
// may announce it but have no interface to answer on for its addresses
// (by the speaker's own rule, decide.AnswersOn, on the interfaces each
// speaker published in its Node's annotation): an error when no such node
// has one, a warning when some lack it. Nodes without the annotation
// cannot be judged: an info each.
func checkL2Subnets(c *checker) {
	snap := c.res.Snapshot
	byPool := poolL2Advertisements(snap)
	unpublished := map[string]bool{}
	for i := range snap.Pools {
		pool := &snap.Pools[i]
		advs := byPool[pool.Name]
		if len(advs) == 0 {
			continue
		}
		nodes := l2Nodes(c, advs)
		var judged, lacking []string
		details := []string{}
		for _, n := range nodes {
			ifs, err := nodeInterfaces(n)
			if err != nil {
				c.add(Warning, "l2-interfaces-unpublished", Object{Kind: "Node", Name: n.Name},
					err.Error(), "restart the ironlb speaker on the node: it writes the annotation again")
				continue
			}
			if ifs == nil {
				unpublished[n.Name] = true
				continue
			}
			judged = append(judged, n.Name)
			missing := missingAddresses(pool, advs, n, ifs)
			if len(missing) == 0 {
				continue
			}
			lacking = append(lacking, n.Name)
			details = append(details, fmt.Sprintf("node %s has no interface to answer on for %s (its subnets: %s)",
				n.Name, strings.Join(missing, ", "), describeInterfaces(ifs)))
		}
		if len(lacking) == 0 {
			continue
		}
		obj := c.poolObject(pool)
		fix := "give the nodes an address in the pool's subnet on the network the clients use, change the pool's addresses to a subnet the nodes have, " +
			"or limit the L2Advertisement's nodeSelectors to the nodes that have it"
		if len(lacking) == len(judged) {
			c.add(Error, "l2-subnet", obj, fmt.Sprintf("no node may announce pool %q in layer 2: %s", pool.Name, strings.Join(details, "; ")), fix)
		} else {
			c.add(Warning, "l2-subnet", obj, fmt.Sprintf("%d of %d nodes that may announce pool %q in layer 2 cannot: %s",
				len(lacking), len(judged), pool.Name, strings.Join(details, "; ")), fix)
		}
	}
	for _, name := range sortedKeys(unpublished) {
		c.add(Info, "l2-interfaces-unpublished", Object{Kind: "Node", Name: name},
			"no speaker has published this node's interfaces (annotation "+speaker.AnnotationL2Subnets+"), so it never announces in layer 2 and its subnets cannot be checked",
			"run the ironlb speaker on the node, or label it "+decide.LabelExcludeFromLoadBalancers+" if it should not announce")
	}
}

// missingAddresses returns the ends of pool's ranges node n cannot answer
// for on any of its interfaces under the advertisements advs that select
// it, as "10.0.0.1" or "10.0.0.1-10.0.0.9 (both ends)".
func missingAddresses(pool *config.Pool, advs []*config.L2Advertisement, n *corev1.Node, ifs []decide.Interface) []string {
	answers := func(a netip.Addr) bool {
		for _, adv := range advs {
			if !decide.SelectorsMatch(adv.NodeSelectors, n.Labels) {
				continue
			}
			for _, ifc := range ifs {
				if decide.AnswersOn(adv, ifc, a) {
					return true
				}
			}
		}
		return false
	}
	var out []string
	for _, r := range pool.Ranges {
		from, to := answers(r.From), answers(r.To)
		switch {
		case !from && !to:
			out = append(out, r.String())
		case !from:
			out = append(out, r.From.String()+" (of "+r.String()+")")
		case !to:
			out = append(out, r.To.String()+" (of "+r.String()+")")
		}
	}
	return out
}

// describeInterfaces renders interfaces as "eth0 10.0.0.0/24 fd00::/64, eth1".
func describeInterfaces(ifs []decide.Interface) string {
	if len(ifs) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(ifs))
	for _, ifc := range ifs {
		s := ifc.Name
		for _, p := range ifc.Prefixes {
			s += " " + p.String()
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// namespace is where ironlb's configuration lives.
func (c *checker) namespace() string {
	if c.in.Config.Namespace == "" {
		return config.DefaultNamespace
	}
	return c.in.Config.Namespace
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

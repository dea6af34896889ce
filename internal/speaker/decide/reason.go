package decide

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// why explains, with counts, why no node may announce an address: each
// node is counted under the first rule it fails, in the order the rules
// are listed in the package documentation.
func (p *prepared) why(ai *addrInfo, advs []int) string {
	if len(p.in.Nodes) == 0 {
		return "no node is known"
	}
	usableIdx := make(map[string]int, len(p.cands))
	for j, n := range p.cands {
		if p.live[j] {
			usableIdx[n.Name] = j
		}
	}
	var c struct{ dead, unavailable, excluded, unpublished, unselected, noInterface, noEndpoint int }
	for i := range p.in.Nodes {
		n := &p.in.Nodes[i]
		j, usable := usableIdx[n.Name]
		switch {
		case !p.members[n.Name]:
			c.dead++
		case n.NetworkUnavailable:
			c.unavailable++
		case excluded(n):
			c.excluded++
		case !usable:
			c.unpublished++
		case !p.selectedByAny(advs, j):
			c.unselected++
		case !p.answersOn(ai.addr, advs, j, nil):
			c.noInterface++
		default:
			c.noEndpoint++
		}
	}
	parts := []string{}
	add := func(k int, what string) {
		if k > 0 {
			parts = append(parts, strconv.Itoa(k)+" "+what)
		}
	}
	add(c.dead, "not running a live speaker")
	add(c.unavailable, "with NetworkUnavailable=True")
	add(c.excluded, "labelled "+LabelExcludeFromLoadBalancers)
	add(c.unpublished, "that published no interfaces")
	add(c.unselected, "not selected by the nodeSelectors of the pool's L2Advertisements")
	add(c.noInterface, "without an interface "+interfaceRule(ai.addr))
	add(c.noEndpoint, "without a ready endpoint (externalTrafficPolicy: Local)")
	return fmt.Sprintf("no node may announce it: of %d nodes, %s", len(p.in.Nodes), strings.Join(parts, ", "))
}

// selectedByAny reports whether any of the advertisements selects
// candidate j.
func (p *prepared) selectedByAny(advs []int, j int) bool {
	for _, ai := range advs {
		if p.selects[ai][j] {
			return true
		}
	}
	return false
}

// interfaceRule says what an interface needs to answer for a.
func interfaceRule(a netip.Addr) string {
	return "whose subnet contains " + a.String() + " (or named in the L2Advertisement's interfaces)"
}

// quote quotes a name for a message.
func quote(s string) string { return strconv.Quote(s) }

package decide

import (
	"net/netip"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/ironlb/ironlb/internal/config"
)

// Decide computes, for every distinct address of in.Services, the node that
// answers for it and, when that node is in.Self, the interfaces to answer on.
// It is pure and deterministic: see the package documentation for the rules.
//
// Cost: O(addresses × candidate nodes × their interfaces), after one pass over
// the advertisements and nodes to match selectors.
func Decide(in *Input) Result {
	p := prepare(in)
	addrs := p.addresses()
	out := Result{Self: in.Self, IPs: make([]IP, len(addrs))}
	// even gathers, per pool spread evenly, the addresses to elect
	// together once every address has been scoped.
	var even map[string][]spreadItem
	for i, ai := range addrs {
		res, advs := p.scope(ai)
		out.IPs[i] = res
		switch {
		case advs == nil:
		case p.evenPools[res.Pool]:
			if even == nil {
				even = map[string][]spreadItem{}
			}
			even[res.Pool] = append(even[res.Pool], spreadItem{ai: ai, advs: advs, out: &out.IPs[i]})
		default:
			p.finish(&out.IPs[i], ai, advs, p.elect(ai, advs))
		}
	}
	for _, pool := range sortedKeys(even) {
		p.spread(even[pool])
	}
	return out
}

// prepared is Input indexed for the per-address work.
type prepared struct {
	in *Input
	// cands are the nodes that may announce something, now or once they
	// are live again: not excluded, with published interfaces; live[j]
	// tells whether cands[j] may announce now (a live member whose
	// network is available); nameHashes are their nameHash, so each rank
	// costs only the address part.
	cands      []*Node
	live       []bool
	nameHashes []uint64
	// self is the index of Input.Self in cands, -1 when absent.
	self int
	// advs are the L2 advertisements; selects[i][j] tells whether advs[i]
	// selects cands[j].
	advs    []*config.L2Advertisement
	selects [][]bool
	// advsByPool lists the indexes into advs of each pool's advertisements.
	advsByPool map[string][]int
	// svcSels are the compiled serviceSelectors of advs (nil: every
	// Service).
	svcSels [][]labels.Selector
	// prefs[i][j] is the sum of the weights of advs[i]'s
	// preferredNodeSelectors that select cands[j] (0 when advs[i] does
	// not select cands[j]).
	prefs [][]int
	// evenPools are the pools some advertisement spreads evenly.
	evenPools map[string]bool
	// members is Input.Members as a set.
	members map[string]bool
}

// addrInfo gathers the Services holding one address.
type addrInfo struct {
	addr     netip.Addr
	services []string
	// labels are the labels of the Services holding the address.
	labels []map[string]string
	// anyCluster is true when some Service holding the address has the
	// Cluster policy: every node may announce it.
	anyCluster bool
	// endpoints are the nodes with a ready local endpoint of some Local
	// Service holding the address.
	endpoints map[string]bool
}

func prepare(in *Input) *prepared {
	p := &prepared{in: in, members: make(map[string]bool, len(in.Members)), advsByPool: map[string][]int{}, evenPools: map[string]bool{}, self: -1}
	for _, m := range in.Members {
		p.members[m] = true
	}
	for i := range in.Nodes {
		n := &in.Nodes[i]
		if !excluded(n) && n.Interfaces != nil {
			if n.Name == in.Self {
				p.self = len(p.cands)
			}
			p.cands = append(p.cands, n)
			p.live = append(p.live, p.members[n.Name] && !n.NetworkUnavailable)
			p.nameHashes = append(p.nameHashes, nameHash(n.Name))
		}
	}
	if in.Config == nil {
		return p
	}
	for i := range in.Config.L2Advertisements {
		a := &in.Config.L2Advertisements[i]
		sels := compile(a.NodeSelectors)
		row := make([]bool, len(p.cands))
		for j, n := range p.cands {
			row[j] = matchesAny(sels, n.Labels)
		}
		idx := len(p.advs)
		p.advs = append(p.advs, a)
		p.selects = append(p.selects, row)
		p.svcSels = append(p.svcSels, compile(a.ServiceSelectors))
		p.prefs = append(p.prefs, preferenceWeights(a, row, p.cands))
		for _, pool := range a.Pools {
			p.advsByPool[pool] = append(p.advsByPool[pool], idx)
			if a.Even {
				p.evenPools[pool] = true
			}
		}
	}
	return p
}

// preferenceWeights returns, per candidate node, the sum of the weights of
// a's preferredNodeSelectors that select it; 0 for the nodes a does not
// select (selected[j]), whom a's preferences do not concern.
func preferenceWeights(a *config.L2Advertisement, selected []bool, cands []*Node) []int {
	out := make([]int, len(cands))
	for _, pref := range a.PreferredNodes {
		sel, err := metav1.LabelSelectorAsSelector(&pref.Selector)
		if err != nil {
			continue // config.Build refuses such selectors
		}
		for j, n := range cands {
			if selected[j] && sel.Matches(labels.Set(n.Labels)) {
				out[j] += pref.Weight
			}
		}
	}
	return out
}

// excluded reports whether the node carries the exclusion label.
func excluded(n *Node) bool {
	_, ok := n.Labels[LabelExcludeFromLoadBalancers]
	return ok
}

// compile converts node selectors; nil means "every node". A selector that
// does not convert (config.Build refuses those) selects nothing.
func compile(sels []metav1.LabelSelector) []labels.Selector {
	if len(sels) == 0 {
		return nil
	}
	out := make([]labels.Selector, 0, len(sels))
	for i := range sels {
		s, err := metav1.LabelSelectorAsSelector(&sels[i])
		if err != nil {
			s = labels.Nothing()
		}
		out = append(out, s)
	}
	return out
}

// matchesAny reports whether any selector selects the labels; no selector
// selects everything.
func matchesAny(sels []labels.Selector, set map[string]string) bool {
	if sels == nil {
		return true
	}
	for _, s := range sels {
		if s.Matches(labels.Set(set)) {
			return true
		}
	}
	return false
}

// addresses groups the Services by address, sorted by address.
func (p *prepared) addresses() []*addrInfo {
	by := map[netip.Addr]*addrInfo{}
	for i := range p.in.Services {
		s := &p.in.Services[i]
		for _, raw := range s.IPs {
			a := raw.Unmap()
			if !a.IsValid() {
				continue
			}
			ai := by[a]
			if ai == nil {
				ai = &addrInfo{addr: a}
				by[a] = ai
			}
			if !slices.Contains(ai.services, s.Key) {
				ai.services = append(ai.services, s.Key)
				ai.labels = append(ai.labels, s.Labels)
			}
			if !s.Local {
				ai.anyCluster = true
				continue
			}
			if ai.endpoints == nil {
				ai.endpoints = map[string]bool{}
			}
			for _, n := range s.EndpointNodes {
				ai.endpoints[n] = true
			}
		}
	}
	out := make([]*addrInfo, 0, len(by))
	for _, ai := range by {
		slices.Sort(ai.services)
		out = append(out, ai)
	}
	slices.SortFunc(out, func(a, b *addrInfo) int { return a.addr.Compare(b.addr) })
	return out
}

// scope starts the decision for one address: its pool and the
// advertisements that apply to it. When none applies, advs is nil and
// res.Reason says why.
func (p *prepared) scope(ai *addrInfo) (res IP, advs []int) {
	res = IP{Addr: ai.addr, Services: ai.services}
	if p.in.Config == nil {
		res.Reason = "no configuration has been read yet"
		return res, nil
	}
	pool, ok := p.in.Config.PoolFor(ai.addr)
	if !ok {
		res.Reason = "the address is in no IPAddressPool"
		return res, nil
	}
	res.Pool = pool.Name
	advs = p.advsByPool[pool.Name]
	if len(advs) == 0 {
		res.Reason = "no L2Advertisement selects IPAddressPool " + quote(pool.Name)
		return res, nil
	}
	advs = p.forServices(advs, ai)
	if len(advs) == 0 {
		res.Reason = "no L2Advertisement of IPAddressPool " + quote(pool.Name) + " selects the Service by its labels (spec.serviceSelectors)"
		return res, nil
	}
	return res, advs
}

// elect returns the index in cands of the node answering for the address
// by the hash election, -1 when none may.
func (p *prepared) elect(ai *addrInfo, advs []int) int {
	best := pick{j: -1}
	for j := range p.cands {
		if p.servable(ai, j) && p.answersOn(ai.addr, advs, j, nil) {
			best = p.better(best, p.offer(ai.addr, advs, j))
		}
	}
	return best.j
}

// servable reports whether candidate j may announce the address now, its
// interfaces aside: it is live and, when every Service holding the address
// has the Local policy, it has a ready endpoint of one of them.
func (p *prepared) servable(ai *addrInfo, j int) bool {
	return p.live[j] && (ai.anyCluster || ai.endpoints[p.cands[j].Name])
}

// score is candidate j's preference score under the advertisements advs.
func (p *prepared) score(advs []int, j int) int {
	s := 0
	for _, i := range advs {
		s += p.prefs[i][j]
	}
	return s
}

// pick is candidate j for one address, with its preference score and
// rank; j is -1 for none.
type pick struct {
	j     int
	score int
	rank  uint64
}

// offer returns candidate j as a pick for address a.
func (p *prepared) offer(a netip.Addr, advs []int, j int) pick {
	return pick{j: j, score: p.score(advs, j), rank: rankFrom(p.nameHashes[j], a)}
}

// better returns the winner of two picks for one address: the higher
// score, then the lower rank, then the smaller name; any pick beats none.
func (p *prepared) better(x, y pick) pick {
	switch {
	case x.j < 0:
		return y
	case y.j < 0:
		return x
	case x.score != y.score:
		if y.score > x.score {
			return y
		}
		return x
	case x.rank != y.rank:
		if y.rank < x.rank {
			return y
		}
		return x
	case p.cands[y.j].Name < p.cands[x.j].Name:
		return y
	}
	return x
}

// finish completes res with its winner, candidate index w (-1: none).
func (p *prepared) finish(res *IP, ai *addrInfo, advs []int, w int) {
	if w < 0 {
		res.Reason = p.why(ai, advs)
		return
	}
	res.Node = p.cands[w].Name
	if w == p.self {
		res.Interfaces = p.interfaces(ai.addr, advs, p.self)
		for _, i := range advs {
			if p.selects[i][w] {
				res.LeaseDuration = max(res.LeaseDuration, p.advs[i].LeaseDuration)
			}
		}
	}
}

// forServices keeps the advertisements whose serviceSelectors select some
// Service holding the address.
func (p *prepared) forServices(advs []int, ai *addrInfo) []int {
	var out []int
	for _, i := range advs {
		if slices.ContainsFunc(ai.labels, func(l map[string]string) bool { return matchesAny(p.svcSels[i], l) }) {
			out = append(out, i)
		}
	}
	return out
}

// answersOn reports whether candidate j has an interface to answer for a
// on, through any of the advertisements advs. When add is not nil it is
// called with every such interface instead of stopping at the first.
func (p *prepared) answersOn(a netip.Addr, advs []int, j int, add func(string)) bool {
	n := p.cands[j]
	found := false
	for _, ai := range advs {
		if !p.selects[ai][j] {
			continue
		}
		adv := p.advs[ai]
		for k := range n.Interfaces {
			ifc := &n.Interfaces[k]
			if !eligibleInterface(adv, ifc, a) {
				continue
			}
			if add == nil {
				return true
			}
			found = true
			add(ifc.Name)
		}
	}
	return found
}

// eligibleInterface reports whether adv lets a node answer for a on ifc:
// ifc is listed in spec.interfaces, or there is no list and a subnet of ifc
// contains a.
func eligibleInterface(adv *config.L2Advertisement, ifc *Interface, a netip.Addr) bool {
	if len(adv.Interfaces) > 0 {
		return slices.Contains(adv.Interfaces, ifc.Name)
	}
	for _, pfx := range ifc.Prefixes {
		if pfx.Contains(a) {
			return true
		}
	}
	return false
}

// interfaces lists, sorted and without repeats, the interfaces candidate j
// answers for a on.
func (p *prepared) interfaces(a netip.Addr, advs []int, j int) []string {
	var out []string
	p.answersOn(a, advs, j, func(name string) {
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	})
	slices.Sort(out)
	return out
}

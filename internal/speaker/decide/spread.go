package decide

// spreadItem is one address of a pool spread evenly, scoped (advs) and
// waiting for its node; out is its entry in the Result.
type spreadItem struct {
	ai   *addrInfo
	advs []int
	out  *IP
}

// spread elects the nodes of the addresses of one pool spread evenly
// (spec.spread: Even), in two passes over the addresses in address order:
//
//  1. The standing assignment, over every candidate that could answer for
//     an address, live or not: each address goes to the best of its
//     candidates (preference score, then rank, as in the hash election)
//     that holds fewer than ceil(addresses / candidates) of the pool's
//     addresses so far, or to the least loaded when every one is full
//     (uneven subnets or selectors). Liveness and endpoints play no part,
//     so a node failing or recovering does not change it.
//  2. Each address whose standing node may answer now keeps it. Each
//     other goes to the least loaded of its candidates that may answer
//     now (then score, then rank), counting the addresses already placed
//     in this pass.
//
// So a node that fails loses exactly its addresses, to the least loaded
// of the others, and gets exactly them back when it returns; no node holds
// more than ceil(addresses / nodes) while the others have room. Addresses
// re-homed from a failed node may move again when another node fails or
// returns: pass 2 places them by the loads of that moment. A node joining
// or leaving the cluster (its Node object, labels or interfaces) changes
// pass 1: measured, it moves at most a few addresses more than its share
// (TestSpreadJoin).
//
// Cost: O(addresses × candidates × their interfaces), like the hash
// election.
func (p *prepared) spread(items []spreadItem) {
	// Candidates per address, in cands order.
	elig := make([][]int, len(items))
	anyElig := make([]bool, len(p.cands))
	n := 0
	for i, it := range items {
		for j := range p.cands {
			if p.answersOn(it.ai.addr, it.advs, j, nil) {
				elig[i] = append(elig[i], j)
				if !anyElig[j] {
					anyElig[j] = true
					n++
				}
			}
		}
	}
	if n == 0 {
		for _, it := range items {
			p.finish(it.out, it.ai, it.advs, -1)
		}
		return
	}
	share := (len(items) + n - 1) / n

	// Pass 1: the standing assignment.
	load := make([]int, len(p.cands))
	standing := make([]int, len(items))
	for i, it := range items {
		best, least := pick{j: -1}, pick{j: -1}
		for _, j := range elig[i] {
			o := p.offer(it.ai.addr, it.advs, j)
			if load[j] < share {
				best = p.better(best, o)
			}
			least = p.lessLoaded(load, least, o)
		}
		if best.j < 0 {
			best = least
		}
		standing[i] = best.j
		if best.j >= 0 {
			load[best.j]++
		}
	}

	// Pass 2: who answers now.
	clear(load)
	won := make([]int, len(items))
	for i, it := range items {
		won[i] = -1
		if j := standing[i]; j >= 0 && p.servable(it.ai, j) {
			won[i] = j
			load[j]++
		}
	}
	for i, it := range items {
		if won[i] >= 0 {
			continue
		}
		least := pick{j: -1}
		for _, j := range elig[i] {
			if p.servable(it.ai, j) {
				least = p.lessLoaded(load, least, p.offer(it.ai.addr, it.advs, j))
			}
		}
		if won[i] = least.j; least.j >= 0 {
			load[least.j]++
		}
	}
	for i, it := range items {
		p.finish(it.out, it.ai, it.advs, won[i])
	}
}

// lessLoaded returns whichever of x and y holds fewer addresses by load,
// the better pick on a tie; any pick beats none.
func (p *prepared) lessLoaded(load []int, x, y pick) pick {
	switch {
	case x.j < 0:
		return y
	case y.j < 0:
		return x
	case load[x.j] != load[y.j]:
		if load[y.j] < load[x.j] {
			return y
		}
		return x
	}
	return p.better(x, y)
}

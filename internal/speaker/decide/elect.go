package decide

import "net/netip"

// FNV-1a 64-bit parameters.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// Rank is the election rank of node for address ip: among the candidates
// for an address the lowest rank wins. It is FNV-1a (64 bit) over the
// node name, one zero byte and the 16-byte form of ip (IPv4 as IPv4-mapped
// IPv6), finished with the fmix64 mixer of MurmurHash3 so that every bit of
// the input moves every bit of the rank.
//
// Every speaker must rank alike, including speakers of different ironlb
// versions during an upgrade: this function must never change.
func Rank(node string, ip netip.Addr) uint64 { return rankFrom(nameHash(node), ip) }

// nameHash is the FNV-1a state after the node name and the zero byte:
// the part of Rank that depends on the node only.
func nameHash(node string) uint64 {
	h := uint64(fnvOffset64)
	for i := 0; i < len(node); i++ {
		h ^= uint64(node[i])
		h *= fnvPrime64
	}
	return h * fnvPrime64 // the zero separator: h ^= 0 is a no-op
}

// rankFrom finishes Rank from nameHash(node).
func rankFrom(h uint64, ip netip.Addr) uint64 {
	b := ip.Unmap().As16()
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime64
	}
	return fmix64(h)
}

// fmix64 is MurmurHash3's 64-bit finalizer.
func fmix64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

// Elect returns the winner among candidates for ip: the lowest Rank,
// the smaller name on a tie. Each candidate's rank is computed once.
// It returns "" when there is no candidate.
func Elect(ip netip.Addr, candidates []string) string {
	var e election
	for _, c := range candidates {
		e.offer(c, 0, Rank(c, ip))
	}
	return e.winner
}

// election keeps the best candidate seen so far for one address: the
// highest preference score (preferredNodeSelectors), then the lowest rank,
// then the smaller name.
type election struct {
	winner string
	score  int
	rank   uint64
}

// offer considers one more candidate, of preference score s and rank r.
func (e *election) offer(node string, s int, r uint64) {
	better := e.winner == "" || s > e.score ||
		(s == e.score && (r < e.rank || (r == e.rank && node < e.winner)))
	if better {
		e.winner, e.score, e.rank = node, s, r
	}
}

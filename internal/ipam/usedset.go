package ipam

// usedSet is a set of ordinals stored as maximal intervals of consecutive
// members (no two intervals overlap or touch) in a treap keyed by interval
// start. Every operation is O(log k) expected for k intervals, and k is at
// most the number of members, so memory follows the addresses in use and
// not the size of the range.
//
// Because intervals are maximal, the ordinal right after an interval is
// never a member: that is what makes "lowest non-member >= x" a single
// lookup.
type usedSet struct {
	root *ivNode
	n    uint64 // members (not intervals)
	rnd  uint64 // xorshift state for treap priorities; never zero
}

type ivNode struct {
	first, last u128
	prio        uint64
	left, right *ivNode
}

func (s *usedSet) prio() uint64 {
	if s.rnd == 0 {
		s.rnd = 0x9e3779b97f4a7c15
	}
	s.rnd ^= s.rnd << 13
	s.rnd ^= s.rnd >> 7
	s.rnd ^= s.rnd << 17
	return s.rnd
}

// len returns the number of members.
func (s *usedSet) len() uint64 { return s.n }

// around returns the interval with the largest start <= x (nil if none) and
// the interval with the smallest start > x (nil if none).
func (s *usedSet) around(x u128) (floor, ceil *ivNode) {
	for t := s.root; t != nil; {
		if x.less(t.first) {
			ceil, t = t, t.left
		} else {
			floor, t = t, t.right
		}
	}
	return floor, ceil
}

// contains reports whether x is a member.
func (s *usedSet) contains(x u128) bool {
	f, _ := s.around(x)
	return f != nil && !f.last.less(x)
}

// nextFree returns the smallest non-member >= x. It returns false only when
// every ordinal from x to the top of the 128-bit space is a member.
func (s *usedSet) nextFree(x u128) (u128, bool) {
	f, _ := s.around(x)
	if f == nil || f.last.less(x) {
		return x, true
	}
	if f.last == maxU128 {
		return u128{}, false
	}
	return f.last.add1(), true
}

// add makes x a member. It reports false if x already was one.
func (s *usedSet) add(x u128) bool {
	pred, succ := s.around(x)
	if pred != nil && !pred.last.less(x) {
		return false
	}
	joinPred := pred != nil && pred.last.add1() == x
	joinSucc := succ != nil && x.add1() == succ.first
	switch {
	case joinPred && joinSucc:
		pred.last = succ.last
		s.root = ivDelete(s.root, succ.first)
	case joinPred:
		pred.last = x
	case joinSucc:
		succ.first = x // still between pred and succ: order is kept
	default:
		s.root = ivInsert(s.root, &ivNode{first: x, last: x, prio: s.prio()})
	}
	s.n++
	return true
}

// remove makes x a non-member. It reports false if x was not a member.
func (s *usedSet) remove(x u128) bool {
	t, _ := s.around(x)
	if t == nil || t.last.less(x) {
		return false
	}
	switch {
	case t.first == t.last:
		s.root = ivDelete(s.root, t.first)
	case x == t.first:
		t.first = x.add1() // still below the next interval's start
	case x == t.last:
		t.last = x.sub1()
	default:
		right := &ivNode{first: x.add1(), last: t.last, prio: s.prio()}
		t.last = x.sub1()
		s.root = ivInsert(s.root, right)
	}
	s.n--
	return true
}

// intervals calls fn for each interval in ascending order (tests, audits).
func (s *usedSet) intervals(fn func(first, last u128)) {
	var walk func(*ivNode)
	walk = func(t *ivNode) {
		if t == nil {
			return
		}
		walk(t.left)
		fn(t.first, t.last)
		walk(t.right)
	}
	walk(s.root)
}

// ivSplit splits t into the nodes with first < key and those with first >= key.
func ivSplit(t *ivNode, key u128) (l, r *ivNode) {
	if t == nil {
		return nil, nil
	}
	if t.first.less(key) {
		t.right, r = ivSplit(t.right, key)
		return t, r
	}
	l, t.left = ivSplit(t.left, key)
	return l, t
}

// ivMerge joins two treaps where every key of l is below every key of r.
func ivMerge(l, r *ivNode) *ivNode {
	switch {
	case l == nil:
		return r
	case r == nil:
		return l
	case l.prio > r.prio:
		l.right = ivMerge(l.right, r)
		return l
	default:
		r.left = ivMerge(l, r.left)
		return r
	}
}

func ivInsert(t, n *ivNode) *ivNode {
	if t == nil {
		return n
	}
	if n.prio > t.prio {
		n.left, n.right = ivSplit(t, n.first)
		return n
	}
	if n.first.less(t.first) {
		t.left = ivInsert(t.left, n)
	} else {
		t.right = ivInsert(t.right, n)
	}
	return t
}

func ivDelete(t *ivNode, key u128) *ivNode {
	if t == nil {
		return nil
	}
	switch c := key.cmp(t.first); {
	case c < 0:
		t.left = ivDelete(t.left, key)
	case c > 0:
		t.right = ivDelete(t.right, key)
	default:
		return ivMerge(t.left, t.right)
	}
	return t
}

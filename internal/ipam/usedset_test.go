package ipam

import (
	"math/rand/v2"
	"testing"
)

// checkUsedSet verifies the treap invariants and compares s with model.
func checkUsedSet(t *testing.T, s *usedSet, model map[u128]bool) {
	t.Helper()
	var prev *ivNode
	var n uint64
	var heap func(*ivNode) bool
	heap = func(x *ivNode) bool {
		if x == nil {
			return true
		}
		for _, c := range []*ivNode{x.left, x.right} {
			if c != nil && c.prio > x.prio {
				return false
			}
		}
		return heap(x.left) && heap(x.right)
	}
	if !heap(s.root) {
		t.Fatalf("treap heap order violated")
	}
	s.intervals(func(first, last u128) {
		if last.less(first) {
			t.Fatalf("interval [%v,%v] reversed", first, last)
		}
		if prev != nil && !prev.last.add1().less(first) {
			t.Fatalf("intervals [%v,%v] and [%v,%v] overlap or touch", prev.first, prev.last, first, last)
		}
		prev = &ivNode{first: first, last: last}
		d := last.sub(first)
		n += d.lo + 1
		for x := first; ; x = x.add1() {
			if !model[x] {
				t.Fatalf("%v in set but not in model", x)
			}
			if x == last {
				break
			}
		}
	})
	if n != s.len() || n != uint64(len(model)) {
		t.Fatalf("count: intervals %d, len() %d, model %d", n, s.len(), len(model))
	}
}

func TestUsedSetRandom(t *testing.T) {
	bases := []u128{{}, {hi: 7, lo: ^uint64(0) - 40}, maxU128.sub(u64(63))}
	for _, base := range bases {
		r := rand.New(rand.NewPCG(1, base.lo))
		var s usedSet
		model := map[u128]bool{}
		for i := 0; i < 4000; i++ {
			x := base.add(u64(r.Uint64N(64)))
			switch r.IntN(3) {
			case 0, 1:
				if got, want := s.add(x), !model[x]; got != want {
					t.Fatalf("add(%v) = %v, want %v", x, got, want)
				}
				model[x] = true
			default:
				if got, want := s.remove(x), model[x]; got != want {
					t.Fatalf("remove(%v) = %v, want %v", x, got, want)
				}
				delete(model, x)
			}
			if s.contains(x) != model[x] {
				t.Fatalf("contains(%v) wrong", x)
			}
			// nextFree from a random point matches a linear search.
			from := base.add(u64(r.Uint64N(64)))
			want, wantOK := from, true
			for model[want] {
				if want == maxU128 {
					wantOK = false
					break
				}
				want = want.add1()
			}
			got, ok := s.nextFree(from)
			if ok != wantOK || (ok && got != want) {
				t.Fatalf("nextFree(%v) = %v,%v want %v,%v", from, got, ok, want, wantOK)
			}
			if i%200 == 0 {
				checkUsedSet(t, &s, model)
			}
		}
		checkUsedSet(t, &s, model)
	}
}

func TestUsedSetSequentialIsOneInterval(t *testing.T) {
	var s usedSet
	for i := uint64(0); i < 1000; i++ {
		s.add(u64(i))
	}
	count := 0
	s.intervals(func(_, _ u128) { count++ })
	if count != 1 {
		t.Fatalf("sequential fill gave %d intervals, want 1", count)
	}
	if got, _ := s.nextFree(u64(0)); got != u64(1000) {
		t.Fatalf("nextFree = %v, want 1000", got)
	}
	s.remove(u64(500))
	if got, _ := s.nextFree(u64(0)); got != u64(500) {
		t.Fatalf("after remove nextFree = %v, want 500", got)
	}
}

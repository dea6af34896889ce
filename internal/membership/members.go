package membership

import (
	"slices"
	"sync"
)

// Members is the set of live speakers, by node name.
type Members interface {
	// Members returns the names of the live speakers, sorted, without
	// repeats. The caller owns the slice.
	Members() []string
	// Changes delivers a value after the set may have changed. It has a
	// buffer of one and sends never block, so a slow reader sees one value
	// for a burst of changes and must read Members again.
	Changes() <-chan struct{}
}

// notifier is the Changes channel of an implementation.
type notifier chan struct{}

func newNotifier() notifier { return make(notifier, 1) }

// notify signals a change without blocking.
func (n notifier) notify() {
	select {
	case n <- struct{}{}:
	default:
	}
}

// Set is a Members whose content the caller sets. The zero value is not
// usable; call NewSet. It is safe for concurrent use.
type Set struct {
	changes notifier

	mu    sync.Mutex // guards names
	names []string
}

// NewSet returns an empty Set.
func NewSet() *Set { return &Set{changes: newNotifier()} }

// Set replaces the members; Changes fires when they differ from before.
func (s *Set) Set(names []string) {
	names = slices.Clone(names)
	slices.Sort(names)
	names = slices.Compact(names)
	s.mu.Lock()
	same := slices.Equal(s.names, names)
	s.names = names
	s.mu.Unlock()
	if !same {
		s.changes.notify()
	}
}

// Members returns the members last set.
func (s *Set) Members() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.names)
}

// Changes implements Members.
func (s *Set) Changes() <-chan struct{} { return s.changes }

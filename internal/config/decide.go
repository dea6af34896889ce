package config

import (
	"cmp"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
)

// candidate is one object of some kind before validation: a CR, or an
// object converted from the legacy ConfigMap.
type candidate[S any] struct {
	name   string
	obj    *S
	origin Origin
	// legacyIndex orders legacy objects as written; -1 for CRs.
	legacyIndex int
	// fieldPath rewrites CR field paths into the legacy spelling; nil for
	// CRs.
	fieldPath func(string) string
	// pre holds problems found while converting a legacy entry.
	pre []FieldError
}

// entry is the decision about one name of one kind.
type entry[S, V any] struct {
	c     *candidate[S]
	probs *problems
	cur   *V // the current version, when valid on its own
	prev  *V // the version in Input.Previous, if any
	use   *V // the version in the Snapshot: cur, prev (or a copy of prev) or nil
	// stale is true when use is the previous version because the current
	// one is invalid.
	stale bool
}

// precedence orders objects that compete (same name, overlapping
// addresses, duplicate peers): legacy objects first, in the order written,
// because they predate any CR in a migration; then CRs by creation time,
// then by name and source.
func precedence(a, b Origin, ai, bi int, an, bn string) int {
	switch {
	case a.Legacy && b.Legacy:
		return cmp.Compare(ai, bi)
	case a.Legacy:
		return -1
	case b.Legacy:
		return 1
	}
	if c := a.CreationTimestamp.Compare(b.CreationTimestamp); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(an, bn), cmp.Compare(a.Source, b.Source))
}

func comparePrecedence[S any](a, b *candidate[S]) int {
	return precedence(a.origin, b.origin, a.legacyIndex, b.legacyIndex, a.name, b.name)
}

// kindRun runs the generic part of validating one kind: duplicate names,
// per-object validation, the stale-or-exclude decision and statuses.
type kindRun[S, V any] struct {
	b       *builder
	kind    string
	entries []*entry[S, V] // one per name, sorted by precedence
	losers  []*entry[S, V] // duplicate names, always excluded
	// defined holds every name written for this kind, valid or not.
	defined map[string]bool
	// fix, when set by refresh, re-resolves a previous version.
	fix func(*V) V
}

// newKindRun groups candidates by name: the first by precedence keeps the
// name, the others are excluded as duplicates.
func newKindRun[S, V any](b *builder, kind string, cands []candidate[S], prev func(string) (*V, bool)) *kindRun[S, V] {
	r := &kindRun[S, V]{b: b, kind: kind, defined: map[string]bool{}}
	slices.SortStableFunc(cands, func(x, y candidate[S]) int { return comparePrecedence(&x, &y) })
	winners := map[string]*entry[S, V]{}
	for i := range cands {
		c := &cands[i]
		p := &problems{kind: kind, name: c.name, source: c.origin.Source, fieldPath: c.fieldPath}
		p.list = append(p.list, c.pre...)
		e := &entry[S, V]{c: c, probs: p}
		if c.name != "" {
			r.defined[c.name] = true
		}
		if w, ok := winners[c.name]; ok && c.name != "" {
			p.add(v1beta1.ReasonDuplicate, "metadata.name", c.name,
				"another %s named %q is defined by %s; names must be unique across the CRs and the legacy ConfigMap, and the older definition is kept", kind, c.name, w.c.origin.Source)
			r.losers = append(r.losers, e)
			continue
		}
		winners[c.name] = e
		if v, ok := prev(c.name); ok && c.name != "" {
			e.prev = v
		}
		r.entries = append(r.entries, e)
	}
	return r
}

// validate runs check on every entry that kept its name and decides which
// version is used: the current one when check found no fatal problem, else
// the previous one (stale) when there is one, else none.
func (r *kindRun[S, V]) validate(check func(c *candidate[S], p *problems) V) {
	for _, e := range r.entries {
		if e.c.obj != nil {
			v := check(e.c, e.probs)
			if !e.probs.fatal() {
				e.cur = &v
			}
		}
		switch {
		case e.cur != nil:
			e.use = e.cur
		case e.prev != nil:
			e.use, e.stale = e.prev, true
		}
	}
}

// refresh replaces each stale value by fix(value): stale values were
// resolved against the previous Snapshot, and fix re-resolves their
// references against this one. fix must not modify its argument.
func (r *kindRun[S, V]) refresh(fix func(*V) V) {
	r.fix = fix
	for _, e := range r.entries {
		if e.stale {
			v := fix(e.use)
			e.use = &v
		}
	}
}

// inUse reports whether the name is in the Snapshot.
func (r *kindRun[S, V]) inUse(name string) (*V, bool) {
	for _, e := range r.entries {
		if e.c.name == name && e.use != nil {
			return e.use, true
		}
	}
	return nil, false
}

// resolveConflicts enforces a rule between objects of this kind (pools
// must not overlap, peers must not repeat): it accepts objects one by one
// and excludes each that conflicts with one already accepted. Objects that
// were already in use with the same value go first, so an edit never
// pushes out something that works; among the rest the older goes first.
// An object pushed out falls back to its previous version when that one
// does not conflict.
func (r *kindRun[S, V]) resolveConflicts(same func(a, b *V) bool, conflict func(v, other *V, otherName string, p *problems) bool) {
	established := func(e *entry[S, V]) bool {
		return e.use != nil && e.prev != nil && (e.stale || same(e.use, e.prev))
	}
	order := slices.Clone(r.entries)
	slices.SortStableFunc(order, func(a, b *entry[S, V]) int {
		ea, eb := established(a), established(b)
		switch {
		case ea && !eb:
			return -1
		case eb && !ea:
			return 1
		}
		return comparePrecedence(a.c, b.c)
	})
	var accepted []*entry[S, V]
	conflicts := func(v *V, p *problems) bool {
		for _, o := range accepted {
			if conflict(v, o.use, o.c.name, p) {
				return true
			}
		}
		return false
	}
	for _, e := range order {
		if e.use == nil {
			continue
		}
		if conflicts(e.use, e.probs) {
			e.cur, e.use = nil, nil
			if !e.stale && e.prev != nil {
				prev := e.prev
				if r.fix != nil {
					v := r.fix(prev)
					prev = &v
				}
				if !conflicts(prev, &problems{}) {
					e.use = prev
				}
			}
			e.stale = e.use != nil
			if e.use == nil {
				continue
			}
		}
		accepted = append(accepted, e)
	}
}

// finish records the status of every candidate and returns the values in
// use, sorted by name, with their Origin set.
func (r *kindRun[S, V]) finish(origin func(*V) *Origin, name func(*V) string) []V {
	var out []V
	for _, e := range r.entries {
		if e.use != nil {
			v := *e.use
			o := origin(&v)
			if e.stale {
				o.Stale = true
				o.Problems = fatalOnly(e.probs.list)
			} else {
				*o = e.c.origin
			}
			out = append(out, v)
		}
		r.b.record(r.kind, e.c.name, e.c.origin, e.probs.list, e.use != nil, e.stale)
	}
	for _, e := range r.losers {
		r.b.record(r.kind, e.c.name, e.c.origin, e.probs.list, false, false)
	}
	slices.SortFunc(out, func(a, b V) int { return cmp.Compare(name(&a), name(&b)) })
	return out
}

func fatalOnly(list []FieldError) []FieldError {
	var out []FieldError
	for _, e := range list {
		if !e.Warning {
			out = append(out, e)
		}
	}
	return out
}

// originOf fills an Origin from a CR's metadata.
func originOf(m *metav1.ObjectMeta, source string) Origin {
	if source == "" {
		source = SourceCR
	}
	// In UTC: every process then encodes the same instant the same way
	// (Snapshot.Digest), whatever its time zone.
	return Origin{Source: source, CreationTimestamp: m.CreationTimestamp.UTC(), Generation: m.Generation}
}

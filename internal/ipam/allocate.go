package ipam

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// choice is an allocation: at most one address per family, all from one
// pool. Fixed arrays keep it allocation-free.
type choice struct {
	pool  *poolState
	n     int
	addrs [2]netip.Addr // addrs[:n], in the Service's family order
	spans [2]*span      // spans[i] contains addrs[i]
}

func (c *choice) add(ip netip.Addr, s *span) {
	c.pool = s.pool
	c.addrs[c.n] = ip
	c.spans[c.n] = s
	c.n++
}

// ips returns the addresses; the slice aliases c.
func (c *choice) ips() []netip.Addr { return c.addrs[:c.n] }

// Allocate gives the Service the addresses its spec asks for and returns
// them, or an error implementing Error (the Service then holds nothing,
// except after an *IncompleteError: see below).
//
//   - Idempotent: addresses the Service already holds are kept while they
//     stay valid for its spec (usable address of a pool it may use, its
//     requested addresses and pool, its families, sharing). A
//     PreferDualStack Service holding one family gains the other when its
//     pool can supply it; a RequireDualStack Service whose pool cannot
//     supply the missing family is allocated afresh: it moves to another
//     pool offering both families; when none can, it keeps the addresses it
//     has (Allocate returns them with an *IncompleteError) rather than
//     losing them too.
//   - Requested addresses (Request.IPs) are given exactly, from the pool
//     containing them, whatever its autoAssign; both must be in one pool.
//   - Otherwise the pools tried are the one named by Request.Pool
//     (autoAssign ignored), or every autoAssign pool whose
//     serviceAllocation admits the Service, by priority then name (see
//     ServiceAllocation.Priority). With a sharing key, pools holding an
//     address the Service can share come first and that address is reused.
//     Else the lowest free address of the first pool that has one.
//   - Families: SingleStack gets its first family; RequireDualStack gets
//     both from one pool; PreferDualStack gets both from the first pool
//     offering both with room, else one address of its first family, else
//     of its second. Addresses are returned in the order of
//     Service.Families.
func (a *Allocator) Allocate(svc Service) (Allocation, error) {
	var prev []netip.Addr
	if h := a.services[svc.Key]; h != nil {
		prev = h.ips()
		a.detach(h)
	}
	c, err := a.choose(&svc, prev)
	if ie := (*IncompleteError)(nil); errors.As(err, &ie) {
		return a.attach(svc, c).allocation(), err
	}
	if err != nil {
		return Allocation{}, err
	}
	return a.attach(svc, c).allocation(), nil
}

// Assign records that the Service holds ips (from its status, when the
// controller starts). It accepts exactly what Allocate would keep: the
// addresses must fit the Service's families and policy, equal its requested
// addresses if it has any, be usable addresses of one pool the Service may
// use (autoAssign does not matter) and be free or shareable; a
// RequireDualStack Service may hold one address (what Allocate keeps with
// an *IncompleteError). On error the Service holds nothing; the controller
// should Allocate it afresh.
func (a *Allocator) Assign(svc Service, ips []netip.Addr) (Allocation, error) {
	if h := a.services[svc.Key]; h != nil {
		a.detach(h)
	}
	c, err := a.chooseAssigned(&svc, ips)
	if err != nil {
		return Allocation{}, err
	}
	return a.attach(svc, c).allocation(), nil
}

func (a *Allocator) chooseAssigned(svc *Service, ips []netip.Addr) (choice, error) {
	const field = "status.loadBalancer.ingress"
	d, err := demandOf(svc)
	if err != nil {
		return choice{}, err
	}
	if len(ips) == 0 {
		return choice{}, &InvalidRequestError{Field: field, Msg: "no address to assign"}
	}
	if len(d.ips) > 0 && !sameAddrs(d.ips, ips) {
		return choice{}, &InvalidRequestError{Field: field, Value: addrList(ips),
			Msg: fmt.Sprintf("differs from the requested addresses %s", addrList(d.ips))}
	}
	held := *svc
	held.Request.IPs = ips
	if svc.FamilyPolicy == RequireDualStack && len(d.ips) == 0 && len(ips) == 1 {
		// What an IncompleteError left: the Service keeps it, and
		// Allocate completes it when a pool can.
		held.FamilyPolicy = PreferDualStack
	}
	hd, err := demandOf(&held)
	if err != nil {
		if ire := (*InvalidRequestError)(nil); errors.As(err, &ire) {
			ire.Field = field
		}
		return choice{}, err
	}
	if err := a.checkPoolName(svc); err != nil {
		return choice{}, err
	}
	return a.chooseRequested(svc, hd.ips, hd.ips)
}

func sameAddrs(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// choose works out what svc gets; prev is what it held before.
func (a *Allocator) choose(svc *Service, prev []netip.Addr) (choice, error) {
	d, err := demandOf(svc)
	if err != nil {
		return choice{}, err
	}
	if err := a.checkPoolName(svc); err != nil {
		return choice{}, err
	}
	if len(d.ips) > 0 {
		return a.chooseRequested(svc, d.ips, prev)
	}
	kept := a.validHeld(svc, d, prev)
	if kept.n > 0 {
		if c, ok := a.complete(svc, d, kept); ok {
			return c, nil
		}
	}
	c, err := a.chooseFresh(svc, d)
	if err != nil && kept.n > 0 {
		// RequireDualStack, and no pool can give both families: keep what
		// is still valid rather than lose it too.
		var cause Error
		if !errors.As(err, &cause) {
			return choice{}, err
		}
		missing := d.want[0]
		if FamilyOf(kept.addrs[0]) == missing {
			missing = d.want[1]
		}
		return kept, &IncompleteError{Kept: slices.Clone(kept.ips()), Pool: kept.pool.name(), Missing: missing, Cause: cause}
	}
	return c, err
}

func (a *Allocator) checkPoolName(svc *Service) error {
	if name := svc.Request.Pool; name != "" && a.pools[name] == nil {
		return &UnknownPoolError{Pool: name, Known: a.Pools()}
	}
	return nil
}

// usableBy reports whether ip (in s) is an address svc may hold, sharing aside.
func usableBy(svc *Service, s *span, ip netip.Addr) bool {
	if _, ok := s.ordinal(ip); !ok {
		return false
	}
	return (svc.Request.Pool == "" || svc.Request.Pool == s.pool.name()) && s.pool.permits(svc)
}

// validHeld returns the subset of held that svc may keep under demand d,
// in d's family order, all from one pool.
func (a *Allocator) validHeld(svc *Service, d demand, held []netip.Addr) choice {
	var c choice
	for i, f := range d.want {
		for _, ip := range held {
			if FamilyOf(ip) != f || (len(d.ips) > 0 && d.ips[i] != ip) {
				continue
			}
			s := a.spanFor(ip)
			if s == nil || (c.pool != nil && s.pool != c.pool) || !usableBy(svc, s, ip) || a.checkShare(svc, ip, true) != nil {
				continue
			}
			c.add(ip, s)
			break
		}
	}
	return c
}

// complete adds the families kept lacks, from kept's pool. It fails only
// for RequireDualStack when the pool cannot supply a family.
func (a *Allocator) complete(svc *Service, d demand, kept choice) (choice, bool) {
	var c choice
	for _, f := range d.want {
		if i := slices.IndexFunc(kept.ips(), func(ip netip.Addr) bool { return FamilyOf(ip) == f }); i >= 0 {
			c.add(kept.addrs[i], kept.spans[i])
			continue
		}
		if ip, s, ok := a.pickIn(svc, kept.pool, f); ok {
			c.add(ip, s)
			continue
		}
		if d.policy == RequireDualStack {
			return choice{}, false
		}
	}
	return c, true
}

// chooseRequested checks the requested addresses ips (one per family, in
// the Service's order); held are the addresses svc held before.
func (a *Allocator) chooseRequested(svc *Service, ips, held []netip.Addr) (choice, error) {
	var c choice
	for _, ip := range ips {
		s := a.spanFor(ip)
		if s == nil {
			return choice{}, &IPNotInPoolError{IP: ip, Pool: svc.Request.Pool}
		}
		if _, ok := s.ordinal(ip); !ok {
			return choice{}, &IPNotInPoolError{IP: ip, Pool: s.pool.name(),
				Detail: "the pool sets avoidBuggyIPs, which excludes addresses ending in .0 and .255"}
		}
		if svc.Request.Pool != "" && svc.Request.Pool != s.pool.name() {
			return choice{}, &IPNotInPoolError{IP: ip, Pool: svc.Request.Pool,
				Detail: fmt.Sprintf("it belongs to pool %q; drop the address-pool annotation or request an address of %q", s.pool.name(), svc.Request.Pool)}
		}
		if c.pool != nil && c.pool != s.pool {
			return choice{}, &InvalidRequestError{Field: "loadBalancerIPs", Value: addrList(ips),
				Msg: fmt.Sprintf("the addresses belong to pools %q and %q; both must come from one pool", c.pool.name(), s.pool.name())}
		}
		if !s.pool.permits(svc) {
			return choice{}, &PoolNotPermittedError{Pool: s.pool.name(), Service: svc.Key}
		}
		if err := a.checkShare(svc, ip, slices.Contains(held, ip)); err != nil {
			return choice{}, err
		}
		c.add(ip, s)
	}
	return c, nil
}

// candidatePools returns the pools svc may get an automatic address from,
// in order of preference: with a sharing key, pools holding an address of
// fams that svc can share come first.
func (a *Allocator) candidatePools(svc *Service, fams []Family) ([]*poolState, error) {
	if name := svc.Request.Pool; name != "" {
		p := a.pools[name]
		if !p.permits(svc) {
			return nil, &PoolNotPermittedError{Pool: name, Service: svc.Key}
		}
		return []*poolState{p}, nil
	}
	out := a.candidates[:0]
	defer func() { a.candidates = out[:0] }()
	auto := 0
	for _, p := range a.ordered {
		if !p.cfg.AutoAssign {
			continue
		}
		auto++
		if p.permits(svc) {
			out = append(out, p)
		}
	}
	switch {
	case len(a.pools) == 0:
		return nil, &NoPoolError{Detail: "no address pool is configured"}
	case auto == 0:
		return nil, &NoPoolError{Detail: "no pool has autoAssign enabled; name a pool with the address-pool annotation or request an address"}
	case len(out) == 0:
		return nil, &NoPoolError{Detail: "the serviceAllocation of every autoAssign pool excludes this Service (namespace or labels)"}
	}
	if svc.Request.SharingKey != "" && len(a.shared[svc.Request.SharingKey]) > 0 {
		var first, rest []*poolState
		for _, p := range out {
			if a.hasShared(svc, p, fams) {
				first = append(first, p)
			} else {
				rest = append(rest, p)
			}
		}
		return append(first, rest...), nil
	}
	return out, nil
}

// chooseFresh picks new (or shareable) addresses for svc.
func (a *Allocator) chooseFresh(svc *Service, d demand) (choice, error) {
	cands, err := a.candidatePools(svc, d.want)
	if err != nil {
		return choice{}, err
	}
	var short Family
	if len(d.want) == 2 {
		for _, p := range cands {
			if !p.offers(d.want[0]) || !p.offers(d.want[1]) {
				continue
			}
			c, f, ok := a.tryPool(svc, p, d.want)
			if ok {
				return c, nil
			}
			if short == "" {
				short = f
			}
		}
		if d.policy == RequireDualStack {
			return choice{}, a.noRoom(d, cands, short, true)
		}
	}
	// One family: SingleStack, or PreferDualStack falling back.
	for _, f := range d.want {
		for _, p := range cands {
			if !p.offers(f) {
				continue
			}
			if c, _, ok := a.tryPool(svc, p, []Family{f}); ok {
				return c, nil
			}
			if short == "" {
				short = f
			}
		}
	}
	return choice{}, a.noRoom(d, cands, short, false)
}

// noRoom explains why no candidate pool could serve d: short is the family
// found lacking in a pool offering it, empty if no pool offers the
// families at all.
func (a *Allocator) noRoom(d demand, cands []*poolState, short Family, both bool) error {
	var names, offering []string
	for _, p := range cands {
		names = append(names, p.name())
		if short != "" && p.offers(short) && (!both || (p.offers(d.want[0]) && p.offers(d.want[1]))) {
			offering = append(offering, p.name())
		}
	}
	if short == "" {
		return &FamilyUnavailableError{Policy: d.policy, Families: d.families, Pools: names}
	}
	return &PoolExhaustedError{Family: short, Pools: offering}
}

// tryPool picks one address per family in fams from p, or reports the
// first family p has no room for.
func (a *Allocator) tryPool(svc *Service, p *poolState, fams []Family) (choice, Family, bool) {
	var c choice
	for _, f := range fams {
		ip, s, ok := a.pickIn(svc, p, f)
		if !ok {
			return choice{}, f, false
		}
		c.add(ip, s)
	}
	return c, "", true
}

// pickIn returns an address of family f in p for svc: one it can share
// under its sharing key, else the lowest free one.
func (a *Allocator) pickIn(svc *Service, p *poolState, f Family) (netip.Addr, *span, bool) {
	if ip, s, ok := a.sharedIn(svc, p, f); ok {
		return ip, s, true
	}
	return p.lowestFree(f)
}

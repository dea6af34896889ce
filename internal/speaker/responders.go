package speaker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"

	"github.com/ironlb/ironlb/internal/layer2"
)

// responder is the part of a layer2.Interface the speaker drives.
type responder interface {
	SetAddresses(ctx context.Context, addrs []netip.Addr) error
	Ready() error
	Close() error
}

// openFunc opens a responder on an interface and returns it with the
// interface's index, by which a replaced interface of the same name is
// told apart.
type openFunc func(name string) (responder, int, error)

// indexFunc returns the index of an interface by name.
type indexFunc func(name string) (int, error)

// responders keeps one layer 2 responder per interface the node answers
// on: opened when an interface first has addresses, closed when it has
// none left, reopened when the interface was deleted or replaced. It is
// safe for concurrent use.
type responders struct {
	open  openFunc
	index indexFunc
	log   *slog.Logger

	mu   sync.Mutex // guards byIf and failed
	byIf map[string]*openResponder
	// failed holds why the responder of a wanted interface could not be
	// opened (no CAP_NET_RAW, say): the speaker is not ready while an
	// address it should answer for is not answered.
	failed map[string]error
}

type openResponder struct {
	r     responder
	index int
	addrs []netip.Addr
}

// layer2Responders returns responders opening layer2.Interfaces in the
// network namespace inNetNS runs in, counting into counters and reporting
// conflicts to onConflict.
func layer2Responders(inNetNS func(func() error) error, counters *layer2.Counters, onConflict func(layer2.Conflict),
	log *slog.Logger) *responders {
	index := func(name string) (int, error) {
		var idx int
		err := inNetNS(func() error {
			ifi, err := net.InterfaceByName(name)
			if err != nil {
				return err
			}
			idx = ifi.Index
			return nil
		})
		return idx, err
	}
	open := func(name string) (responder, int, error) {
		var (
			r   *layer2.Interface
			idx int
		)
		err := inNetNS(func() error {
			ifi, err := net.InterfaceByName(name)
			if err != nil {
				return err
			}
			idx = ifi.Index
			r, err = layer2.New(name, layer2.Options{Counters: counters, Logger: log.With("interface", name), OnConflict: onConflict})
			return err
		})
		if err != nil {
			return nil, 0, err
		}
		return r, idx, nil
	}
	return &responders{open: open, index: index, log: log, byIf: map[string]*openResponder{}, failed: map[string]error{}}
}

// apply makes want (interface → addresses, sorted) exactly what is
// answered, and returns every failure; what could be applied is applied.
func (rs *responders) apply(ctx context.Context, want map[string][]netip.Addr) error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var errs []error
	for name, o := range rs.byIf {
		if _, ok := want[name]; !ok {
			rs.closeLocked(name, o)
		}
	}
	for name := range rs.failed {
		if _, ok := want[name]; !ok {
			delete(rs.failed, name)
		}
	}
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		addrs := want[name]
		o := rs.byIf[name]
		if o != nil && o.r.Ready() != nil && rs.replaced(name, o) {
			rs.log.Warn("interface deleted or replaced; opening its responder again", "interface", name)
			rs.closeLocked(name, o)
			o = nil
		}
		if o == nil {
			r, idx, err := rs.open(name)
			if err != nil {
				err = fmt.Errorf("opening the layer 2 responder on %s for %v: %w", name, addrs, err)
				rs.failed[name] = err
				errs = append(errs, err)
				continue
			}
			delete(rs.failed, name)
			o = &openResponder{r: r, index: idx}
			rs.byIf[name] = o
		}
		if slices.Equal(o.addrs, addrs) {
			continue
		}
		if err := o.r.SetAddresses(ctx, addrs); err != nil {
			errs = append(errs, fmt.Errorf("answering for %v on %s: %w", addrs, name, err))
		}
		o.addrs = slices.Clone(addrs)
	}
	return errors.Join(errs...)
}

// replaced reports whether the interface of o is gone or is another one
// now (a different index).
func (rs *responders) replaced(name string, o *openResponder) bool {
	idx, err := rs.index(name)
	return err != nil || idx != o.index
}

func (rs *responders) closeLocked(name string, o *openResponder) {
	if err := o.r.Close(); err != nil {
		rs.log.Warn("closing a layer 2 responder", "interface", name, "error", err)
	}
	delete(rs.byIf, name)
}

// closeAll stops answering on every interface at once.
func (rs *responders) closeAll() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for name, o := range rs.byIf {
		rs.closeLocked(name, o)
	}
}

// ready returns nil when every wanted responder is open and up, else
// what is not.
func (rs *responders) ready() error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var errs []error
	for _, err := range rs.failed {
		errs = append(errs, err)
	}
	for name, o := range rs.byIf {
		if err := o.r.Ready(); err != nil {
			errs = append(errs, fmt.Errorf("responder on %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// healthy reports whether no responder reports a problem; the speaker
// syncs again when one does, to reopen replaced interfaces.
func (rs *responders) healthy() bool { return rs.ready() == nil }

// counts returns how many IPv4 and IPv6 addresses are answered for,
// each counted once however many interfaces it is answered on.
func (rs *responders) counts() (v4, v6 int) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	seen := map[netip.Addr]bool{}
	for _, o := range rs.byIf {
		for _, a := range o.addrs {
			if seen[a] {
				continue
			}
			seen[a] = true
			if a.Is4() {
				v4++
			} else {
				v6++
			}
		}
	}
	return v4, v6
}

package ipam

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestErrorMessages pins the reason of every error type and checks that
// each message names what is wrong.
func TestErrorMessages(t *testing.T) {
	a := newAlloc(t,
		withSA(pool(t, "team", "10.0.2.0/32"), ServiceAllocation{Namespaces: []string{"team"}}),
		pool(t, "p", "10.0.0.0/32"),
		manual(buggy(pool(t, "b", "10.0.1.0/24"))),
	)
	mustAllocate(t, a, mk("ns/holder", shareKey("k"), ports("TCP/80")))
	tests := []struct {
		svc      Service
		reason   string
		contains []string
	}{
		{mk("ns/x"), ReasonPoolExhausted, []string{"IPv4", `pool "p"`}},
		{mk("ns/x", req("10.0.0.0")), ReasonIPInUse, []string{"10.0.0.0", "ns/holder", "allow-shared-ip"}},
		{mk("ns/x", req("192.0.2.1")), ReasonIPNotInPool, []string{"192.0.2.1", "any address pool"}},
		{mk("ns/x", req("10.0.1.0")), ReasonIPNotInPool, []string{"10.0.1.0", `"b"`, "avoidBuggyIPs"}},
		{mk("ns/x", req("10.0.1.1"), inPool("p")), ReasonIPNotInPool, []string{"10.0.1.1", `pool "p"`, `belongs to pool "b"`}},
		{mk("ns/x", fams(SingleStack, IPv6)), ReasonFamilyUnavailable, []string{"IPv6", "SingleStack", `"p"`}},
		{mk("ns/x", fams(RequireDualStack, IPv4, IPv6)), ReasonFamilyUnavailable, []string{"both IPv4 and IPv6", "RequireDualStack"}},
		{mk("ns/x", req("10.0.0.0"), shareKey("k"), ports("TCP/80")), ReasonSharingConflict, []string{"ns/holder", "TCP/80"}},
		{mk("ns/x", req("10.0.0.0"), shareKey("j"), ports("TCP/81")), ReasonSharingConflict, []string{"ns/holder", `"k"`, `"j"`}},
		{mk("ns/x", req("10.0.0.0"), shareKey("k"), ports("TCP/81"), local("a", "b")), ReasonSharingConflict, []string{"ns/holder", "Local", "Cluster"}},
		{mk("ns/x", inPool("nope")), ReasonUnknownPool, []string{`"nope"`, "b, p, team"}},
		{mk("ns/x", inPool("team")), ReasonPoolNotPermitted, []string{`"team"`, "ns/x11", "serviceAllocation"}},
		{mk("ns/x", req("10.0.0.0", "10.0.1.1")), ReasonInvalidRequest, []string{"10.0.0.0,10.0.1.1", "one address per family"}},
	}
	for i, tt := range tests {
		tt.svc.Key = fmt.Sprintf("ns/x%d", i)
		_, err := a.Allocate(tt.svc)
		var e Error
		if !errors.As(err, &e) {
			t.Errorf("%+v: err = %v, want an ipam.Error", tt.svc.Request, err)
			continue
		}
		if e.Reason() != tt.reason {
			t.Errorf("%+v: reason %s, want %s (%v)", tt.svc.Request, e.Reason(), tt.reason, err)
		}
		for _, s := range tt.contains {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%+v: message %q lacks %q", tt.svc.Request, err, s)
			}
		}
	}
	if _, err := New().Allocate(mk("ns/x")); reasonOf(err) != ReasonNoPool || !strings.Contains(err.Error(), "no address pool is configured") {
		t.Errorf("no pools: %v", err)
	}
}

// TestReasonsListsEveryError: the reason of every error type is in
// Reasons, which metrics export before any failure.
func TestReasonsListsEveryError(t *testing.T) {
	errs := []Error{
		&PoolExhaustedError{}, &IPInUseError{}, &IPNotInPoolError{}, &FamilyUnavailableError{},
		&SharingConflictError{}, &UnknownPoolError{}, &PoolNotPermittedError{}, &NoPoolError{},
		&InvalidRequestError{}, &IncompleteError{Cause: &PoolExhaustedError{}},
	}
	for _, e := range errs {
		if !slices.Contains(Reasons(), e.Reason()) {
			t.Errorf("%T: reason %s is not in Reasons()", e, e.Reason())
		}
	}
	if n := len(Reasons()); n != len(errs)-1 {
		t.Errorf("Reasons() has %d entries, want one per error type (%d)", n, len(errs)-1)
	}
}

func TestPoolList(t *testing.T) {
	for in, want := range map[string]string{"": "no pool", "a": `pool "a"`, "a b": `pools "a", "b"`} {
		if got := poolList(strings.Fields(in)); got != want {
			t.Errorf("poolList(%q) = %s, want %s", in, got, want)
		}
	}
}

package ipam

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestRequests(t *testing.T) {
	dual := pool(t, "dual", "10.0.0.0/29", "2001:db8::/125")
	other := pool(t, "other", "10.0.1.0/29", "2001:db8:1::/125")
	tests := []struct {
		name  string
		steps []step
	}{
		{"requested address", []step{
			alloc(mk("ns/a", req("10.0.0.5")), "10.0.0.5@dual"),
			alloc(mk("ns/b"), "10.0.0.0@dual"),
		}},
		{"requested address taken", []step{
			alloc(mk("ns/a", req("10.0.0.5")), "10.0.0.5@dual"),
			alloc(mk("ns/b", req("10.0.0.5")), "!IPAlreadyInUse"),
		}},
		{"requested address outside every pool", []step{
			alloc(mk("ns/a", req("192.0.2.1")), "!IPNotInPool"),
		}},
		{"requested address outside the named pool", []step{
			alloc(mk("ns/a", req("10.0.0.5"), inPool("other")), "!IPNotInPool"),
			alloc(mk("ns/b", req("10.0.1.5"), inPool("other")), "10.0.1.5@other"),
		}},
		{"requested pair, ordered by families", []step{
			alloc(mk("ns/a", req("10.0.0.5", "2001:db8::5"), fams(RequireDualStack, IPv6, IPv4)), "2001:db8::5,10.0.0.5@dual"),
			alloc(mk("ns/b", req("2001:db8::6", "10.0.0.6"), fams(PreferDualStack, IPv4, IPv6)), "10.0.0.6,2001:db8::6@dual"),
		}},
		{"requested pair across pools", []step{
			alloc(mk("ns/a", req("10.0.0.5", "2001:db8:1::5"), fams(RequireDualStack, IPv4, IPv6)), "!InvalidRequest"),
		}},
		{"request must fit the policy", []step{
			alloc(mk("ns/a", req("10.0.0.5", "2001:db8::5")), "!InvalidRequest"),                           // SingleStack
			alloc(mk("ns/b", req("2001:db8::5")), "!InvalidRequest"),                                       // SingleStack IPv4
			alloc(mk("ns/c", req("10.0.0.5"), fams(RequireDualStack, IPv4, IPv6)), "!InvalidRequest"),      // one of two
			alloc(mk("ns/d", req("2001:db8::5"), fams(PreferDualStack, IPv4)), "!InvalidRequest"),          // family not listed
			alloc(mk("ns/e", req("2001:db8::5"), fams(PreferDualStack, IPv4, IPv6)), "2001:db8::5@dual"),   // one is fine
			alloc(mk("ns/f", req("10.0.0.1", "10.0.0.2"), fams(PreferDualStack, IPv4)), "!InvalidRequest"), // same family
		}},
		{"families derived from the request when unset", []step{
			alloc(mk("ns/a", req("2001:db8::5"), fams(SingleStack)), "2001:db8::5@dual"),
			alloc(mk("ns/b", req("2001:db8::6", "10.0.0.6"), fams(RequireDualStack)), "10.0.0.6,2001:db8::6@dual"),
		}},
		{"changing the request moves the Service", []step{
			alloc(mk("ns/a", req("10.0.0.5")), "10.0.0.5@dual"),
			alloc(mk("ns/a", req("10.0.0.6")), "10.0.0.6@dual"),
			alloc(mk("ns/b", req("10.0.0.5")), "10.0.0.5@dual"),
			alloc(mk("ns/a"), "10.0.0.6@dual"), // request dropped: keeps its address
		}},
		{"a failed request releases the old address", []step{
			alloc(mk("ns/a", req("10.0.0.5")), "10.0.0.5@dual"),
			alloc(mk("ns/a", req("192.0.2.1")), "!IPNotInPool"),
			alloc(mk("ns/b", req("10.0.0.5")), "10.0.0.5@dual"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runSteps(t, newAlloc(t, dual, other), tt.steps)
		})
	}
}

func TestSharing(t *testing.T) {
	p := pool(t, "p", "10.0.0.0/29", "2001:db8::/125")
	k := shareKey("k")
	tests := []struct {
		name  string
		steps []step
	}{
		{"same key, distinct ports: the group's address is reused", []step{
			alloc(mk("ns/tcp", k, ports("TCP/53")), "10.0.0.0@p"),
			alloc(mk("ns/udp", k, ports("UDP/53")), "10.0.0.0@p"),
			alloc(mk("ns/web", k, ports("TCP/80")), "10.0.0.0@p"),
		}},
		{"same key, port clash: a fresh address when automatic", []step{
			alloc(mk("ns/a", k, ports("TCP/80")), "10.0.0.0@p"),
			alloc(mk("ns/b", k, ports("TCP/80")), "10.0.0.1@p"),
			alloc(mk("ns/c", k, ports("TCP/443")), "10.0.0.0@p"),
		}},
		{"same key, port clash: conflict when requested", []step{
			alloc(mk("ns/a", k, ports("TCP/80")), "10.0.0.0@p"),
			alloc(mk("ns/b", k, ports("TCP/80"), req("10.0.0.0")), "!SharingConflict"),
			alloc(mk("ns/c", k, ports("", "/80"), req("10.0.0.0")), "!SharingConflict"), // empty protocol is TCP
			alloc(mk("ns/d", k, ports("UDP/80"), req("10.0.0.0")), "10.0.0.0@p"),
		}},
		{"different key", []step{
			alloc(mk("ns/a", k, ports("TCP/80")), "10.0.0.0@p"),
			alloc(mk("ns/b", shareKey("other"), ports("TCP/81"), req("10.0.0.0")), "!SharingConflict"),
			alloc(mk("ns/c", shareKey("other"), ports("TCP/81")), "10.0.0.1@p"),
		}},
		{"holder without key", []step{
			alloc(mk("ns/a", ports("TCP/80")), "10.0.0.0@p"),
			alloc(mk("ns/b", k, ports("TCP/81"), req("10.0.0.0")), "!SharingConflict"),
			alloc(mk("ns/c", ports("TCP/81"), req("10.0.0.0")), "!IPAlreadyInUse"),
		}},
		{"Local needs identical non-empty selectors", []step{
			alloc(mk("ns/a", k, ports("TCP/80"), local("app", "x")), "10.0.0.0@p"),
			alloc(mk("ns/b", k, ports("TCP/81"), local("app", "x")), "10.0.0.0@p"),
			alloc(mk("ns/c", k, ports("TCP/82"), local("app", "y")), "10.0.0.1@p"),
			alloc(mk("ns/d", k, ports("TCP/83"), local("app", "y"), req("10.0.0.0")), "!SharingConflict"),
			alloc(mk("ns/e", k, ports("TCP/84"), selector("app", "x")), "10.0.0.0@p"), // Cluster, same selector
			alloc(mk("ns/f", k, ports("TCP/85")), "10.0.0.2@p"),                       // Cluster, no selector
		}},
		{"Local with empty selectors never share", []step{
			alloc(mk("ns/a", k, ports("TCP/80"), local()), "10.0.0.0@p"),
			alloc(mk("ns/b", k, ports("TCP/81"), local(), req("10.0.0.0")), "!SharingConflict"),
		}},
		{"dual-stack Service joins a single-stack group", []step{
			alloc(mk("ns/a", k, ports("TCP/80")), "10.0.0.0@p"),
			alloc(mk("ns/b", k, ports("TCP/81"), fams(RequireDualStack, IPv4, IPv6)), "10.0.0.0,2001:db8::@p"),
			alloc(mk("ns/c", k, ports("TCP/82"), fams(SingleStack, IPv6)), "2001:db8::@p"),
		}},
		{"the address stays while any holder remains", []step{
			alloc(mk("ns/a", k, ports("TCP/80")), "10.0.0.0@p"),
			alloc(mk("ns/b", k, ports("TCP/81")), "10.0.0.0@p"),
			release("ns/a", "true"),
			alloc(mk("ns/c"), "10.0.0.1@p"),
			release("ns/b", "true"),
			alloc(mk("ns/d"), "10.0.0.0@p"),
		}},
		{"a port change that clashes moves the Service", []step{
			alloc(mk("ns/a", k, ports("TCP/80")), "10.0.0.0@p"),
			alloc(mk("ns/b", k, ports("TCP/81")), "10.0.0.0@p"),
			alloc(mk("ns/b", k, ports("TCP/80")), "10.0.0.1@p"),
		}},
		{"dropping the key leaves the group", []step{
			alloc(mk("ns/a", k, ports("TCP/80")), "10.0.0.0@p"),
			alloc(mk("ns/b", k, ports("TCP/81")), "10.0.0.0@p"),
			alloc(mk("ns/b", ports("TCP/81")), "10.0.0.1@p"),
		}},
		{"a lone holder may change its key", []step{
			alloc(mk("ns/a", k, ports("TCP/80")), "10.0.0.0@p"),
			alloc(mk("ns/a", shareKey("new"), ports("TCP/80")), "10.0.0.0@p"),
			alloc(mk("ns/b", shareKey("new"), ports("TCP/81")), "10.0.0.0@p"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runSteps(t, newAlloc(t, p), tt.steps)
		})
	}
}

// TestSharingAcrossNamespaces: a Service shares an address only with
// Services of its own namespace unless the pool allows sharing across
// namespaces; an address already held across namespaces (restored from
// status, or before the pool stopped allowing it) stays.
func TestSharingAcrossNamespaces(t *testing.T) {
	closed := pool(t, "p", "10.0.0.0/29")
	open := closed
	open.AllowCrossNamespaceSharing = true
	k := shareKey("k")
	tests := []struct {
		name  string
		pool  Pool
		steps []step
	}{
		{"closed pool: a request for another namespace's address is refused", closed, []step{
			alloc(mk("a/web", k, ports("TCP/80")), "10.0.0.0@p"),
			alloc(mk("b/dns", k, ports("UDP/53"), req("10.0.0.0")), "!SharingConflict"),
			alloc(mk("a/dns", k, ports("UDP/53"), req("10.0.0.0")), "10.0.0.0@p"),
		}},
		{"closed pool: an automatic Service of another namespace gets its own address", closed, []step{
			alloc(mk("a/web", k, ports("TCP/80")), "10.0.0.0@p"),
			alloc(mk("b/dns", k, ports("UDP/53")), "10.0.0.1@p"),
			alloc(mk("a/dns", k, ports("UDP/53")), "10.0.0.0@p"),
		}},
		{"open pool: shared across namespaces", open, []step{
			alloc(mk("a/web", k, ports("TCP/80")), "10.0.0.0@p"),
			alloc(mk("b/dns", k, ports("UDP/53"), req("10.0.0.0")), "10.0.0.0@p"),
			alloc(mk("c/ssh", k, ports("TCP/22")), "10.0.0.0@p"),
		}},
		{"closed pool: a share found in status is kept, and kept on every later allocation", closed, []step{
			assign(mk("a/web", k, ports("TCP/80")), "10.0.0.0", "10.0.0.0@p"),
			assign(mk("b/dns", k, ports("UDP/53")), "10.0.0.0", "10.0.0.0@p"),
			alloc(mk("b/dns", k, ports("UDP/54")), "10.0.0.0@p"),
			alloc(mk("b/dns", k, ports("UDP/54"), req("10.0.0.0")), "10.0.0.0@p"),
			alloc(mk("c/ssh", k, ports("TCP/22"), req("10.0.0.0")), "!SharingConflict"),
		}},
		{"a pool that stops allowing it keeps the shares it has and refuses new ones", open, []step{
			alloc(mk("a/web", k, ports("TCP/80")), "10.0.0.0@p"),
			alloc(mk("b/dns", k, ports("UDP/53")), "10.0.0.0@p"),
			setPools("", closed),
			alloc(mk("b/dns", k, ports("UDP/53")), "10.0.0.0@p"),
			alloc(mk("c/ssh", k, ports("TCP/22"), req("10.0.0.0")), "!SharingConflict"),
			release("b/dns", "true"),
			alloc(mk("b/dns", k, ports("UDP/53")), "10.0.0.1@p"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runSteps(t, newAlloc(t, tt.pool), tt.steps)
		})
	}

	// The refusal names the namespace and the pool's field, and not the
	// holder's sharing key (another tenant's Event must not reveal it).
	a := newAlloc(t, closed)
	mustAllocate(t, a, mk("a/web", shareKey("secret-key"), ports("TCP/80")))
	_, err := a.Allocate(mk("b/dns", shareKey("guess"), ports("UDP/53"), req("10.0.0.0")))
	var sc *SharingConflictError
	if !errors.As(err, &sc) || sc.Conflict != ConflictNamespace || sc.Other != "a/web" {
		t.Fatalf("err = %#v, want a namespace conflict with a/web", err)
	}
	for _, want := range []string{`namespace "a"`, `pool "p"`, "spec.allowCrossNamespaceSharing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "secret-key") {
		t.Errorf("%q reveals the other namespace's sharing key", err)
	}
}

func TestSharingPrefersGroupOverPriority(t *testing.T) {
	hi := withSA(pool(t, "hi", "10.0.0.0/30"), ServiceAllocation{Priority: 1})
	lo := pool(t, "lo", "10.0.1.0/30")
	runSteps(t, newAlloc(t, hi, lo), []step{
		alloc(mk("ns/a", shareKey("k"), ports("TCP/80"), inPool("lo")), "10.0.1.0@lo"),
		alloc(mk("ns/b", shareKey("k"), ports("TCP/81")), "10.0.1.0@lo"),
		alloc(mk("ns/c", shareKey("k"), ports("TCP/80")), "10.0.0.0@hi"), // clash: priority order
	})
}

func TestSharingErrorsNameTheOtherService(t *testing.T) {
	a := newAlloc(t, pool(t, "p", "10.0.0.0/30"))
	mustAllocate(t, a, mk("ns/a", shareKey("k"), ports("TCP/80")))
	_, err := a.Allocate(mk("ns/b", shareKey("k"), ports("TCP/80"), req("10.0.0.0")))
	var sc *SharingConflictError
	if !errors.As(err, &sc) || sc.Other != "ns/a" || sc.Conflict != ConflictPort || sc.IP != netip.MustParseAddr("10.0.0.0") {
		t.Fatalf("err = %#v", err)
	}
	_, err = a.Allocate(mk("ns/c", req("10.0.0.0")))
	var inUse *IPInUseError
	if !errors.As(err, &inUse) || inUse.Holder != "ns/a" {
		t.Fatalf("err = %#v", err)
	}
}

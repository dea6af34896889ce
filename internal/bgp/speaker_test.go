package bgp

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/ironlb/ironlb/internal/bfd"
	"github.com/ironlb/ironlb/internal/testkit"
)

// These tests start GoBGP servers but open no session that can succeed: the
// peer is a closed loopback port.

func loopbackPeer(name string) Peer {
	return Peer{
		Name: name, Address: netip.MustParseAddr("127.0.0.1"), Port: 1,
		MyASN: 64513, PeerASN: 64512, RouterID: netip.MustParseAddr("10.0.0.1"),
		ConnectTime: time.Second,
	}
}

func TestSpeakerValidation(t *testing.T) {
	ctx := context.Background()
	sp := New(nil)
	defer func() { _ = sp.Close() }()

	badID := loopbackPeer("bad-id")
	badID.RouterID = netip.MustParseAddr("fd00::1")
	noASN := loopbackPeer("no-asn")
	noASN.MyASN = 0
	bfdNoSource := loopbackPeer("bfd-no-source")
	bfdNoSource.BFD = true
	for _, p := range []Peer{badID, noASN, bfdNoSource} {
		if err := sp.SetPeers(ctx, []Peer{p}); err == nil {
			t.Errorf("SetPeers(%s): want an error", p.Name)
		}
	}
	if err := sp.SetPeers(ctx, []Peer{loopbackPeer("a"), loopbackPeer("a")}); err == nil {
		t.Error("SetPeers with a duplicate name: want an error")
	}
	if err := sp.SetPeers(ctx, []Peer{loopbackPeer("a")}); err != nil {
		t.Fatalf("SetPeers: %v", err)
	}
	r := Route{Prefix: netip.MustParsePrefix("10.96.0.1/32")}
	if err := sp.Advertise(ctx, []Route{r, r}); err == nil {
		t.Error("Advertise with a prefix twice: want an error")
	}
	if err := sp.Advertise(ctx, []Route{{Prefix: netip.MustParsePrefix("fd00::1/128")}}); err == nil {
		t.Error("Advertise of an IPv6 route to an IPv4 peer without an IPv6 next hop: want an error")
	}
	if err := sp.Advertise(ctx, []Route{r}); err != nil {
		t.Errorf("Advertise: %v", err)
	}
	// A changed peer is re-created and gets the current routes again.
	changed := loopbackPeer("a")
	changed.Password = "x"
	if err := sp.SetPeers(ctx, []Peer{changed, loopbackPeer("b")}); err != nil {
		t.Errorf("SetPeers with a changed and a new peer: %v", err)
	}
	if err := sp.SetPeers(ctx, nil); err != nil {
		t.Errorf("SetPeers(nil): %v", err)
	}
}

func TestSpeakerClose(t *testing.T) {
	ctx := context.Background()
	sp := New(nil)
	if err := sp.SetPeers(ctx, []Peer{loopbackPeer("a")}); err != nil {
		t.Fatal(err)
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sp.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for range sp.Events() { //nolint:revive // drain until closed
	}
	if err := sp.SetPeers(ctx, nil); err == nil {
		t.Error("SetPeers after Close: want an error")
	}
	if err := sp.Advertise(ctx, nil); err == nil {
		t.Error("Advertise after Close: want an error")
	}
}

// TestSpeakerCloseWithBFD: a BFD peer starts the BFD manager and the
// worker that resets BGP sessions for it; a BFD down is handled by that
// worker; Close ends both (TestMain's leak check fails the run otherwise)
// and later BFD news is ignored.
func TestSpeakerCloseWithBFD(t *testing.T) {
	ctx := context.Background()
	sp := New(nil).(*gobgpSpeaker)
	p := loopbackPeer("bfd")
	p.BFD, p.SourceAddress = true, netip.MustParseAddr("127.0.0.5")
	if err := sp.SetPeers(ctx, []Peer{p}); err != nil {
		t.Fatalf("SetPeers: %v", err)
	}
	sp.onBFDChange(bfd.Event{Peer: p.Address, From: bfd.StateUp, To: bfd.StateDown})
	// The worker takes the news and resets the session (which is not up:
	// GoBGP has nothing to send, the peer just reconnects later).
	for deadline := time.Now().Add(testkit.Budget(time.Second)); ; time.Sleep(10 * time.Millisecond) {
		sp.resetMu.Lock()
		n := len(sp.resetPending)
		sp.resetMu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the reset worker did not take the BFD down")
		}
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	sp.onBFDChange(bfd.Event{Peer: p.Address, From: bfd.StateUp, To: bfd.StateDown}) // after Close: no one listens, nothing blocks
}

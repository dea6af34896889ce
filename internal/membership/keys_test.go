package membership

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSecretKeyDerivation pins the derivation: every speaker of a cluster
// must derive the same key from the same Secret, across versions, so a
// change here is a change of protocol. The value was computed once with
// HKDF-SHA256 (RFC 5869), no salt, info keyInfo, and checked with
// Python's hmac module by the RFC's two steps.
func TestSecretKeyDerivation(t *testing.T) {
	k, err := SecretKey([]byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if len(k) != 32 {
		t.Fatalf("key of %d bytes, want 32 (AES-256)", len(k))
	}
	const want = "6a6e23bd26fa6350e81fd839138cfb1921d101d6f610d59f3a6e8e813c2f31b1"
	if got := hex.EncodeToString(k); got != want {
		t.Errorf("SecretKey(s3cret) = %s, want %s", got, want)
	}
	h := sha256.Sum256([]byte("s3cret"))
	if slices.Equal(k, h[:]) {
		t.Error("the key is the secret's plain SHA-256, not an HKDF output")
	}
	k2, _ := SecretKey([]byte("s3cret2"))
	if slices.Equal(k, k2) {
		t.Error("two secrets gave one key")
	}
}

func TestKeyStateEncoding(t *testing.T) {
	s := keyState{primary: "bb", installed: []string{"cc", "bb", "aa"}}
	m := s.encode()
	if string(m) != "k1=bb,aa,cc" {
		t.Errorf("encode = %q", m)
	}
	got := decodeKeyState(m)
	if got.primary != "bb" || !slices.Equal(got.installed, []string{"bb", "aa", "cc"}) {
		t.Errorf("decode = %+v", got)
	}
	for _, bad := range []string{"", "k1=", "k2=aa", "aa", "k1=aa,,bb", "k1=,aa"} {
		if got := decodeKeyState([]byte(bad)); got.primary != "" {
			t.Errorf("decode(%q) = %+v, want unknown", bad, got)
		}
	}
}

func FuzzDecodeKeyState(f *testing.F) {
	f.Add([]byte("k1=bb,aa,cc"))
	f.Add([]byte("k1="))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, meta []byte) {
		s := decodeKeyState(meta)
		if s.primary == "" {
			return
		}
		if !s.has(s.primary) {
			t.Fatalf("%q: primary %q not installed", meta, s.primary)
		}
		again := decodeKeyState(s.encode())
		if again.primary != s.primary {
			t.Fatalf("%q: primary %q after a round trip, want %q", meta, again.primary, s.primary)
		}
	})
}

func TestNextKeyStep(t *testing.T) {
	ks := func(primary string, installed ...string) keyState {
		return keyState{primary: primary, installed: installed}
	}
	unknown := keyState{}
	for _, tc := range []struct {
		name   string
		self   keyState
		wanted string
		others []keyState
		want   keyStep
	}{
		{"steady", ks("A", "A"), "A", []keyState{ks("A", "A")}, keyStep{}},
		{"alone: use at once", ks("A", "A", "B"), "B", nil, keyStep{use: "B"}},
		{"another lacks the new key", ks("A", "A", "B"), "B", []keyState{ks("A", "A", "B"), ks("A", "A")}, keyStep{}},
		{"every other accepts it", ks("A", "A", "B"), "B", []keyState{ks("A", "A", "B"), ks("B", "A", "B")}, keyStep{use: "B"}},
		{"a member's keys unknown", ks("A", "A", "B"), "B", []keyState{ks("A", "A", "B"), unknown}, keyStep{}},
		{"another still encrypts with the old", ks("B", "A", "B"), "B", []keyState{ks("A", "A", "B")}, keyStep{}},
		{"every other encrypts with it", ks("B", "A", "B"), "B", []keyState{ks("B", "A", "B"), ks("B", "B")}, keyStep{remove: []string{"A"}}},
		{"old keys unknown to us", ks("B", "C", "A", "B"), "B", []keyState{ks("B", "B")}, keyStep{remove: []string{"A", "C"}}},
		{"wanted not installed (cannot happen)", ks("A", "A"), "B", nil, keyStep{}},
		{"second rotation mid-way", ks("B", "A", "B", "C"), "C", []keyState{ks("B", "A", "B", "C")}, keyStep{use: "C"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := nextKeyStep(tc.self, tc.wanted, tc.others)
			if got.use != tc.want.use || !slices.Equal(got.remove, tc.want.remove) {
				t.Errorf("nextKeyStep = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestKeyRotation rotates a running 3-member cluster to a new key, each
// member told 1.5 s after the one before (as speakers see a Secret change
// at different times, or one is slow): no member may lose another on the
// way, and at the end all encrypt with the new key alone. A member started
// with only the new key then joins, and one with only the old key cannot.
//
// Seen failing with SetKey encrypting with the new key at once: node1 and
// node2 lost each other (825 samples of a shrunken member set).
func TestKeyRotation(t *testing.T) {
	oldKey, newKey := testKey(t, "old secret"), testKey(t, "new secret")
	gs := startCluster(t, 3, oldKey)
	all := names(3)

	// Watch every member's view every 10 ms for the whole rotation.
	stop := make(chan struct{})
	var mu sync.Mutex
	var lost []string
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			for _, g := range gs {
				if got := g.Members(); !slices.Equal(got, all) {
					mu.Lock()
					lost = append(lost, g.name+" saw "+strings.Join(got, ","))
					mu.Unlock()
				}
			}
		}
	})
	for i, g := range gs {
		if i > 0 {
			time.Sleep(1500 * time.Millisecond)
		}
		if err := g.SetKey(newKey); err != nil {
			t.Fatal(err)
		}
		if st := g.Keys(); len(gs) > 1 && i < len(gs)-1 && st.Primary != KeyFingerprint(oldKey) {
			t.Errorf("%s encrypts with %s before every member accepts the new key", g.name, st.Primary)
		}
	}
	newFP := KeyFingerprint(newKey)
	deadline := time.Now().Add(30 * time.Second)
	for _, g := range gs {
		for {
			st := g.Keys()
			if st.Primary == newFP && slices.Equal(st.Installed, []string{newFP}) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s keys %+v, want only %s", g.name, st, newFP)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// Members look at each other's views for a moment more.
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if len(lost) > 0 {
		t.Errorf("members lost each other during the rotation (%d samples), first: %v", len(lost), lost[:min(len(lost), 5)])
	}

	late, err := Start(Config{Name: "node4", BindAddr: loopback, SecretKey: newKey, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = late.Stop(time.Second) })
	if _, err := late.Join([]string{gs[0].LocalAddr().String()}); err != nil {
		t.Fatalf("a member with the new key cannot join: %v", err)
	}
	waitMembers(t, gs[0], names(4), 5*time.Second)

	before := gs[0].WrongKeyMessages()
	stale, err := Start(Config{Name: "node5", BindAddr: loopback, SecretKey: oldKey, Tuning: Tuning{TCPTimeout: 500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stale.Join([]string{gs[0].LocalAddr().String()}); err == nil {
		t.Error("a member with the dropped key joined")
	}
	_ = stale.Stop(100 * time.Millisecond)
	if gs[0].WrongKeyMessages() == before {
		t.Error("the member with the dropped key was not counted")
	}
}

func TestSetKeyErrors(t *testing.T) {
	g, err := Start(Config{Name: "a", BindAddr: loopback})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop(time.Second) //nolint:errcheck // test cleanup
	if err := g.SetKey(testKey(t, "x")); err == nil {
		t.Error("SetKey without encryption succeeded")
	}
	gs := startCluster(t, 1, testKey(t, "x"))
	if err := gs[0].SetKey([]byte("short")); err == nil {
		t.Error("a 5-byte key was accepted")
	}
	if err := gs[0].SetKey(testKey(t, "x")); err != nil {
		t.Errorf("setting the key in use: %v", err)
	}
}

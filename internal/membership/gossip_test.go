package membership

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// testKey is the key every member of a test cluster shares.
func testKey(t *testing.T, secret string) []byte {
	t.Helper()
	k, err := SecretKey([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testLogger() *slog.Logger {
	if os.Getenv("MEMBERSHIP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// startCluster starts n members on loopback, all joined to the first.
func startCluster(t *testing.T, n int, key []byte) []*Gossip {
	t.Helper()
	var gs []*Gossip
	for i := range n {
		g, err := Start(Config{
			Name: fmt.Sprintf("node%d", i+1), BindAddr: loopback, SecretKey: key, Logger: testLogger(),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = g.Stop(time.Second) })
		if i > 0 {
			if _, err := g.Join([]string{gs[0].LocalAddr().String()}); err != nil {
				t.Fatal(err)
			}
		}
		gs = append(gs, g)
	}
	want := names(n)
	for _, g := range gs {
		waitMembers(t, g, want, 5*time.Second)
	}
	return gs
}

func names(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("node%d", i+1))
	}
	return out
}

// waitMembers waits until g sees exactly want, and returns how long that
// took.
func waitMembers(t *testing.T, g *Gossip, want []string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got := g.Members()
		if slices.Equal(got, want) {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("%s sees %v after %v, want %v", g.name, got, limit, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestCrashDetected kills a member without leaving (as a crash does) and
// measures how long the two others take to drop it, over several rounds.
func TestCrashDetected(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	const rounds = 5
	var took []time.Duration
	for r := range rounds {
		gs := startCluster(t, 3, testKey(t, "s3cret"))
		victim := gs[r%3]
		rest := slices.DeleteFunc(slices.Clone(gs), func(g *Gossip) bool { return g == victim })
		var want []string
		for _, g := range rest {
			want = append(want, g.name)
		}
		start := time.Now()
		if err := victim.Abort(); err != nil {
			t.Fatal(err)
		}
		for _, g := range rest {
			waitMembers(t, g, want, 5*time.Second)
		}
		took = append(took, time.Since(start))
		for _, g := range rest {
			_ = g.Stop(time.Second)
		}
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	t.Logf("crash seen by both survivors after %v (sorted, %d rounds)", took, rounds)
}

// TestLeaveSeenAtOnce stops a member gracefully: the others drop it
// without waiting for failure detection.
func TestLeaveSeenAtOnce(t *testing.T) {
	gs := startCluster(t, 3, testKey(t, "s3cret"))
	var changed []<-chan struct{}
	for _, g := range gs[1:] {
		drain(g.Changes())
		changed = append(changed, g.Changes())
	}
	start := time.Now()
	if err := gs[0].Stop(time.Second); err != nil {
		t.Fatal(err)
	}
	for _, g := range gs[1:] {
		waitMembers(t, g, []string{"node2", "node3"}, 2*time.Second)
	}
	took := time.Since(start)
	t.Logf("leave seen by both after %v", took)
	for i, c := range changed {
		select {
		case <-c:
		default:
			t.Errorf("member %d got no change notification", i+2)
		}
	}
	if err := gs[0].Stop(time.Second); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func drain(c <-chan struct{}) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

// TestRejoinAfterLeave restarts a member under the same name: the others
// see it again.
func TestRejoinAfterLeave(t *testing.T) {
	key := testKey(t, "s3cret")
	gs := startCluster(t, 2, key)
	if err := gs[1].Stop(time.Second); err != nil {
		t.Fatal(err)
	}
	waitMembers(t, gs[0], []string{"node1"}, 2*time.Second)
	g, err := Start(Config{Name: "node2", BindAddr: loopback, SecretKey: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Stop(time.Second) })
	if _, err := g.Join([]string{gs[0].LocalAddr().String()}); err != nil {
		t.Fatal(err)
	}
	waitMembers(t, gs[0], []string{"node1", "node2"}, 5*time.Second)
	if got := gs[0].Addresses(); got["node2"] != g.LocalAddr().String() {
		t.Errorf("node1 reaches node2 at %v, want %s", got, g.LocalAddr())
	}
}

// TestWrongKeyCannotJoin: gossip is encrypted; a member with another key
// (or none) is refused, and each refusal is counted.
func TestWrongKeyCannotJoin(t *testing.T) {
	gs := startCluster(t, 1, testKey(t, "s3cret"))
	for _, key := range [][]byte{testKey(t, "other"), nil} {
		before := gs[0].WrongKeyMessages()
		intruder, err := Start(Config{Name: "intruder", BindAddr: loopback, SecretKey: key, Tuning: Tuning{TCPTimeout: 500 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := intruder.Join([]string{gs[0].LocalAddr().String()}); err == nil {
			t.Errorf("a member with key %x joined", key)
		}
		_ = intruder.Stop(100 * time.Millisecond)
		if got := gs[0].Members(); !slices.Equal(got, []string{"node1"}) {
			t.Errorf("members %v after an intruder tried", got)
		}
		// Counted from memberlist's log lines (wrongKeyLine): this fails
		// if a memberlist update rewords them.
		if gs[0].WrongKeyMessages() == before {
			t.Errorf("the intruder with key %x was not counted as a wrong key", key)
		}
	}
}

func TestStartErrors(t *testing.T) {
	if _, err := Start(Config{}); err == nil || !strings.Contains(err.Error(), "Name") {
		t.Errorf("no name: %v", err)
	}
	g, err := Start(Config{Name: "a", BindAddr: loopback})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Stop(time.Second) //nolint:errcheck // test cleanup
	_, err = Start(Config{Name: "b", BindAddr: loopback, BindPort: int(g.LocalAddr().Port())})
	if err == nil || !strings.Contains(err.Error(), g.LocalAddr().String()) {
		t.Errorf("port in use: %v, want an error naming %s", err, g.LocalAddr())
	}
	if _, err := SecretKey(nil); err == nil {
		t.Error("an empty secret gave a key")
	}
	if n, err := g.Join(nil); n != 0 || err != nil {
		t.Errorf("Join(nil) = %d, %v", n, err)
	}
}

func TestSet(t *testing.T) {
	s := NewSet()
	if got := s.Members(); len(got) != 0 {
		t.Errorf("new set: %v", got)
	}
	s.Set([]string{"b", "a", "b"})
	if got := s.Members(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("members %v", got)
	}
	select {
	case <-s.Changes():
	default:
		t.Error("no change notification")
	}
	s.Set([]string{"a", "b"})
	select {
	case <-s.Changes():
		t.Error("a notification without a change")
	default:
	}
}

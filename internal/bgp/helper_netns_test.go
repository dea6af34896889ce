package bgp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ironlb/ironlb/internal/netnstest"
	"github.com/ironlb/ironlb/internal/testkit"
)

// helperEnv, set to "1", makes a re-executed test binary run
// runHelperProcess instead of the tests (see TestMain).
const helperEnv = "IRONLB_BGP_SPEAKER_HELPER"

// callBudget bounds one call to the child: a few GoBGP API calls, or a
// Stop of a replaced peer's server, which sends a Cease and waits for the
// session's goroutines (well under 2 s on an idle machine).
var callBudget = testkit.Budget(2 * time.Second)

// helperMsg is one line between the test and its speaker child: a command
// (Peers, Routes) from the test, or a reply (Done, Err) or an event from the
// child.
type helperMsg struct {
	Peers  []Peer               `json:",omitempty"`
	Routes *[]Route             `json:",omitempty"`
	RIB    string               `json:",omitempty"` // ask for this peer's ribCounts
	Counts *ribCounts           `json:",omitempty"`
	Stats  bool                 `json:",omitempty"` // ask for Stats
	Peer   map[string]PeerStats `json:",omitempty"`
	Done   bool                 `json:",omitempty"`
	Err    string               `json:",omitempty"`
	Event  *PeerEvent           `json:",omitempty"`
}

// runHelperProcess is the child startRemote starts inside a node
// namespace (TestMain runs it instead of the tests): a Speaker driven by
// JSON lines on stdin, reporting on stdout, until stdin closes. GoBGP opens
// sockets from arbitrary threads, so the whole process must live in the
// namespace. It returns the process's exit code.
func runHelperProcess() int {
	// Its log goes to stderr, which the test shows when it fails or runs
	// with -v; Debug lets GoBGP's FSM steps through (e.g. "Peer Down"
	// with its reason).
	sp := New(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})))
	var mu sync.Mutex
	enc := json.NewEncoder(os.Stdout)
	send := func(m helperMsg) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(m)
	}
	events := make(chan struct{})
	go func() {
		defer close(events)
		for e := range sp.Events() {
			send(helperMsg{Event: &e})
		}
	}()
	ctx := context.Background()
	dec := json.NewDecoder(os.Stdin)
	for {
		var m helperMsg
		if err := dec.Decode(&m); err != nil {
			code := 0
			if !errors.Is(err, io.EOF) {
				fmt.Fprintf(os.Stderr, "bgp helper: reading a command: %v\n", err)
				code = 1
			}
			if err := sp.Close(); err != nil {
				fmt.Fprintf(os.Stderr, "bgp helper: Close: %v\n", err)
				code = 1
			}
			<-events // Close closed the channel
			return code
		}
		var err error
		reply := helperMsg{Done: true}
		switch {
		case m.RIB != "":
			var c ribCounts
			c, err = sp.(*gobgpSpeaker).ribCounts(ctx, m.RIB)
			reply.Counts = &c
		case m.Stats:
			reply.Peer, err = sp.(*gobgpSpeaker).Stats(ctx)
		case m.Routes != nil:
			err = sp.Advertise(ctx, *m.Routes)
		default:
			err = sp.SetPeers(ctx, m.Peers)
		}
		if err != nil {
			reply.Err = err.Error()
		}
		send(reply)
	}
}

// lockedBuffer is a bytes.Buffer safe for one writer and other readers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// remote drives a Speaker running in a child process inside a namespace.
type remote struct {
	t       *testing.T
	stdin   io.WriteCloser
	replies chan helperMsg
	mu      sync.Mutex    // guards change and log
	change  chan struct{} // closed and replaced on every event
	log     []PeerEvent
	stderr  *lockedBuffer // the child's log
}

// startRemote starts a speaker child in host's namespace; the test's cleanup
// closes its stdin (the child closes the speaker and exits) and waits.
func startRemote(t *testing.T, host *netnstest.Host) *remote {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := host.Command(context.Background(), exe)
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start speaker in %s: %v", host.Name, err)
	}
	r := &remote{t: t, stdin: stdin, replies: make(chan helperMsg, 1), change: make(chan struct{}), stderr: &stderr}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var m helperMsg
			if !strings.HasPrefix(sc.Text(), "{") || json.Unmarshal(sc.Bytes(), &m) != nil {
				continue // the test binary's own output
			}
			if m.Event != nil {
				r.mu.Lock()
				r.log = append(r.log, *m.Event)
				close(r.change)
				r.change = make(chan struct{})
				r.mu.Unlock()
				continue
			}
			r.replies <- m
		}
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		// The child closes its speaker (a Stop per peer) and exits.
		exit := callBudget
		select {
		case <-done:
		case <-time.After(exit):
			t.Errorf("the speaker child in %s did not exit within %v of its stdin closing; killing it", host.Name, exit)
			_ = cmd.Process.Kill()
		}
		if err := cmd.Wait(); err != nil && !t.Failed() {
			t.Errorf("the speaker child in %s: %v", host.Name, err)
		}
		if t.Failed() || testing.Verbose() {
			t.Logf("the speaker child in %s logged:\n%s", host.Name, stderr.String())
		}
	})
	return r
}

func (r *remote) call(m helperMsg) (helperMsg, error) {
	r.t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.stdin.Write(append(b, '\n')); err != nil {
		r.t.Fatalf("write to speaker: %v", err)
	}
	select {
	case rep := <-r.replies:
		if rep.Err != "" {
			return rep, fmt.Errorf("%s", rep.Err)
		}
		return rep, nil
	case <-time.After(callBudget):
		r.t.Fatalf("speaker child did not answer within %v", callBudget)
	}
	return helperMsg{}, nil
}

// RIB returns the child's ribCounts for peer and fails the test on error.
func (r *remote) RIB(peer string) ribCounts {
	r.t.Helper()
	rep, err := r.call(helperMsg{RIB: peer})
	if err != nil || rep.Counts == nil {
		r.t.Fatalf("RIB(%s): %v", peer, err)
	}
	return *rep.Counts
}

// Stats returns the child's Stats and fails the test on error.
func (r *remote) Stats() map[string]PeerStats {
	r.t.Helper()
	rep, err := r.call(helperMsg{Stats: true})
	if err != nil {
		r.t.Fatalf("Stats: %v", err)
	}
	return rep.Peer
}

// logged reports whether the child's log has a line containing s.
func (r *remote) logged(s string) bool { return strings.Contains(r.stderr.String(), s) }

// SetPeers calls SetPeers in the child and fails the test on error.
func (r *remote) SetPeers(peers ...Peer) {
	r.t.Helper()
	if _, err := r.call(helperMsg{Peers: peers}); err != nil {
		r.t.Fatalf("SetPeers: %v", err)
	}
}

// Advertise calls Advertise in the child and fails the test on error.
func (r *remote) Advertise(routes ...Route) {
	r.t.Helper()
	if routes == nil {
		routes = []Route{}
	}
	if _, err := r.call(helperMsg{Routes: &routes}); err != nil {
		r.t.Fatalf("Advertise: %v", err)
	}
}

// mark returns how many events the child has reported so far: pass it
// to reached to look only at later events.
func (r *remote) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.log)
}

// reached waits until an event after the first from reports state want
// for peer; it reports whether one came within d.
func (r *remote) reached(peer string, want SessionState, from int, d time.Duration) bool {
	deadline := time.After(d)
	for {
		r.mu.Lock()
		ch, seen := r.change, false
		for _, e := range r.log[min(from, len(r.log)):] {
			seen = seen || (e.Peer == peer && e.State == want)
		}
		r.mu.Unlock()
		if seen {
			return true
		}
		select {
		case <-ch:
		case <-deadline:
			return false
		}
	}
}

// waitCurrent waits until the last state the child reported for peer is
// want, failing the test when it is not within d.
func (r *remote) waitCurrent(t *testing.T, peer string, want SessionState, d time.Duration, what string) {
	t.Helper()
	deadline := time.After(d)
	for {
		r.mu.Lock()
		ch, last := r.change, SessionState("")
		for _, e := range r.log {
			if e.Peer == peer {
				last = e.State
			}
		}
		events := slices.Clone(r.log)
		r.mu.Unlock()
		if last == want {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("want %s (%s %s now) within %v; events %v", what, peer, want, d, events)
		}
	}
}

// mustReach is reached, failing the test (with the events) when no such
// event came within d.
func (r *remote) mustReach(t *testing.T, peer string, want SessionState, from int, d time.Duration, what string) {
	t.Helper()
	if !r.reached(peer, want, from, d) {
		r.mu.Lock()
		events := slices.Clone(r.log)
		r.mu.Unlock()
		t.Fatalf("want %s (%s %s) within %v; events %v", what, peer, want, d, events)
	}
}

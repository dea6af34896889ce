package bgp

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ironlb/ironlb/internal/netnstest"
)

// helperEnv selects TestHelperProcess in a re-executed test binary.
const helperEnv = "IRONLB_BGP_SPEAKER_HELPER"

// helperMsg is one line between the test and its speaker child: a command
// (Peers, Routes) from the test, or a reply (Done, Err) or an event from the
// child.
type helperMsg struct {
	Peers  []Peer     `json:",omitempty"`
	Routes *[]Route   `json:",omitempty"`
	RIB    string     `json:",omitempty"` // ask for this peer's ribCounts
	Counts *ribCounts `json:",omitempty"`
	Done   bool       `json:",omitempty"`
	Err    string     `json:",omitempty"`
	Event  *PeerEvent `json:",omitempty"`
}

// TestHelperProcess is not a test: started by startRemote inside a node
// namespace, it runs a Speaker driven by JSON lines on stdin and reports on
// stdout. GoBGP opens sockets from arbitrary threads, so the whole process
// must live in the namespace.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("helper process for the netns tests")
	}
	sp := New(nil)
	var mu sync.Mutex
	enc := json.NewEncoder(os.Stdout)
	send := func(m helperMsg) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(m)
	}
	go func() {
		for e := range sp.Events() {
			send(helperMsg{Event: &e})
		}
	}()
	ctx := context.Background()
	dec := json.NewDecoder(os.Stdin)
	for {
		var m helperMsg
		if err := dec.Decode(&m); err != nil {
			_ = sp.Close()
			return
		}
		var err error
		reply := helperMsg{Done: true}
		switch {
		case m.RIB != "":
			var c ribCounts
			c, err = sp.(*gobgpSpeaker).ribCounts(ctx, m.RIB)
			reply.Counts = &c
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

// remote drives a Speaker running in a child process inside a namespace.
type remote struct {
	t       *testing.T
	stdin   io.WriteCloser
	replies chan helperMsg
	mu      sync.Mutex
	states  map[string]SessionState
	change  chan struct{} // closed and replaced on every event
	log     []PeerEvent
}

// startRemote starts a speaker child in host's namespace; the test's cleanup
// closes its stdin (the child closes the speaker and exits) and waits.
func startRemote(t *testing.T, host *netnstest.Host) *remote {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := host.Command(context.Background(), exe, "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	cmd.Stderr = os.Stderr
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
	r := &remote{t: t, stdin: stdin, replies: make(chan helperMsg, 1), states: map[string]SessionState{}, change: make(chan struct{})}
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
				r.states[m.Event.Peer] = m.Event.State
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
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
		_ = cmd.Wait()
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
	case <-time.After(30 * time.Second):
		r.t.Fatal("speaker child did not answer within 30 s")
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

// waitState waits until peer's last reported state is want; it reports
// whether it got there within d.
func (r *remote) waitState(peer string, want SessionState, d time.Duration) bool {
	deadline := time.After(d)
	for {
		r.mu.Lock()
		got, ch := r.states[peer], r.change
		r.mu.Unlock()
		if got == want {
			return true
		}
		select {
		case <-ch:
		case <-deadline:
			return false
		}
	}
}

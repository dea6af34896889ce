package bfd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ironlb/ironlb/internal/netnstest"
	"github.com/ironlb/ironlb/internal/testkit"
)

const frrDir = "/usr/lib/frr"

// What the waits of TestAgainstFRR derive from. Both sides run 300 ms
// intervals (FRR's peers as configured by startFRR, ours by default) and
// a detect multiplier of 3. A wait lasts testkit.Budget of the time its
// outcome is expected to take and ends as soon as it is there.
var (
	// frrInterval is the transmit and receive interval startFRR gives
	// bfdd's peers.
	frrInterval = 300 * time.Millisecond
	// detectTime is how long either side takes to notice the other is
	// gone: multiplier × interval (RFC 5880 §6.8.4).
	detectTime = time.Duration(DefaultDetectMultiplier) * max(DefaultInterval, frrInterval)
	// upTime: a session comes Up after a three-way handshake at the 1 s
	// interval RFC 5880 §6.8.3 imposes while it is not Up, plus the
	// jitter of up to 25 % less.
	upTime = 3 * time.Second
	// daemonStart: zebra and bfdd create their sockets within a few
	// hundred milliseconds of starting.
	daemonStart = time.Second
	// vtyshTime: one vtysh command answers in milliseconds.
	vtyshTime = 500 * time.Millisecond
)

// requireFRR skips the test (fails it under CI) without root, vtysh,
// or FRR's zebra and bfdd.
func requireFRR(t *testing.T) {
	t.Helper()
	netnstest.Require(t, netnstest.Root, "ip", "vtysh")
	for _, d := range []string{"zebra", "bfdd"} {
		if _, err := os.Stat(filepath.Join(frrDir, d)); err != nil {
			testkit.Unavailable(t, "FRR's %s is missing (%v): apt-get install frr", d, err)
		}
	}
}

// frr is zebra plus bfdd running in one host.
type frr struct {
	dir  string
	bfdd *exec.Cmd
	mu   sync.Mutex
	logs bytes.Buffer
}

// startFRR starts zebra and bfdd with one peer block per (peer,
// local-address) pair, at 300 ms intervals and multiplier 3.
func startFRR(t *testing.T, router *netnstest.Host, peers ...[2]netip.Addr) *frr {
	t.Helper()
	conf := "hostname router\n!\nbfd\n"
	for _, p := range peers {
		conf += fmt.Sprintf(" peer %v local-address %v\n  receive-interval 300\n  transmit-interval 300\n  detect-multiplier 3\n  no shutdown\n !\n", p[0], p[1])
	}
	return startFRRConf(t, router, conf+"!\n")
}

// startFRRConf starts zebra and bfdd with bfdd.conf conf.
func startFRRConf(t *testing.T, router *netnstest.Host, conf string) *frr {
	t.Helper()
	dir, err := os.MkdirTemp("", "ironlb-bfd-frr-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	u, err := user.Lookup("frr")
	if err != nil {
		t.Fatalf("FRR's user: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]string{"zebra.conf": "hostname router\n!\n", "bfdd.conf": conf} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := &frr{dir: dir}
	common := []string{"--vty_socket", dir, "-z", filepath.Join(dir, "zserv.api"), "-P", "0"}
	start := func(daemon string, extra ...string) *exec.Cmd {
		args := append(slices.Clone(common), "-i", filepath.Join(dir, daemon+".pid"), "-f", filepath.Join(dir, daemon+".conf"))
		cmd := router.Command(context.Background(), filepath.Join(frrDir, daemon), append(args, extra...)...)
		cmd.Stdout, cmd.Stderr = f, f
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", daemon, err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGCONT)
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			// A daemon exits within a second of SIGTERM; one still
			// running after its budget is killed (not a failure).
			select {
			case <-done:
			case <-time.After(testkit.Budget(time.Second)):
				_ = cmd.Process.Kill()
				<-done
			}
		})
		return cmd
	}
	start("zebra")
	waitFor(t, testkit.Budget(daemonStart), "zebra's zserv socket", func() bool {
		_, err := os.Stat(filepath.Join(dir, "zserv.api"))
		return err == nil
	})
	f.bfdd = start("bfdd", "--bfdctl", filepath.Join(dir, "bfdd.sock"))
	waitFor(t, testkit.Budget(daemonStart), "bfdd's vty", func() bool {
		_, err := f.vtysh("show bfd peers json")
		return err == nil
	})
	return f
}

// output returns what FRR's daemons printed so far.
func (f *frr) output() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logs.String()
}

func (f *frr) Write(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logs.Write(b)
}

func (f *frr) vtysh(cmds ...string) ([]byte, error) {
	args := []string{"--vty_socket", f.dir}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	// The budget only keeps a hung daemon from holding the test.
	ctx, cancel := context.WithTimeout(context.Background(), testkit.Budget(vtyshTime))
	defer cancel()
	out, err := exec.CommandContext(ctx, "vtysh", args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("vtysh %v: %w: %s", cmds, err, out)
	}
	return out, nil
}

// frrPeer is one entry of `show bfd peers json` (FRR 8.4): FRR's own
// settings, and as "remote-" what our packets carry. Intervals are in
// milliseconds.
type frrPeer struct {
	Peer        string `json:"peer"`
	Local       string `json:"local"`
	Multihop    bool   `json:"multihop"`
	Status      string `json:"status"`
	Diag        string `json:"diagnostic"`
	RemoteDiag  string `json:"remote-diagnostic"`
	PassiveMode bool   `json:"passive-mode"`
	MinimumTTL  int    `json:"minimum-ttl"`
	RemoteRx    int    `json:"remote-receive-interval"`
	RemoteTx    int    `json:"remote-transmit-interval"`
	RemoteMult  int    `json:"remote-detect-multiplier"`
	// RemoteEchoRx is our Required Min Echo RX Interval.
	RemoteEchoRx int `json:"remote-echo-receive-interval"`
	// raw is the entry as FRR printed it, for failure messages.
	raw json.RawMessage
}

// peer returns FRR's entry for addr, failing the test when vtysh fails,
// its output does not parse or has no such peer: a tool failure is never
// read as a session state.
func (f *frr) peer(t *testing.T, addr netip.Addr) frrPeer {
	t.Helper()
	out, err := f.vtysh("show bfd peers json")
	if err != nil {
		t.Fatal(err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(out, &raws); err != nil {
		t.Fatalf("parse %q: %v", out, err)
	}
	for _, r := range raws {
		var p frrPeer
		if err := json.Unmarshal(r, &p); err != nil {
			t.Fatalf("parse %s: %v", r, err)
		}
		if a, err := netip.ParseAddr(p.Peer); err == nil && a == addr {
			p.raw = r
			return p
		}
	}
	t.Fatalf("FRR has no peer %v: %s", addr, out)
	return frrPeer{}
}

func (f *frr) configurePeer(t *testing.T, peer, local netip.Addr, cmd string) {
	t.Helper()
	if _, err := f.vtysh("configure terminal", "bfd", fmt.Sprintf("peer %v local-address %v", peer, local), cmd); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, timeout time.Duration, what string, ok func() bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if ok() {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAgainstFRR runs our sessions against FRR's bfdd over real packets, in
// IPv4 and IPv6, and measures how fast each side detects the other's loss.
func TestAgainstFRR(t *testing.T) {
	requireFRR(t)
	n := netnstest.New(t, netnstest.Options{Prefix: "ibfd"})
	node := n.AddHost("node", 1)
	router := n.AddHost("router", 2)
	f := startFRR(t, router, [2]netip.Addr{node.IPv4, router.IPv4}, [2]netip.Addr{node.IPv6, router.IPv6})
	defer func() {
		if t.Failed() {
			t.Logf("FRR output:\n%s", f.output())
		}
	}()
	const runs = 3
	for _, fam := range []struct {
		name        string
		peer, local netip.Addr
	}{{"IPv4", router.IPv4, node.IPv4}, {"IPv6", router.IPv6, node.IPv6}} {
		t.Run(fam.name, func(t *testing.T) {
			rec := newRecorder()
			start := func() *Manager {
				m := NewManager(Options{OnChange: rec.add, Device: node.Interface})
				t.Cleanup(func() { _ = m.Close() })
				if err := node.Do(func() error { _, err := m.Add(fam.peer, fam.local, Profile{}); return err }); err != nil {
					t.Fatal(err)
				}
				return m
			}
			frrUp := func() bool { return f.peer(t, fam.local).Status == "up" }
			bothUp := func(from int) {
				rec.wait(t, testkit.Budget(upTime), from, isState(StateUp))
				// FRR is Up a packet after us at most.
				waitFor(t, testkit.Budget(frrInterval), "FRR's session up", frrUp)
			}
			m := start()
			bothUp(0)

			// FRR shuts its peer down: we hear AdminDown.
			from := rec.len()
			f.configurePeer(t, fam.local, fam.peer, "shutdown")
			// bfdd sends AdminDown at once (we detect it in an interval at most).
			e := rec.wait(t, testkit.Budget(frrInterval), from, isState(StateDown))
			if e.Diag != DiagNeighborSignaledDown || e.RemoteState != StateAdminDown {
				t.Errorf("Down event %+v, want diag NeighborSignaledSessionDown, remote state AdminDown", e)
			}
			from = rec.len()
			f.configurePeer(t, fam.local, fam.peer, "no shutdown")
			bothUp(from)

			// Our side stops without notice: FRR detects it.
			var frrDetect []time.Duration
			for range runs {
				stopped := time.Now()
				if err := m.Close(); err != nil {
					t.Fatal(err)
				}
				at := waitFor(t, testkit.Budget(detectTime), "FRR's session down", func() bool { return !frrUp() })
				frrDetect = append(frrDetect, at.Sub(stopped))
				if p := f.peer(t, fam.local); p.Diag != "control detection time expired" {
					t.Logf("FRR's diagnostic %q", p.Diag)
				}
				from = rec.len()
				m = start()
				bothUp(from)
			}

			// FRR stops (SIGSTOP): we detect it.
			var ourDetect []time.Duration
			for range runs {
				from = rec.len()
				stopped := time.Now()
				if err := f.bfdd.Process.Signal(syscall.SIGSTOP); err != nil {
					t.Fatal(err)
				}
				e := rec.wait(t, testkit.Budget(detectTime), from, isState(StateDown))
				ourDetect = append(ourDetect, e.At.Sub(stopped))
				// Nothing can come Up while bfdd is stopped, so every Up
				// from here on is the recovery (it may be recorded before
				// bothUp starts waiting).
				from = rec.len()
				if err := f.bfdd.Process.Signal(syscall.SIGCONT); err != nil {
					t.Fatal(err)
				}
				if e.Diag != DiagControlDetectionExpired {
					t.Errorf("Down event %+v, want ControlDetectionTimeExpired", e)
				}
				bothUp(from)
			}
			t.Logf("FRR detects our loss: %v (p50 %v, max %v; detection time %v)", frrDetect, p50(frrDetect), slices.Max(frrDetect), detectTime)
			t.Logf("we detect FRR's loss: %v (p50 %v, max %v; detection time %v)", ourDetect, p50(ourDetect), slices.Max(ourDetect), detectTime)
			c := m.Counters()
			if c.MalformedDropped != 0 || c.TTLDropped != 0 {
				t.Errorf("dropped packets: %+v", c)
			}
		})
	}
}

func p50(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

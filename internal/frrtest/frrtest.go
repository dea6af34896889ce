// Package frrtest runs FRR (zebra, bgpd and optionally bfdd) inside a test
// network namespace (package netnstest), as the router tests peer with.
//
// Each Router has its own run directory (vty sockets, pid files, zserv
// socket), so several may run at once on one machine; only the daemons a
// Router started are ever stopped. FRR must be installed (Debian package
// frr): without it, or without root, the test is skipped, or fails when
// CI is set to a true value (see netnstest.Require).
package frrtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ironlb/ironlb/internal/netnstest"
	"github.com/ironlb/ironlb/internal/testkit"
)

// daemonDir is where Debian installs FRR's daemons.
const daemonDir = "/usr/lib/frr"

// Budgets (testkit.Budget) of what a Router waits for, from times on an
// idle machine.
var (
	// startBudget: a daemon creates its socket (zserv.api, the vty)
	// within a few hundred milliseconds of being started.
	startBudget = testkit.Budget(time.Second)
	// vtyshBudget: one vtysh command answers in milliseconds; the budget
	// only keeps a hung daemon from holding the test until its timeout.
	vtyshBudget = testkit.Budget(time.Second)
	// stopBudget: a daemon exits within a second of SIGTERM; one still
	// running after its budget is killed (not a failure).
	stopBudget = testkit.Budget(time.Second)
)

// Require skips (or, under CI, fails) t unless FRR can run: root, the
// frr user, vtysh, zebra and bgpd (and bfdd when withBFD).
func Require(t testing.TB, withBFD bool) {
	t.Helper()
	progs := []string{netnstest.Root, "ip", "vtysh", daemonDir + "/zebra", daemonDir + "/bgpd"}
	if withBFD {
		progs = append(progs, daemonDir+"/bfdd")
	}
	netnstest.Require(t, progs...)
	if _, err := user.Lookup("frr"); err != nil {
		testkit.Unavailable(t, "frrtest: FRR's user frr is missing (install the Debian package frr): %v", err)
	}
}

// Router is one FRR instance in a namespace.
type Router struct {
	t   testing.TB
	dir string
}

// Config is what a Router runs.
type Config struct {
	// BGP is bgpd.conf.
	BGP string
	// BFD is bfdd.conf; empty runs no bfdd.
	BFD string
}

// Start starts zebra, bgpd and (when cfg.BFD is set) bfdd in host, and
// stops them when the test ends. It calls Require first.
func Start(t testing.TB, host *netnstest.Host, cfg Config) *Router {
	t.Helper()
	Require(t, cfg.BFD != "")
	u, err := user.Lookup("frr")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir, err := os.MkdirTemp("", "ironlb-frrtest-")
	if err != nil {
		t.Fatal(err)
	}
	r := &Router{t: t, dir: dir}
	t.Cleanup(r.stop)
	daemons := []string{"zebra", "bgpd"}
	files := map[string]string{"zebra.conf": "hostname " + host.Name + "\n", "bgpd.conf": cfg.BGP}
	if cfg.BFD != "" {
		daemons = []string{"zebra", "bfdd", "bgpd"}
		files["bfdd.conf"] = cfg.BFD
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	common := []string{"-d", "--vty_socket", dir, "-z", filepath.Join(dir, "zserv.api"), "-P", "0"}
	for _, d := range daemons {
		args := append(append([]string{}, common...), "-i", filepath.Join(dir, d+".pid"), "-f", filepath.Join(dir, d+".conf"))
		if d == "bfdd" {
			args = append(args, "--bfdctl", filepath.Join(dir, "bfdd.sock"))
		}
		if out, err := host.Output(context.Background(), filepath.Join(daemonDir, d), args...); err != nil {
			t.Fatalf("frrtest: start %s: %v\n%s", d, err, out)
		}
		if d == "zebra" {
			r.waitFile("zserv.api")
		}
	}
	r.waitFile("bgpd.vty")
	return r
}

func (r *Router) waitFile(name string) {
	r.t.Helper()
	path := filepath.Join(r.dir, name)
	for deadline := time.Now().Add(startBudget); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
	}
	r.t.Fatalf("frrtest: %s did not appear within %v", path, startBudget)
}

// Vtysh runs one vtysh command against this router and returns its output;
// it fails the test when vtysh fails.
func (r *Router) Vtysh(cmd string) string {
	r.t.Helper()
	out, err := r.TryVtysh(cmd)
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

// TryVtysh is Vtysh returning the error instead of failing the test. A
// command that has not answered within its budget is killed.
func (r *Router) TryVtysh(cmd string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), vtyshBudget)
	defer cancel()
	out, err := exec.CommandContext(ctx, "vtysh", "--vty_socket", r.dir, "-c", cmd).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("frrtest: vtysh -c %q: %w\n%s", cmd, err, out)
	}
	return string(out), nil
}

// stop ends the daemons named in this router's pid files and removes its
// run directory.
func (r *Router) stop() {
	for _, d := range []string{"bgpd", "bfdd", "zebra"} {
		b, err := os.ReadFile(filepath.Join(r.dir, d+".pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 1 {
			continue
		}
		_ = syscall.Kill(pid, syscall.SIGTERM)
		for deadline := time.Now().Add(stopBudget); syscall.Kill(pid, 0) == nil; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				break
			}
		}
	}
	_ = os.RemoveAll(r.dir)
}

package lab

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"
)

// frrDir holds the FRR binaries of Debian's frr package; frrTmpDir is
// where FRR daemons keep per-process crash-log directories.
const (
	frrDir    = "/usr/lib/frr"
	frrTmpDir = "/var/tmp/frr"
)

// frrDaemons start in this order: zebra owns the kernel routes and the
// zserv socket the others connect to; bfdd runs BFD with every node that
// asks for it (a node without a BFD profile keeps its session without BFD).
var frrDaemons = []string{"zebra", "bfdd", "bgpd"}

// routerDir is the FRR instance's directory: configs, vty sockets, pid
// files and FRR's own logs, owned by the frr user.
func routerDir(dir string) string { return filepath.Join(dir, "router") }

// routerConfig is the input of the FRR configuration templates.
type routerConfig struct {
	Dir       string
	RouterID  string
	RouterASN int
	NodeASN   int
	LANs      []string
	// OfferedV4 and OfferedV6 are originated to the nodes (Offered*).
	OfferedV4, OfferedV6 string
}

func newRouterConfig(dir string, p Plan) routerConfig {
	return routerConfig{
		Dir:       routerDir(dir),
		RouterID:  p.Router.IPv4.String(),
		RouterASN: RouterASN,
		NodeASN:   NodeASN,
		LANs:      []string{lanV4.String(), lanV6.String()},
		OfferedV4: OfferedV4.String(),
		OfferedV6: OfferedV6.String(),
	}
}

var frrTemplates = template.Must(template.New("frr").Parse(`
{{- define "zebra.conf" -}}
hostname router
log file {{.Dir}}/zebra.log
!
{{end}}
{{- define "bfdd.conf" -}}
hostname router
log file {{.Dir}}/bfdd.log
!
bfd
 profile nodes
  receive-interval 50
  transmit-interval 50
  echo-mode
  echo transmit-interval 50
  echo receive-interval 50
 !
!
{{end}}
{{- define "bgpd.conf" -}}
hostname router
log file {{.Dir}}/bgpd.log
log timestamp precision 3
!
router bgp {{.RouterASN}}
 bgp router-id {{.RouterID}}
 bgp log-neighbor-changes
 bgp graceful-restart
 bgp graceful-restart preserve-fw-state
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 bgp bestpath as-path multipath-relax
 bgp listen limit 200
 no bgp network import-check
 neighbor nodes peer-group
 neighbor nodes remote-as {{.NodeASN}}
 neighbor nodes bfd
 neighbor nodes bfd profile nodes
{{- range .LANs}}
 bgp listen range {{.}} peer-group nodes
{{- end}}
 !
 address-family ipv4 unicast
  network {{.OfferedV4}}
  neighbor nodes activate
  maximum-paths 64
 exit-address-family
 !
 address-family ipv6 unicast
  network {{.OfferedV6}}
  neighbor nodes activate
  maximum-paths 64
 exit-address-family
!
{{end}}`))

// renderFRR renders the configuration file of daemon.
func renderFRR(c routerConfig, daemon string) (string, error) {
	var b bytes.Buffer
	if err := frrTemplates.ExecuteTemplate(&b, daemon+".conf", c); err != nil {
		return "", fmt.Errorf("rendering %s.conf: %w", daemon, err)
	}
	return b.String(), nil
}

// startRouter writes the FRR configuration and starts zebra, bfdd and bgpd
// in the router namespace (they daemonize themselves), recording each with
// the PID from its pid file.
func startRouter(ctx context.Context, s *State, p Plan) error {
	d := routerDir(s.Dir)
	uid, gid, err := frrUser()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		return fmt.Errorf("router: %w", err)
	}
	if err := os.Chown(d, uid, gid); err != nil {
		return fmt.Errorf("router: %w", err)
	}
	c := newRouterConfig(s.Dir, p)
	for _, daemon := range frrDaemons {
		conf, err := renderFRR(c, daemon)
		if err != nil {
			return err
		}
		f := filepath.Join(d, daemon+".conf")
		if err := os.WriteFile(f, []byte(conf), 0o644); err != nil {
			return fmt.Errorf("router: %w", err)
		}
		if err := os.Chown(f, uid, gid); err != nil {
			return fmt.Errorf("router: %w", err)
		}
	}
	for _, daemon := range frrDaemons {
		pid, st, tmp, err := startFRRDaemon(ctx, s.Dir, p, daemon)
		if err != nil {
			return err
		}
		pr := &Proc{Name: "frr/" + daemon, Host: "router", Order: 60, PID: pid, Start: st.Start,
			Log: filepath.Join(d, daemon+".log"), Files: []string{tmp}}
		if err := updateState(s.Dir, func(st *State) error { st.Procs[pr.Name] = pr; return nil }); err != nil {
			return err
		}
		s.Procs[pr.Name] = pr
	}
	return waitVtysh(ctx, s.Dir)
}

// startFRRDaemon starts one FRR daemon in the router namespace from its
// configuration file and waits for it to write its pid file. It returns
// the daemon's PID and start, and the crash-log directory FRR keeps for
// it: named after the PID it had before daemonizing, removed by FRR on a
// clean exit only.
func startFRRDaemon(ctx context.Context, dir string, p Plan, daemon string) (int, procStat, string, error) {
	d := routerDir(dir)
	pidFile := filepath.Join(d, daemon+".pid")
	_ = os.Remove(pidFile) // a dead predecessor's PID is never taken for this one's
	args := []string{"netns", "exec", p.Namespace("router"), filepath.Join(frrDir, daemon),
		"-d", "--vty_socket", d, "-z", filepath.Join(d, "zserv.api"), "-P", "0",
		"-i", pidFile, "-f", filepath.Join(d, daemon+".conf")}
	if daemon == "bfdd" {
		args = append(args, "--bfdctl", filepath.Join(d, "bfdd.sock"))
	}
	start := exec.CommandContext(ctx, "ip", args...)
	if out, err := start.CombinedOutput(); err != nil {
		return 0, procStat{}, "", fmt.Errorf("router: starting %s: %w: %s", daemon, err, out)
	}
	pid, st, err := waitPIDFile(ctx, pidFile)
	if err != nil {
		return 0, procStat{}, "", fmt.Errorf("router: %s: %w", daemon, err)
	}
	return pid, st, filepath.Join(frrTmpDir, daemon+"."+strconv.Itoa(start.Process.Pid)), nil
}

// RestartRouter is `ironlb lab restart router [--graceful]`: it stops the
// router's bgpd and starts it again with the same configuration; zebra,
// bfdd and the kernel's routes stay.
//
//   - Without graceful, bgpd is shut down cleanly: `bgp shutdown` sends
//     every node a NOTIFICATION (Cease) and withdraws its routes from
//     zebra, which deletes them from the kernel; once the kernel holds no
//     BGP route, bgpd stops (SIGTERM, SIGKILL after 10 s) — the outage of a
//     router restarted without graceful restart, until the nodes connect
//     again (ironlb's speakers 1-2 s after the session ended) and announce
//     their routes. (A SIGTERM alone races: FRR 8.4's bgpd, configured for
//     graceful restart, sometimes exits before its withdrawals reach zebra,
//     which then keeps the routes as stale — seen in one run of many.)
//   - With graceful, bgpd is killed (SIGKILL), as a control-plane crash or
//     an in-service restart: no NOTIFICATION, and zebra keeps its routes in
//     the kernel, since bgpd runs with `bgp graceful-restart` and
//     `preserve-fw-state` (the routes are marked stale for the RIB's stale
//     time). The restarted bgpd learns the routes again from the nodes
//     and zebra replaces the stale ones: forwarding goes on, but for a gap
//     of some tens of milliseconds at the swap (FRR 8.4's zebra removes the
//     stale routes just before it installs the new ones).
func RestartRouter(ctx context.Context, dir string, graceful bool, out io.Writer) error {
	s, err := LoadState(dir)
	if err != nil {
		return err
	}
	p, err := s.Plan()
	if err != nil {
		return err
	}
	const name = "frr/bgpd"
	pr := s.Procs[name]
	if pr == nil {
		return fmt.Errorf("no process %q in this lab: `ironlb lab status` lists what runs", name)
	}
	how := "shut down (bgp shutdown, then SIGTERM)"
	if graceful {
		how = "killed (SIGKILL: forwarding state kept)"
		if err := signal(pr.PID, pr.Start, syscall.SIGKILL); err != nil {
			return err
		}
		if !waitGone(pr.PID, pr.Start, 5*time.Second) {
			return fmt.Errorf("router: bgpd (pid %d) survived SIGKILL for 5 s", pr.PID)
		}
	} else {
		if err := shutdownBGP(ctx, s.Dir, p.Namespace("router")); err != nil {
			return err
		}
		if err := terminate(pr.PID, pr.Start, 10*time.Second); err != nil {
			return err
		}
	}
	old := pr.PID
	pid, st, tmp, err := startFRRDaemon(ctx, s.Dir, p, "bgpd")
	if err != nil {
		return err
	}
	if err := updateState(s.Dir, func(st2 *State) error {
		q := st2.Procs[name]
		if q == nil {
			return fmt.Errorf("%s vanished from the lab's state", name)
		}
		q.PID, q.Start = pid, st.Start
		q.Restarts++
		if !slices.Contains(q.Files, tmp) {
			q.Files = append(q.Files, tmp) // the killed one's stays behind
		}
		return nil
	}); err != nil {
		return err
	}
	if err := waitVtysh(ctx, s.Dir); err != nil {
		return err
	}
	_, _ = fmt.Fprintf(out, "restarted the router's bgpd: %s, pid %d -> %d\n", how, old, pid)
	return nil
}

// shutdownBGP shuts the router's BGP instance down administratively and
// waits, at most 10 s, until the router namespace ns has no BGP route in
// its kernel.
func shutdownBGP(ctx context.Context, dir, ns string) error {
	if out, err := vtyshCommand(ctx, dir, "-c", "configure terminal", "-c", fmt.Sprintf("router bgp %d", RouterASN),
		"-c", "bgp shutdown").CombinedOutput(); err != nil {
		return fmt.Errorf("router: bgp shutdown: %w: %s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var left []string
		for _, fam := range []string{"-4", "-6"} {
			out, err := exec.CommandContext(ctx, "ip", "-n", ns, fam, "route", "show", "proto", "bgp").CombinedOutput()
			if err != nil {
				return fmt.Errorf("router: ip %s route show proto bgp: %w: %s", fam, err, out)
			}
			if o := strings.TrimSpace(string(out)); o != "" {
				left = append(left, o)
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("router: BGP routes still in the kernel 10 s after bgp shutdown: %s", strings.Join(left, "; "))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// frrUser is the uid and gid of Debian's frr user.
func frrUser() (int, int, error) {
	u, err := user.Lookup("frr")
	if err != nil {
		return 0, 0, fmt.Errorf("router: the frr user is missing (install Debian's frr package): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return uid, gid, nil
}

func waitPIDFile(ctx context.Context, path string) (int, procStat, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				if st, err := readProcStat(pid); err == nil {
					return pid, st, nil
				}
			}
		}
		if time.Now().After(deadline) {
			return 0, procStat{}, fmt.Errorf("no live pid in %s after 10 s", path)
		}
		select {
		case <-ctx.Done():
			return 0, procStat{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// vtyshCommand runs vtysh against the lab's FRR instance.
func vtyshCommand(ctx context.Context, dir string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "vtysh", append([]string{"--vty_socket", routerDir(dir)}, args...)...)
}

func waitVtysh(ctx context.Context, dir string) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := vtyshCommand(ctx, dir, "-c", "show bgp summary").CombinedOutput()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("router: vtysh not answering after 15 s: %w: %s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

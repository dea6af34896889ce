package bgp

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
)

// frr is one FRR instance (zebra + bgpd) in a test namespace, with its own
// run directory; only the daemons it started are ever stopped.
type frr struct {
	t   *testing.T
	dir string
}

// startFRR starts zebra, bfdd and bgpd in host with bfdConf as bfdd.conf and
// bgpConf as bgpd.conf.
func startFRR(t *testing.T, host *netnstest.Host, bfdConf, bgpConf string) *frr {
	t.Helper()
	u, err := user.Lookup("frr")
	if err != nil {
		msg := fmt.Sprintf("FRR's user frr is missing (install the Debian package frr): %v", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir, err := os.MkdirTemp("", "ironlb-bgp-frr-")
	if err != nil {
		t.Fatal(err)
	}
	f := &frr{t: t, dir: dir}
	t.Cleanup(f.stop)
	files := map[string]string{
		"zebra.conf": "hostname " + host.Name + "\n",
		"bfdd.conf":  bfdConf,
		"bgpd.conf":  bgpConf,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{dir, filepath.Join(dir, "zebra.conf"), filepath.Join(dir, "bfdd.conf"), filepath.Join(dir, "bgpd.conf")} {
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	common := []string{"-d", "--vty_socket", dir, "-z", filepath.Join(dir, "zserv.api"), "-P", "0"}
	for _, d := range []string{"zebra", "bfdd", "bgpd"} {
		args := append(append([]string{}, common...), "-i", filepath.Join(dir, d+".pid"), "-f", filepath.Join(dir, d+".conf"))
		if d == "bfdd" {
			args = append(args, "--bfdctl", filepath.Join(dir, "bfdd.sock"))
		}
		if out, err := host.Output(context.Background(), "/usr/lib/frr/"+d, args...); err != nil {
			t.Fatalf("start %s: %v\n%s", d, err, out)
		}
		if d == "zebra" {
			f.waitFile(filepath.Join(dir, "zserv.api"))
		}
	}
	f.waitFile(filepath.Join(dir, "bgpd.vty"))
	return f
}

func (f *frr) waitFile(path string) {
	f.t.Helper()
	for range 100 {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.t.Fatalf("FRR: %s did not appear within 5 s", path)
}

// vtysh runs one vtysh command against this instance.
func (f *frr) vtysh(cmd string) string {
	f.t.Helper()
	out, err := exec.Command("vtysh", "--vty_socket", f.dir, "-c", cmd).CombinedOutput()
	if err != nil {
		f.t.Fatalf("vtysh -c %q: %v\n%s", cmd, err, out)
	}
	return string(out)
}

// stop ends the daemons named in this instance's pid files and removes the
// run directory.
func (f *frr) stop() {
	for _, d := range []string{"bgpd", "bfdd", "zebra"} {
		b, err := os.ReadFile(filepath.Join(f.dir, d+".pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 1 {
			continue
		}
		_ = syscall.Kill(pid, syscall.SIGTERM)
		for i := 0; syscall.Kill(pid, 0) == nil; i++ {
			if i == 100 { // 5 s
				_ = syscall.Kill(pid, syscall.SIGKILL)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	_ = os.RemoveAll(f.dir)
}

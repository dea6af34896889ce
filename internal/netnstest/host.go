package netnstest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Host is one namespace on a Network with one interface, eth0.
type Host struct {
	Name      string           // the short name given to AddHost
	Namespace string           // the full namespace name
	Interface string           // always HostInterface ("eth0")
	MAC       net.HardwareAddr // eth0's MAC address
	IPv4      netip.Addr       // eth0's IPv4 address
	IPv6      netip.Addr       // eth0's IPv6 address (no DAD)

	bits4, bits6 int
	network      *Network
}

// Command returns `ip netns exec <namespace> name args...`, ready to start.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.Namespace, name}, args...)...)
}

// Output runs a program in the host and returns its combined output; the
// error names the command and carries its output.
func (h *Host) Output(ctx context.Context, name string, args ...string) (string, error) {
	out, err := h.Command(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("in %s: %s %s: %w: %s", h.Name, name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// Run runs a program in the host and fails the test if it fails.
func (h *Host) Run(name string, args ...string) string {
	t := h.network.t
	t.Helper()
	out, err := h.Output(context.Background(), name, args...)
	if err != nil {
		t.Fatalf("netnstest: %v", err)
	}
	return out
}

// Sysctl sets kernel parameters in the host, e.g.
// "net.ipv6.neigh.eth0.delay_first_probe_time=1".
func (h *Host) Sysctl(settings ...string) {
	h.network.t.Helper()
	h.Run("sysctl", append([]string{"-qw"}, settings...)...)
}

// Do runs fn on a fresh OS thread switched into the host's namespace and
// returns its error. Sockets fn creates stay in the namespace for their
// whole life. The thread is never returned to the Go scheduler (its
// goroutine exits locked, so the runtime discards it), hence no other
// goroutine ever runs in the wrong namespace.
func (h *Host) Do(fn func() error) error {
	return Enter(netnsPath(h.Namespace), fn)
}

// Enter runs fn on a fresh OS thread switched into the network namespace
// at path (e.g. /run/netns/NAME); see [Host.Do].
func Enter(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		f, err := os.Open(path)
		if err != nil {
			errc <- fmt.Errorf("opening network namespace: %w", err)
			return
		}
		defer func() { _ = f.Close() }()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("entering network namespace %s: %w", path, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// Neighbor is one entry of a host's neighbour table.
type Neighbor struct {
	Addr  netip.Addr
	MAC   net.HardwareAddr // nil when the entry has no link-layer address (INCOMPLETE, FAILED)
	State string           // the kernel's NUD state(s), e.g. "REACHABLE", "STALE", "FAILED"
}

// Neighbor returns the host's eth0 neighbour entry for addr; ok is false
// when there is none.
func (h *Host) Neighbor(ctx context.Context, addr netip.Addr) (n Neighbor, ok bool, err error) {
	out, err := h.Output(ctx, "ip", "-j", "neigh", "show", "to", addr.String(), "dev", h.Interface)
	if err != nil {
		return Neighbor{}, false, err
	}
	var entries []struct {
		Dst    string   `json:"dst"`
		LLAddr string   `json:"lladdr"`
		State  []string `json:"state"`
	}
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		return Neighbor{}, false, fmt.Errorf("in %s: parsing `ip -j neigh` output %q: %w", h.Name, out, err)
	}
	for _, e := range entries {
		dst, err := netip.ParseAddr(e.Dst)
		if err != nil || dst != addr {
			continue
		}
		n := Neighbor{Addr: dst, State: strings.Join(e.State, ",")}
		if e.LLAddr != "" {
			if n.MAC, err = net.ParseMAC(e.LLAddr); err != nil {
				return Neighbor{}, false, fmt.Errorf("in %s: neighbour %s: lladdr %q: %w", h.Name, addr, e.LLAddr, err)
			}
		}
		return n, true, nil
	}
	return Neighbor{}, false, nil
}

// SetNeighbor creates or replaces the host's eth0 neighbour entry for addr
// with the given MAC and NUD state (e.g. "stale", "reachable", "permanent").
func (h *Host) SetNeighbor(addr netip.Addr, mac net.HardwareAddr, state string) {
	h.network.t.Helper()
	h.Run("ip", "neigh", "replace", addr.String(), "lladdr", mac.String(), "dev", h.Interface, "nud", state)
}

// FlushNeighbors removes every dynamic neighbour entry of the host's eth0.
func (h *Host) FlushNeighbors() {
	h.network.t.Helper()
	h.Run("ip", "neigh", "flush", "dev", h.Interface)
}

// waitOperUp waits until eth0's operational state is UP: the kernel
// reports carrier asynchronously (link watch), up to a second after the
// link is set up.
func (h *Host) waitOperUp() {
	t := h.network.t
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := run("ip", "-n", h.Namespace, "-j", "link", "show", "dev", h.Interface)
		if err != nil {
			t.Fatalf("netnstest: ip link show in %s: %v: %s", h.Name, err, out)
		}
		var links []struct {
			OperState string `json:"operstate"`
		}
		if err := json.Unmarshal([]byte(out), &links); err != nil {
			t.Fatalf("netnstest: parsing `ip -j link` output %q: %v", out, err)
		}
		if len(links) == 1 && links[0].OperState == "UP" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("netnstest: %s's %s is not operationally up after 5s: %s", h.Name, h.Interface, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

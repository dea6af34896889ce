package netnstest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Options shape a Network. The zero value is usable.
type Options struct {
	// Prefix starts every namespace name, followed by the PID and a random
	// tag; keep it short and distinct per test package (e.g. "il2t").
	// Default "nnt".
	Prefix string
	// IPv4 and IPv6 are the host subnets; a host with index n gets the n-th
	// address of each. Defaults 10.201.0.0/24 and fd00:201::/64.
	IPv4, IPv6 netip.Prefix
	// MACByte is the fifth byte of every host MAC address
	// (02:00:00:00:<MACByte>:<index>). Default 0.
	MACByte byte
}

// Network is a bridge in its own namespace plus the hosts joined to it.
// Its methods fail the test on error; they are safe for concurrent use.
type Network struct {
	t    testing.TB
	opts Options
	base string // <prefix>-<pid>-<tag>-: every namespace name starts with it
	lan  string

	mu    sync.Mutex // guards hosts
	hosts []*Host
}

// bridgeName is the bridge inside the lan namespace.
const bridgeName = "br0"

// HostInterface is the name of every host's interface on the network.
const HostInterface = "eth0"

// New builds the lan namespace with its bridge and registers a cleanup that
// deletes every namespace of the network. It calls [Require] for root, ip
// and sysctl first, so a test without them is skipped (or fails in CI).
func New(t testing.TB, opts Options) *Network {
	t.Helper()
	Require(t, Root, "ip", "sysctl")
	if opts.Prefix == "" {
		opts.Prefix = "nnt"
	}
	if !opts.IPv4.IsValid() {
		opts.IPv4 = netip.MustParsePrefix("10.201.0.0/24")
	}
	if !opts.IPv6.IsValid() {
		opts.IPv6 = netip.MustParsePrefix("fd00:201::/64")
	}
	if !opts.IPv4.Addr().Is4() || !opts.IPv6.Addr().Is6() {
		t.Fatalf("netnstest.New: Options.IPv4 %s / IPv6 %s: want an IPv4 and an IPv6 prefix", opts.IPv4, opts.IPv6)
	}
	sweepStale(t, opts.Prefix)

	var tag [3]byte
	if _, err := rand.Read(tag[:]); err != nil {
		t.Fatalf("netnstest.New: random tag: %v", err)
	}
	n := &Network{t: t, opts: opts}
	n.base = fmt.Sprintf("%s-%d-%s-", opts.Prefix, os.Getpid(), hex.EncodeToString(tag[:]))
	n.lan = n.base + "lan"
	t.Cleanup(n.destroy)

	mustRun(t, "ip", "netns", "add", n.lan)
	mustRun(t, "ip", "netns", "exec", n.lan, "sysctl", "-qw",
		"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	// No STP, no forwarding delay and no multicast snooping: the bridge
	// floods multicast (solicited-node groups) to every port at once.
	mustBatch(t, n.lan,
		"link set lo up",
		fmt.Sprintf("link add %s type bridge stp_state 0 forward_delay 0 mcast_snooping 0", bridgeName),
		fmt.Sprintf("link set %s up", bridgeName),
	)
	return n
}

// Namespace returns the full namespace name for a short name, e.g. "lan".
func (n *Network) Namespace(name string) string { return n.base + name }

// AddHost creates the namespace for a host, joins it to the bridge and
// configures eth0 with its MAC and addresses. index (1..254) picks the
// addresses and MAC; name (at most 13 characters) names the namespace and
// the bridge port.
func (n *Network) AddHost(name string, index int) *Host {
	t := n.t
	t.Helper()
	if index < 1 || index > 254 || name == "" || len(name) > 13 || strings.ContainsAny(name, " /") {
		t.Fatalf("netnstest.AddHost(%q, %d): want a name of 1-13 characters without spaces or slashes and an index in 1..254",
			name, index)
	}
	h := &Host{
		Name:      name,
		Namespace: n.base + name,
		Interface: HostInterface,
		MAC:       net.HardwareAddr{0x02, 0, 0, 0, n.opts.MACByte, byte(index)},
		IPv4:      nthAddr(n.opts.IPv4, index),
		IPv6:      nthAddr(n.opts.IPv6, index),
		bits4:     n.opts.IPv4.Bits(),
		bits6:     n.opts.IPv6.Bits(),
		network:   n,
	}
	if !n.opts.IPv4.Contains(h.IPv4) || !n.opts.IPv6.Contains(h.IPv6) {
		t.Fatalf("netnstest.AddHost(%q, %d): index outside the network's prefixes %s and %s", name, index, n.opts.IPv4, n.opts.IPv6)
	}
	n.mu.Lock()
	n.hosts = append(n.hosts, h)
	n.mu.Unlock()

	mustRun(t, "ip", "netns", "add", h.Namespace)
	// DAD off before the veth exists, or the IPv6 address stays tentative.
	mustRun(t, "ip", "netns", "exec", h.Namespace, "sysctl", "-qw",
		"net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0")
	port := bridgePort(name)
	mustBatch(t, n.lan,
		fmt.Sprintf("link add %s type veth peer name %s netns %s", port, HostInterface, h.Namespace),
		fmt.Sprintf("link set %s master %s up", port, bridgeName),
	)
	mustBatch(t, h.Namespace,
		"link set lo up",
		fmt.Sprintf("link set %s address %s", HostInterface, h.MAC),
		fmt.Sprintf("addr add %s/%d dev %s", h.IPv4, h.bits4, HostInterface),
		fmt.Sprintf("addr add %s/%d dev %s nodad", h.IPv6, h.bits6, HostInterface),
		fmt.Sprintf("link set %s up", HostInterface),
	)
	h.waitOperUp()
	return h
}

// SetPort sets the bridge end of a host's veth up or down: how a test
// cuts a host off the network (carrier loss on its eth0) and brings it back.
func (n *Network) SetPort(h *Host, up bool) {
	n.t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	mustRun(n.t, "ip", "-n", n.lan, "link", "set", bridgePort(h.Name), state)
}

// destroy deletes the host namespaces, then lan. Errors are logged: a
// cleanup must try everything.
func (n *Network) destroy() {
	n.mu.Lock()
	hosts := n.hosts
	n.mu.Unlock()
	for _, h := range hosts {
		deleteNamespace(n.t, h.Namespace)
	}
	deleteNamespace(n.t, n.lan)
}

func deleteNamespace(t testing.TB, ns string) {
	if _, err := os.Stat(netnsPath(ns)); os.IsNotExist(err) {
		return
	}
	if out, err := run("ip", "netns", "del", ns); err != nil {
		t.Logf("netnstest: deleting namespace %s: %v: %s", ns, err, out)
	}
}

// sweepStale deletes namespaces named <prefix>-<pid>-... whose PID is no
// longer running: leftovers of a test binary that was killed.
func sweepStale(t testing.TB, prefix string) {
	entries, err := os.ReadDir(netnsDir)
	if err != nil {
		return // no namespaces at all yet
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix+"-")
		if !ok {
			continue
		}
		pidText, _, ok := strings.Cut(rest, "-")
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat("/proc/" + pidText); err == nil {
			continue // still running: another test binary's network
		}
		t.Logf("netnstest: deleting stale namespace %s (PID %d is gone)", e.Name(), pid)
		deleteNamespace(t, e.Name())
	}
}

// bridgePort is the name of a host's veth end on the bridge.
func bridgePort(host string) string { return "v-" + host }

// nthAddr returns the n-th address of p (n=0 is the prefix address).
func nthAddr(p netip.Prefix, n int) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	carry := n
	for i := len(b) - 1; i >= 0 && carry > 0; i-- {
		sum := int(b[i]) + carry
		b[i] = byte(sum)
		carry = sum >> 8
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

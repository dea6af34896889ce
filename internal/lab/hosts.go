package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// bridge is the name of the bridge in the lan namespace; each host's
// bridge-side veth is "v-<host>". bridge2 is the second card's bridge,
// with the ports "v1-<host>" of the hosts' eth1.
const (
	bridge  = "br0"
	bridge2 = "br1"
)

// bridgePort is the bridge-side veth of a host's eth0, in the lan
// namespace.
func bridgePort(host string) string { return "v-" + host }

// nic2BridgePort is the bridge-side veth of a host's eth1 (its second
// card), in the lan namespace.
func nic2BridgePort(host string) string { return "v1-" + host }

// bridgePorts are a host's bridge-side veths: eth0's, then eth1's when it
// has a second card.
func bridgePorts(h Host) []string {
	if h.HasNIC2() {
		return []string{bridgePort(h.Name), nic2BridgePort(h.Name)}
	}
	return []string{bridgePort(h.Name)}
}

// hostSysctls are set in a host's namespace before its veth exists (so the
// DAD defaults apply to eth0 and eth1).
func hostSysctls(h Host) []string {
	s := []string{
		"net.ipv6.conf.default.accept_dad=0",
		"net.ipv6.conf.all.accept_dad=0",
	}
	switch h.Role {
	case RoleNode:
		// kube-proxy does not enable forwarding itself.
		s = append(s, "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
	case RoleRouter:
		// Spread flows over ECMP next hops by the 5-tuple.
		s = append(s, "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
			"net.ipv4.fib_multipath_hash_policy=1", "net.ipv6.fib_multipath_hash_policy=1")
	}
	return s
}

// hostBatch is the `ip -batch` input that configures a host's namespace
// once its eth0 (and eth1) exist: MAC, LAN addresses, the second subnet's
// addresses (all hosts but node1), the second card's MAC and addresses
// (nodes and client), default route via the router (except on the router;
// always through eth0) and, on nodes, routes to the other nodes' pods. The
// router routes every node's pods too: it is also where Pods reach the API
// server (apiendpoint.go), with their own addresses, as on a network that
// routes the pod CIDRs.
func hostBatch(p Plan, h Host) []string {
	lines := []string{
		"link set lo up",
		fmt.Sprintf("link set %s address %s", hostInterface, h.MAC),
		fmt.Sprintf("addr add %s/%d dev %s", h.IPv4, lanBits(h.IPv4), hostInterface),
		fmt.Sprintf("addr add %s/%d dev %s nodad", h.IPv6, lanBits(h.IPv6), hostInterface),
	}
	if h.InSecondSubnet() {
		lines = append(lines,
			fmt.Sprintf("addr add %s/%d dev %s", h.SecondIPv4, secondV4.Bits(), hostInterface),
			fmt.Sprintf("addr add %s/%d dev %s nodad", h.SecondIPv6, secondV6.Bits(), hostInterface))
	}
	lines = append(lines, fmt.Sprintf("link set %s up", hostInterface))
	if h.HasNIC2() {
		lines = append(lines,
			fmt.Sprintf("link set %s address %s", nic2Interface, h.NIC2MAC),
			fmt.Sprintf("addr add %s/%d dev %s", h.NIC2IPv4, nic2V4.Bits(), nic2Interface),
			fmt.Sprintf("addr add %s/%d dev %s nodad", h.NIC2IPv6, nic2V6.Bits(), nic2Interface),
			fmt.Sprintf("link set %s up", nic2Interface))
	}
	if h.Role != RoleRouter {
		lines = append(lines,
			fmt.Sprintf("route add default via %s dev %s", p.Router.IPv4, hostInterface),
			fmt.Sprintf("route add default via %s dev %s", p.Router.IPv6, hostInterface))
	}
	if h.Role == RoleNode || h.Role == RoleRouter {
		for _, o := range p.Nodes {
			if o.Name == h.Name {
				continue
			}
			lines = append(lines,
				fmt.Sprintf("route add %s via %s dev %s", o.PodCIDRV4, o.IPv4, hostInterface),
				fmt.Sprintf("route add %s via %s dev %s", o.PodCIDRV6, o.IPv6, hostInterface))
		}
	}
	return lines
}

// createNetwork builds the lab's namespaces: the lan namespace with two
// bridges, then one namespace per host joined to br0 by a veth (its eth0)
// and, for the nodes and the client, to br1 by a second one (its eth1),
// each created from inside the lan namespace, so no interface ever exists
// in the root namespace. On error the caller tears down what exists.
func createNetwork(ctx context.Context, p Plan) error {
	lan := p.Namespace(lanNamespace)
	if _, err := run(ctx, "ip", "netns", "add", lan); err != nil {
		return err
	}
	if _, err := run(ctx, "ip", "netns", "exec", lan, "sysctl", "-qw",
		"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"); err != nil {
		return err
	}
	if err := ipBatch(ctx, lan, []string{
		"link set lo up",
		fmt.Sprintf("link add %s type bridge stp_state 0 forward_delay 0 mcast_snooping 0", bridge),
		fmt.Sprintf("link set %s up", bridge),
		fmt.Sprintf("link add %s type bridge stp_state 0 forward_delay 0 mcast_snooping 0", bridge2),
		fmt.Sprintf("link set %s up", bridge2),
	}); err != nil {
		return err
	}
	for _, h := range p.Hosts() {
		ns := p.Namespace(h.Name)
		if _, err := run(ctx, "ip", "netns", "add", ns); err != nil {
			return err
		}
		if _, err := run(ctx, "ip", append([]string{"netns", "exec", ns, "sysctl", "-qw"}, hostSysctls(h)...)...); err != nil {
			return err
		}
		if err := ipBatch(ctx, lan, vethBatch(p, h)); err != nil {
			return err
		}
		if err := ipBatch(ctx, ns, hostBatch(p, h)); err != nil {
			return err
		}
	}
	return nil
}

// vethBatch is the `ip -batch` input, run in the lan namespace, that
// creates a host's veths with their peers placed in the host's namespace:
// eth0 on br0 and, for the nodes and the client, eth1 on br1.
func vethBatch(p Plan, h Host) []string {
	ns := p.Namespace(h.Name)
	lines := []string{
		fmt.Sprintf("link add %s type veth peer name %s netns %s", bridgePort(h.Name), hostInterface, ns),
		fmt.Sprintf("link set %s master %s up", bridgePort(h.Name), bridge),
	}
	if h.HasNIC2() {
		lines = append(lines,
			fmt.Sprintf("link add %s type veth peer name %s netns %s", nic2BridgePort(h.Name), nic2Interface, ns),
			fmt.Sprintf("link set %s master %s up", nic2BridgePort(h.Name), bridge2))
	}
	return lines
}

// linkBatch is the `ip -batch` input, run in the lan namespace, that sets
// every bridge-side veth of h (both cards) up or down.
func linkBatch(h Host, up bool) []string {
	state := "down"
	if up {
		state = "up"
	}
	var lines []string
	for _, port := range bridgePorts(h) {
		lines = append(lines, fmt.Sprintf("link set %s %s", port, state))
	}
	return lines
}

// setLink sets a host's bridge-side veths — eth0's and, on a host with a
// second card, eth1's — up or down in one batch: the lab's way to cut a
// host off the network (and to bring it back).
func setLink(ctx context.Context, p Plan, h Host, up bool) error {
	return ipBatch(ctx, p.Namespace(lanNamespace), linkBatch(h, up))
}

// netnsDir is where `ip netns` keeps its named namespaces.
const netnsDir = "/run/netns"

// netnsPath is the file naming a namespace, for setns.
func netnsPath(ns string) string { return filepath.Join(netnsDir, ns) }

// labNamespaces lists the existing namespaces whose names a lab with
// prefix could have made.
func labNamespaces(prefix string) ([]string, error) {
	entries, err := os.ReadDir(netnsDir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing network namespaces: %w", err)
	}
	re := NamespacePattern(prefix)
	var out []string
	for _, e := range entries {
		if re.MatchString(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// deleteNamespaces removes the named namespaces; a missing one is fine.
// The lan namespace goes last so no veth peer briefly loses its bridge
// while the others are still being inspected.
func deleteNamespaces(ctx context.Context, names []string) error {
	var errs []string
	for _, ns := range names {
		if _, err := os.Stat(netnsPath(ns)); os.IsNotExist(err) {
			continue
		}
		if _, err := run(ctx, "ip", "netns", "del", ns); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("deleting namespaces: %s", strings.Join(errs, "; "))
	}
	return nil
}

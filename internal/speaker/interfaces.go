package speaker

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/ironlb/ironlb/internal/speaker/decide"
)

// AnnotationL2Subnets is the Node annotation in which each speaker
// publishes its node's interfaces and their subnets, so that every speaker
// can tell which nodes are attached to the subnet of an address and elect
// the same node. The value is a JSON object from interface name to the
// masked prefixes configured on it, keys and prefixes sorted:
//
//	{"eth0":["10.0.0.0/24","fd00::/64"],"eth1":[]}
//
// The speaker writes it on its own Node when it starts and whenever the
// interfaces change, and removes it when it stops gracefully. A Node without
// it never announces an address in layer 2 mode. (A Node annotation rather
// than memberlist metadata: it has no size limit, survives speaker
// restarts, and `kubectl get node -o yaml` shows it.)
const AnnotationL2Subnets = "ironlb.io/l2-subnets"

// skippedInterfacePrefixes name the virtual interfaces of container
// runtimes, CNI plugins and kube-proxy that never face the network the
// Service addresses belong to. They are not published, so they are never
// answered on, even when an L2Advertisement lists one by name.
var skippedInterfacePrefixes = []string{
	"veth", "docker", "cni", "flannel", "cali", "cilium_", "lxc", "kube-ipvs",
	"nodelocaldns", "tunl", "vxlan", "weave", "genev", "antrea", "ovs-", "virbr",
}

// skippedInterface reports whether an interface name is a well-known
// virtual interface.
func skippedInterface(name string) bool {
	for _, p := range skippedInterfacePrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// scanInterfaces lists the node's interfaces that may answer ARP/NDP:
// administratively up, Ethernet (a 6-byte hardware address), neither
// loopback nor a well-known virtual interface, with their global unicast
// subnets. It runs in the calling thread's network namespace.
func scanInterfaces() ([]decide.Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("listing the network interfaces: %w", err)
	}
	out := []decide.Interface{}
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagLoopback != 0 ||
			len(ifi.HardwareAddr) != 6 || skippedInterface(ifi.Name) {
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			return nil, fmt.Errorf("listing the addresses of interface %s: %w", ifi.Name, err)
		}
		d := decide.Interface{Name: ifi.Name, Prefixes: []netip.Prefix{}}
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(n.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			if !ip.IsGlobalUnicast() {
				continue // link-local, loopback, multicast
			}
			ones, _ := n.Mask.Size()
			if ip.Is4() && ones > 32 {
				ones -= 96
			}
			p, err := ip.Prefix(ones)
			if err != nil {
				continue
			}
			d.Prefixes = append(d.Prefixes, p)
		}
		out = append(out, normalize(d))
	}
	slices.SortFunc(out, func(a, b decide.Interface) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// normalize masks an interface's prefixes, sorts them and drops repeats.
// It modifies d.Prefixes in place.
func normalize(d decide.Interface) decide.Interface {
	for i, p := range d.Prefixes {
		d.Prefixes[i] = p.Masked()
	}
	slices.SortFunc(d.Prefixes, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	d.Prefixes = slices.Compact(d.Prefixes)
	return d
}

// EncodeL2Subnets renders interfaces as the value of AnnotationL2Subnets.
// The same interfaces always give the same text.
func EncodeL2Subnets(ifs []decide.Interface) string {
	m := make(map[string][]string, len(ifs))
	for _, ifc := range ifs {
		ps := make([]string, 0, len(ifc.Prefixes))
		for _, p := range normalize(decide.Interface{Prefixes: slices.Clone(ifc.Prefixes)}).Prefixes {
			ps = append(ps, p.String())
		}
		m[ifc.Name] = ps
	}
	b, err := json.Marshal(m) // map keys are sorted
	if err != nil {
		panic(fmt.Sprintf("encoding interfaces: %v", err)) // strings only: cannot fail
	}
	return string(b)
}

// DecodeL2Subnets parses the value of AnnotationL2Subnets. Interfaces come
// out sorted by name; prefixes are masked and sorted.
func DecodeL2Subnets(s string) ([]decide.Interface, error) {
	var m map[string][]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("annotation %s %q: not a JSON object of interface names to prefix lists: %w", AnnotationL2Subnets, s, err)
	}
	out := make([]decide.Interface, 0, len(m))
	for name, ps := range m {
		d := decide.Interface{Name: name, Prefixes: make([]netip.Prefix, 0, len(ps))}
		for _, t := range ps {
			p, err := netip.ParsePrefix(t)
			if err != nil {
				return nil, fmt.Errorf("annotation %s, interface %s: prefix %q: %w", AnnotationL2Subnets, name, t, err)
			}
			d.Prefixes = append(d.Prefixes, p)
		}
		out = append(out, normalize(d))
	}
	slices.SortFunc(out, func(a, b decide.Interface) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

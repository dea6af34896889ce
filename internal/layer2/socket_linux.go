//go:build linux

package layer2

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// openSockets opens, in the calling thread's network namespace, the two
// packet sockets (ARP; IPv6 neighbor discovery) and the control socket on
// ifi. Unlike an ARP client bound to the interface's IPv4 address, none of
// them needs an address on the interface.
func openSockets(ifi *net.Interface) (sockets, error) {
	arpProg, err := assemble(arpFilter(true))
	if err != nil {
		return sockets{}, err
	}
	ndpProg, err := assemble(ndpFilter(true))
	if err != nil {
		return sockets{}, err
	}
	arpConn, err := packet.Listen(ifi, packet.Raw, etherTypeARP, &packet.Config{Filter: arpProg})
	if err != nil {
		return sockets{}, fmt.Errorf("opening ARP packet socket on %s (needs CAP_NET_RAW): %w", ifi.Name, err)
	}
	ndpConn, err := packet.Listen(ifi, packet.Raw, etherTypeIPv6, &packet.Config{Filter: ndpProg})
	if err != nil {
		_ = arpConn.Close()
		return sockets{}, fmt.Errorf("opening IPv6 packet socket on %s (needs CAP_NET_RAW): %w", ifi.Name, err)
	}
	ctl, err := newSockControl(ifi)
	if err != nil {
		_ = arpConn.Close()
		_ = ndpConn.Close()
		return sockets{}, err
	}
	return sockets{arp: arpConn, ndp: ndpConn, ctl: ctl}, nil
}

// sockControl joins solicited-node multicast groups and reads the link
// state through one datagram socket. An IPv6 socket is used when the
// kernel has IPv6; group membership makes the kernel program the NIC's
// multicast filter and answer MLD queries, so switches that snoop MLD
// forward solicitations to this port. The socket is never bound, so it
// receives nothing.
type sockControl struct {
	fd    int
	v6    bool
	name  string
	index int
}

func newSockControl(ifi *net.Interface) (*sockControl, error) {
	c := &sockControl{name: ifi.Name, index: ifi.Index, v6: true}
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if errors.Is(err, unix.EAFNOSUPPORT) {
		c.v6 = false
		fd, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	}
	if err != nil {
		return nil, fmt.Errorf("opening control socket: %w", err)
	}
	c.fd = fd
	return c, nil
}

func (c *sockControl) joinGroup(group netip.Addr) error {
	return c.membership(unix.IPV6_JOIN_GROUP, group)
}

func (c *sockControl) leaveGroup(group netip.Addr) error {
	return c.membership(unix.IPV6_LEAVE_GROUP, group)
}

func (c *sockControl) membership(op int, group netip.Addr) error {
	if !c.v6 {
		return errNoIPv6
	}
	mreq := unix.IPv6Mreq{Multiaddr: group.As16(), Interface: uint32(c.index)}
	if err := unix.SetsockoptIPv6Mreq(c.fd, unix.IPPROTO_IPV6, op, &mreq); err != nil {
		return fmt.Errorf("setsockopt(%d) group %s on %s: %w", op, group, c.name, err)
	}
	return nil
}

// linkUp reports whether the interface is administratively up with its
// operational state up (carrier). errInterfaceGone means it was deleted,
// moved or replaced by another interface of the same name.
func (c *sockControl) linkUp() (bool, error) {
	ifr, err := unix.NewIfreq(c.name)
	if err != nil {
		return false, fmt.Errorf("interface name %q: %w", c.name, err)
	}
	if err := unix.IoctlIfreq(c.fd, unix.SIOCGIFINDEX, ifr); err != nil {
		if errors.Is(err, unix.ENODEV) {
			return false, errInterfaceGone
		}
		return false, fmt.Errorf("SIOCGIFINDEX %s: %w", c.name, err)
	}
	if int(ifr.Uint32()) != c.index {
		return false, errInterfaceGone
	}
	if err := unix.IoctlIfreq(c.fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		if errors.Is(err, unix.ENODEV) {
			return false, errInterfaceGone
		}
		return false, fmt.Errorf("SIOCGIFFLAGS %s: %w", c.name, err)
	}
	flags := ifr.Uint16()
	return flags&unix.IFF_UP != 0 && flags&unix.IFF_RUNNING != 0, nil
}

func (c *sockControl) Close() error { return unix.Close(c.fd) }

//go:build !linux

package layer2

import (
	"errors"
	"net"
)

func openSockets(ifi *net.Interface) (sockets, error) {
	return sockets{}, errors.New("layer2 answers ARP and NDP on Linux only")
}

//go:build e2e

package e2e

import (
	"net/netip"
	"slices"
	"testing"
)

// TestNeighborProbeParsing: the readers of arping's and ndisc6's output
// (neighborProbe) tell the three outcomes apart — answered, a clean run
// without an answer, a tool that failed — on output recorded from the
// Debian tools (arping 2.23, ndisc6 1.0.5) in two throwaway namespaces.
// Needs no lab.
func TestNeighborProbeParsing(t *testing.T) {
	v4 := netip.MustParseAddr("10.250.0.2")
	v6 := netip.MustParseAddr("fd00:250::2")
	const (
		arpingAnswered = "ARPING 10.250.0.2\n" +
			"42 bytes from 86:c8:90:8d:9d:68 (10.250.0.2): index=0 time=23.425 usec\n" +
			"42 bytes from 86:c8:90:8d:9d:68 (10.250.0.2): index=1 time=8.807 usec\n" +
			"42 bytes from 86:c8:90:8d:9d:68 (10.250.0.2): index=2 time=70.504 usec\n\n" +
			"--- 10.250.0.2 statistics ---\n" +
			"3 packets transmitted, 3 packets received,   0% unanswered (0 extra)\n" +
			"rtt min/avg/max/std-dev = 0.009/0.034/0.071/0.026 ms\n"
		arpingTwo = "ARPING 10.250.0.2\n" +
			"42 bytes from 02:00:00:00:00:0b (10.250.0.2): index=0 time=23.425 usec\n" +
			"42 bytes from 02:00:00:00:00:0c (10.250.0.2): index=1 time=8.807 usec\n\n" +
			"--- 10.250.0.2 statistics ---\n" +
			"3 packets transmitted, 1 packets received,  66% unanswered (1 extra)\n"
		arpingSilent = "ARPING 10.250.0.2\nTimeout\nTimeout\nTimeout\n\n" +
			"--- 10.250.0.2 statistics ---\n" +
			"3 packets transmitted, 0 packets received, 100% unanswered (0 extra)\n\n"
		arpingNoIface = "arping: libnet_init(LIBNET_LINK, nosuch): libnet_check_iface() ioctl: No such device\n"
		arpingDown    = "arping: libnet_init(LIBNET_LINK, eth0): libnet_check_iface(): eth0 is down\n"
		noNetns       = "Cannot open network namespace \"nosuchns\": No such file or directory\n"

		ndiscAnswered = "Soliciting fd00:250::2 (fd00:250::2) on eth0...\n" +
			"Target link-layer address: 86:C8:90:8D:9D:68\n from fd00:250::2\n"
		ndiscSilent  = "Soliciting fd00:250::2 (fd00:250::2) on eth0...\nTimed out.\nTimed out.\nNo response.\n"
		ndiscNoIface = "nosuch: No such device\n"
		ndiscUnreach = "Sending ICMPv6 packet: Network is unreachable\n"
	)
	for _, c := range []struct {
		name           string
		ip             netip.Addr
		stdout, stderr string
		code           int
		macs           []string
		clean          bool
	}{
		{"arping answered", v4, arpingAnswered, "", 0, []string{"86:c8:90:8d:9d:68"}, true},
		{"arping two answerers", v4, arpingTwo, "", 0, []string{"02:00:00:00:00:0b", "02:00:00:00:00:0c"}, true},
		{"arping no answer", v4, arpingSilent, "", 1, nil, true},
		{"arping no such interface", v4, "", arpingNoIface, 1, nil, false},
		{"arping interface down", v4, "", arpingDown, 1, nil, false},
		{"arping no such namespace", v4, "", noNetns, 255, nil, false},
		{"arping killed at the deadline", v4, "ARPING 10.250.0.2\nTimeout\n", "", -1, nil, false},
		{"arping answered for another address", netip.MustParseAddr("10.250.0.3"), arpingAnswered, "", 0, nil, false},
		{"arping no answer, yet exit status 0", v4, arpingSilent, "", 0, nil, false},
		{"ndisc6 answered", v6, ndiscAnswered, "", 0, []string{"86:c8:90:8d:9d:68"}, true},
		{"ndisc6 no answer", v6, ndiscSilent, "", 2, nil, true},
		{"ndisc6 no such interface", v6, "", ndiscNoIface, 1, nil, false},
		{"ndisc6 network unreachable", v6, "Soliciting fd00:250::2 (fd00:250::2) on eth0...\n", ndiscUnreach, 1, nil, false},
		{"ndisc6 no such namespace", v6, "", noNetns, 255, nil, false},
		{"ndisc6 asked for another address", netip.MustParseAddr("fd00:250::3"), ndiscSilent, "", 2, nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var macs []string
			var clean bool
			if c.ip.Is6() {
				macs, clean = parseNdisc6(c.stdout, c.stderr, c.ip, c.code)
			} else {
				macs, clean = parseArping(c.stdout, c.stderr, c.ip, c.code)
			}
			if clean != c.clean || !slices.Equal(macs, c.macs) {
				t.Errorf("got %v, clean %v; want %v, clean %v", macs, clean, c.macs, c.clean)
			}
		})
	}
}

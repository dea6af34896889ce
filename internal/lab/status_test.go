package lab

import (
	"encoding/json"
	"slices"
	"testing"
)

// A node's eth0 as `ip -j addr show dev eth0` prints it: LAN addresses, a
// pod's IPv6 address and the link-local one.
const ipAddrJSON = `[{"ifindex":2,"link_index":5,"ifname":"eth0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],` +
	`"mtu":1500,"operstate":"UP","address":"02:00:00:00:00:0b","addr_info":[` +
	`{"family":"inet","local":"10.200.0.11","prefixlen":24,"scope":"global"},` +
	`{"family":"inet6","local":"fd00:10:244:1::2","prefixlen":128,"scope":"global"},` +
	`{"family":"inet6","local":"fd00:200::11","prefixlen":64,"scope":"global"},` +
	`{"family":"inet6","local":"fe80::ff:fe00:b","prefixlen":64,"scope":"link"}]}]`

func TestLANAddresses(t *testing.T) {
	var links []ipLink
	if err := json.Unmarshal([]byte(ipAddrJSON), &links); err != nil {
		t.Fatal(err)
	}
	if len(links) != 1 || links[0].Address != "02:00:00:00:00:0b" || !slices.Contains(links[0].Flags, "UP") {
		t.Fatalf("decoded %+v", links)
	}
	got := lanAddresses(links[0])
	want := []string{"10.200.0.11/24", "fd00:200::11/64"}
	if !slices.Equal(got, want) {
		t.Errorf("lanAddresses = %v, want %v", got, want)
	}
}

package lab

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
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

// The same node's eth1 (its second card).
const ipAddrJSONNIC2 = `[{"ifindex":3,"link_index":6,"ifname":"eth1","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],` +
	`"mtu":1500,"operstate":"UP","address":"02:00:00:00:01:0b","addr_info":[` +
	`{"family":"inet","local":"10.204.0.11","prefixlen":24,"scope":"global"},` +
	`{"family":"inet6","local":"fd00:204::11","prefixlen":64,"scope":"global"},` +
	`{"family":"inet6","local":"fe80::ff:fe00:10b","prefixlen":64,"scope":"link"}]}]`

func TestLANAddressesSecondCard(t *testing.T) {
	var links []ipLink
	if err := json.Unmarshal([]byte(ipAddrJSONNIC2), &links); err != nil {
		t.Fatal(err)
	}
	got := lanAddresses(links[0])
	want := []string{"10.204.0.11/24", "fd00:204::11/64"}
	if !slices.Equal(got, want) {
		t.Errorf("lanAddresses = %v, want %v", got, want)
	}
}

func TestPortUp(t *testing.T) {
	links := []ipLink{
		{IfName: "v-node1", Flags: []string{"BROADCAST", "UP"}},
		{IfName: "v1-node1", Flags: []string{"BROADCAST"}},
	}
	if !portUp(links, "v-node1") || portUp(links, "v1-node1") || portUp(links, "v-node2") {
		t.Errorf("portUp: v-node1 %v (want true), v1-node1 %v and v-node2 %v (want false)",
			portUp(links, "v-node1"), portUp(links, "v1-node1"), portUp(links, "v-node2"))
	}
}

// TestWriteTextSecondCard: a host's second card gets a line of its own
// under the host, with its link state, MAC and addresses.
func TestWriteTextSecondCard(t *testing.T) {
	st := &Status{Hosts: []HostStatus{
		{Name: "router", Role: RoleRouter, Interface: "eth0", MAC: "02:00:00:00:00:01", Addresses: []string{"10.200.0.1/24"}, LinkUp: true},
		{Name: "node1", Role: RoleNode, Interface: "eth0", MAC: "02:00:00:00:00:0b", Addresses: []string{"10.200.0.11/24"},
			LinkUp: true, PodCIDRs: []string{"10.244.1.0/24"},
			NIC2: &NICStatus{Interface: "eth1", MAC: "02:00:00:00:01:0b", Addresses: []string{"10.204.0.11/24"}}},
	}}
	var b bytes.Buffer
	if err := st.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(b.String(), "HOST")
	var rows [][]string
	for _, l := range strings.Split(table, "\n") {
		if f := strings.Fields(l); len(f) > 0 && (f[0] == "router" || f[0] == "node1" || f[0] == "eth1") {
			rows = append(rows, f)
		}
	}
	want := [][]string{
		{"router", "router", "eth0", "up", "02:00:00:00:00:01", "10.200.0.1/24"},
		{"node1", "node", "eth0", "up", "02:00:00:00:00:0b", "10.200.0.11/24", "10.244.1.0/24"},
		{"eth1", "DOWN", "02:00:00:00:01:0b", "10.204.0.11/24"},
	}
	if len(rows) != len(want) {
		t.Fatalf("host rows %q, want %q\n%s", rows, want, b.String())
	}
	for i := range want {
		if !slices.Equal(rows[i], want[i]) {
			t.Errorf("row %d = %q, want %q", i, rows[i], want[i])
		}
	}
}

package ipam_test

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/ironlb/ironlb/internal/ipam"
)

func Example() {
	a := ipam.New()
	_, err := a.SetPools([]ipam.Pool{{
		Name:       "default",
		AutoAssign: true,
		Ranges: []ipam.Range{
			ipam.PrefixRange(netip.MustParsePrefix("192.0.2.0/30")),
			ipam.PrefixRange(netip.MustParsePrefix("2001:db8::/126")),
		},
	}})
	if err != nil {
		panic(err)
	}

	req, err := ipam.ParseServiceRequest(map[string]string{"metallb.universe.tf/allow-shared-ip": "dns"}, "")
	if err != nil {
		panic(err)
	}
	dns := ipam.Service{
		Key: "kube-system/dns-tcp", Namespace: "kube-system",
		FamilyPolicy: ipam.RequireDualStack, Families: []ipam.Family{ipam.IPv6, ipam.IPv4},
		Request: req, Ports: []ipam.Port{{Protocol: "TCP", Port: 53}},
	}
	al, _ := a.Allocate(dns)
	fmt.Println(al.IPs, al.Pool)

	dns.Key, dns.Ports = "kube-system/dns-udp", []ipam.Port{{Protocol: "UDP", Port: 53}}
	al, _ = a.Allocate(dns)
	fmt.Println(al.IPs, al.Pool)

	_, err = a.Allocate(ipam.Service{Key: "default/web", Namespace: "default", Request: ipam.Request{
		IPs: []netip.Addr{netip.MustParseAddr("192.0.2.0")},
	}})
	var e ipam.Error
	if errors.As(err, &e) {
		fmt.Println(e.Reason()+":", e)
	}
	u, _ := a.Usage("default")
	fmt.Printf("IPv4 %d assigned, %d available\n", u.IPv4.Assigned, u.IPv4.Available)
	// Output:
	// [2001:db8:: 192.0.2.0] default
	// [2001:db8:: 192.0.2.0] default
	// IPAlreadyInUse: address 192.0.2.0 is already held by Service kube-system/dns-tcp; request another address, or give both Services the same allow-shared-ip annotation
	// IPv4 1 assigned, 3 available
}

/*
Copyright The ironlb Authors.

Licensed under the Apache License, Version 2.0.
*/

package v1beta1_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestIPAddressPoolRules(t *testing.T) {
	runRuleCases(t, "IPAddressPool", "spec", []ruleCase{
		{name: "IPv4 CIDR", spec: "addresses: [192.168.10.0/24]"},
		{name: "IPv6 CIDR", spec: "addresses: ['2001:db8:1::/120']"},
		{name: "single address as /32 and /128", spec: "addresses: [192.168.10.7/32, '2001:db8::7/128']"},
		{name: "IPv4 range", spec: "addresses: [192.168.10.10-192.168.10.20]"},
		{name: "range with spaces", spec: "addresses: ['192.168.10.10 - 192.168.10.20']"},
		{name: "one-address range", spec: "addresses: [192.168.10.10-192.168.10.10]"},
		{name: "range across octets", spec: "addresses: [10.0.0.250-10.0.1.5]"},
		{name: "IPv6 range", spec: "addresses: ['2001:db8::1-2001:db8::ff']"},
		{name: "mixed families", spec: "addresses: [192.168.10.0/24, '2001:db8::/64', 10.0.0.1-10.0.0.9]"},
		{name: "all fields", spec: `
addresses: [192.168.10.0/24]
autoAssign: false
avoidBuggyIPs: true
serviceAllocation:
  priority: 10
  namespaces: [web, db]
  namespaceSelectors:
  - matchLabels: {team: a}
  serviceSelectors:
  - matchExpressions:
    - {key: tier, operator: In, values: [frontend]}
`},
		{name: "no addresses", spec: "addresses: []", want: []string{"spec.addresses", "at least 1"}},
		{name: "addresses missing", spec: "autoAssign: true", want: []string{"spec.addresses", "Required"}},
		{name: "bare address", spec: "addresses: [192.168.10.7]", want: []string{"spec.addresses[0]", `"192.168.10.7" is neither a CIDR`}},
		{name: "garbage", spec: "addresses: [pool-a]", want: []string{"spec.addresses[0]", `"pool-a" is neither a CIDR`}},
		{name: "bad octet", spec: "addresses: [192.168.10.300/24]", want: []string{"spec.addresses[0]", "is neither a CIDR"}},
		{name: "prefix too long", spec: "addresses: [192.168.10.0/33]", want: []string{"is neither a CIDR"}},
		{name: "host bits set", spec: "addresses: [10.0.0.0/8, 192.168.10.1/24]", want: []string{"spec.addresses[1]", `"192.168.10.1/24" has bits set after its prefix length`, "192.168.10.0/24"}},
		{name: "IPv6 host bits set", spec: "addresses: ['2001:db8::1/64']", want: []string{"has bits set after its prefix length"}},
		{name: "three-part range", spec: "addresses: [10.0.0.1-10.0.0.2-10.0.0.3]", want: []string{"is neither a CIDR"}},
		{name: "range end not an IP", spec: "addresses: [10.0.0.1-10.0.0]", want: []string{"is neither a CIDR"}},
		{name: "range of CIDRs", spec: "addresses: [10.0.0.0/24-10.0.1.0/24]", want: []string{"is neither a CIDR"}},
		{name: "range mixing families", spec: "addresses: ['10.0.0.1-2001:db8::1']", want: []string{"spec.addresses[0]", "mixes an IPv4 and an IPv6 address"}},
		{name: "IPv4 range backwards", spec: "addresses: [192.168.10.20-192.168.10.10]", want: []string{"spec.addresses[0]", `"192.168.10.20-192.168.10.10" starts above where it ends`}},
		{name: "IPv4 range backwards across octets", spec: "addresses: [10.0.1.0-10.0.0.255]", want: []string{"starts above where it ends"}},
		{name: "IPv4-mapped IPv6", spec: "addresses: ['::ffff:10.0.0.0/120']", want: []string{"is neither a CIDR"}},
		{name: "duplicate entries", spec: "addresses: [10.0.0.0/24, 10.0.0.0/24]", want: []string{"spec.addresses[1]", "Duplicate value"}},
		{name: "negative priority", spec: "addresses: [10.0.0.0/24]\nserviceAllocation: {priority: -1}", want: []string{"spec.serviceAllocation.priority"}},
		{name: "namespace name too long", spec: "addresses: [10.0.0.0/24]\nserviceAllocation: {namespaces: [" + long(64) + "]}", want: []string{"spec.serviceAllocation.namespaces[0]", "more than 63 bytes"}},
	})
}

func TestIPAddressPoolDefaults(t *testing.T) {
	v := newObjectValidator(t, loadCRDs(t)["IPAddressPool"])
	obj := decode(t, objectYAML("IPAddressPool", "spec", "addresses: [10.0.0.0/24]"))
	if errs := v.validate(obj, nil); len(errs) > 0 {
		t.Fatalf("rejected: %s", errorText(errs))
	}
	want := map[string]any{"addresses": []any{"10.0.0.0/24"}, "autoAssign": true, "avoidBuggyIPs": false, "allowCrossNamespaceSharing": false}
	if diff := cmp.Diff(want, obj["spec"]); diff != "" {
		t.Errorf("defaulted spec (-want +got):\n%s", diff)
	}
}

func TestL2AdvertisementRules(t *testing.T) {
	runRuleCases(t, "L2Advertisement", "spec", []ruleCase{
		{name: "empty spec announces everything", spec: ""},
		{name: "all fields", spec: `
ipAddressPools: [pool-a, pool-b]
ipAddressPoolSelectors:
- matchLabels: {zone: a}
nodeSelectors:
- matchLabels: {kubernetes.io/hostname: node-1}
interfaces: [eth0, bond0.100]
`},
		{name: "interface name too long", spec: "interfaces: [a-very-long-ifname]", want: []string{"spec.interfaces[0]", "more than 15 bytes"}},
		{name: "empty pool name", spec: "ipAddressPools: ['']", want: []string{"spec.ipAddressPools[0]"}},
		{name: "duplicate pool", spec: "ipAddressPools: [a, a]", want: []string{"Duplicate value"}},
		{name: "lease fencing, default duration", spec: "leaseFencing: {}"},
		{name: "lease fencing 30s", spec: "leaseFencing: {leaseDuration: 30s}"},
		{name: "lease too short", spec: "leaseFencing: {leaseDuration: 1500ms}", want: []string{"spec.leaseFencing.leaseDuration 1500ms must be from 2s to 60s"}},
		{name: "lease too long", spec: "leaseFencing: {leaseDuration: 2m}", want: []string{"must be from 2s to 60s"}},
		{name: "lease not a duration", spec: "leaseFencing: {leaseDuration: soon}", want: []string{"is not a duration such as 6s"}},
	})
}

// TestL2AdvertisementLeaseDefault: leaseFencing: {} gets the 6 s Lease.
func TestL2AdvertisementLeaseDefault(t *testing.T) {
	v := newObjectValidator(t, loadCRDs(t)["L2Advertisement"])
	obj := decode(t, objectYAML("L2Advertisement", "spec", "leaseFencing: {}"))
	if errs := v.validate(obj, nil); len(errs) > 0 {
		t.Fatalf("rejected: %s", errorText(errs))
	}
	want := map[string]any{"leaseFencing": map[string]any{"leaseDuration": "6s"}}
	if diff := cmp.Diff(want, obj["spec"]); diff != "" {
		t.Errorf("defaulted spec (-want +got):\n%s", diff)
	}
}

// long returns a string of n letters.
func long(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a'
	}
	return string(b)
}

/*
Copyright The ironlb Authors.

Licensed under the Apache License, Version 2.0.
*/

package v1beta1_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBGPAdvertisementRules(t *testing.T) {
	runRuleCases(t, "BGPAdvertisement", "spec", []ruleCase{
		{name: "empty spec", spec: ""},
		{name: "all fields", spec: `
aggregationLength: 24
aggregationLengthV6: 64
localPref: 100
communities: ['64512:100', 'large:64512:1:2', no-advertise]
ipAddressPools: [pool-a]
ipAddressPoolSelectors:
- matchLabels: {zone: a}
nodeSelectors:
- matchLabels: {rack: r1}
peers: [tor-1, tor-2]
`},
		{name: "aggregation 0", spec: "aggregationLength: 0\naggregationLengthV6: 0"},
		{name: "community bounds", spec: "communities: ['0:0', '65535:65535', 'large:4294967295:4294967295:0']"},
		{name: "aggregationLength 33", spec: "aggregationLength: 33", want: []string{"spec.aggregationLength", "less than or equal to 32"}},
		{name: "aggregationLength negative", spec: "aggregationLength: -1", want: []string{"spec.aggregationLength", "greater than or equal to 0"}},
		{name: "aggregationLengthV6 129", spec: "aggregationLengthV6: 129", want: []string{"spec.aggregationLengthV6", "less than or equal to 128"}},
		{name: "localPref negative", spec: "localPref: -1", want: []string{"spec.localPref"}},
		{name: "standard community part too big", spec: "communities: ['65536:1']", want: []string{"spec.communities[0]", `"65536:1" is not a community`}},
		{name: "standard community too many digits", spec: "communities: ['1:1234567']", want: []string{`"1:1234567" is not a community`}},
		{name: "three-part standard community", spec: "communities: ['1:2:3']", want: []string{`"1:2:3" is not a community`}},
		{name: "large community part too big", spec: "communities: ['large:4294967296:1:1']", want: []string{`"large:4294967296:1:1" is not a community`}},
		{name: "large community two parts", spec: "communities: ['large:1:2']", want: []string{`"large:1:2" is not a community`}},
		{name: "upper-case large", spec: "communities: ['LARGE:1:2:3']", want: []string{"is not a community"}},
		{name: "negative community part", spec: "communities: ['-1:5']", want: []string{"is not a community"}},
		{name: "white space", spec: "communities: ['no advertise']", want: []string{"spec.communities[0]", "white space"}},
		{name: "duplicate community", spec: "communities: ['1:1', '1:1']", want: []string{"Duplicate value"}},
		{name: "duplicate peer", spec: "peers: [a, a]", want: []string{"spec.peers[1]", "Duplicate value"}},
	})
}

func TestBGPAdvertisementDefaults(t *testing.T) {
	v := newObjectValidator(t, loadCRDs(t)["BGPAdvertisement"])
	obj := decode(t, objectYAML("BGPAdvertisement", "spec", ""))
	if errs := v.validate(obj, nil); len(errs) > 0 {
		t.Fatalf("rejected: %s", errorText(errs))
	}
	want := map[string]any{"aggregationLength": int64(32), "aggregationLengthV6": int64(128)}
	if diff := cmp.Diff(want, obj["spec"]); diff != "" {
		t.Errorf("defaulted spec (-want +got):\n%s", diff)
	}
}

func TestBGPPeerRules(t *testing.T) {
	const base = "myASN: 64512\npeerASN: 64513\npeerAddress: 192.168.1.1\n"
	runRuleCases(t, "BGPPeer", "spec", []ruleCase{
		{name: "minimal", spec: base},
		{name: "IPv6 peer", spec: "myASN: 64512\npeerASN: 64513\npeerAddress: '2001:db8::1'\nsourceAddress: '2001:db8::10'"},
		{name: "all fields", spec: `
myASN: 4200000000
peerASN: 4294967295
peerAddress: 192.168.1.1
sourceAddress: 192.168.1.10
peerPort: 1179
holdTime: 90s
keepaliveTime: 30s
connectTime: 10s
routerID: 10.0.0.1
nodeSelectors:
- matchLabels: {rack: r1}
passwordSecret: {name: bgp-secret, namespace: ironlb-system}
bfdProfile: fast
enableGracefulRestart: true
ebgpMultiHop: true
vrf: red
disableMP: false
dualStackAddressFamily: true
`},
		{name: "unnumbered with dynamic ASN", spec: "myASN: 64512\ndynamicASN: external\ninterface: eth1"},
		{name: "hold time disabled", spec: base + "holdTime: 0s\nkeepaliveTime: 0s"},
		{name: "hold time in minutes", spec: base + "holdTime: 3m\nkeepaliveTime: 1m"},
		{name: "plain password", spec: base + "password: s3cret"},
		{name: "myASN missing", spec: "peerASN: 64513\npeerAddress: 192.168.1.1", want: []string{"spec.myASN", "Required"}},
		{name: "myASN 0", spec: "myASN: 0\npeerASN: 1\npeerAddress: 10.0.0.1", want: []string{"spec.myASN", "greater than or equal to 1"}},
		{name: "myASN above 32 bits", spec: "myASN: 4294967296\npeerASN: 1\npeerAddress: 10.0.0.1", want: []string{"spec.myASN", "less than or equal to 4294967295"}},
		{name: "peerASN 0", spec: "myASN: 1\npeerASN: 0\npeerAddress: 10.0.0.1", want: []string{"spec.peerASN", "greater than or equal to 1"}},
		{name: "no peer ASN", spec: "myASN: 1\npeerAddress: 10.0.0.1", want: []string{"exactly one of spec.peerASN and spec.dynamicASN"}},
		{name: "both peer ASN and dynamic", spec: base + "dynamicASN: internal", want: []string{"exactly one of spec.peerASN and spec.dynamicASN"}},
		{name: "bad dynamic ASN", spec: "myASN: 1\ndynamicASN: any\npeerAddress: 10.0.0.1", want: []string{"spec.dynamicASN", "Unsupported value"}},
		{name: "no address", spec: "myASN: 1\npeerASN: 2", want: []string{"exactly one of spec.peerAddress and spec.interface"}},
		{name: "address and interface", spec: base + "interface: eth1", want: []string{"exactly one of spec.peerAddress and spec.interface"}},
		{name: "bad peer address", spec: "myASN: 1\npeerASN: 2\npeerAddress: 192.168.1.300", want: []string{"spec.peerAddress", "192.168.1.300 is not an IP address"}},
		{name: "peer address with zone", spec: "myASN: 1\npeerASN: 2\npeerAddress: 'fe80::1%eth0'", want: []string{"spec.peerAddress", "is not an IP address"}},
		{name: "host name", spec: "myASN: 1\npeerASN: 2\npeerAddress: router.example", want: []string{"spec.peerAddress", "is not an IP address"}},
		{name: "bad source address", spec: base + "sourceAddress: me", want: []string{"spec.sourceAddress", "me is not an IP address"}},
		{name: "source family differs", spec: base + "sourceAddress: '2001:db8::10'", want: []string{"spec.sourceAddress 2001:db8::10 and spec.peerAddress 192.168.1.1 must be of the same address family"}},
		{name: "port 0", spec: base + "peerPort: 0", want: []string{"spec.peerPort", "greater than or equal to 1"}},
		{name: "port 65536", spec: base + "peerPort: 65536", want: []string{"spec.peerPort", "less than or equal to 65535"}},
		{name: "hold time 2s", spec: base + "holdTime: 2s", want: []string{"spec.holdTime", "2s must be 0s or whole seconds from 3s to 65535s"}},
		{name: "hold time too long", spec: base + "holdTime: 20h", want: []string{"spec.holdTime", "must be 0s or whole seconds"}},
		{name: "hold time fraction", spec: base + "holdTime: 90.5s", want: []string{"spec.holdTime", "whole seconds"}},
		{name: "hold time not a duration", spec: base + "holdTime: ninety", want: []string{"spec.holdTime", "ninety is not a duration"}},
		{name: "hold time negative", spec: base + "holdTime: -90s", want: []string{"spec.holdTime", "is not a duration"}},
		{name: "keepalive over hold", spec: base + "holdTime: 30s\nkeepaliveTime: 40s", want: []string{"spec.keepaliveTime", "40s must not exceed spec.holdTime 30s"}},
		{name: "keepalive fraction", spec: base + "keepaliveTime: 1500ms", want: []string{"spec.keepaliveTime", "whole seconds"}},
		{name: "connect time 0", spec: base + "connectTime: 0s", want: []string{"spec.connectTime", "whole seconds from 1s to 65535s"}},
		{name: "router ID IPv6", spec: base + "routerID: '2001:db8::1'", want: []string{"spec.routerID", "is not an IPv4 address"}},
		{name: "password and secret", spec: base + "password: x\npasswordSecret: {name: s}", want: []string{"spec.password and spec.passwordSecret are mutually exclusive"}},
		{name: "password too long", spec: base + "password: " + long(81), want: []string{"spec.password", "more than 80 bytes"}},
		{name: "secret without name", spec: base + "passwordSecret: {namespace: ironlb-system}", want: []string{"spec.passwordSecret.name", "Required"}},
		{name: "vrf name too long", spec: base + "vrf: " + long(16), want: []string{"spec.vrf", "more than 15 bytes"}},
	})
}

func TestBGPPeerDefaults(t *testing.T) {
	v := newObjectValidator(t, loadCRDs(t)["BGPPeer"])
	obj := decode(t, objectYAML("BGPPeer", "spec", "myASN: 64512\npeerASN: 64513\npeerAddress: 192.168.1.1"))
	if errs := v.validate(obj, nil); len(errs) > 0 {
		t.Fatalf("rejected: %s", errorText(errs))
	}
	want := map[string]any{
		"myASN": int64(64512), "peerASN": int64(64513), "peerAddress": "192.168.1.1",
		"peerPort": int64(179), "disableMP": false, "dualStackAddressFamily": false,
	}
	if diff := cmp.Diff(want, obj["spec"]); diff != "" {
		t.Errorf("defaulted spec (-want +got):\n%s", diff)
	}
}

func TestBFDProfileRules(t *testing.T) {
	runRuleCases(t, "BFDProfile", "spec", []ruleCase{
		{name: "empty spec", spec: ""},
		{name: "all fields at bounds", spec: `
receiveInterval: 10
transmitInterval: 60000
detectMultiplier: 255
echoInterval: 10
echoMode: true
passiveMode: true
minimumTtl: 1
`},
		{name: "receive interval too short", spec: "receiveInterval: 9", want: []string{"spec.receiveInterval", "greater than or equal to 10"}},
		{name: "transmit interval too long", spec: "transmitInterval: 60001", want: []string{"spec.transmitInterval", "less than or equal to 60000"}},
		{name: "multiplier 1", spec: "detectMultiplier: 1", want: []string{"spec.detectMultiplier", "greater than or equal to 2"}},
		{name: "multiplier 256", spec: "detectMultiplier: 256", want: []string{"spec.detectMultiplier", "less than or equal to 255"}},
		{name: "echo interval 0", spec: "echoInterval: 0", want: []string{"spec.echoInterval"}},
		{name: "minimum TTL 255", spec: "minimumTtl: 255", want: []string{"spec.minimumTtl", "less than or equal to 254"}},
		{name: "minimum TTL 0", spec: "minimumTtl: 0", want: []string{"spec.minimumTtl", "greater than or equal to 1"}},
	})
}

func TestBFDProfileDefaults(t *testing.T) {
	v := newObjectValidator(t, loadCRDs(t)["BFDProfile"])
	obj := decode(t, objectYAML("BFDProfile", "spec", ""))
	if errs := v.validate(obj, nil); len(errs) > 0 {
		t.Fatalf("rejected: %s", errorText(errs))
	}
	want := map[string]any{
		"receiveInterval": int64(300), "transmitInterval": int64(300), "detectMultiplier": int64(3),
		"echoInterval": int64(50), "echoMode": false, "passiveMode": false, "minimumTtl": int64(254),
	}
	if diff := cmp.Diff(want, obj["spec"]); diff != "" {
		t.Errorf("defaulted spec (-want +got):\n%s", diff)
	}
}

func TestCommunityRules(t *testing.T) {
	runRuleCases(t, "Community", "spec", []ruleCase{
		{name: "aliases", spec: `
communities:
- {name: no-advertise, value: '65535:65282'}
- {name: NO_EXPORT, value: '65535:65281'}
- {name: big, value: 'large:64512:1:2'}
`},
		{name: "empty", spec: ""},
		{name: "alias value is not a community", spec: "communities: [{name: a, value: '65536:1'}]", want: []string{"spec.communities[0].value", `community value "65536:1" is neither`}},
		{name: "alias of an alias", spec: "communities: [{name: a, value: other}]", want: []string{"spec.communities[0].value", "is neither"}},
		{name: "alias name with colon", spec: "communities: [{name: 'a:b', value: '1:1'}]", want: []string{"spec.communities[0].name", `alias name "a:b" must not contain a colon`}},
		{name: "alias name with space", spec: "communities: [{name: 'a b', value: '1:1'}]", want: []string{"spec.communities[0].name", "white space"}},
		{name: "alias without value", spec: "communities: [{name: a}]", want: []string{"spec.communities[0].value", "Required"}},
		{name: "duplicate alias name", spec: "communities: [{name: a, value: '1:1'}, {name: a, value: '2:2'}]", want: []string{"spec.communities[1]", "Duplicate value"}},
	})
}

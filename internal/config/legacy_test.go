package config

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"sigs.k8s.io/yaml"
)

func TestParseLegacyFull(t *testing.T) {
	b, err := os.ReadFile("testdata/legacy-bgp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := ParseLegacyDocument(b)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Namespace != "ironlb-system" || doc.Name != "config" {
		t.Errorf("document = %s/%s", doc.Namespace, doc.Name)
	}
	cfg, err := ParseLegacy([]byte(doc.Config))
	if err != nil {
		t.Fatal(err)
	}
	want := LegacyConfig{
		Peers: []LegacyPeer{
			{
				PeerAddress: "10.0.0.1", PeerASN: 64501, MyASN: 64500, HoldTime: "120s", KeepaliveTime: "40s",
				RouterID: "10.0.0.100", BFDProfile: "fast",
				NodeSelectors: []LegacyNodeSelector{{
					MatchLabels:      map[string]string{"rack": "frontend"},
					MatchExpressions: []LegacySelectorRequirement{{Key: "network-speed", Operator: "NotIn", Values: []string{"slow"}}},
				}},
			},
			{PeerAddress: "10.0.0.2", PeerASN: 64502, MyASN: 64500, PeerPort: 1179, SourceAddress: "10.0.0.50", Password: "s3cret", EBGPMultiHop: true},
		},
		BGPCommunities: map[string]string{"no-advertise": "65535:65282", "backbone": "64500:100"},
		BFDProfiles: []LegacyBFDProfile{{
			Name: "fast", ReceiveInterval: ptr[uint32](100), TransmitInterval: ptr[uint32](100), DetectMultiplier: ptr[uint32](5),
			EchoMode: ptr(false), PassiveMode: ptr(true), MinimumTTL: ptr[uint32](10),
		}},
		Pools: []LegacyAddressPool{
			{
				Name: "bgp-pool", Protocol: "bgp", Addresses: []string{"198.51.100.0/24", "2001:db8:1::/120"},
				BGPAdvertisements: []LegacyBGPAdvertisement{
					{AggregationLength: ptr[int32](32), LocalPref: ptr[uint32](100), Communities: []string{"no-advertise"}},
					{AggregationLength: ptr[int32](24), AggregationLengthV6: ptr[int32](120), Communities: []string{"backbone", "64500:200"}},
				},
			},
			{Name: "bgp-plain", Protocol: "bgp", AvoidBuggyIPs: true, AllowCrossNamespaceSharing: true, AutoAssign: ptr(false), Addresses: []string{"203.0.113.10-203.0.113.20"}},
		},
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("ParseLegacy (-want +got):\n%s", diff)
	}
}

func TestParseLegacyErrors(t *testing.T) {
	tests := []struct {
		name, text string
		field, msg string
	}{
		{"unknown key", "address-pools:\n- name: a\n  protocol: layer2\n  adresses: [10.0.0.0/24]\n", "address-pools[0].adresses", `unknown key "adresses"; valid keys here are name, protocol, addresses, auto-assign`},
		{"unknown top-level key", "peer-autodiscovery: {}\n", "peer-autodiscovery", "valid keys here are peers, bgp-communities, address-pools, bfd-profiles"},
		{"unknown nested key", "peers:\n- peer-address: 10.0.0.1\n  node-selectors:\n  - match-label: {a: b}\n", "peers[0].node-selectors[0].match-label", "valid keys here are match-labels, match-expressions"},
		{"wrong type", "peers:\n- peer-asn: many\n", "peers.peer-asn", "a string cannot go here; this key takes a whole number from 0 to 4294967295"},
		{"not a list", "address-pools: default\n", "address-pools", "this key takes a list"},
		{"duplicate key", "address-pools: []\naddress-pools: []\n", "", "already set"},
		{"broken YAML", "address-pools: [ {name: x", "", "not valid YAML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseLegacy([]byte(tt.text))
			var pe *LegacyParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseLegacy = %v, want a *LegacyParseError", err)
			}
			if pe.Field != tt.field || !strings.Contains(pe.Message, tt.msg) {
				t.Errorf("error = field %q message %q; want field %q and a message containing %q", pe.Field, pe.Message, tt.field, tt.msg)
			}
		})
	}
}

func TestParseLegacyTolerance(t *testing.T) {
	cfg, err := ParseLegacy([]byte("peers:\n- password: 12345\n  router-id: 10.0.0.1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Peers[0].Password != "12345" {
		t.Errorf("password = %q, want the number read as text", cfg.Peers[0].Password)
	}
	for _, empty := range []string{"", "\n", "# nothing\n", "{}"} {
		if _, err := ParseLegacy([]byte(empty)); err != nil {
			t.Errorf("ParseLegacy(%q): %v", empty, err)
		}
	}
}

func TestParseLegacyDocument(t *testing.T) {
	tests := []struct {
		name, doc string
		want      LegacyDocument
		err       string
	}{
		{name: "ConfigMap", doc: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config, namespace: metallb-system}\ndata:\n  config: |\n    address-pools: []\n",
			want: LegacyDocument{Namespace: "metallb-system", Name: "config", Config: "address-pools: []\n"}},
		{name: "bare", doc: "address-pools: []\n", want: LegacyDocument{Config: "address-pools: []\n"}},
		{name: "no config key", doc: "kind: ConfigMap\nmetadata: {name: c, namespace: ns1}\ndata: {other: x}\n", err: `ConfigMap ns1/c has no key "config" (it has [other])`},
		{name: "other kind", doc: "kind: Secret\n", err: `"Secret" is not a ConfigMap`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseLegacyDocument([]byte(tt.doc))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseLegacyDocument = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// TestLegacyEntryProblems checks that problems in legacy entries name the
// entry and use the legacy key names.
func TestLegacyEntryProblems(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"hold time", "peers:\n- peer-address: 10.0.0.1\n  my-asn: 1\n  peer-asn: 2\n  hold-time: abc\n",
			`BGPPeer "peer-10-0-0-1" (ConfigMap ironlb-system/config peers[0]): hold-time "abc": not a duration`},
		{"short hold time", "peers:\n- peer-address: 10.0.0.1\n  my-asn: 1\n  peer-asn: 2\n  hold-time: 1s\n",
			`(ConfigMap ironlb-system/config peers[0]): hold-time "1s": must be 0s (no hold timer) or whole seconds from 3s to 65535s`},
		{"missing my-asn", "peers:\n- peer-address: 10.0.0.1\n  peer-asn: 2\n",
			`(ConfigMap ironlb-system/config peers[0]): my-asn: missing`},
		{"missing peer-address", "peers:\n- my-asn: 1\n  peer-asn: 2\n",
			`BGPPeer "peer-0" (ConfigMap ironlb-system/config peers[0]): peer-address: missing`},
		{"bad operator", "peers:\n- peer-address: 10.0.0.1\n  my-asn: 1\n  peer-asn: 2\n  node-selectors:\n  - match-expressions:\n    - {key: a, operator: near}\n",
			`node-selectors[0].match-expressions[0].operator "near": unknown operator`},
		{"missing protocol", "address-pools:\n- name: a\n  addresses: [10.0.0.0/24]\n",
			`IPAddressPool "a" (ConfigMap ironlb-system/config address-pools[0]): protocol: missing; set layer2 or bgp`},
		{"unknown protocol", "address-pools:\n- name: a\n  protocol: arp\n  addresses: [10.0.0.0/24]\n",
			`protocol "arp": unknown protocol; valid protocols are layer2 and bgp`},
		{"bgp-advertisements on layer2", "address-pools:\n- name: a\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n  bgp-advertisements: [{localpref: 1}]\n",
			`bgp-advertisements is only valid in a pool with protocol: bgp`},
		{"missing name", "address-pools:\n- protocol: layer2\n  addresses: [10.0.0.0/24]\n",
			`IPAddressPool (ConfigMap ironlb-system/config address-pools[0]): name: missing`},
		{"no addresses", "address-pools:\n- name: a\n  protocol: layer2\n",
			`addresses: no addresses`},
		{"bad address", "address-pools:\n- name: a\n  protocol: layer2\n  addresses: [10.0.0.1]\n",
			`(ConfigMap ironlb-system/config address-pools[0]): addresses[0] "10.0.0.1": a single address needs a prefix length: write 10.0.0.1/32`},
		{"aggregation", "address-pools:\n- name: a\n  protocol: bgp\n  addresses: [10.0.0.0/24]\n  bgp-advertisements: [{aggregation-length: 8}]\n",
			`BGPAdvertisement "a" (ConfigMap ironlb-system/config address-pools[0].bgp-advertisements[0]): aggregation-length "8": is shorter than the /24`},
		{"community alias", "address-pools:\n- name: a\n  protocol: bgp\n  addresses: [10.0.0.0/24]\n  bgp-advertisements: [{communities: [nope]}]\n",
			`communities[0] "nope": no Community defines the alias "nope"`},
		{"community value", "bgp-communities: {x: '1:2:3'}\n",
			`Community "bgp-communities" (ConfigMap ironlb-system/config bgp-communities): x "1:2:3": a community is AA:NN`},
		{"bfd range", "bfd-profiles:\n- name: f\n  detect-multiplier: 300\n",
			`BFDProfile "f" (ConfigMap ironlb-system/config bfd-profiles[0]): detect-multiplier "300": must be 2 to 255`},
		{"duplicate pool", "address-pools:\n- {name: a, protocol: layer2, addresses: [10.0.0.0/24]}\n- {name: a, protocol: layer2, addresses: [10.0.1.0/24]}\n",
			`IPAddressPool "a" (ConfigMap ironlb-system/config address-pools[1]): name "a": another IPAddressPool named "a" is defined by ConfigMap ironlb-system/config address-pools[0]`},
		{"duplicate peer", "peers:\n- {peer-address: 10.0.0.1, my-asn: 1, peer-asn: 2}\n- {peer-address: 10.0.0.1, my-asn: 1, peer-asn: 3}\n",
			`BGPPeer "peer-10-0-0-1-1" (ConfigMap ironlb-system/config peers[1]): peer-address "10.0.0.1": BGPPeer "peer-10-0-0-1-0" already opens a session`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Build(Input{Legacy: legacy(tt.text)})
			wantProblems(t, r, []string{tt.want})
		})
	}
}

func FuzzParseLegacy(f *testing.F) {
	for _, file := range []string{"legacy-bgp.yaml", "legacy-mixed.yaml", "legacy-layer2.yaml", "legacy-layer2-range.yaml"} {
		b, err := os.ReadFile("testdata/" + file)
		if err != nil {
			f.Fatal(err)
		}
		doc, err := ParseLegacyDocument(b)
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(doc.Config))
	}
	f.Add([]byte("address-pools: [{name: a, protocol: layer2, addresses: ['10.0.0.0/24']}]\npeers: [{peer-address: 'fd00::1', my-asn: 1, peer-asn: 2, hold-time: 3s}]\n"))
	f.Add([]byte("bgp-communities: {a: '1:2'}\nbfd-profiles: [{name: x, echo-mode: true}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseLegacy(data)
		if err != nil {
			return
		}
		out, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", cfg, err)
		}
		again, err := ParseLegacy(out)
		if err != nil {
			t.Fatalf("re-parsing %q: %v", out, err)
		}
		if diff := cmp.Diff(cfg, again, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip differs (-first +second):\n%s", diff)
		}
		// Build must not panic on whatever parses; idempotence and
		// determinism are covered by TestBuildIsDeterministicAndIdempotent.
		r := Build(Input{Legacy: legacy(string(data))})
		if r.Snapshot == nil {
			t.Fatal("Build returned no Snapshot")
		}
	})
}

package config

import (
	"fmt"
	"strings"
	"testing"
)

// checkDoc runs what `ironlb config validate` runs on one document and
// returns every problem's text.
func checkDoc(t *testing.T, doc string) []string {
	t.Helper()
	m := Manifests{Input: Input{Namespace: DefaultNamespace}}
	m.Add("f.yaml", []byte(doc))
	_, problems := m.Check()
	var out []string
	for _, p := range problems {
		out = append(out, p.Error())
	}
	return out
}

func crYAML(kind, spec string) string {
	return "apiVersion: ironlb.io/v1beta1\nkind: " + kind + "\nmetadata: {name: x, namespace: ironlb-system}\nspec: " + spec + "\n"
}

// TestValidateRefusesWhatTheAPIServerRefuses covers what `config validate`
// used to accept and the API server refuses: a repeated entry in each list
// the CRDs declare a set (or a map), and an address with spaces around it.
func TestValidateRefusesWhatTheAPIServerRefuses(t *testing.T) {
	peer := "myASN: 64500, peerASN: 64501, "
	tests := []struct {
		name, kind, spec string
		want             string // substring of the one problem
	}{
		{"pool addresses", KindIPAddressPool, "{addresses: [10.0.0.0/24, 10.0.0.0/24]}",
			`IPAddressPool "x" (f.yaml document 1): spec.addresses[1] "10.0.0.0/24": Duplicate value`},
		{"pool namespaces", KindIPAddressPool, "{addresses: [10.0.0.0/24], serviceAllocation: {namespaces: [a, b, a]}}",
			`spec.serviceAllocation.namespaces[2] "a": Duplicate value`},
		{"L2 pools", KindL2Advertisement, "{ipAddressPools: [a, a]}",
			`L2Advertisement "x" (f.yaml document 1): spec.ipAddressPools[1] "a": Duplicate value`},
		{"L2 interfaces", KindL2Advertisement, "{interfaces: [eth0, eth0]}",
			`spec.interfaces[1] "eth0": Duplicate value`},
		{"BGP pools", KindBGPAdvertisement, "{ipAddressPools: [a, a]}",
			`BGPAdvertisement "x" (f.yaml document 1): spec.ipAddressPools[1] "a": Duplicate value`},
		{"BGP peers", KindBGPAdvertisement, "{peers: [r, r]}",
			`spec.peers[1] "r": Duplicate value`},
		{"BGP communities", KindBGPAdvertisement, "{communities: ['64512:1', '64512:1']}",
			`spec.communities[1] "64512:1": Duplicate value`},
		{"community aliases", KindCommunity, "{communities: [{name: a, value: '1:1'}, {name: a, value: '1:2'}]}",
			`Community "x" (f.yaml document 1): spec.communities[1]: Duplicate value: an earlier entry has the same name "a"`},
		{"leading space", KindIPAddressPool, "{addresses: [' 10.0.0.0/24']}",
			`spec.addresses[0] " 10.0.0.0/24": " 10.0.0.0/24" is neither a CIDR`},
		{"trailing space in a CIDR", KindIPAddressPool, "{addresses: ['10.0.0.0/24 ']}",
			`spec.addresses[0] "10.0.0.0/24 ": "10.0.0.0/24 " is neither a CIDR`},
		{"peer address with a space", KindBGPPeer, "{" + peer + "peerAddress: ' 10.0.0.1'}",
			`spec.peerAddress " 10.0.0.1": spec.peerAddress  10.0.0.1 is not an IP address`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkDoc(t, crYAML(tt.kind, tt.spec))
			if len(got) != 1 || !strings.Contains(got[0], tt.want) {
				t.Errorf("problems:\n%s\nwant one containing %q", strings.Join(got, "\n"), tt.want)
			}
		})
	}
}

// TestCheckCRAsTheAPIServer pins the API server's behaviour that CheckCR
// reproduces beyond the schema itself.
func TestCheckCRAsTheAPIServer(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string // substrings of the problems, in order; none: accepted
	}{
		{"valid", crYAML(KindIPAddressPool, "{addresses: [10.0.0.0/24]}"), nil},
		{"no namespace is fine", "apiVersion: ironlb.io/v1beta1\nkind: BFDProfile\nmetadata: {name: f}\n", nil},
		{"status is dropped on create", crYAML(KindIPAddressPool, "{addresses: [10.0.0.0/24]}") + "status: {assignedIPv4: -5}\n", nil},
		{"unknown fields end the check", crYAML(KindIPAddressPool, "{adresses: [10.0.0.0/24]}") + "extra: 1\n",
			[]string{`extra: unknown field; valid fields here are apiVersion, kind, metadata, spec, status`,
				`spec.adresses: unknown field; valid fields here are addresses, allowCrossNamespaceSharing, autoAssign, avoidBuggyIPs, serviceAllocation`}},
		{"unknown metadata field", "apiVersion: ironlb.io/v1beta1\nkind: Community\nmetadata: {name: c, label: {a: b}}\n",
			[]string{`metadata.label: unknown field`}},
		{"unknown status field", crYAML(KindIPAddressPool, "{addresses: [10.0.0.0/24]}") + "status: {used: 1}\n",
			[]string{`status.used: unknown field`}},
		{"bad name", "apiVersion: ironlb.io/v1beta1\nkind: Community\nmetadata: {name: Bad_Name}\n",
			[]string{`metadata.name "Bad_Name": a lowercase RFC 1123 subdomain`}},
		{"missing name", "apiVersion: ironlb.io/v1beta1\nkind: Community\nmetadata: {namespace: x}\n",
			[]string{`metadata.name: Required value: name or generateName is required`, `some validation rules were not checked`}},
		{"spaces around a range's ends", crYAML(KindIPAddressPool, "{addresses: [' 10.0.0.1 - 10.0.0.9 ']}"), nil},
		{"bad label", "apiVersion: ironlb.io/v1beta1\nkind: Community\nmetadata: {name: c, labels: {'a b': c}}\n",
			[]string{`metadata.labels: name part must consist of alphanumeric characters`}},
		{"CEL skipped after a type error", crYAML(KindIPAddressPool, "{addresses: [10.0.0.0/24, 5], autoAssign: yes-please}"),
			[]string{`spec.addresses[1] "5": Invalid value: spec.addresses[1] in body must be of type string`,
				`spec.autoAssign "yes-please": Invalid value: spec.autoAssign in body must be of type boolean`, `some validation rules were not checked`}},
		{"limits, in field order", crYAML(KindBGPPeer, "{myASN: 0, peerASN: 4294967296, peerAddress: 10.0.0.1, peerPort: 0}"),
			[]string{`spec.myASN "0": spec.myASN in body should be greater than or equal to 1`, `spec.peerASN "4294967296": spec.peerASN in body should be less than or equal to 4294967295`,
				`spec.peerPort "0": spec.peerPort in body should be greater than or equal to 1`}},
		{"object rule", crYAML(KindBGPPeer, "{myASN: 1, peerAddress: 10.0.0.1}"),
			[]string{`spec: exactly one of spec.peerASN and spec.dynamicASN must be set`}},
		{"defaults before CEL", crYAML(KindBGPPeer, "{myASN: 1, peerASN: 2, peerAddress: 10.0.0.1, keepaliveTime: 100s}"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range CheckCR([]byte(tt.doc), "") {
				got = append(got, p.Error())
			}
			if len(got) != len(tt.want) {
				t.Fatalf("problems:\n%s\nwant %d: %q", strings.Join(got, "\n"), len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want %q", i, got[i], w)
				}
			}
		})
	}
}

// TestRefusedCRIsLeftOut checks that a CR the API server refuses is not
// given to Build: it could not exist in a cluster, so an advertisement
// naming it finds no pool.
func TestRefusedCRIsLeftOut(t *testing.T) {
	got := checkDoc(t, crYAML(KindIPAddressPool, "{addresses: [10.0.0.0/24, 10.0.0.0/24]}")+"---\n"+
		strings.Replace(crYAML(KindL2Advertisement, "{ipAddressPools: [x]}"), "name: x", "name: l2", 1))
	want := []string{`IPAddressPool "x" (f.yaml document 1): spec.addresses[1] "10.0.0.0/24": Duplicate value`,
		`L2Advertisement "l2" (f.yaml document 2): spec.ipAddressPools[0] "x": no IPAddressPool named "x"`}
	if len(got) != len(want) {
		t.Fatalf("problems:\n%s", strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("problem %d = %q, want %q", i, got[i], w)
		}
	}
}

// TestLegacyDuplicateCommunity: MetalLB v0.12 refused a community listed
// twice in one advertisement; so do Build and ConvertLegacy, which would
// otherwise print a BGPAdvertisement the API server refuses.
func TestLegacyDuplicateCommunity(t *testing.T) {
	text := "address-pools:\n- name: a\n  protocol: bgp\n  addresses: [10.0.0.0/24]\n  bgp-advertisements:\n  - communities: ['64512:1', 'x', '64512:1']\n" +
		"bgp-communities: {x: '64512:2'}\n"
	want := `BGPAdvertisement "a" (ConfigMap ironlb-system/config address-pools[0].bgp-advertisements[0]): communities[2] "64512:1": listed twice in this advertisement (also communities[0])`
	wantProblems(t, Build(Input{Legacy: legacy(text)}), []string{want})

	cfg, err := ParseLegacy([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	_, errs := ConvertLegacy(cfg, "")
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), `(legacy configuration address-pools[0].bgp-advertisements[0]): communities[2] "64512:1": listed twice`) {
		t.Errorf("ConvertLegacy problems = %v", errs)
	}
}

// TestConvertLegacyOutputPassesTheAPIServer checks the objects
// ConvertLegacy returns without problems against the CRDs, and that what
// the legacy format lets through but the API server would not is either
// normalised (spaces around addresses) or refused naming the entry.
func TestConvertLegacyOutputPassesTheAPIServer(t *testing.T) {
	text := "address-pools:\n- name: a\n  protocol: layer2\n  addresses: [' 10.0.0.0/24', '10.0.1.1 - 10.0.1.9 ']\n" +
		"peers:\n- {peer-address: ' 10.0.0.1 ', source-address: '10.0.0.2 ', router-id: ' 10.0.0.3', my-asn: 1, peer-asn: 2}\n"
	cfg, err := ParseLegacy([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if r := Build(Input{Legacy: legacy(text)}); !r.Valid() {
		t.Fatalf("Build: %v", r.Problems())
	}
	objs, errs := ConvertLegacy(cfg, "")
	if len(errs) > 0 {
		t.Fatalf("ConvertLegacy: %v", errs)
	}
	if p := objs.BGPPeers[0].Spec; p.PeerAddress != "10.0.0.1" || p.SourceAddress != "10.0.0.2" || p.RouterID != "10.0.0.3" {
		t.Errorf("peer addresses not trimmed: %+v", p)
	}

	var long []string
	for i := range 257 {
		long = append(long, fmt.Sprintf("10.1.%d.%d/32", i/256, i%256))
	}
	text = "address-pools:\n- name: a\n  protocol: layer2\n  addresses: [" + strings.Join(long, ", ") + "]\n"
	if cfg, err = ParseLegacy([]byte(text)); err != nil {
		t.Fatal(err)
	}
	_, errs = ConvertLegacy(cfg, "")
	if len(errs) != 2 || !strings.Contains(errs[0].Error(), `IPAddressPool "a" (legacy configuration address-pools[0]): addresses: the API server would refuse the converted IPAddressPool: Too many: must have at most 256 items`) {
		t.Errorf("ConvertLegacy problems = %v", errs)
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/testkit"
)

const testdata = "../../internal/config/testdata/"

// runConfig runs `ironlb config args...` and returns stdout, stderr and the
// exit code main would use.
func runConfig(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCommand()
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"--log-format", "text", "config"}, args...))
	err := root.Execute()
	var ec exitCodeError
	switch {
	case err == nil:
	case errors.As(err, &ec):
		code = ec.code
	default:
		t.Fatalf("config %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func validateJSON(t *testing.T, files ...string) (validateReport, int) {
	t.Helper()
	args := []string{"validate", "-o", "json"}
	for _, f := range files {
		args = append(args, "-f", f)
	}
	out, _, code := runConfig(t, args...)
	var rep struct {
		Pools []struct {
			Name       string
			IPv4, IPv6 json.Number
		}
		Errors []errorReport
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	var r validateReport
	r.Errors = rep.Errors
	for _, p := range rep.Pools {
		r.Pools = append(r.Pools, poolReport{Name: p.Name, IPv4: mustBig(t, p.IPv4), IPv6: mustBig(t, p.IPv6)})
	}
	return r, code
}

func mustBig(t *testing.T, n json.Number) *bigInt {
	t.Helper()
	b, ok := new(bigInt).SetString(string(n), 10)
	if !ok {
		t.Fatalf("%q is not an integer", n)
	}
	return b
}

func TestConfigValidateClassicConfigMap(t *testing.T) {
	for file, want := range map[string]string{"legacy-layer2.yaml": "16", "legacy-layer2-range.yaml": "11"} {
		rep, code := validateJSON(t, testdata+file)
		if code != 0 || len(rep.Errors) != 0 {
			t.Fatalf("%s: exit %d, errors %v", file, code, rep.Errors)
		}
		if len(rep.Pools) != 1 || rep.Pools[0].Name != "default" || rep.Pools[0].IPv4.String() != want || rep.Pools[0].IPv6.Sign() != 0 {
			t.Errorf("%s: pools %+v, want default with %s IPv4 addresses", file, rep.Pools, want)
		}
	}
	out, _, code := runConfig(t, "validate", "-f", testdata+"legacy-layer2.yaml")
	if code != 0 || !strings.Contains(out, "default  16    0") || !strings.Contains(out, "valid: no problems found") {
		t.Errorf("text output (exit %d):\n%s", code, out)
	}
}

func TestConfigValidateQuickstartExample(t *testing.T) {
	rep, code := validateJSON(t, "../../examples/quickstart/config.yaml")
	if code != 0 || len(rep.Pools) != 1 || rep.Pools[0].IPv4.String() != "11" || rep.Pools[0].IPv6.String() != "17" {
		t.Errorf("exit %d, report %+v", code, rep)
	}
}

func TestConfigValidateInvalid(t *testing.T) {
	f := writeFile(t, "pools.yaml", `
apiVersion: ironlb.io/v1beta1
kind: IPAddressPool
metadata: {name: a, creationTimestamp: "2025-01-01T00:00:00Z"}
spec: {addresses: [10.0.0.0/24]}
---
apiVersion: ironlb.io/v1beta1
kind: IPAddressPool
metadata: {name: b, creationTimestamp: "2025-01-02T00:00:00Z"}
spec: {addresses: [10.0.0.128/25]}
---
apiVersion: ironlb.io/v1beta1
kind: L2Advertisement
metadata: {name: l2}
spec: {ipAddressPools: [a], interfaces: [eth0], typo: 1}
`)
	rep, code := validateJSON(t, f)
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if len(rep.Pools) != 1 || rep.Pools[0].Name != "a" {
		t.Errorf("pools %+v, want a only", rep.Pools)
	}
	want := []errorReport{
		{Object: "L2Advertisement/l2 (" + f + " document 3)", Field: "spec.typo", Message: `unknown field; valid fields here are interfaces, ipAddressPoolSelectors, ipAddressPools, leaseFencing, nodeSelectors`},
		{Object: "IPAddressPool/b (" + f + " document 2)", Field: "spec.addresses[0]", Message: `"10.0.0.128/25": overlaps 10.0.0.0/24 of IPAddressPool "a"`},
	}
	if len(rep.Errors) != len(want) {
		t.Fatalf("errors %+v, want %d", rep.Errors, len(want))
	}
	for i, w := range want {
		g := rep.Errors[i]
		if g.Object != w.Object || g.Field != w.Field || !strings.Contains(g.Message, w.Message) {
			t.Errorf("error %d = %+v, want %+v", i, g, w)
		}
	}
	out, _, _ := runConfig(t, "validate", "-f", f)
	if !strings.Contains(out, "2 problem(s):") || !strings.Contains(out, `IPAddressPool "b"`) {
		t.Errorf("text output:\n%s", out)
	}
}

func TestConfigValidateMetalLBKindsAndSecrets(t *testing.T) {
	f := writeFile(t, "metallb.yaml", `
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: pool, namespace: metallb-system}
spec: {addresses: ["192.168.10.0/24", "fc00:f853:ccd:e799::/124"]}
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: router, namespace: metallb-system}
spec:
  myASN: 64500
  peerASN: 64501
  peerAddress: 10.0.0.1
  passwordSecret: {name: bgp-auth, namespace: metallb-system}
---
apiVersion: v1
kind: Secret
metadata: {name: bgp-auth, namespace: metallb-system}
type: kubernetes.io/basic-auth
stringData: {password: s3cret}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: adv, namespace: metallb-system}
spec: {ipAddressPools: [pool], peers: [router], aggregationLength: 24}
---
apiVersion: v1
kind: Service
metadata: {name: unrelated}
`)
	rep, code := validateJSON(t, f)
	if code != 0 || len(rep.Errors) != 0 {
		t.Fatalf("exit %d, errors %+v", code, rep.Errors)
	}
	if len(rep.Pools) != 1 || rep.Pools[0].IPv4.String() != "256" || rep.Pools[0].IPv6.String() != "16" {
		t.Errorf("pools %+v", rep.Pools)
	}
	_, stderr, _ := runConfig(t, "validate", "-f", f)
	if !strings.Contains(stderr, "skipped") || !strings.Contains(stderr, "Service") {
		t.Errorf("stderr %q, want a note about the skipped Service", stderr)
	}
}

// TestConfigConvertThenValidate proves that converting a legacy file and
// validating the CRs it prints gives the Snapshot the legacy file gives.
func TestConfigConvertThenValidate(t *testing.T) {
	opts := cmp.Options{cmpopts.IgnoreTypes(config.Origin{}), cmpopts.EquateComparable(netip.Addr{})}
	for _, file := range []string{"legacy-layer2.yaml", "legacy-layer2-range.yaml", "legacy-bgp.yaml", "legacy-mixed.yaml"} {
		t.Run(file, func(t *testing.T) {
			legacyData, err := os.ReadFile(testdata + file)
			if err != nil {
				t.Fatal(err)
			}
			var direct config.Manifests
			direct.Add(file, legacyData)
			want := config.Build(direct.Input)
			if len(direct.Problems) > 0 || !want.Valid() {
				t.Fatalf("legacy: %v %v", direct.Problems, want.Problems())
			}

			out, stderr, code := runConfig(t, "convert", "-f", testdata+file)
			if code != 0 {
				t.Fatalf("convert exit %d: %s", code, stderr)
			}
			var converted config.Manifests
			converted.Add("converted.yaml", []byte(out))
			got := config.Build(converted.Input)
			if len(converted.Problems) > 0 || !got.Valid() || converted.Input.Legacy != nil {
				t.Fatalf("converted: %v %v\n%s", converted.Problems, got.Problems(), out)
			}
			if diff := cmp.Diff(want.Snapshot, got.Snapshot, opts); diff != "" {
				t.Errorf("Snapshots differ (-legacy +converted):\n%s", diff)
			}

			wantRep, _ := validateJSON(t, testdata+file)
			gotRep, code := validateJSON(t, writeFile(t, "converted.yaml", out))
			if code != 0 || !cmp.Equal(wantRep, gotRep, cmp.Comparer(func(a, b *bigInt) bool { return a.Cmp(b) == 0 })) {
				t.Errorf("validate on the converted CRs: exit %d, %+v; want %+v", code, gotRep, wantRep)
			}
		})
	}
}

func TestConfigConvertRefusesInvalid(t *testing.T) {
	f := writeFile(t, "bad.yaml", "address-pools:\n- name: a\n  protocol: layer2\n  addresses: [10.0.0.9-10.0.0.1]\n")
	out, stderr, code := runConfig(t, "convert", "-f", f)
	if code != 1 || out != "" || !strings.Contains(stderr, `addresses[0] "10.0.0.9-10.0.0.1"`) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	f = writeFile(t, "names.yaml", "address-pools:\n- name: Bad_Name\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n")
	if _, stderr, code := runConfig(t, "convert", "-f", f, "--namespace", "lb"); code != 1 || !strings.Contains(stderr, "cannot be the name of a Kubernetes object") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestConfigConvertNamespace(t *testing.T) {
	out, _, code := runConfig(t, "convert", "-f", testdata+"legacy-layer2.yaml", "--namespace", "lb")
	if code != 0 || !strings.Contains(out, "namespace: lb") || strings.Contains(out, "creationTimestamp") || strings.Contains(out, "status") {
		t.Errorf("exit %d, output:\n%s", code, out)
	}
}

type bigInt = big.Int

// TestConfigValidateRefusesDuplicatesAndSpaces covers what the API server
// refuses and `config validate` used to accept: a repeated entry in each
// set or map list of the CRDs, and a pool address with a leading space.
func TestConfigValidateRefusesDuplicatesAndSpaces(t *testing.T) {
	tests := []struct {
		name, kind, spec string
		want             errorReport
	}{
		{"pool addresses", "IPAddressPool", "{addresses: [10.0.0.0/24, 10.0.0.0/24]}",
			errorReport{Field: "spec.addresses[1]", Message: `"10.0.0.0/24": Duplicate value`}},
		{"pool namespaces", "IPAddressPool", "{addresses: [10.0.0.0/24], serviceAllocation: {namespaces: [web, web]}}",
			errorReport{Field: "spec.serviceAllocation.namespaces[1]", Message: `"web": Duplicate value`}},
		{"L2 pools", "L2Advertisement", "{ipAddressPools: [p, p]}",
			errorReport{Field: "spec.ipAddressPools[1]", Message: `"p": Duplicate value`}},
		{"L2 interfaces", "L2Advertisement", "{interfaces: [eth0, eth0]}",
			errorReport{Field: "spec.interfaces[1]", Message: `"eth0": Duplicate value`}},
		{"BGP pools", "BGPAdvertisement", "{ipAddressPools: [p, p]}",
			errorReport{Field: "spec.ipAddressPools[1]", Message: `"p": Duplicate value`}},
		{"BGP peers", "BGPAdvertisement", "{peers: [r, r]}",
			errorReport{Field: "spec.peers[1]", Message: `"r": Duplicate value`}},
		{"BGP communities", "BGPAdvertisement", "{communities: ['64512:1', '64512:1']}",
			errorReport{Field: "spec.communities[1]", Message: `"64512:1": Duplicate value`}},
		{"community aliases", "Community", "{communities: [{name: a, value: '1:1'}, {name: a, value: '1:2'}]}",
			errorReport{Field: "spec.communities[1]", Message: `Duplicate value: an earlier entry has the same name "a"`}},
		{"leading space", "IPAddressPool", "{addresses: [' 10.0.0.0/24']}",
			errorReport{Field: "spec.addresses[0]", Message: `" 10.0.0.0/24": " 10.0.0.0/24" is neither a CIDR`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := writeFile(t, "cr.yaml", "apiVersion: ironlb.io/v1beta1\nkind: "+tt.kind+"\nmetadata: {name: x}\nspec: "+tt.spec+"\n")
			rep, code := validateJSON(t, f)
			want := tt.want
			want.Object = tt.kind + "/x (" + f + " document 1)"
			if code != 1 || len(rep.Errors) != 1 || rep.Errors[0].Object != want.Object || rep.Errors[0].Field != want.Field || !strings.Contains(rep.Errors[0].Message, want.Message) {
				t.Errorf("exit %d, errors %+v; want %+v", code, rep.Errors, want)
			}
		})
	}
}

// TestConfigConvertRefusesDuplicateCommunity: a community listed twice in
// one advertisement (refused by MetalLB v0.12) is refused, naming the
// entry, instead of printing a BGPAdvertisement the API server refuses.
func TestConfigConvertRefusesDuplicateCommunity(t *testing.T) {
	f := writeFile(t, "dup.yaml", "address-pools:\n- name: a\n  protocol: bgp\n  addresses: [10.0.0.0/24]\n  bgp-advertisements:\n  - communities: ['64512:1', '64512:1']\n")
	out, stderr, code := runConfig(t, "convert", "-f", f)
	want := `BGPAdvertisement "a" (ConfigMap ironlb-system/config address-pools[0].bgp-advertisements[0]): communities[1] "64512:1": listed twice in this advertisement (also communities[0])`
	if code != 1 || out != "" || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stdout %q, stderr %q; want %q", code, out, stderr, want)
	}
	if rep, code := validateJSON(t, f); code != 1 || len(rep.Errors) != 1 || rep.Errors[0].Field != "communities[1]" {
		t.Errorf("validate: exit %d, errors %+v", code, rep.Errors)
	}
}

// TestConfigConvertPrintsWhatTheAPIServerAccepts: spaces around legacy
// addresses, which the legacy format allows and the CRDs do not, are
// removed; what cannot be repaired is refused, naming the entry.
func TestConfigConvertPrintsWhatTheAPIServerAccepts(t *testing.T) {
	f := writeFile(t, "spaces.yaml", "address-pools:\n- {name: a, protocol: layer2, addresses: [' 10.0.0.0/24']}\npeers:\n- {peer-address: ' 10.0.0.1', my-asn: 1, peer-asn: 2}\n")
	out, stderr, code := runConfig(t, "convert", "-f", f)
	if code != 0 || !strings.Contains(out, "- 10.0.0.0/24\n") || !strings.Contains(out, "peerAddress: 10.0.0.1\n") {
		t.Fatalf("exit %d, stderr %q, output:\n%s", code, stderr, out)
	}
	converted := writeFile(t, "converted.yaml", out)
	if rep, code := validateJSON(t, converted); code != 0 {
		t.Errorf("validate on the converted CRs: exit %d, %+v", code, rep.Errors)
	}

	f = writeFile(t, "long.yaml", "peers:\n- {peer-address: 10.0.0.1, my-asn: 1, peer-asn: 2, password: "+strings.Repeat("p", 81)+"}\n")
	out, stderr, code = runConfig(t, "convert", "-f", f)
	if code != 1 || out != "" || !strings.Contains(stderr, `BGPPeer "peer-10-0-0-1" (`) || !strings.Contains(stderr, "password") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// TestConfigValidateHelmValues validates the values file of docs/install.md's
// Helm path, as written there.
func TestConfigValidateHelmValues(t *testing.T) {
	md, err := os.ReadFile("../../docs/install.md")
	if err != nil {
		t.Fatal(err)
	}
	var values string
	for _, b := range testkit.YAMLBlocks(string(md)) {
		if strings.Contains(b, "# values.yaml") {
			values = b
		}
	}
	if values == "" {
		t.Fatal("no values.yaml block in docs/install.md")
	}
	rep, code := validateJSON(t, writeFile(t, "values.yaml", values))
	if code != 0 || len(rep.Pools) != 1 || rep.Pools[0].IPv4.String() != "11" {
		t.Errorf("exit %d, report %+v", code, rep)
	}
}

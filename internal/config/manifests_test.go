package config

import (
	"strings"
	"testing"
)

func TestManifests(t *testing.T) {
	var m Manifests
	m.Add("a.yaml", []byte(`
apiVersion: v1
kind: List
items:
- apiVersion: metallb.io/v1beta1
  kind: IPAddressPool
  metadata: {name: p, namespace: metallb-system, resourceVersion: "12", uid: x}
  spec: {addresses: [10.0.0.0/24]}
  status: {assignedIPv4: 1}
- apiVersion: metallb.io/v1beta2
  kind: BGPPeer
  metadata: {name: r}
  spec: {myASN: 1, peerASN: 2, peerAddress: 10.0.0.1}
---
# only a comment
---
apiVersion: v1
kind: Secret
metadata: {name: s}
type: kubernetes.io/basic-auth
stringData: {password: pw}
data: {username: dXNlcg==}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: kube-proxy}
data: {mode: ipvs}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: config, namespace: metallb-system}
data:
  config: |
    address-pools: []
---
address-pools: []
---
apiVersion: metallb.io/v1alpha1
kind: IPAddressPool
metadata: {name: old}
---
apiVersion: metallb.io/v1beta1
kind: AddressPool
metadata: {name: older}
---
apiVersion: ironlb.io/v1beta1
kind: L2Advertisement
metadata: {name: l2}
spec: {nodeSelector: {}}
---
- just
- a list
---
apiVersion: ironlb.io/v1beta1
kind: ServiceL2Status
metadata: {name: st}
`))
	in := m.Input
	if len(in.IPAddressPools) != 1 || in.IPAddressPools[0].Spec.Addresses[0] != "10.0.0.0/24" || len(in.BGPPeers) != 1 {
		t.Errorf("CRs = %+v %+v", in.IPAddressPools, in.BGPPeers)
	}
	if len(in.Secrets) != 1 || string(in.Secrets[0].Data["password"]) != "pw" || string(in.Secrets[0].Data["username"]) != "user" {
		t.Errorf("Secrets = %+v", in.Secrets)
	}
	if in.Legacy == nil || in.Legacy.Namespace != "metallb-system" || in.Legacy.Config != "address-pools: []\n" {
		t.Errorf("Legacy = %+v", in.Legacy)
	}
	if got := in.Sources[ObjectKey{Kind: KindBGPPeer, Name: "r"}]; got != "a.yaml document 1 items[1]" {
		t.Errorf("source of the peer = %q", got)
	}
	wantProblems := []string{
		`ConfigMap (a.yaml document 6): a second legacy configuration`,
		`IPAddressPool "old" (a.yaml document 7): apiVersion metallb.io/v1alpha1 is not supported`,
		`AddressPool "older" (a.yaml document 8): AddressPool is MetalLB's removed kind`,
		`L2Advertisement "l2" (a.yaml document 9): spec.nodeSelector: unknown field; valid fields here are interfaces, ipAddressPoolSelectors, ipAddressPools, leaseFencing, nodeSelectors`,
		`document (a.yaml document 10): not a mapping`,
	}
	var got []string
	for _, p := range m.Problems {
		got = append(got, p.Error())
	}
	if len(got) != len(wantProblems) {
		t.Fatalf("problems:\n%s", strings.Join(got, "\n"))
	}
	for i, w := range wantProblems {
		if !strings.Contains(got[i], w) {
			t.Errorf("problem %d = %q, want %q", i, got[i], w)
		}
	}
	if len(m.Skipped) != 2 || !strings.Contains(m.Skipped[0], "kube-proxy") || !strings.Contains(m.Skipped[1], "ServiceL2Status") {
		t.Errorf("skipped = %v", m.Skipped)
	}
}

// TestManifestsHelmValues reads a values file as the chart renders it: the
// README's Helm path puts the legacy configuration under configInline.
func TestManifestsHelmValues(t *testing.T) {
	m := Manifests{Input: Input{Namespace: "lb"}}
	m.Add("values.yaml", []byte(`
controller: {replicas: 1}
configInline:
  address-pools:
  - name: default
    protocol: layer2
    addresses: [192.168.1.240-192.168.1.250]
ipAddressPools:
- name: extra
  spec: {addresses: [10.0.0.0/28]}
l2Advertisements:
- name: extra
`))
	res, problems := m.Check()
	if len(problems) > 0 || len(m.Skipped) > 0 {
		t.Fatalf("problems %v, skipped %v", problems, m.Skipped)
	}
	if m.Input.Legacy == nil || m.Input.Legacy.Name != DefaultLegacyName || !strings.Contains(m.Input.Legacy.Config, "address-pools") {
		t.Errorf("configInline not read as the legacy ConfigMap: %+v", m.Input.Legacy)
	}
	if got := poolNames(res.Snapshot); len(got) != 2 {
		t.Errorf("pools %v, want default and extra", got)
	}
	if len(m.Input.L2Advertisements) != 1 || m.Input.IPAddressPools[0].Namespace != "lb" {
		t.Errorf("CRs from the values: %+v %+v", m.Input.IPAddressPools, m.Input.L2Advertisements)
	}

	// A string configInline, a bad item, and a values file without
	// configuration.
	m = Manifests{}
	m.Add("values.yaml", []byte("configInline: |\n  address-pools: [{name: a, protocol: layer2, addresses: [10.1.0.0/30]}]\nipAddressPools:\n- spec: {addresses: [10.2.0.0/30]}\n- name: p\n  sepc: {}\n"))
	_, problems = m.Check()
	var texts []string
	for _, p := range problems {
		texts = append(texts, p.Error())
	}
	all := strings.Join(texts, "\n")
	for _, want := range []string{"ipAddressPools[0]): each item is {name, spec} with a name", `ipAddressPools[1]): unknown key "sepc"`} {
		if !strings.Contains(all, want) {
			t.Errorf("problems do not say %q:\n%s", want, all)
		}
	}
	if m.Input.Legacy == nil {
		t.Errorf("a string configInline was not read")
	}
	m = Manifests{}
	m.Add("values.yaml", []byte("controller: {replicas: 2}\n"))
	if _, problems = m.Check(); len(problems) > 0 || len(m.Skipped) != 1 {
		t.Errorf("values without configuration: problems %v, skipped %v", problems, m.Skipped)
	}
}

// FuzzManifests feeds `ironlb config validate` input: any bytes as a file
// of YAML documents (CRs, Lists, Secrets, ConfigMaps, legacy configuration,
// Helm values). Reading and checking must never panic, and Build always
// returns a Snapshot.
func FuzzManifests(f *testing.F) {
	for _, seed := range []string{
		"configInline: {address-pools: [{name: a, protocol: layer2, addresses: [10.0.0.0/30]}]}\nipAddressPools: [{name: b, spec: {addresses: [10.1.0.0/30]}}]\n",
		"configInline: 7\nl2Advertisements: x\n",
		"address-pools: [{name: a, protocol: layer2, addresses: [10.0.0.0/30]}]\n",
		"apiVersion: v1\nkind: List\nitems: [{apiVersion: ironlb.io/v1beta1, kind: IPAddressPool, metadata: {name: p}, spec: {addresses: [fd00::/120]}}]\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config}\ndata: {config: 'peers: []'}\n---\n- not a mapping\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m Manifests
		m.Add("f.yaml", data)
		if res, _ := m.Check(); res.Snapshot == nil {
			t.Fatal("Check returned no Snapshot")
		}
	})
}

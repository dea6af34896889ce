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
		`L2Advertisement "l2" (a.yaml document 9): spec.nodeSelector: unknown field; valid fields here are interfaces, ipAddressPoolSelectors, ipAddressPools, nodeSelectors`,
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

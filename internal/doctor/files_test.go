package doctor

import (
	"slices"
	"strings"
	"testing"
)

func TestFiles(t *testing.T) {
	f := NewFiles("ironlb-system")
	// kubectl get ... -o json: a List in JSON.
	f.Add("dump.json", []byte(`{"apiVersion":"v1","kind":"List","items":[
	  {"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}},
	  {"apiVersion":"networking.k8s.io/v1","kind":"ServiceCIDR","metadata":{"name":"kubernetes"},"spec":{"cidrs":["10.96.0.0/16"]}},
	  {"apiVersion":"v1","kind":"Event","metadata":{"name":"e","namespace":"default"},"involvedObject":{"kind":"Node","name":"n1"},"reason":"BGPSessionUp"}]}`))
	f.Add("more.yaml", []byte(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ipaddresspools.metallb.io}
spec: {group: metallb.io}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: kube-system}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: other, namespace: default}
data: {x: y}
---
apiVersion: v1
kind: Namespace
metadata: {name: n}
---
apiVersion: ironlb.io/v1beta1
kind: IPAddressPool
metadata: {name: a, namespace: ironlb-system}
spec: {addresses: [10.0.0.0/24]}
`))
	in, skipped := f.Input()
	if len(in.Nodes) != 1 || len(in.ServiceCIDRs) != 1 || len(in.Events) != 1 || len(in.Pods) != 1 || len(in.CRDs) != 1 || len(in.Config.IPAddressPools) != 1 {
		t.Errorf("read %d Nodes, %d ServiceCIDRs, %d Events, %d Pods, %d CRDs, %d pools", len(in.Nodes), len(in.ServiceCIDRs), len(in.Events), len(in.Pods), len(in.CRDs), len(in.Config.IPAddressPools))
	}
	if in.CRDs[0].Group != "metallb.io" || in.CRDs[0].Objects != -1 {
		t.Errorf("CRD %+v, want group metallb.io, objects not counted", in.CRDs[0])
	}
	var parts []string
	for p, ok := range in.Gathered {
		if ok {
			parts = append(parts, string(p))
		}
	}
	slices.Sort(parts)
	if got := strings.Join(parts, ","); got != "CustomResourceDefinitions,Events,Nodes,Pods,ServiceCIDRs" {
		t.Errorf("gathered %s", got)
	}
	if in.KubeProxy != nil {
		t.Error("a ConfigMap other than kube-system/kube-proxy was taken for kube-proxy's")
	}
	if len(skipped) != 1 || !strings.Contains(skipped[0], "Namespace") {
		t.Errorf("skipped %q, want the Namespace only", skipped)
	}
}

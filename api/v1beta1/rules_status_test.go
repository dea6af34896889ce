/*
Copyright The ironlb Authors.

Licensed under the Apache License, Version 2.0.
*/

package v1beta1_test

import (
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/utils/ptr"

	ironlbv1beta1 "github.com/ironlb/ironlb/api/v1beta1"
)

func TestServiceStatusRules(t *testing.T) {
	runRuleCases(t, "ServiceL2Status", "status", []ruleCase{
		{name: "L2 status", spec: "node: node-1\nserviceName: web\nserviceNamespace: shop\ninterfaces: [{name: eth0}, {name: eth1}]"},
		{name: "interface name too long", spec: "node: n\ninterfaces: [{name: " + long(16) + "}]", want: []string{"status.interfaces[0].name"}},
	})
	runRuleCases(t, "ServiceBGPStatus", "status", []ruleCase{
		{name: "BGP status", spec: "node: node-1\nserviceName: web\nserviceNamespace: shop\npeers: [tor-1, tor-2]"},
		{name: "duplicate peer", spec: "node: n\npeers: [a, a]", want: []string{"status.peers[1]", "Duplicate value"}},
	})
}

// TestServiceStatusImmutableFields checks that node, serviceName and
// serviceNamespace cannot change on update, while the lists can.
func TestServiceStatusImmutableFields(t *testing.T) {
	crds := loadCRDs(t)
	cases := []struct {
		kind, old, new string
		want           string // "" means the update is accepted
	}{
		{"ServiceL2Status", "node: a\nserviceName: s\nserviceNamespace: ns", "node: a\nserviceName: s\nserviceNamespace: ns\ninterfaces: [{name: eth0}]", ""},
		{"ServiceL2Status", "node: a\nserviceName: s\nserviceNamespace: ns", "node: b\nserviceName: s\nserviceNamespace: ns", "status.node is immutable"},
		{"ServiceL2Status", "node: a\nserviceName: s\nserviceNamespace: ns", "node: a\nserviceName: t\nserviceNamespace: ns", "status.serviceName is immutable"},
		{"ServiceBGPStatus", "node: a\nserviceName: s\nserviceNamespace: ns", "node: a\nserviceName: s\nserviceNamespace: ns\npeers: [p]", ""},
		{"ServiceBGPStatus", "node: a\nserviceName: s\nserviceNamespace: ns", "node: a\nserviceName: s\nserviceNamespace: other", "status.serviceNamespace is immutable"},
	}
	for _, tc := range cases {
		t.Run(tc.kind+" "+tc.want, func(t *testing.T) {
			v := newObjectValidator(t, crds[tc.kind])
			old := decode(t, objectYAML(tc.kind, "status", tc.old))
			obj := decode(t, objectYAML(tc.kind, "status", tc.new))
			got := errorText(v.validate(obj, old))
			switch {
			case tc.want == "" && got != "":
				t.Fatalf("want accepted, got: %s", got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Fatalf("want an error mentioning %q, got: %q", tc.want, got)
			}
		})
	}
}

func TestConditionsAreAMapByType(t *testing.T) {
	runRuleCases(t, "L2Advertisement", "status", []ruleCase{
		{name: "two condition types", spec: `
conditions:
- {type: Valid, status: 'True', reason: Accepted, message: '', lastTransitionTime: '2026-01-02T03:04:05Z'}
- {type: Exhausted, status: 'False', reason: AddressesAvailable, message: '', lastTransitionTime: '2026-01-02T03:04:05Z'}
`},
		{name: "same type twice", spec: `
conditions:
- {type: Valid, status: 'True', reason: Accepted, message: '', lastTransitionTime: '2026-01-02T03:04:05Z'}
- {type: Valid, status: 'False', reason: Overlap, message: '', lastTransitionTime: '2026-01-02T03:04:05Z'}
`, want: []string{"status.conditions[1]", "Duplicate value"}},
	})
}

// TestGoObjectsValidate marshals objects built with the Go types, as a client
// would send them, and checks the CRDs accept them: zero values and
// omitempty must produce valid JSON (no empty required fields, no zero ASN).
func TestGoObjectsValidate(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "sample", Namespace: "ironlb-system"}
	objects := []runtime.Object{
		&ironlbv1beta1.IPAddressPool{ObjectMeta: meta, Spec: ironlbv1beta1.IPAddressPoolSpec{
			Addresses: []string{"192.168.10.0/24", "2001:db8::1-2001:db8::ff"},
		}, Status: ironlbv1beta1.IPAddressPoolStatus{AvailableIPv4: 256}},
		&ironlbv1beta1.L2Advertisement{ObjectMeta: meta},
		&ironlbv1beta1.BGPAdvertisement{ObjectMeta: meta, Spec: ironlbv1beta1.BGPAdvertisementSpec{
			AggregationLength: ptr.To[int32](24), LocalPref: 4294967295, Communities: []string{"64512:1"},
		}},
		&ironlbv1beta1.BGPPeer{ObjectMeta: meta, Spec: ironlbv1beta1.BGPPeerSpec{
			MyASN: 4294967295, PeerASN: 64512, PeerAddress: "10.0.0.1",
			HoldTime:       &metav1.Duration{Duration: 90_000_000_000},
			PasswordSecret: &ironlbv1beta1.SecretReference{Name: "bgp"},
		}},
		&ironlbv1beta1.BGPPeer{ObjectMeta: meta, Spec: ironlbv1beta1.BGPPeerSpec{
			MyASN: 64512, DynamicASN: ironlbv1beta1.DynamicASNInternal, Interface: "eth1",
		}},
		&ironlbv1beta1.BFDProfile{ObjectMeta: meta},
		&ironlbv1beta1.Community{ObjectMeta: meta, Spec: ironlbv1beta1.CommunitySpec{
			Communities: []ironlbv1beta1.CommunityAlias{{Name: "no-export", Value: "65535:65281"}},
		}},
		&ironlbv1beta1.ServiceL2Status{ObjectMeta: meta, Status: ironlbv1beta1.L2AnnouncementStatus{
			Node: "n", ServiceName: "s", ServiceNamespace: "ns", Interfaces: []ironlbv1beta1.InterfaceInfo{{Name: "eth0"}},
		}},
		&ironlbv1beta1.ServiceBGPStatus{ObjectMeta: meta, Status: ironlbv1beta1.BGPAnnouncementStatus{
			Node: "n", ServiceName: "s", ServiceNamespace: "ns", Peers: []string{"tor"},
		}},
	}
	scheme := runtime.NewScheme()
	if err := ironlbv1beta1.AddToScheme(scheme); err != nil {
		t.Fatalf("AddToScheme: %v", err)
	}
	crds := loadCRDs(t)
	for _, o := range objects {
		gvks, _, err := scheme.ObjectKinds(o)
		if err != nil {
			t.Fatalf("kind of %T: %v", o, err)
		}
		kind := gvks[0].Kind
		t.Run(kind, func(t *testing.T) {
			data, err := json.Marshal(o)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			var obj map[string]any
			if err := utiljson.Unmarshal(data, &obj); err != nil {
				t.Fatalf("unmarshal: %v", err)
			}
			obj["apiVersion"] = ironlbv1beta1.GroupVersion.String()
			obj["kind"] = kind
			if errs := newObjectValidator(t, crds[kind]).validate(obj, nil); len(errs) > 0 {
				t.Fatalf("%s rejected: %s\n%s", kind, errorText(errs), data)
			}
		})
	}
}

package config

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestConvertLegacyNames(t *testing.T) {
	src := readLegacy(t, "legacy-bgp.yaml")
	cfg, err := ParseLegacy([]byte(src.Config))
	if err != nil {
		t.Fatal(err)
	}
	objs, errs := ConvertLegacy(cfg, "")
	if len(errs) > 0 {
		t.Fatalf("ConvertLegacy: %v", errs)
	}
	var got []string
	for _, o := range objs.IPAddressPools {
		got = append(got, "IPAddressPool/"+o.Name)
	}
	for _, o := range objs.BGPAdvertisements {
		got = append(got, "BGPAdvertisement/"+o.Name)
	}
	for _, o := range objs.BGPPeers {
		got = append(got, "BGPPeer/"+o.Name)
	}
	for _, o := range objs.BFDProfiles {
		got = append(got, "BFDProfile/"+o.Name)
	}
	for _, o := range objs.Communities {
		got = append(got, "Community/"+o.Name)
	}
	want := []string{
		"IPAddressPool/bgp-pool", "IPAddressPool/bgp-plain",
		"BGPAdvertisement/bgp-pool-0", "BGPAdvertisement/bgp-pool-1", "BGPAdvertisement/bgp-plain",
		"BGPPeer/peer-10-0-0-1", "BGPPeer/peer-10-0-0-2", "BFDProfile/fast", "Community/bgp-communities",
	}
	if !slices.Equal(got, want) {
		t.Errorf("converted objects = %v, want %v", got, want)
	}
	for _, o := range objs.IPAddressPools {
		if want := o.Name == "bgp-plain"; o.Spec.AllowCrossNamespaceSharing != want {
			t.Errorf("pool %s: allowCrossNamespaceSharing %v, want %v (allow-cross-namespace-sharing)", o.Name, o.Spec.AllowCrossNamespaceSharing, want)
		}
	}
	for _, o := range objs.BGPPeers {
		if o.Namespace != DefaultNamespace || o.APIVersion != "ironlb.io/v1beta1" || o.Kind != KindBGPPeer {
			t.Errorf("peer %s has namespace %q apiVersion %q kind %q", o.Name, o.Namespace, o.APIVersion, o.Kind)
		}
	}
}

func TestConvertLegacyRejectsBadObjectNames(t *testing.T) {
	cfg, err := ParseLegacy([]byte("address-pools:\n- name: My_Pool\n  protocol: layer2\n  addresses: [10.0.0.5/24]\n"))
	if err != nil {
		t.Fatal(err)
	}
	objs, errs := ConvertLegacy(cfg, "lb")
	if len(errs) != 1 || !contains(errs[0].Error(), `name "My_Pool": cannot be the name of a Kubernetes object`) {
		t.Errorf("errors = %v", errs)
	}
	if got := objs.IPAddressPools[0].Spec.Addresses; !slices.Equal(got, []string{"10.0.0.0/24"}) {
		t.Errorf("addresses = %v, want the host bits cleared", got)
	}
	if objs.IPAddressPools[0].Namespace != "lb" {
		t.Errorf("namespace = %q", objs.IPAddressPools[0].Namespace)
	}
	// Build itself tolerates the name, as MetalLB did.
	if r := Build(Input{Legacy: legacy(string("address-pools:\n- name: My_Pool\n  protocol: layer2\n  addresses: [10.0.0.0/24]\n"))}); !r.Valid() {
		t.Errorf("Build: %v", problemTexts(r))
	}
}

func TestPeerNamesFromLegacy(t *testing.T) {
	got := legacyPeerNames([]LegacyPeer{{PeerAddress: "10.0.0.1"}, {PeerAddress: "FD00::1"}, {PeerAddress: "10.0.0.1"}, {}})
	want := []string{"peer-10-0-0-1-0", "peer-fd00--1", "peer-10-0-0-1-2", "peer-3"}
	if !slices.Equal(got, want) {
		t.Errorf("names = %v, want %v", got, want)
	}
}

// TestConvertedEqualsLegacy checks that the CRs ConvertLegacy writes give the
// Snapshot the legacy configuration gives.
func TestConvertedEqualsLegacy(t *testing.T) {
	for _, f := range []string{"legacy-layer2.yaml", "legacy-layer2-range.yaml", "legacy-bgp.yaml", "legacy-mixed.yaml"} {
		src := readLegacy(t, f)
		direct := Build(Input{Legacy: src})
		if !direct.Valid() {
			t.Fatalf("%s: %v", f, problemTexts(direct))
		}
		cfg, err := ParseLegacy([]byte(src.Config))
		if err != nil {
			t.Fatal(err)
		}
		objs, errs := ConvertLegacy(cfg, "")
		if len(errs) > 0 {
			t.Fatalf("%s: %v", f, errs)
		}
		converted := Build(Input{Objects: objs})
		if !converted.Valid() {
			t.Fatalf("%s converted: %v", f, problemTexts(converted))
		}
		if diff := cmp.Diff(direct.Snapshot, converted.Snapshot, ignoreOrigin); diff != "" {
			t.Errorf("%s: Snapshots differ (-legacy +converted):\n%s", f, diff)
		}
	}
}

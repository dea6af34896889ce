package config

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
)

func TestInvalidEditKeepsLastValidVersion(t *testing.T) {
	prev := Build(Input{Objects: Objects{IPAddressPools: []v1beta1.IPAddressPool{pool("a", 0, "10.0.0.0/24")}}})
	if !prev.Valid() {
		t.Fatalf("setup: %v", problemTexts(prev))
	}
	r := Build(Input{
		Objects:  Objects{IPAddressPools: []v1beta1.IPAddressPool{pool("a", 0, "10.0.0.0/24", "10.0.1.9-10.0.1.1"), pool("new", 1, "bogus")}},
		Previous: prev.Snapshot,
	})
	a, ok := r.Snapshot.Pool("a")
	if !ok {
		t.Fatalf("pool a left the Snapshot; want its last valid version kept")
	}
	if !a.Origin.Stale || len(a.Origin.Problems) != 1 || len(a.Ranges) != 1 || a.Ranges[0].String() != "10.0.0.0/24" {
		t.Errorf("pool a = %+v, want the previous version, stale, with the problem attached", a)
	}
	if _, ok := r.Snapshot.Pool("new"); ok {
		t.Errorf("new invalid pool is in the Snapshot")
	}
	st := status(t, r, KindIPAddressPool, "a")
	if !st.Stale || !st.InUse || st.Condition.Status != metav1.ConditionFalse || st.Condition.Reason != v1beta1.ReasonInvalidSpec {
		t.Errorf("status of a = %+v", st)
	}
	if want := "the last valid version stays in use until this is fixed"; !contains(st.Condition.Message, want) {
		t.Errorf("message %q does not say %q", st.Condition.Message, want)
	}
	st = status(t, r, KindIPAddressPool, "new")
	if st.InUse || st.Stale || st.Condition.Status != metav1.ConditionFalse || !contains(st.Condition.Message, "not in use") {
		t.Errorf("status of new = %+v", st)
	}

	// Fixing the pool brings the current version back.
	r2 := Build(Input{Objects: Objects{IPAddressPools: []v1beta1.IPAddressPool{pool("a", 0, "10.0.0.0/24", "10.0.1.1-10.0.1.9")}}, Previous: r.Snapshot})
	a, _ = r2.Snapshot.Pool("a")
	if a.Origin.Stale || len(a.Ranges) != 2 || !r2.Valid() {
		t.Errorf("after the fix pool a = %+v, problems %v", a, problemTexts(r2))
	}
}

func TestOverlapPolicy(t *testing.T) {
	older := pool("older", 0, "10.0.0.0/24")
	newer := pool("newer", 1, "10.0.1.0/24")
	start := Build(Input{Objects: Objects{IPAddressPools: []v1beta1.IPAddressPool{older, newer}}})
	if !start.Valid() {
		t.Fatalf("setup: %v", problemTexts(start))
	}
	// The older pool is edited to overlap the newer one, which serves
	// already: the edit loses, and the older pool keeps its last version.
	edited := pool("older", 0, "10.0.0.0/23")
	r := Build(Input{Objects: Objects{IPAddressPools: []v1beta1.IPAddressPool{edited, newer}}, Previous: start.Snapshot})
	if got := poolNames(r.Snapshot); !slices.Equal(got, []string{"newer", "older"}) {
		t.Fatalf("pools = %v", got)
	}
	o, _ := r.Snapshot.Pool("older")
	if !o.Origin.Stale || o.Ranges[0].String() != "10.0.0.0/24" {
		t.Errorf("older = %+v, want its previous /24, stale", o)
	}
	st := status(t, r, KindIPAddressPool, "older")
	if st.Condition.Reason != v1beta1.ReasonOverlap || !contains(st.Condition.Message, `IPAddressPool "newer"`) {
		t.Errorf("status of older = %+v", st.Condition)
	}
	// Without history (a restart), the older pool wins.
	r = Build(Input{Objects: Objects{IPAddressPools: []v1beta1.IPAddressPool{edited, newer}}})
	if got := poolNames(r.Snapshot); !slices.Equal(got, []string{"older"}) {
		t.Errorf("pools without history = %v, want [older]", got)
	}
	if st := status(t, r, KindIPAddressPool, "newer"); st.Condition.Reason != v1beta1.ReasonOverlap {
		t.Errorf("status of newer = %+v", st.Condition)
	}
	// Equal creation times: the name decides.
	r = Build(Input{Objects: Objects{IPAddressPools: []v1beta1.IPAddressPool{pool("b", 0, "10.0.0.0/24"), pool("a", 0, "10.0.0.0/25")}}})
	if got := poolNames(r.Snapshot); !slices.Equal(got, []string{"a"}) {
		t.Errorf("pools with equal age = %v, want [a]", got)
	}
}

func TestReferenceToExcludedObject(t *testing.T) {
	r := Build(Input{Objects: Objects{
		IPAddressPools:    []v1beta1.IPAddressPool{pool("good", 0, "10.0.0.0/24"), pool("bad", 0, "nope")},
		L2Advertisements:  []v1beta1.L2Advertisement{l2("l2", "good", "bad")},
		BGPPeers:          []v1beta1.BGPPeer{peer("r1", 0, v1beta1.BGPPeerSpec{PeerAddress: "10.0.0.1", BFDProfile: "broken"})},
		BFDProfiles:       []v1beta1.BFDProfile{bfdProfile("broken", v1beta1.BFDProfileSpec{ReceiveInterval: ptr[uint32](1)})},
		Communities:       []v1beta1.Community{community("c", 0, "x", "not-a-value")},
		BGPAdvertisements: []v1beta1.BGPAdvertisement{bgpAd("ad", 0, v1beta1.BGPAdvertisementSpec{IPAddressPools: []string{"good"}, Communities: []string{"x", "1:1"}})},
	}})
	ad, ok := r.Snapshot.L2Advertisement("l2")
	if !ok || !slices.Equal(ad.Pools, []string{"good"}) {
		t.Errorf("l2 = %+v, want it in use with pool good only", ad)
	}
	p, ok := r.Snapshot.Peer("r1")
	if !ok || p.BFD != nil {
		t.Errorf("peer = %+v, want it in use without BFD", p)
	}
	bgp, ok := r.Snapshot.BGPAdvertisement("ad")
	if !ok || len(bgp.Communities) != 1 || bgp.Communities[0].String() != "1:1" {
		t.Errorf("bgp ad = %+v, want it in use with community 1:1 only", bgp)
	}
	for _, k := range []ObjectKey{{KindL2Advertisement, "l2"}, {KindBGPPeer, "r1"}, {KindBGPAdvertisement, "ad"}} {
		st := status(t, r, k.Kind, k.Name)
		if st.Condition.Status != metav1.ConditionTrue || len(st.Problems) == 0 || !st.Problems[0].Warning {
			t.Errorf("status of %v = %+v, want True with a warning", k, st)
		}
	}
}

func TestStaleAdvertisementFollowsPools(t *testing.T) {
	prev := Build(Input{Objects: Objects{
		IPAddressPools:   []v1beta1.IPAddressPool{pool("a", 0, "10.0.0.0/24"), pool("b", 0, "10.0.1.0/24")},
		L2Advertisements: []v1beta1.L2Advertisement{l2("l2", "a", "b")},
	}})
	// The advertisement breaks and pool b is deleted: the stale
	// advertisement keeps announcing a, and no longer names b.
	r := Build(Input{
		Objects: Objects{
			IPAddressPools:   []v1beta1.IPAddressPool{pool("a", 0, "10.0.0.0/24")},
			L2Advertisements: []v1beta1.L2Advertisement{l2("l2", "a", "b", "")},
		},
		Previous: prev.Snapshot,
	})
	ad, ok := r.Snapshot.L2Advertisement("l2")
	if !ok || !ad.Origin.Stale || !slices.Equal(ad.Pools, []string{"a"}) {
		t.Errorf("l2 = %+v, want stale, pools [a]", ad)
	}
}

func TestStalePeerKeepsPassword(t *testing.T) {
	spec := v1beta1.BGPPeerSpec{PeerAddress: "10.0.0.1", PasswordSecret: &v1beta1.SecretReference{Name: "pw"}}
	in := Input{Objects: Objects{BGPPeers: []v1beta1.BGPPeer{peer("r1", 0, spec)}}, Secrets: []corev1Secret{basicAuth("pw", "old")}}
	prev := Build(in)
	in.Secrets = nil
	in.Previous = prev.Snapshot
	r := Build(in)
	p, ok := r.Snapshot.Peer("r1")
	if !ok || !p.Origin.Stale || string(p.Password) != "old" {
		t.Errorf("peer = %+v, want stale with the old password", p)
	}
	if st := status(t, r, KindBGPPeer, "r1"); st.Condition.Reason != v1beta1.ReasonMissingReference {
		t.Errorf("reason = %s, want MissingReference", st.Condition.Reason)
	}
}

func TestBrokenLegacyKeepsItsObjects(t *testing.T) {
	prev := Build(Input{Legacy: readLegacy(t, "legacy-bgp.yaml")})
	if !prev.Valid() {
		t.Fatalf("setup: %v", problemTexts(prev))
	}
	r := Build(Input{Legacy: legacy("address-pools: [ {name: x"), Previous: prev.Snapshot})
	if diff := cmp.Diff(prev.Snapshot, r.Snapshot, ignoreOrigin); diff != "" {
		t.Errorf("Snapshot changed (-before +after):\n%s", diff)
	}
	for _, p := range r.Snapshot.Pools {
		if !p.Origin.Stale {
			t.Errorf("pool %s not marked stale", p.Name)
		}
	}
	st := status(t, r, KindConfigMap, "ironlb-system/config")
	if st.Condition.Status != metav1.ConditionFalse || !contains(st.Condition.Message, "not valid YAML") {
		t.Errorf("ConfigMap status = %+v", st.Condition)
	}
}

func TestBuildIsDeterministicAndIdempotent(t *testing.T) {
	for _, f := range []string{"legacy-bgp.yaml", "legacy-mixed.yaml", "legacy-layer2.yaml"} {
		in := Input{Legacy: readLegacy(t, f)}
		a, b := Build(in), Build(in)
		if diff := cmp.Diff(a, b, snapCmp); diff != "" {
			t.Errorf("%s: two Builds differ:\n%s", f, diff)
		}
		in.Previous = a.Snapshot
		c := Build(in)
		if diff := cmp.Diff(a.Snapshot, c.Snapshot, snapCmp); diff != "" {
			t.Errorf("%s: Build with itself as Previous differs:\n%s", f, diff)
		}
	}
}

func TestStatusCarriesGeneration(t *testing.T) {
	p := pool("a", 0, "10.0.0.0/24")
	p.Generation = 7
	r := Build(Input{Objects: Objects{IPAddressPools: []v1beta1.IPAddressPool{p}}})
	st := status(t, r, KindIPAddressPool, "a")
	want := metav1.Condition{Type: v1beta1.ConditionValid, Status: metav1.ConditionTrue, Reason: v1beta1.ReasonAccepted, Message: "in use", ObservedGeneration: 7}
	if diff := cmp.Diff(want, st.Condition); diff != "" {
		t.Errorf("condition (-want +got):\n%s", diff)
	}
}

// TestMigrationHandover follows docs/migration.md: the converted CRs are
// applied next to the ConfigMap, then the ConfigMap is deleted. The
// Snapshot's content never changes.
func TestMigrationHandover(t *testing.T) {
	src := readLegacy(t, "legacy-bgp.yaml")
	before := Build(Input{Legacy: src})
	cfg, err := ParseLegacy([]byte(src.Config))
	if err != nil {
		t.Fatal(err)
	}
	objs, errs := ConvertLegacy(cfg, "")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	both := Build(Input{Objects: objs, Legacy: src, Previous: before.Snapshot})
	if diff := cmp.Diff(before.Snapshot, both.Snapshot, snapCmp); diff != "" {
		t.Errorf("with both sources (-before +after):\n%s", diff)
	}
	for _, st := range both.Statuses {
		if !st.Legacy && st.Kind != KindConfigMap && st.Condition.Reason != v1beta1.ReasonDuplicate {
			t.Errorf("CR %s %s: reason %s, want Duplicate", st.Kind, st.Name, st.Condition.Reason)
		}
	}
	after := Build(Input{Objects: objs, Previous: both.Snapshot})
	if !after.Valid() {
		t.Fatalf("CRs alone: %v", problemTexts(after))
	}
	if diff := cmp.Diff(before.Snapshot, after.Snapshot, ignoreOrigin); diff != "" {
		t.Errorf("after deleting the ConfigMap (-before +after):\n%s", diff)
	}
}

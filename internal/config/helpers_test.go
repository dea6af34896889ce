package config

import (
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ironlb/ironlb/api/v1beta1"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func meta(name string, age int) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: DefaultNamespace, CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(age) * time.Hour))}
}

// pool returns an IPAddressPool created age hours after t0.
func pool(name string, age int, addrs ...string) v1beta1.IPAddressPool {
	return v1beta1.IPAddressPool{ObjectMeta: meta(name, age), Spec: v1beta1.IPAddressPoolSpec{Addresses: addrs}}
}

func l2(name string, pools ...string) v1beta1.L2Advertisement {
	return v1beta1.L2Advertisement{ObjectMeta: meta(name, 0), Spec: v1beta1.L2AdvertisementSpec{IPAddressPools: pools}}
}

func bgpAd(name string, age int, spec v1beta1.BGPAdvertisementSpec) v1beta1.BGPAdvertisement {
	return v1beta1.BGPAdvertisement{ObjectMeta: meta(name, age), Spec: spec}
}

func peer(name string, age int, spec v1beta1.BGPPeerSpec) v1beta1.BGPPeer {
	if spec.MyASN == 0 {
		spec.MyASN = 64500
	}
	if spec.PeerASN == 0 && spec.DynamicASN == "" {
		spec.PeerASN = 64501
	}
	return v1beta1.BGPPeer{ObjectMeta: meta(name, age), Spec: spec}
}

func bfdProfile(name string, spec v1beta1.BFDProfileSpec) v1beta1.BFDProfile {
	return v1beta1.BFDProfile{ObjectMeta: meta(name, 0), Spec: spec}
}

// community returns a Community from alternating alias names and values.
func community(name string, age int, kv ...string) v1beta1.Community {
	c := v1beta1.Community{ObjectMeta: meta(name, age)}
	for i := 0; i+1 < len(kv); i += 2 {
		c.Spec.Communities = append(c.Spec.Communities, v1beta1.CommunityAlias{Name: kv[i], Value: kv[i+1]})
	}
	return c
}

func basicAuth(name, password string) corev1.Secret {
	return corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: DefaultNamespace},
		Type:       corev1.SecretTypeBasicAuth,
		Data:       map[string][]byte{"password": []byte(password)},
	}
}

func ptr[T any](v T) *T { return &v }

func dur(s string) *metav1.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return &metav1.Duration{Duration: d}
}

func legacy(text string) *LegacySource {
	return &LegacySource{Namespace: DefaultNamespace, Name: DefaultLegacyName, Config: text}
}

func readLegacy(t *testing.T, file string) *LegacySource {
	t.Helper()
	b, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := ParseLegacyDocument(b)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return &LegacySource{Namespace: doc.Namespace, Name: doc.Name, Config: doc.Config}
}

// problemTexts returns the Error() of every problem.
func problemTexts(r Result) []string {
	var out []string
	for _, p := range r.Problems() {
		out = append(out, p.Error())
	}
	return out
}

// wantProblems checks that every want is a substring of some problem and
// that there are problems exactly when want is not empty.
func wantProblems(t *testing.T, r Result, want []string) {
	t.Helper()
	got := problemTexts(r)
	if len(want) == 0 && len(got) > 0 {
		t.Fatalf("want no problems, got:\n%s", strings.Join(got, "\n"))
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			if strings.Contains(g, w) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no problem contains %q; got:\n%s", w, strings.Join(got, "\n"))
		}
	}
}

func poolNames(s *Snapshot) []string {
	var out []string
	for _, p := range s.Pools {
		out = append(out, p.Name)
	}
	return out
}

func status(t *testing.T, r Result, kind, name string) ObjectStatus {
	t.Helper()
	for _, o := range r.Statuses {
		if o.Kind == kind && o.Name == name {
			return o
		}
	}
	t.Fatalf("no status for %s %q", kind, name)
	return ObjectStatus{}
}

type corev1Secret = corev1.Secret

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// ignoreOrigin compares Snapshots by content alone.
var ignoreOrigin = cmp.Options{cmpopts.IgnoreTypes(Origin{}), snapCmp}

// snapCmp compares values holding netip types.
var snapCmp = cmpopts.EquateComparable(netip.Addr{})

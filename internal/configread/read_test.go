package configread_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/api/v1beta1"
	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/configread"
	"github.com/ironlb/ironlb/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestRead lists the configuration from a real API server: the CRs and
// Secrets of the namespace only, and the legacy ConfigMap when it exists
// and has its key.
func TestRead(t *testing.T) {
	env := testenv.Shared(t)
	ctx := t.Context()
	ns, other := env.NewNamespace(t), env.NewNamespace(t)
	mk := func(namespace, name string) *v1beta1.IPAddressPool {
		return &v1beta1.IPAddressPool{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
			Spec: v1beta1.IPAddressPoolSpec{Addresses: []string{"10.80.0.0/30"}}}
	}
	for _, p := range []*v1beta1.IPAddressPool{mk(ns, "mine"), mk(other, "not-mine")} {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bgp"}, StringData: map[string]string{"password": "x"}}
	if err := env.Client.Create(ctx, sec); err != nil {
		t.Fatal(err)
	}
	legacy := types.NamespacedName{Namespace: ns, Name: "config"}

	got, err := configread.Read(ctx, env.Client, ns, legacy)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.Input.IPAddressPools); n != 1 || got.Input.IPAddressPools[0].Name != "mine" {
		t.Errorf("pools %v, want only this namespace's", got.Input.IPAddressPools)
	}
	if len(got.Input.Secrets) != 1 || got.ConfigMap != nil || got.Input.Legacy != nil || got.LegacyKeyMissing {
		t.Errorf("no ConfigMap: %+v", got)
	}

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "config"}, Data: map[string]string{"other": "x"}}
	if err := env.Client.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	if got, err = configread.Read(ctx, env.Client, ns, legacy); err != nil {
		t.Fatal(err)
	}
	if got.ConfigMap == nil || !got.LegacyKeyMissing || got.Input.Legacy != nil {
		t.Errorf("ConfigMap without its key: ConfigMap %v, key missing %v, legacy %v", got.ConfigMap != nil, got.LegacyKeyMissing, got.Input.Legacy)
	}

	cm.Data = map[string]string{"config": "address-pools: []\n"}
	if err := env.Client.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	if got, err = configread.Read(ctx, env.Client, ns, legacy); err != nil {
		t.Fatal(err)
	}
	if got.LegacyKeyMissing || got.Input.Legacy == nil || got.Input.Legacy.Config != "address-pools: []\n" || got.Input.Legacy.Name != "config" {
		t.Errorf("ConfigMap with its key: %+v", got.Input.Legacy)
	}

	if got, err = configread.Read(ctx, env.Client, ns, types.NamespacedName{}); err != nil || got.ConfigMap != nil || got.Input.Legacy != nil {
		t.Errorf("no legacy ConfigMap asked for: %+v, %v", got, err)
	}
}

// TestReadAcceptedRecord: the record the controller writes comes back as
// Input.Previous (and is no password Secret); a record that does not match
// its digest is refused, and Read builds without Previous.
func TestReadAcceptedRecord(t *testing.T) {
	env := testenv.Shared(t)
	ctx := t.Context()
	ns := env.NewNamespace(t)
	res := config.Build(config.Input{Objects: config.Objects{IPAddressPools: []v1beta1.IPAddressPool{{
		ObjectMeta: metav1.ObjectMeta{Name: "p", CreationTimestamp: metav1.Now()},
		Spec:       v1beta1.IPAddressPoolSpec{Addresses: []string{"10.81.0.0/30"}},
	}}}})
	rec, err := configread.AcceptedRecord(ns, 3, res.Snapshot)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, err := configread.Read(ctx, env.Client, ns, types.NamespacedName{})
	if err != nil || got.AcceptedErr != nil {
		t.Fatal(err, got.AcceptedErr)
	}
	if got.Accepted.Generation != 3 || got.Accepted.Digest != res.Snapshot.Digest() || got.Accepted.Secret == nil {
		t.Errorf("accepted = generation %d digest %s, want 3 and %s", got.Accepted.Generation, got.Accepted.Digest, res.Snapshot.Digest())
	}
	if got.Input.Previous == nil || got.Input.Previous.Digest() != res.Snapshot.Digest() {
		t.Errorf("Previous is not the recorded Snapshot")
	}
	if len(got.Input.Secrets) != 0 {
		t.Errorf("the record is among the Secrets Build sees: %d", len(got.Input.Secrets))
	}

	// Tampered: another digest in the annotation.
	rec.Annotations[configread.AnnotationDigest] = "0123456789abcdef"
	if err := env.Client.Update(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, err = configread.Read(ctx, env.Client, ns, types.NamespacedName{})
	if err != nil {
		t.Fatal(err)
	}
	if got.AcceptedErr == nil || got.Input.Previous != nil || got.Accepted.Snapshot != nil || got.Accepted.Generation != 3 || got.Accepted.Secret == nil {
		t.Errorf("tampered record: err %v, previous %v, accepted %+v", got.AcceptedErr, got.Input.Previous != nil, got.Accepted)
	}
}

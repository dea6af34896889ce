package controller

import (
	"bytes"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ironlb/ironlb/internal/membership"
)

// TestMemberlistSecret: a missing memberlist Secret is created with a
// usable key, an existing one is never changed, and
// KeepMemberlistSecret leaves a missing one missing.
func TestMemberlistSecret(t *testing.T) {
	t.Run("created when missing", func(t *testing.T) {
		h := newHarness(t)
		h.start(h.options(), true)
		var sec corev1.Secret
		h.eventually("the memberlist Secret", func() (bool, string) {
			err := h.c.Get(t.Context(), types.NamespacedName{Namespace: h.ns, Name: membership.DefaultSecretName}, &sec)
			return err == nil, errString(err)
		})
		v := sec.Data[membership.SecretDataKey]
		if len(v) < 64 {
			t.Fatalf("key %q holds %d bytes, want a long random secret", membership.SecretDataKey, len(v))
		}
		if _, err := membership.SecretKey(v); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("an existing one is kept", func(t *testing.T) {
		h := newHarness(t)
		mine := []byte("the operator's own secret")
		if err := h.c.Create(t.Context(), &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, Name: "gossip"},
			Data:       map[string][]byte{membership.SecretDataKey: mine},
		}); err != nil {
			t.Fatal(err)
		}
		m := &memberlistSecret{live: h.c, writer: h.c, name: types.NamespacedName{Namespace: h.ns, Name: "gossip"}}
		if created, err := m.ensure(t.Context()); err != nil || created {
			t.Fatalf("ensure on an existing Secret: created %v, err %v", created, err)
		}
		var sec corev1.Secret
		if err := h.c.Get(t.Context(), m.name, &sec); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(sec.Data[membership.SecretDataKey], mine) || len(sec.Data) != 1 {
			t.Fatalf("the Secret changed: %v", sec.Data)
		}
		// Two replicas racing: the second finds the first's Secret.
		m.name.Name = "raced"
		if created, err := m.ensure(t.Context()); err != nil || !created {
			t.Fatalf("first ensure: created %v, err %v", created, err)
		}
		if created, err := m.ensure(t.Context()); err != nil || created {
			t.Fatalf("second ensure: created %v, err %v", created, err)
		}
	})

	t.Run("KeepMemberlistSecret creates nothing", func(t *testing.T) {
		h := newHarness(t)
		opts := h.options()
		opts.KeepMemberlistSecret = true
		h.start(opts, true) // primed: every start-up step has had its chance
		err := h.c.Get(t.Context(), types.NamespacedName{Namespace: h.ns, Name: membership.DefaultSecretName}, &corev1.Secret{})
		if !apierrors.IsNotFound(err) {
			t.Fatalf("want no memberlist Secret, got err %v", err)
		}
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

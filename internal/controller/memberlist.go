package controller

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/internal/membership"
)

// memberlistSecretRetry is the pause between attempts to create the
// memberlist Secret when the API server refuses.
const memberlistSecretRetry = 5 * time.Second

// memberlistSecret creates the speakers' memberlist Secret when it is
// missing, so an installation from plain manifests needs no manual step
// (the Helm chart renders one itself). An existing Secret is never
// changed: replacing the key would split the running speakers. It runs on
// every replica, leader or not: creation is idempotent.
type memberlistSecret struct {
	live   client.Reader // reads straight from the API server
	writer client.Writer
	name   types.NamespacedName
	log    *slog.Logger
}

// NeedLeaderElection is false: standbys make sure of the Secret too.
func (m *memberlistSecret) NeedLeaderElection() bool { return false }

// Start ensures the Secret once, retrying until it exists or ctx ends.
func (m *memberlistSecret) Start(ctx context.Context) error {
	for {
		created, err := m.ensure(ctx)
		switch {
		case err == nil && created:
			m.log.Info("created the memberlist Secret the speakers encrypt their gossip with", "secret", m.name.String())
			return nil
		case err == nil:
			return nil
		}
		m.log.Error("cannot make sure the memberlist Secret exists; retrying", "secret", m.name.String(), "error", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(memberlistSecretRetry):
		}
	}
}

// ensure creates the Secret unless it exists; it reports whether it did.
func (m *memberlistSecret) ensure(ctx context.Context) (bool, error) {
	var existing corev1.Secret
	err := m.live.Get(ctx, m.name, &existing)
	if err == nil {
		return false, nil
	}
	if !apierrors.IsNotFound(err) {
		return false, fmt.Errorf("reading it: %w", err)
	}
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: m.name.Namespace, Name: m.name.Name,
			Labels: map[string]string{"app.kubernetes.io/name": "ironlb", "app.kubernetes.io/component": "speaker"},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{membership.SecretDataKey: membership.NewSecret()},
	}
	if err := m.writer.Create(ctx, sec); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return false, nil // another replica was first
		}
		return false, fmt.Errorf("creating it: %w", err)
	}
	return true, nil
}

package speaker

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ironlb/ironlb/internal/config"
	"github.com/ironlb/ironlb/internal/configread"
)

// The speaker builds its own Snapshot from the same objects as the
// controller, read by the same configread.Read, with the same pure
// config.Build, so both agree on pools and
// advertisements without talking to each other. Problems are the
// controller's to report (conditions, Events); the speaker only uses the
// result.

// buildConfig reads the configuration from the cache and builds a
// Snapshot, keeping the last valid version of invalid objects (previous).
func buildConfig(ctx context.Context, r client.Reader, namespace string, cm types.NamespacedName, previous *config.Snapshot) (*config.Snapshot, error) {
	read, err := configread.Read(ctx, r, namespace, cm)
	if err != nil {
		return nil, err
	}
	in := read.Input
	in.Previous = previous
	return config.Build(in).Snapshot, nil
}
